"""`tf.keras.layers.MultiHeadAttention` with Keras 3's weight shapes and masking."""

from __future__ import annotations

import math
from typing import Any

import tensorflowish as tf
from tensorflowish.keras import constraints, initializers, regularizers
from tensorflowish.keras.layers import masks
from tensorflowish.keras.layers.attention.attention import attention_dropout, causal_mask, steps
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.ops.attention import masked_softmax
from tensorflowish.tensor import Tensor


class _HeadProjection(Layer):
    """Keras 3's EinsumDense of one MHA projection: kernel (in, heads, dim), bias (heads, dim)
    for the query/key/value; kernel (heads, dim, out), bias (out,) for the output. Computed as
    one matmul on the flattened kernel."""

    def __init__(self, kernel_shape: tuple, bias_shape: tuple | None, kernel_initializer: Any,
                 bias_initializer: Any, kernel_regularizer: Any, bias_regularizer: Any,
                 kernel_constraint: Any, bias_constraint: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kernel_shape, self._bias_shape = kernel_shape, bias_shape
        self._initializers = (kernel_initializer, bias_initializer)
        self._regularizers = (kernel_regularizer, bias_regularizer)
        self._constraints = (kernel_constraint, bias_constraint)
        self.kernel = self.bias = None

    def build(self, input_shape: Any = None) -> None:
        self.kernel = self.add_weight("kernel", self._kernel_shape,
                                      initializer=self._initializers[0],
                                      regularizer=self._regularizers[0],
                                      constraint=self._constraints[0])
        if self._bias_shape is not None:
            self.bias = self.add_weight("bias", self._bias_shape,
                                        initializer=self._initializers[1],
                                        regularizer=self._regularizers[1],
                                        constraint=self._constraints[1])
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        """(batch, steps, in) -> (batch, steps, heads, dim), or for the output projection
        (batch, steps, heads, dim) -> (batch, steps, out): one fused dense on the flattened
        kernel either way."""
        batch, steps = inputs.shape[0], inputs.shape[1]
        if batch is None or steps is None:  # relaxed dimensions in a tf.function: tensors
            size = tf.shape(inputs)
            batch = size[0] if batch is None else batch
            steps = size[1] if steps is None else steps
        input_axes = inputs.ndim - 2  # the kernel's leading axes that the inputs contract
        fan_in = math.prod(self._kernel_shape[:input_axes])
        kernel = tf.reshape(self.kernel, (fan_in, -1))
        bias = None if self.bias is None else tf.reshape(self.bias, (-1,))
        flat = tf.nn.dense(tf.reshape(inputs, (-1, fan_in)), kernel, bias)
        return tf.reshape(flat, (batch, steps, *self._kernel_shape[input_axes:]))


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017) as Keras 3's layer.

    ``layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    use_causal_mask=False)``; query (batch, T, dim), value/key (batch, S, dim). Weights:
    query/key/value kernels (dim, num_heads, key_dim) with biases (num_heads, key_dim), the
    output kernel (num_heads, value_dim, dim) with bias (dim,). The Keras masks of query and
    value (or ``value_mask``/``key_mask``), an explicit ``attention_mask`` (batch, T, S) and the
    causal mask are combined. As in Keras 3.15, the query's mask is its Keras mask only: the
    ``query_mask`` argument is accepted and not used.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    >>> x = tf.ones((2, 5, 4))
    >>> out, scores = layer(x, x, return_attention_scores=True)
    >>> out.shape.as_list(), scores.shape.as_list()
    ([2, 5, 4], [2, 2, 5, 5])
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: Any = None,
        attention_axes: Any = None,
        flash_attention: Any = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        for label, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MultiHeadAttention({label}=...) must be a positive integer, "
                                 f"got {value!r}.")
        if attention_axes is not None and tuple(
                [attention_axes] if isinstance(attention_axes, int) else attention_axes) \
                not in ((1,), (-3,)):
            raise tf.errors.UnimplementedError(
                "MultiHeadAttention: only attention over the time axis (attention_axes=None) is "
                "supported.")
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = value_dim if value_dim is not None else key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self._output_shape = output_shape
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self.supports_masking = True

    def _projection(self, name: str, kernel_shape: tuple, bias_shape: tuple) -> _HeadProjection:
        return _HeadProjection(kernel_shape, bias_shape if self.use_bias else None,
                               self.kernel_initializer, self.bias_initializer,
                               self.kernel_regularizer, self.bias_regularizer,
                               self.kernel_constraint, self.bias_constraint, name=name,
                               dtype=self.dtype)

    @property
    def query_dense(self) -> Any:
        """The query projection (Keras 3's name; an EinsumDense there)."""
        return self.__dict__.get("_query_dense")

    @property
    def key_dense(self) -> Any:
        """The key projection."""
        return self.__dict__.get("_key_dense")

    @property
    def value_dense(self) -> Any:
        """The value projection."""
        return self.__dict__.get("_value_dense")

    @property
    def output_dense(self) -> Any:
        """The output projection."""
        return self.__dict__.get("_output_dense")

    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        heads = self.num_heads
        out = self._output_shape
        if out is None:
            out = int(query_shape[-1])
        elif not isinstance(out, int):
            out_shape = tuple(out)
            if len(out_shape) != 1:
                raise tf.errors.UnimplementedError(
                    "MultiHeadAttention: output_shape must be an int or a 1-tuple here.")
            out = int(out_shape[0])
        self._query_dense = self._projection("query", (int(query_shape[-1]), heads,
                                                       self.key_dim), (heads, self.key_dim))
        self._key_dense = self._projection("key", (int(key_shape[-1]), heads, self.key_dim),
                                           (heads, self.key_dim))
        self._value_dense = self._projection("value", (int(value_shape[-1]), heads,
                                                       self.value_dim), (heads, self.value_dim))
        self._output_dense = self._projection("attention_output",
                                              (heads, self.value_dim, out), (out,))
        for layer in (self._query_dense, self._key_dense, self._value_dense,
                      self._output_dense):
            layer.build()
        self.built = True

    def _maybe_build(self, inputs: Any) -> None:
        if not self.built:
            self.build(tuple(inputs.shape))

    def _attention_mask(self, query, value, key, query_mask, value_mask, key_mask,
                        attention_mask, use_causal_mask):
        combined = None

        def both(a, b):
            return b if a is None else tf.logical_and(a, b)
        if query_mask is not None:
            combined = tf.expand_dims(tf.cast(query_mask, tf.bool), -1)
        if value_mask is not None:
            combined = both(combined, tf.expand_dims(tf.cast(value_mask, tf.bool), -2))
        if key_mask is not None and key is not value:
            combined = both(combined, tf.expand_dims(tf.cast(key_mask, tf.bool), -2))
        if use_causal_mask:
            combined = both(combined, causal_mask(steps(query, 1), steps(value, 1)))
        if attention_mask is not None:
            combined = both(combined, tf.cast(attention_mask, tf.bool))
        return combined

    def call(self, query: Tensor, value: Tensor = None, key: Tensor | None = None,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
             attention_mask: Any = None, return_attention_scores: bool = False,
             training: bool | None = None, use_causal_mask: bool = False) -> Any:
        if value is None:
            raise ValueError(f"MultiHeadAttention '{self.name}' needs a value: call it as "
                             "layer(query, value) (self-attention: layer(x, x)).")
        value = tf.convert_to_tensor(value)
        key_given = key
        key = value if key is None else tf.convert_to_tensor(key)
        if query.ndim != 3 or value.ndim != 3 or key.ndim != 3:
            raise ValueError(f"MultiHeadAttention '{self.name}': query, value and key must "
                             f"have shape (batch, steps, dim), got {tuple(query.shape)}, "
                             f"{tuple(value.shape)}, {tuple(key.shape)}.")
        # As Keras 3.15 does: the query's mask is always its Keras mask (an explicit
        # query_mask argument is not used); value and key masks come from the arguments, or
        # else from the tensors' Keras masks.
        query_mask = masks.get_keras_mask(query)
        value_mask = value_mask if value_mask is not None else masks.get_keras_mask(value)
        if key_mask is None and key_given is not None:
            key_mask = masks.get_keras_mask(key)
        q = self._query_dense(query)  # (B, T, H, dk)
        k = self._key_dense(key)  # (B, S, H, dk)
        v = self._value_dense(value)  # (B, S, H, dv)
        q = tf.transpose(q, (0, 2, 1, 3)) * (1.0 / math.sqrt(self.key_dim))
        k = tf.transpose(k, (0, 2, 3, 1))
        scores = tf.matmul(q, k)  # (B, H, T, S)
        mask = self._attention_mask(query, value, key, query_mask, value_mask, key_mask,
                                    attention_mask, use_causal_mask)
        if mask is not None:
            mask = tf.expand_dims(mask, 1)  # one mask for every head
        weights = masked_softmax(scores, mask)
        dropped = attention_dropout(weights, self.dropout, bool(training), self.seed)
        context = tf.matmul(dropped, tf.transpose(v, (0, 2, 1, 3)))  # (B, H, T, dv)
        output = self._output_dense(tf.transpose(context, (0, 2, 1, 3)))
        if return_attention_scores:
            return output, weights
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return masks.get_keras_mask(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_shape, "seed": self.seed}
