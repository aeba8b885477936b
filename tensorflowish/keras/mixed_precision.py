"""`tf.keras.mixed_precision`: dtype policies and dynamic loss scaling, as Keras 3 does them.

Under `set_global_policy("mixed_float16")` (or "mixed_bfloat16") layers keep their variables in
float32 but compute in half precision: floating inputs are cast to the compute dtype, and while a
layer's `call` runs, its float32 variables are read through a cast (differentiable, so the
gradients reach the float32 variables in float32). `Model.compile` wraps the optimiser in a
`LossScaleOptimizer` under "mixed_float16", whose loss scale keeps small float16 gradients from
flushing to zero.

>>> import tensorflowish as tf
>>> tf.keras.mixed_precision.set_global_policy("mixed_float16")
>>> layer = tf.keras.layers.Dense(2)
>>> layer(tf.ones([1, 3])).dtype, layer.kernel.dtype
(tf.float16, tf.float32)
>>> tf.keras.mixed_precision.set_global_policy("float32")
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.optimizers.optimizer import Optimizer
from tensorflowish.tensor import Variable

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


class Policy:
    """A layer's dtypes: `variable_dtype` for its weights, `compute_dtype` for its math."""

    def __init__(self, name: str) -> None:
        if isinstance(name, Policy):
            name = name.name
        if not isinstance(name, str):
            name = tf.as_dtype(name).name
        if name in _MIXED:
            self._compute, self._variable = _MIXED[name], "float32"
        else:
            try:  # any dtype, as Keras 3 (an int32 Input layer has an "int32" policy)
                dtype = tf.as_dtype(name)
            except (TypeError, AttributeError):
                raise ValueError(f"Cannot convert '{name}' to a mixed precision policy: expected "
                                 "'mixed_float16', 'mixed_bfloat16' or a dtype name such as "
                                 "'float32'.") from None
            self._compute = self._variable = dtype.name
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute

    @property
    def variable_dtype(self) -> str:
        return self._variable

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict) -> Policy:
        return cls(**config)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


DTypePolicy = Policy
_global_policy: Policy | None = None


def set_global_policy(policy: Any) -> None:
    """The policy of layers made from now on without a `dtype` ("mixed_float16", ...);
    None restores the default (floatx)."""
    global _global_policy
    _global_policy = None if policy is None else Policy(policy)


def global_policy() -> Policy:
    """The policy new layers get (floatx, float32 by default, until set_global_policy)."""
    return _global_policy if _global_policy is not None else Policy(keras_backend.floatx())


def as_policy(dtype: Any) -> Policy:
    """A layer's `dtype` argument (None, a dtype, a name or a Policy) as a Policy."""
    if dtype is None:
        return global_policy()
    return dtype if isinstance(dtype, Policy) else Policy(dtype)


@contextlib.contextmanager
def autocast_variables(layer: Any, variable_dtype: Any, compute_dtype: Any):
    """While the block runs, the layer's float variables (attributes, or lists of them) read as
    casts to the compute dtype; the attributes are restored afterwards."""
    saved = {}
    for name, value in list(vars(layer).items()):
        if isinstance(value, Variable) and value.dtype == variable_dtype:
            saved[name] = value
            layer.__dict__[name] = tf.cast(value, compute_dtype)
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, Variable) and v.dtype == variable_dtype for v in value):
            saved[name] = value
            layer.__dict__[name] = type(value)(tf.cast(v, compute_dtype) for v in value)
    try:
        yield
    finally:
        layer.__dict__.update(saved)


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
        from tensorflowish.keras import optimizers

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
