"""Core layers: ``Dense``, ``Lambda``, ``Embedding`` and ``Masking``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras import activations, constraints, initializers, regularizers
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


def _check_rank(layer: Layer, inputs: Tensor, minimum: int) -> None:
    if inputs.ndim < minimum:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) expects inputs of rank >= {minimum} "
            f"(a batch first), got shape {tuple(inputs.shape)}. Add a batch dimension, e.g. "
            "x[None, ...] or tf.expand_dims(x, 0)."
        )


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
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
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
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel = None
        self.bias = None
        self.supports_masking = True  # a mask passes through, as in Keras

    def build(self, input_shape: Any) -> None:
        last = input_shape[-1] if input_shape is not None and len(input_shape) else None
        if last is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs inputs with a known last dimension, got shape "
                f"{input_shape}."
            )
        self.kernel = self.add_weight(
            "kernel", (int(last), self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
        )  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", (self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
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
        if leading is not None and None in leading:  # a relaxed dimension in a tf.function
            y = tf.reshape(y, tf.concat([tf.shape(inputs)[:-1], [self.units]], 0))
        elif leading is not None:
            y = tf.reshape(y, (*leading, self.units))
        return y

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
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


class Embedding(Layer):
    """Turn integer ids into dense vectors: row ``i`` of ``embeddings`` (input_dim, output_dim).

    The table's gradient is a ``tf.IndexedSlices``, so an optimiser step updates only the rows
    the batch looked up. ``mask_zero=True`` marks id 0 as padding: the output carries a mask
    that recurrent layers use to skip those steps. ``input_length`` is accepted and ignored, as
    in Keras 3.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.Embedding(10, 4, mask_zero=True)
    >>> layer(tf.constant([[3, 0]])).shape.as_list()
    [1, 2, 4]
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        weights: Any = None,
        lora_rank: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("input_length", None)
        kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        for label, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Embedding({label}=...) must be a positive integer, got "
                                 f"{value!r}.")
        if lora_rank is not None:
            raise tf.errors.UnimplementedError("Embedding: lora_rank is not supported.")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self._initial_weights = weights
        self.embeddings = None

    def build(self, input_shape: Any = None) -> None:
        self.embeddings = self.add_weight(
            "embeddings", (self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer, regularizer=self.embeddings_regularizer,
        )  # fmt: skip
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dtype.is_floating or inputs.dtype.is_bool:
            inputs = tf.cast(inputs, tf.int32)  # Keras casts ids to int32
        return tf.nn.embedding_lookup(self.embeddings, inputs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if not self.mask_zero:
            return None
        return tf.not_equal(tf.convert_to_tensor(inputs), 0)

    def get_config(self) -> dict:
        return {
            **super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
        }


class Masking(Layer):
    """Mark time steps whose features all equal ``mask_value`` as padding: they are zeroed in
    the output, and the output carries a (batch, time) mask that recurrent layers skip.

    >>> import tensorflowish as tf
    >>> out = tf.keras.layers.Masking()(tf.constant([[[1.0], [0.0]]]))
    >>> out.shape.as_list()
    [1, 2, 1]
    """

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def _keep(self, inputs: Tensor) -> Tensor:
        return tf.reduce_any(tf.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs: Tensor) -> Tensor:
        keep = self._keep(inputs)
        return inputs * tf.cast(tf.expand_dims(keep, -1), inputs.dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self._keep(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}


class Identity(Layer):
    """Return the inputs unchanged (a placeholder, e.g. in a model built from a config)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        return inputs
