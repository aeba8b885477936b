"""FTRL-Proximal (McMahan et al. 2013), as Keras writes it."""

from __future__ import annotations

from typing import Any

from tensorflowish import backend as tf_backend
from tensorflowish.keras.optimizers.optimizer import Optimizer
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule


class Ftrl(Optimizer):
    """Follow-the-regularized-leader with L1/L2 and shrinkage regularisation, Keras's update::

        g' = g + 2 * l2_shrinkage * p;  n' = n + g^2
        z += g' - (n'^-power - n^-power) / lr * p
        p = (clip(z, -l1, l1) - z) / (n'^-power / lr + 2 * (l2 + beta / (2 lr)))
    """

    _slot_names = ("accumulator", "linear")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        l2_shrinkage_regularization_strength: float = 0.0,
        beta: float = 0.0,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "ftrl",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        for option, value in (
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
        ):
            if value < 0:
                raise ValueError(f"{option} must be >= 0, got {value}.")
        if learning_rate_power > 0:
            raise ValueError(f"learning_rate_power must be <= 0, got {learning_rate_power}.")
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)

    def _make_slots(self, array: Any) -> dict[str, Any]:
        xp = tf_backend.get_array_module(array)
        return {"accumulator": xp.full_like(array, self.initial_accumulator_value),
                "linear": xp.zeros_like(array)}

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        accumulator, linear = slots["accumulator"], slots["linear"]
        power = self.learning_rate_power
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        shrunk_grad = grad + 2.0 * self.l2_shrinkage_regularization_strength * param
        new_accumulator = accumulator + grad * grad
        linear += shrunk_grad - (new_accumulator ** -power - accumulator ** -power) / lr * param
        quadratic = new_accumulator ** -power / lr + 2.0 * l2
        param[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
        accumulator[...] = new_accumulator

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }
