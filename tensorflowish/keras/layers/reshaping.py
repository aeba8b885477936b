"""Reshaping layers: ``Flatten``, ``Reshape``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class Flatten(Layer):
    """Reshape ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim == 0:
            raise ValueError(f"Flatten '{self.name}' needs a batch dimension, got a scalar.")
        if inputs.ndim == 2:
            return inputs
        batch = inputs.shape[0]
        return tf.reshape(inputs, (batch, -1) if inputs.ndim > 1 else (batch, 1))


class Reshape(Layer):
    """Reshape each example to ``target_shape`` (the batch dimension is kept; -1 allowed)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        return tf.reshape(inputs, (inputs.shape[0], *self.target_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}
