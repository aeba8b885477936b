"""Adagrad and Adadelta: per-coordinate step sizes from accumulated squared gradients."""

from __future__ import annotations

from typing import Any

from tensorflowish import backend as tf_backend
from tensorflowish.keras.optimizers.optimizer import Optimizer, _kernel
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule


class Adagrad(Optimizer):
    """Adagrad with Keras's formulas and defaults: ``a += g^2; p -= lr * g / sqrt(a + eps)``,
    the accumulator starting at ``initial_accumulator_value``; one fused pass per variable
    (``tensorflowish.kernels.adagrad_update``)."""

    _slot_names = ("accumulator",)

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adagrad",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        if initial_accumulator_value < 0:
            raise ValueError(
                f"initial_accumulator_value must be >= 0, got {initial_accumulator_value}."
            )
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        self._kernel = _kernel("adagrad_update")

    def _make_slots(self, array: Any) -> dict[str, Any]:
        xp = tf_backend.get_array_module(array)
        return {"accumulator": xp.full_like(array, self.initial_accumulator_value)}

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        self._kernel(param, grad, slots["accumulator"], lr, self.epsilon, weight_decay)

    def get_config(self) -> dict:
        return {**super().get_config(), "initial_accumulator_value":
                self.initial_accumulator_value, "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta with Keras's formulas and defaults (``learning_rate`` 0.001 multiplies the step):
    ``G = rho*G + (1-rho)*g^2; d = -sqrt(D + eps) / sqrt(G + eps) * g;
    D = rho*D + (1-rho)*d^2; p += lr * d``."""

    _slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adadelta",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        rho, eps = self.rho, self.epsilon
        accumulated_grad, accumulated_delta = slots["accumulated_grad"], slots[
            "accumulated_delta_var"]
        accumulated_grad *= rho
        accumulated_grad += (1.0 - rho) * grad * grad
        delta = -xp.sqrt(accumulated_delta + eps) / xp.sqrt(accumulated_grad + eps) * grad
        accumulated_delta *= rho
        accumulated_delta += (1.0 - rho) * delta * delta
        param += lr * delta

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
