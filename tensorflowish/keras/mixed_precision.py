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

import tensorflowish as tf
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.optimizers.loss_scale_optimizer import (  # noqa: F401 - tf.keras.mixed_precision.LossScaleOptimizer
    LossScaleOptimizer,
)
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
