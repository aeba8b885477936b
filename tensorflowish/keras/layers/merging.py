"""Merging layers: ``Concatenate``, ``Add``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class Concatenate(Layer):
    """Join a list of inputs along ``axis`` (the last by default)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"Concatenate '{self.name}' needs a list of at least two inputs.")
        return tf.concat(list(inputs), axis=self.axis)


class Add(Layer):
    """Sum a list of inputs of the same shape."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"Add '{self.name}' needs a list of at least two inputs.")
        total = inputs[0]
        for item in inputs[1:]:
            total = total + item
        return total
