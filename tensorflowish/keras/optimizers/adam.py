"""The Adam family: Adam, AdamW, Adamax, Nadam."""

from __future__ import annotations

import math
from typing import Any

from tensorflowish import backend as tf_backend
from tensorflowish.keras.optimizers.optimizer import Optimizer, _kernel
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule


def adam_update_reference(
    param: Any, grad: Any, m: Any, v: Any, learning_rate: float, beta_1: float, beta_2: float,
    epsilon: float, step: int, weight_decay: float = 0.0,
) -> None:  # fmt: skip
    """Keras Adam in place (AdamW when ``weight_decay``: ``p -= p*wd*lr`` first)."""
    xp = tf_backend.get_array_module(param)
    if weight_decay:
        param -= param * (weight_decay * learning_rate)
    alpha = learning_rate * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
    m += (grad - m) * (1.0 - beta_1)
    v += (grad * grad - v) * (1.0 - beta_2)
    param -= (m * alpha) / (xp.sqrt(v) + epsilon)


# --- the base class -----------------------------------------------------------------------------


class Adam(Optimizer):
    """Adam (Kingma & Ba) with Keras's formulation and defaults (epsilon 1e-7):
    ``m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
    p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``."""

    _slot_names = ("m", "v")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "Adam",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self._slot_names = ("m", "v", "v_hat")
        self._kernel = _kernel("adam_update") or adam_update_reference

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        if not self.amsgrad:
            self._kernel(
                param, grad, slots["m"], slots["v"], lr, self.beta_1, self.beta_2, self.epsilon,
                step, weight_decay,
            )  # fmt: skip
            return
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        m, v, v_hat = slots["m"], slots["v"], slots["v_hat"]
        alpha = lr * math.sqrt(1.0 - self.beta_2**step) / (1.0 - self.beta_1**step)
        m += (grad - m) * (1.0 - self.beta_1)
        v += (grad * grad - v) * (1.0 - self.beta_2)
        xp.maximum(v_hat, v, out=v_hat)
        param -= (m * alpha) / (xp.sqrt(v_hat) + self.epsilon)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004): ``p -= p * weight_decay * lr`` before
    each Adam step."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "AdamW",
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError("AdamW needs a weight_decay (use Adam for none).")
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip



class Adamax(Optimizer):
    """Adamax, Adam's infinity-norm variant, with Keras's formulas and defaults:
    ``m += (g - m)(1 - b1); u = max(b2 * u, |g|); p -= lr * m / ((1 - b1^t) * (u + eps))``."""

    _slot_names = ("m", "u")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adamax",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        m, u = slots["m"], slots["u"]
        m += (grad - m) * (1.0 - self.beta_1)
        u *= self.beta_2
        xp.maximum(u, xp.abs(grad), out=u)
        param -= (m * (lr / (1.0 - self.beta_1**step))) / (u + self.epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat), Keras's formulation: the momentum schedule
    ``u_t = beta_1 * (1 - 0.5 * 0.96^t)``; one fused pass per variable
    (``tensorflowish.kernels.nadam_update``)."""

    _slot_names = ("m", "v")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "nadam",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self._momentum_product = 1.0  # prod of u_1..u_t over the update steps so far
        self._kernel = _kernel("nadam_update")

    def _begin_step(self, step: int) -> None:
        # once per step, for all variables (Keras's _u_product)
        self._momentum_product *= self.beta_1 * (1.0 - 0.5 * 0.96**step)

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        self._kernel(param, grad, slots["m"], slots["v"], lr, self.beta_1, self.beta_2,
                     self.epsilon, step, self._momentum_product, weight_decay)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
