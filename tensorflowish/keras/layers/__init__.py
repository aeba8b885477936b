"""Layers (``tf.keras.layers``): the Layer base class and the built-in layers.

A layer creates its weights on its first call, from the shape of its input, and is a
``tf.Module``: its variables and those of the layers it holds (as attributes, or in lists,
tuples and dicts) are found automatically, in the order they were assigned.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.Dense(3, activation="relu", name="hidden")
    >>> layer(tf.ones((2, 4))).shape.as_list()
    [2, 3]
    >>> [v.name for v in layer.weights]
    ['hidden/kernel:0', 'hidden/bias:0']
"""

from __future__ import annotations

from typing import Any

from tensorflowish.keras.layers.activations import Activation, ReLU, Softmax
from tensorflowish.keras.layers.core import Dense, Lambda
from tensorflowish.keras.layers.input_layer import Input, InputLayer
from tensorflowish.keras.layers.keras_tensor import KerasInput
from tensorflowish.keras.layers.layer import Layer, map_symbolic
from tensorflowish.keras.layers.merging import Add, Concatenate
from tensorflowish.keras.layers.normalization import BatchNormalization, LayerNormalization
from tensorflowish.keras.layers.regularization import Dropout
from tensorflowish.keras.layers.reshaping import Flatten, Reshape

__all__ = [
    "Activation", "Add", "BatchNormalization", "Concatenate", "Dense", "Dropout", "Flatten",
    "Input", "InputLayer",
    "KerasInput", "Lambda", "Layer", "LayerNormalization", "ReLU", "Reshape", "Softmax",
]  # fmt: skip


def get(identifier: Any) -> Layer:
    """A layer instance from itself (kept for API symmetry with other ``get`` functions)."""
    if isinstance(identifier, Layer):
        return identifier
    raise TypeError(f"Expected a tf.keras.layers.Layer, got {type(identifier).__name__}.")
