"""Weight constraints (``tf.keras.constraints``): applied to a variable after every optimiser
update (``Dense(kernel_constraint=...)``, ``layer.add_weight(constraint=...)``,
``tf.Variable(constraint=...)``).

    >>> import tensorflowish as tf
    >>> w = tf.Variable([[3.0], [4.0]], constraint=tf.keras.constraints.MaxNorm(1.0))
    >>> _ = tf.keras.optimizers.SGD(0.0).apply_gradients([(tf.zeros((2, 1)), w)])
    >>> [round(v, 4) for v in w.numpy().ravel().tolist()]
    [0.6, 0.8]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflowish as tf
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.object_config import keras_object_config
from tensorflowish.tensor import Tensor

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get",
           "serialize"]


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weight (a tensor of w's shape)."""

    def __call__(self, w: Tensor) -> Tensor:
        return w

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        """Re-create a constraint from :meth:`get_config`."""
        return cls(**config)


def _norms(w: Tensor, axis: Any) -> Tensor:
    return tf.sqrt(tf.reduce_sum(tf.square(w), axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Scale each slice along ``axis`` (e.g. each unit's incoming weights for a Dense kernel,
    ``axis=0``) so its L2 norm is at most ``max_value``."""

    def __init__(self, max_value: float = 2.0, axis: Any = 0) -> None:
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w: Tensor) -> Tensor:
        norms = _norms(w, self.axis)
        desired = tf.clip_by_value(norms, 0.0, self.max_value)
        return w * (desired / (keras_backend.epsilon() + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Set negative weights to zero."""

    def __call__(self, w: Tensor) -> Tensor:
        return w * tf.cast(tf.greater_equal(w, 0.0), w.dtype)


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to L2 norm 1."""

    def __init__(self, axis: Any = 0) -> None:
        self.axis = axis

    def __call__(self, w: Tensor) -> Tensor:
        return w / (keras_backend.epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's L2 norm into ``[min_value, max_value]``, by the fraction ``rate`` of
    the way per update (``rate=1``: all the way)."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: Any = 0) -> None:
        self.min_value, self.max_value = float(min_value), float(max_value)
        self.rate, self.axis = float(rate), axis

    def __call__(self, w: Tensor) -> Tensor:
        norms = _norms(w, self.axis)
        clipped = tf.clip_by_value(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1.0 - self.rate) * norms
        return w * (desired / (keras_backend.epsilon() + norms))

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
_BY_NAME = {
    "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm,
    "MaxNorm": MaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm,
}  # fmt: skip


def serialize(constraint: Constraint | None) -> dict | None:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` form (None stays
    None)."""
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise TypeError(f"Only tf.keras.constraints.Constraint objects can be serialized, got "
                        f"{constraint!r}; subclass Constraint and give it get_config().")
    return keras_object_config(constraint, "keras.constraints")


def deserialize(config: dict) -> Constraint:
    """The constraint :func:`serialize` described."""
    cls = _BY_NAME.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown constraint {config.get('class_name')!r}; expected one of "
                         "MaxNorm, NonNeg, UnitNorm, MinMaxNorm.")
    return cls.from_config(config.get("config", {}))


def get(identifier: Any) -> Constraint | Callable | None:
    """A constraint from None, a name ('max_norm', 'non_neg', ...), a config, an instance or a
    function ``w -> w``."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown constraint {identifier!r}; expected one of "
                             f"{sorted(_BY_NAME)}.")
        return _BY_NAME[identifier]()
    if callable(identifier):
        return identifier
    raise TypeError(f"Cannot interpret {identifier!r} as a constraint.")
