"""Lion (evolved sign momentum, Chen et al. 2023)."""

from __future__ import annotations

from typing import Any

from tensorflowish.keras.optimizers.optimizer import Optimizer, _kernel
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule


class Lion(Optimizer):
    """Lion with Keras's formulas and defaults: ``p -= lr * sign(b1*m + (1-b1)*g)``, then
    ``m = b2*m + (1-b2)*g``; one fused pass per variable (``tensorflowish.kernels.lion_update``).
    Its steps all have size ``lr``: use a learning rate 3-10x smaller than Adam's."""

    _slot_names = ("momentum",)

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "lion",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        if not 0.0 < beta_1 <= 1.0:
            raise ValueError(f"beta_1 must be in (0, 1], got {beta_1}.")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self._kernel = _kernel("lion_update")

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        self._kernel(param, grad, slots["momentum"], lr, self.beta_1, self.beta_2, weight_decay)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
