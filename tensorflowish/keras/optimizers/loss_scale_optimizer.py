"""``LossScaleOptimizer``: dynamic loss scaling for mixed precision around another optimiser
(``tf.keras.optimizers.LossScaleOptimizer``, also in ``tf.keras.mixed_precision``)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras.optimizers.optimizer import Optimizer
from tensorflowish.tensor import Variable


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around another optimiser (Keras 3's `LossScaleOptimizer`).

    `scale_loss(loss)` multiplies the loss by the current scale before differentiation;
    `apply_gradients` divides the gradients by it, and when they are all finite applies them and,
    after `dynamic_growth_steps` such steps, doubles the scale; when any is Inf or NaN it skips
    the step and halves the scale.
    """

    def __init__(self, inner_optimizer: Any, initial_scale: float = 2.0 ** 15,
                 dynamic_growth_steps: int = 2000, name: str | None = None,
                 **kwargs: Any) -> None:
        from tensorflowish.keras import optimizers  # the package, which imports this module

        self.inner_optimizer = optimizers.get(inner_optimizer)
        if int(dynamic_growth_steps) < 1:
            raise ValueError(f"dynamic_growth_steps must be >= 1, got {dynamic_growth_steps}.")
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.dynamic_scale = Variable(float(initial_scale), trainable=False, dtype="float32",
                                      name="dynamic_scale")
        self.step_counter = Variable(0, trainable=False, dtype="int64", name="step_counter")
        self._name = name or "loss_scale_optimizer"

    def __getattr__(self, name: str) -> Any:  # learning_rate, iterations, ... of the inner one
        if name == "inner_optimizer":
            raise AttributeError(name)
        return getattr(self.inner_optimizer, name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def learning_rate(self) -> Any:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self) -> Any:
        return self.inner_optimizer.iterations

    @property
    def variables(self) -> list:
        return [self.dynamic_scale, self.step_counter] + list(self.inner_optimizer.variables)

    def scale_loss(self, loss: Any) -> Any:
        """The loss times the current scale (in the loss's dtype)."""
        loss = tf.convert_to_tensor(loss)
        return loss * tf.cast(self.dynamic_scale, loss.dtype)

    def apply_gradients(self, grads_and_vars: Any, name: str | None = None,
                        **kwargs: Any) -> Any:
        """Unscale, then apply (all finite) or skip the step and halve the scale."""
        pairs = list(grads_and_vars)
        scale = float(self.dynamic_scale.numpy())
        finite = all(g is None or bool(np.all(np.isfinite(g.numpy().astype(np.float32))))
                     for g, _ in pairs)
        if not finite:
            self.dynamic_scale.assign(max(scale / 2.0, 1.0))
            self.step_counter.assign(0)
            return self.iterations
        unscaled = [(None if g is None else tf.cast(g, v.dtype) * (1.0 / scale), v)
                    for g, v in pairs]
        result = self.inner_optimizer.apply_gradients(unscaled, **kwargs)
        steps = int(self.step_counter.numpy()) + 1
        if steps >= self.dynamic_growth_steps:
            self.dynamic_scale.assign(scale * 2.0)
            steps = 0
        self.step_counter.assign(steps)
        return result

    def apply(self, grads: Any, trainable_variables: Any = None) -> Any:
        return self.apply_gradients(zip(grads, trainable_variables))

    def get_config(self) -> dict:
        from tensorflowish.keras import optimizers

        return {"name": self._name, "inner_optimizer": optimizers.serialize(
            self.inner_optimizer), "initial_scale": float(self.dynamic_scale.numpy()),
            "dynamic_growth_steps": self.dynamic_growth_steps}
