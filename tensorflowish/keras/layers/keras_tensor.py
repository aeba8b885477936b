"""Symbolic tensors of the functional API (``tf.keras.Input``) and the layer calls that
make them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

import tensorflowish as tf
from tensorflowish.tensor import Tensor, TensorShape

if TYPE_CHECKING:
    from tensorflowish.keras.layers.layer import Layer


class _Node:
    """One recorded layer call of the functional API: the layer and its (symbolic) inputs."""

    def __init__(self, layer: Layer, inputs: Any, args: tuple, kwargs: dict) -> None:
        self.layer, self.inputs, self.args, self.kwargs = layer, inputs, args, kwargs


class KerasInput:
    """A symbolic tensor of the functional API: what ``tf.keras.Input(shape=...)`` returns,
    and what calling a layer on one returns. It has a shape (batch first, None) and a dtype but
    no values; ``tf.keras.Model(inputs, outputs)`` turns the recorded calls into a model.
    """

    def __init__(
        self,
        shape: tuple,
        dtype: Any,
        name: str | None,
        node: _Node | None = None,
        index: int | None = None,
    ) -> None:
        self.shape = TensorShape(shape)
        self.dtype = tf.as_dtype(dtype)
        self.name = name
        self.node, self.index = node, index

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "A symbolic tf.keras.Input has no values: pass it only to Keras layers. Wrap other "
            "operations in a layer, e.g. tf.keras.layers.Lambda(lambda x: x / 255.0)."
        )

    def __repr__(self) -> str:
        source = f" from {self.node.layer.name}" if self.node is not None else ""
        return f"<KerasInput shape={tuple(self.shape)} dtype={self.dtype.name}{source}>"


def flatten_symbols(value: Any, what: str | None) -> list:
    """The symbolic tensors in a structure; with ``what``, anything else is an error."""
    if isinstance(value, KerasInput):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in flatten_symbols(v, what)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in flatten_symbols(v, what)]
    if what is not None:
        raise TypeError(
            f"Model({what}=...) expects tf.keras.Input(...) results and layer outputs, got "
            f"{type(value).__name__}."
        )
    return []


def _as_tensor_structure(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float, np.number)) for v in value):
            return tf.convert_to_tensor(value)
        return type(value)(_as_tensor_structure(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_tensor_structure(v) for k, v in value.items()}
    return tf.convert_to_tensor(value)


def _contains_symbolic(value: Any) -> bool:
    if isinstance(value, KerasInput):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_symbolic(v) for v in value.values())
    return False


def map_symbolic(function: Callable[[Any], Any], value: Any) -> Any:
    """Apply ``function`` to every symbolic input in a structure, keeping everything else."""
    if isinstance(value, KerasInput):
        return function(value)
    if isinstance(value, (list, tuple)):
        return type(value)(map_symbolic(function, v) for v in value)
    if isinstance(value, dict):
        return {k: map_symbolic(function, v) for k, v in value.items()}
    return value


def _shape_of(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.shape
    if isinstance(value, (list, tuple)):
        return type(value)(_shape_of(v) for v in value)
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in value.items()}
    return None
