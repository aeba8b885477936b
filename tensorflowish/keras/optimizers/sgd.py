"""SGD: gradient descent with optional (Nesterov) momentum."""

from __future__ import annotations

from typing import Any

from tensorflowish.keras.optimizers.optimizer import Optimizer, _kernel
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule
from tensorflowish.tensor import _UNSHARED, _getrefcount


def sgd_update_reference(
    param: Any, grad: Any, velocity: Any, learning_rate: float, momentum: float = 0.0,
    nesterov: bool = False,
) -> None:  # fmt: skip
    """Keras SGD in place: ``p -= lr*g``; with momentum ``v = m*v - lr*g; p += v`` (nesterov:
    ``p += m*v - lr*g``)."""
    if momentum == 0.0:
        param -= learning_rate * grad
        return
    velocity *= momentum
    velocity -= learning_rate * grad
    if nesterov:
        param += momentum * velocity - learning_rate * grad
    else:
        param += velocity


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum — Keras's formulas:
    ``v = momentum * v - lr * g; p += v`` (Nesterov: ``p += momentum * v - lr * g``)."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "SGD",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD momentum must be in [0, 1], got {momentum}.")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._slot_names = ("momentum",) if self.momentum else ()
        kernel = _kernel("sgd_update")
        # called with check_arguments=False (positionally: a partial with keywords costs more):
        # apply_gradients has matched each gradient's shape and dtype to its variable's
        self._kernel = kernel or (lambda *args: sgd_update_reference(*args[:6]))

    @property
    def _sparse_rows(self) -> bool:
        # p -= lr*g changes only the rows g touches; momentum and weight decay reach every row
        return not self.momentum and not self.weight_decay

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        if weight_decay:
            param -= param * (weight_decay * lr)
        self._kernel(param, grad, slots["momentum"] if slots else None, lr, self.momentum,
                     self.nesterov, False)

    def _apply_updates(self, grads: list, variables: list, learning_rate: float,
                       step: int) -> None:
        if self.momentum or self.weight_decay is not None:
            super()._apply_updates(grads, variables, learning_rate, step)
            return
        kernel = self._kernel  # plain SGD, the most common step of all: no per-variable call
        for grad, variable in zip(grads, variables):
            param = variable.array  # Variable._writable_array, inlined (copy-on-write)
            if _getrefcount(param) > _UNSHARED:
                param = variable._writable_array()
            kernel(param, grad, None, learning_rate, 0.0, False, False)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

