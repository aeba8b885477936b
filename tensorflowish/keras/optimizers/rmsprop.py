"""RMSprop."""

from __future__ import annotations

from typing import Any

from tensorflowish import backend as tf_backend
from tensorflowish.keras.optimizers.optimizer import Optimizer
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule


class RMSprop(Optimizer):
    """RMSprop with Keras's formulas: ``s = rho*s + (1-rho)*g^2``;
    ``p -= lr * g / sqrt(s + eps)`` (centered: ``s - mean_g^2``; with momentum accumulated)."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "RMSprop",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        names = ["velocity"]
        if self.momentum:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        self._slot_names = tuple(names)

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        velocity = slots["velocity"]
        velocity *= self.rho
        velocity += (1.0 - self.rho) * grad * grad
        if self.centered:
            average = slots["average_gradient"]
            average *= self.rho
            average += (1.0 - self.rho) * grad
            denominator = velocity - average * average + self.epsilon
        else:
            denominator = velocity + self.epsilon
        increment = (lr * grad) / xp.sqrt(denominator)
        if self.momentum:
            buffer = slots["momentum"]
            buffer *= self.momentum
            buffer += increment
            param -= buffer
        else:
            param -= increment

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }

