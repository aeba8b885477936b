"""Convolution layers: ``Conv1D``, ``Conv2D``, ``Conv2DTranspose``, ``DepthwiseConv2D``,
``SeparableConv2D``, with Keras 3's arguments and weight shapes (kernel ``(kh, kw, in, out)``,
bias ``(out,)``), so weights copied from a Keras model give its outputs.

One base class holds what they share; the forward pass is the fused ``tf.nn.conv`` (im2col, one
GEMM, one pass for bias and activation) whenever the activation is one it fuses.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    >>> layer(tf.ones([2, 6, 6, 3])).shape.as_list()
    [2, 6, 6, 8]
    >>> [tuple(w.shape) for w in layer.weights]
    [(3, 3, 3, 8), (8,)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras import activations, constraints, initializers, regularizers
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


def normalize_tuple(value: Any, rank: int, what: str, layer: str) -> tuple[int, ...]:
    """An int or `rank` ints, as Keras accepts them for kernel_size, strides, dilation_rate."""
    values = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != rank or any(int(v) != v or v < 1 for v in values):
        raise ValueError(f"{layer}: {what} must be a positive int or a tuple of {rank} positive "
                         f"ints, got {value!r}.")
    return tuple(int(v) for v in values)


def normalize_padding(padding: str, layer: str, allowed=("valid", "same")) -> str:
    mode = str(padding).lower()
    if mode not in allowed:
        raise ValueError(f"{layer}: padding must be one of {allowed}, got {padding!r}.")
    return mode


def normalize_data_format(data_format: str | None, layer: str) -> str:
    data_format = "channels_last" if data_format is None else str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}.")
    return data_format


def tf_data_format(data_format: str, rank: int) -> str:
    """Keras's 'channels_last'/'channels_first' as tf.nn's 'NWC'/'NHWC'/'NCW'/'NCHW'."""
    last = data_format == "channels_last"
    return ("NWC" if last else "NCW") if rank == 1 else ("NHWC" if last else "NCHW")


class BaseConv(Layer):
    """What every convolution layer shares: arguments, weights, the fused forward pass."""

    rank = 2

    def __init__(
        self,
        filters: int | None,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
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
        kind = type(self).__name__
        if filters is not None and (isinstance(filters, bool) or int(filters) != filters or
                                    filters < 1):
            raise ValueError(f"{kind}: filters must be a positive integer, got {filters!r}.")
        self.filters = None if filters is None else int(filters)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", kind)
        self.strides = normalize_tuple(strides, self.rank, "strides", kind)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", kind)
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        self.padding = normalize_padding(padding, kind, allowed)
        self.data_format = normalize_data_format(data_format, kind)
        self.groups = int(groups)
        if self.groups < 1 or (self.filters is not None and self.filters % self.groups):
            raise ValueError(f"{kind}: filters ({filters}) must be divisible by groups "
                             f"({groups}).")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{kind}: strides > 1 together with dilation_rate > 1 is not "
                             f"supported; got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}.")
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

    # ---- shapes ----
    def _channels(self, input_shape) -> int:
        axis = -1 if self.data_format == "channels_last" else 1
        if input_shape is None or len(input_shape) != self.rank + 2 or input_shape[axis] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of rank {self.rank + 2} "
                f"({'batch, ' + ', '.join(['spatial'] * self.rank) + ', channels'} for "
                f"{self.data_format}) with a known channel dimension, got shape {input_shape}.")
        return int(input_shape[axis])

    def _kernel_shape(self, channels: int) -> tuple[int, ...]:
        if channels % self.groups:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input's {channels} "
                             f"channels must be divisible by groups={self.groups}.")
        return (*self.kernel_size, channels // self.groups, self.filters)

    def build(self, input_shape: Any) -> None:
        channels = self._channels(input_shape)
        self.kernel = self.add_weight("kernel", self._kernel_shape(channels),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self._bias_weight(self.filters)
        self.built = True

    def _bias_weight(self, size: int):
        return self.add_weight("bias", (size,), initializer=self.bias_initializer,
                               regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def _padding(self):
        return self.padding.upper()

    def _check_input(self, inputs: Tensor) -> None:
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of rank {self.rank + 2}, "
                f"got shape {tuple(inputs.shape)}.")
        channels = self._channels(tuple(inputs.shape))
        expected = self.kernel.shape[-2] * self.groups
        if channels != expected:
            raise ValueError(f"{type(self).__name__} '{self.name}' was built for {expected} input "
                             f"channels, got inputs of shape {tuple(inputs.shape)}.")

    def _activate(self, function: Callable, *args: Any) -> Tensor:
        """function(*args, activation=...) fused where possible, else the activation apart."""
        if self._fused_activation is not None:
            return function(*args, activation=self._fused_activation)
        return self.activation(function(*args, activation=None))

    def call(self, inputs: Tensor) -> Tensor:
        self._check_input(inputs)
        return self._activate(
            lambda x, k, b, activation: tf.nn.conv(
                x, k, b, strides=list(self.strides), padding=self._padding(),
                data_format=tf_data_format(self.data_format, self.rank),
                dilations=list(self.dilation_rate), activation=activation),
            inputs, self.kernel, self.bias)

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }  # fmt: skip
        if self.filters is not None:
            config["filters"] = self.filters
        if self.groups != 1:
            config["groups"] = self.groups
        return config


class Conv1D(BaseConv):
    """1-D convolution over (batch, steps, channels); padding 'valid', 'same' or 'causal'."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, **kwargs)

    def _padding(self):
        if self.padding == "causal":  # left padding only: no output sees the future
            return [[(self.kernel_size[0] - 1) * self.dilation_rate[0], 0]]
        return self.padding.upper()


class Conv2D(BaseConv):
    """2-D convolution over (batch, height, width, channels) (channels_last, the default)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, **kwargs)


def transpose_output_length(length: int, kernel: int, padding: str, output_padding, stride: int,
                            dilation: int) -> int:
    """Keras's deconvolution output length."""
    kernel = kernel + (kernel - 1) * (dilation - 1)
    if output_padding is None:
        return length * stride + max(kernel - stride, 0) if padding == "valid" else length * stride
    pad = kernel // 2 if padding == "same" else 0
    return (length - 1) * stride + kernel - 2 * pad + output_padding


class Conv2DTranspose(BaseConv):
    """The transpose of Conv2D (its gradient with respect to its input): kernel
    (kh, kw, filters, in_channels), output (batch, H * stride (+ ...), W * stride, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            values = (output_padding,) * 2 if isinstance(output_padding, (int, np.integer)) \
                else tuple(output_padding)
            if len(values) != 2 or any(int(v) != v or v < 0 for v in values):
                raise ValueError(f"Conv2DTranspose: output_padding must be a non-negative int or "
                                 f"two of them, got {output_padding!r}.")
            self.output_padding = tuple(int(v) for v in values)
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"Conv2DTranspose: output_padding {self.output_padding} must be "
                             f"smaller than strides {self.strides}.")

    def _kernel_shape(self, channels: int) -> tuple[int, ...]:
        return (*self.kernel_size, self.filters, channels)

    def _check_input(self, inputs: Tensor) -> None:
        if inputs.ndim != 4 or self._channels(tuple(inputs.shape)) != self.kernel.shape[-1]:
            raise ValueError(f"Conv2DTranspose '{self.name}' was built for inputs with "
                             f"{self.kernel.shape[-1]} channels, got {tuple(inputs.shape)}.")

    def call(self, inputs: Tensor) -> Tensor:
        self._check_input(inputs)
        first = self.data_format == "channels_last"
        spatial = tuple(inputs.shape)[1:3] if first else tuple(inputs.shape)[2:4]
        out = [transpose_output_length(size, k, self.padding,
                                       None if self.output_padding is None else p, s, d)
               for size, k, p, s, d in zip(spatial, self.kernel_size,
                                           self.output_padding or (0, 0), self.strides,
                                           self.dilation_rate)]
        batch = inputs.shape[0]
        shape = [batch, *out, self.filters] if first else [batch, self.filters, *out]
        y = tf.nn.conv2d_transpose(inputs, self.kernel, shape, list(self.strides),
                                   self.padding.upper(), tf_data_format(self.data_format, 2),
                                   list(self.dilation_rate))
        if self.bias is not None:
            y = tf.nn.bias_add(y, self.bias, data_format=tf_data_format(self.data_format, 2))
        return self.activation(y)

    def get_config(self) -> dict:
        return {**super().get_config(), "output_padding": self.output_padding}


class DepthwiseConv2D(BaseConv):
    """Each input channel convolved with its own `depth_multiplier` filters: kernel
    (kh, kw, in_channels, depth_multiplier), bias (in_channels * depth_multiplier,)."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, kernel_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         kernel_constraint=depthwise_constraint, **kwargs)
        self.depth_multiplier = int(depth_multiplier)

    def build(self, input_shape: Any) -> None:
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(
            "kernel", (*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self._bias_weight(channels * self.depth_multiplier)
        self.built = True

    def _check_input(self, inputs: Tensor) -> None:
        if inputs.ndim != 4 or self._channels(tuple(inputs.shape)) != self.kernel.shape[2]:
            raise ValueError(f"DepthwiseConv2D '{self.name}' was built for inputs with "
                             f"{self.kernel.shape[2]} channels, got {tuple(inputs.shape)}.")

    def call(self, inputs: Tensor) -> Tensor:
        self._check_input(inputs)
        kh, kw, channels, multiplier = self.kernel.shape
        kernel = tf.reshape(self.kernel, (kh, kw, 1, channels * multiplier))
        return self._activate(
            lambda x, k, b, activation: tf.nn.conv(
                x, k, b, strides=list(self.strides), padding=self.padding.upper(),
                data_format=tf_data_format(self.data_format, 2),
                dilations=list(self.dilation_rate), activation=activation),
            inputs, kernel, self.bias)

    def get_config(self) -> dict:
        config = {**super().get_config(), "depth_multiplier": self.depth_multiplier}
        config.pop("kernel_constraint", None)  # Keras's name here is depthwise_constraint
        return config


class SeparableConv2D(BaseConv):
    """A depthwise convolution, then a 1x1 convolution to `filters` channels: weights
    depthwise_kernel (kh, kw, in, depth_multiplier), pointwise_kernel
    (1, 1, in * depth_multiplier, filters), bias (filters,)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, kernel_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer,
                         kernel_constraint=depthwise_constraint, **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape: Any) -> None:
        channels = self._channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", (*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self._bias_weight(self.filters)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != 4 or self._channels(tuple(inputs.shape)) != \
                self.depthwise_kernel.shape[2]:
            raise ValueError(f"SeparableConv2D '{self.name}' was built for inputs with "
                             f"{self.depthwise_kernel.shape[2]} channels, got "
                             f"{tuple(inputs.shape)}.")
        data_format = tf_data_format(self.data_format, 2)
        kh, kw, channels, multiplier = self.depthwise_kernel.shape
        depthwise = tf.nn.conv(inputs, tf.reshape(self.depthwise_kernel,
                                                  (kh, kw, 1, channels * multiplier)),
                               strides=list(self.strides), padding=self.padding.upper(),
                               data_format=data_format, dilations=list(self.dilation_rate))
        return self._activate(
            lambda x, k, b, activation: tf.nn.conv(x, k, b, data_format=data_format,
                                                   activation=activation),
            depthwise, self.pointwise_kernel, self.bias)

    def get_config(self) -> dict:
        config = {**super().get_config(), "depth_multiplier": self.depth_multiplier}
        config.pop("kernel_constraint", None)  # Keras's name here is depthwise_constraint
        return config


Convolution1D, Convolution2D, Convolution2DTranspose = Conv1D, Conv2D, Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
