"""Adafactor (Shazeer & Stern 2018): second moments kept as row and column factors."""

from __future__ import annotations

import math
from typing import Any

from tensorflowish import backend as tf_backend
from tensorflowish.keras.optimizers.optimizer import Optimizer
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule


def _rms(xp: Any, x: Any) -> Any:
    return xp.sqrt(xp.mean(x * x))


class Adafactor(Optimizer):
    """Adafactor with Keras's formulas and defaults. For a variable of rank >= 2 the second
    moment of the last two axes is the outer product of a row factor ``r`` (the last axis
    averaged out) and a column factor ``c`` (the second last averaged out), so the state is
    O(rows + columns) instead of O(rows * columns); a vector keeps a full second moment."""

    _slot_names = ("r", "c", "v")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_2_decay: float = -0.8,
        epsilon_1: float = 1e-30,
        epsilon_2: float = 1e-3,
        clip_threshold: float = 1.0,
        relative_step: bool = True,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adafactor",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.beta_2_decay, self.epsilon_1 = float(beta_2_decay), float(epsilon_1)
        self.epsilon_2, self.clip_threshold = float(epsilon_2), float(clip_threshold)
        self.relative_step = bool(relative_step)

    def _make_slots(self, array: Any) -> dict[str, Any]:
        xp = tf_backend.get_array_module(array)
        if array.ndim < 2:  # a full second moment; r and c unused (as in Keras)
            return {"v": xp.zeros_like(array)}
        shape = array.shape
        return {
            "r": xp.zeros(shape[:-1], array.dtype),
            "c": xp.zeros(shape[:-2] + shape[-1:], array.dtype),
            "v": xp.zeros_like(array),
        }

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        # Keras caps a constant learning rate by 1/sqrt(t) (a schedule is used as it is)
        if self.relative_step and self._schedule is None:
            lr = min(lr, 1.0 / math.sqrt(step))
        rho = min(lr, 1.0 / math.sqrt(step))
        alpha = max(self.epsilon_2, float(_rms(xp, param))) * rho
        squared = grad * grad + self.epsilon_1
        beta = 1.0 - step**self.beta_2_decay
        v = slots["v"]
        if param.ndim >= 2:
            r, c = slots["r"], slots["c"]
            r *= beta
            r += (1.0 - beta) * squared.mean(axis=-1)
            c *= beta
            c += (1.0 - beta) * squared.mean(axis=-2)
            v[...] = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v *= beta
            v += (1.0 - beta) * squared
        update = grad / xp.sqrt(v)
        update /= max(1.0, float(_rms(xp, update)) / self.clip_threshold)
        param -= alpha * update

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }
