"""Core layers: ``Dense`` and ``Lambda``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras import activations, initializers, regularizers
from tensorflowish.keras.layers.layer import Layer, _check_rank
from tensorflowish.tensor import Tensor


class Dense(Layer):
    """A fully connected layer: ``activation(inputs @ kernel + bias)``.

    The kernel's input size comes from the first input; the matmul, bias and (when it is one of
    linear, relu, sigmoid, tanh) the activation run as one fused ``tf.nn.dense`` op. Inputs of
    rank > 2 are transformed along their last axis.
    """

    def __init__(
        self,
        units: int,
        activation: str | Callable | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense(units=...) must be a positive integer, got {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self._fused_activation = activations.fused_name(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None
        self.bias = None

    def build(self, input_shape: Any) -> None:
        last = input_shape[-1] if input_shape is not None and len(input_shape) else None
        if last is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs inputs with a known last dimension, got shape "
                f"{input_shape}."
            )
        self.kernel = self.add_weight(
            "kernel", (int(last), self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", (self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )  # fmt: skip
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        _check_rank(self, inputs, 1)
        if inputs.dtype != self._dtype:
            inputs = tf.cast(inputs, self._dtype)
        fan_in = self.kernel.shape[0]
        if inputs.shape[-1] != fan_in:
            raise ValueError(
                f"Dense layer '{self.name}' was built for inputs with last dimension {fan_in}, "
                f"got inputs of shape {tuple(inputs.shape)}. Feed it inputs of shape "
                f"(batch, {fan_in}) or use a new layer."
            )
        x = inputs
        leading = None
        if x.ndim != 2:
            leading = tuple(x.shape)[:-1]
            x = tf.reshape(x, (-1, fan_in))
        if self._fused_activation is not None:
            y = tf.nn.dense(x, self.kernel, self.bias, activation=self._fused_activation)
        else:
            y = self.activation(tf.nn.dense(x, self.kernel, self.bias))
        if leading is not None:
            y = tf.reshape(y, (*leading, self.units))
        return y

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


class Lambda(Layer):
    """Wrap a function of tensors as a layer: ``Lambda(lambda x: x * 2)``."""

    def __init__(self, function: Callable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda needs a function, got {type(function).__name__}.")
        self.function = function

    def call(self, inputs: Any) -> Any:
        return self.function(inputs)
