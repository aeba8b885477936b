"""Activation layers: ``Activation``, ``Softmax``, ``ReLU``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflowish as tf
from tensorflowish.keras import activations
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class Activation(Layer):
    """Apply an activation function, given by name or as a function."""

    def __init__(self, activation: str | Callable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Softmax(Layer):
    """Softmax along ``axis`` (turns logits into probabilities)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        return tf.nn.softmax(inputs, axis=self.axis)


class ReLU(Layer):
    """Rectified linear unit, optionally capped at ``max_value`` with a ``negative_slope``."""

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs: Tensor) -> Tensor:
        return activations.relu(
            inputs, alpha=self.negative_slope, max_value=self.max_value, threshold=self.threshold
        )
