"""Symbolic tensors of the functional API (``tf.keras.Input``) and the layer calls that
make them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tensorflowish as tf
from tensorflowish.tensor import TensorShape

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
