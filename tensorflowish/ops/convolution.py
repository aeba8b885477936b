"""Convolutions: `tf.nn.conv1d/conv2d/conv2d_transpose/depthwise_conv2d/separable_conv2d` and the
fused convolution layer `tf.nn.conv` (`act(conv(x, W) + b)` as one tape record).

Every convolution is one of three linear ops on NHWC tensors, each the others' VJP:
`_conv` (y = x * W), `_conv_input_gradient` (the transposed convolution) and
`_conv_kernel_gradient`. The fused op runs `kernels.convolution` (im2col, one GEMM, one pass
for bias and activation) and, unless an outer tape differentiates its backward pass, one fused
backward that reuses the forward's patch matrix. Output sizes and SAME padding are TensorFlow's
(odd padding puts the extra row/column at the bottom/right).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InvalidArgumentError, UnimplementedError
from ..kernels import convolution as conv_kernels
from ..tape import _recording_tapes
from .nn import _DENSE_ACTIVATIONS, _recompute_vjp
from .registry import (
    Tensor,
    as_tensor,
    binary_operands,
    format_shape,
    record,
    register,
    require_float,
    should_record,
)
from .shapes import reshape, transpose


@dataclasses.dataclass(frozen=True)
class Geometry:
    """A 2-D window resolved to numbers: what the kernels take."""

    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    groups: int = 1

    def arguments(self):
        return self.strides, self.dilations, self.pads


# ---- argument rules (TensorFlow's) -------------------------------------------------------------
def spatial(op: str, value, rank: int, what: str, channels_last: bool = True) -> tuple[int, ...]:
    """strides/dilations/ksize: an int, `rank` ints, or `rank + 2` ints whose batch and channel
    entries are 1 (TensorFlow's three spellings)."""
    if value is None:
        return (1,) * rank
    values = [int(value)] if np.ndim(value) == 0 else [int(v) for v in value]
    if len(values) == 1:
        values = values * rank
    elif len(values) == rank + 2:
        outer = (values[0], values[-1]) if channels_last else (values[0], values[1])
        if outer != (1, 1):
            inner = values[1:-1] if channels_last else values[2:]
            raise InvalidArgumentError(
                f"{op}: {what} {values} must be 1 in the batch and channel dimensions; give "
                f"{rank} spatial values instead, e.g. {what}={inner}.")
        values = values[1:-1] if channels_last else values[2:]
    if len(values) != rank or any(v < 1 for v in values):
        raise InvalidArgumentError(f"{op}: {what} must be 1, {rank} or {rank + 2} positive "
                                   f"integers, got {value!r}.")
    return tuple(values)


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: output ceil(size / stride), the odd extra at the end."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def resolve_pads(op: str, padding, sizes, kernel_size, strides, dilations, channels_last=True,
                 rank: int = 2) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for 'SAME', 'VALID' or explicit padding: `rank` (or rank + 2,
    with zeros for batch and channels) [before, after] pairs. The 2-D geometry is given; a 1-D op
    passes sizes (1, W)."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0, 0, 0)
        if mode == "SAME":
            return tuple(p for size, k, s, d in zip(sizes, kernel_size, strides, dilations)
                         for p in same_pads(size, k, s, d))
        raise InvalidArgumentError(f"{op}: padding must be 'SAME', 'VALID' or a list of "
                                   f"[before, after] pairs, got {padding!r}.")
    try:
        pairs = [tuple(int(v) for v in pair) for pair in padding]
    except TypeError:
        pairs = []
    if len(pairs) == rank + 2:
        outer = (pairs[0], pairs[-1]) if channels_last else (pairs[0], pairs[1])
        if outer != ((0, 0), (0, 0)):
            raise InvalidArgumentError(f"{op}: explicit padding in the batch and channel "
                                       f"dimensions must be 0, got {padding!r}.")
        pairs = pairs[1:-1] if channels_last else pairs[2:]
    if len(pairs) != rank or any(len(pair) != 2 or min(pair) < 0 for pair in pairs):
        raise InvalidArgumentError(f"{op}: explicit padding must be {rank} (or {rank + 2}) "
                                   f"non-negative [before, after] pairs, got {padding!r}.")
    if rank == 1:
        pairs = [(0, 0)] + pairs
    return pairs[0] + pairs[1]


def output_sizes(op: str, sizes, geometry: Geometry) -> tuple[int, int]:
    """The output's (H, W), or an InvalidArgumentError when the window does not fit."""
    out = []
    for axis, size in enumerate(sizes):
        padded = size + geometry.pads[2 * axis] + geometry.pads[2 * axis + 1]
        effective = (geometry.kernel_size[axis] - 1) * geometry.dilations[axis] + 1
        if padded < effective:
            raise InvalidArgumentError(
                f"{op}: the window ({geometry.kernel_size[axis]} with dilation "
                f"{geometry.dilations[axis]}, {effective} wide) does not fit the padded input "
                f"({size} + padding = {padded}) in spatial dimension {axis}; use a smaller "
                "window, padding='SAME' or a larger input.")
        out.append((padded - effective) // geometry.strides[axis] + 1)
    return tuple(out)


def check_rank(op: str, x: Tensor, rank: int, layout: str) -> None:
    if x.array.ndim != rank:
        raise InvalidArgumentError(f"{op}: input must have rank {rank} ({layout}), got shape "
                                   f"{format_shape(x.array.shape)}.")


def channels_last(op: str, data_format, default: str) -> bool:
    data_format = default if data_format is None else data_format.upper()
    if data_format in ("NHWC", "NWC", "NDHWC", "NC", "N...C") or data_format == default:
        return True
    if data_format in ("NCHW", "NCW", "NCDHW", "NC..."):
        return False
    raise InvalidArgumentError(f"{op}: data_format must be {default!r} or its channels-first "
                               f"form, got {data_format!r}.")


def to_nhwc(x: Tensor, last: bool, rank: int) -> Tensor:
    """Rank-3 (1-D) or rank-4 (2-D) input as NHWC (a 1-D input gets H = 1)."""
    if not last:
        x = transpose(x, (0, 2, 1) if rank == 1 else (0, 2, 3, 1))
    return reshape(x, (x.shape[0], 1) + tuple(x.shape[1:])) if rank == 1 else x


def from_nhwc(y: Tensor, last: bool, rank: int) -> Tensor:
    if rank == 1:
        y = reshape(y, (y.shape[0],) + tuple(y.shape[2:]))
    if not last:
        y = transpose(y, (0, 2, 1) if rank == 1 else (0, 3, 1, 2))
    return y


# ---- the three linear convolutions, each the others' VJP -------------------------------------
def _conv(x: Tensor, kernel: Tensor, geometry: Geometry) -> Tensor:
    y = conv_kernels.conv_forward(x.array, kernel.array, None, *geometry.arguments(),
                                  geometry.groups, "linear", 0.0, keep_patches=False)[0]
    out = Tensor(y)
    if should_record((x, kernel)):
        record((x, kernel), out, (
            lambda g: _conv_input_gradient(g, kernel, geometry, x.array.shape),
            lambda g: _conv_kernel_gradient(x, g, geometry, kernel.array.shape)))
    return out


def _conv_input_gradient(dy: Tensor, kernel: Tensor, geometry: Geometry, input_shape) -> Tensor:
    out = Tensor(conv_kernels.conv_transpose(dy.array, kernel.array, tuple(input_shape),
                                             *geometry.arguments(), geometry.groups))
    if should_record((dy, kernel)):
        record((dy, kernel), out, (
            lambda u: _conv(u, kernel, geometry),
            lambda u: _conv_kernel_gradient(u, dy, geometry, kernel.array.shape)))
    return out


def _conv_kernel_gradient(x: Tensor, dy: Tensor, geometry: Geometry, kernel_shape) -> Tensor:
    out = Tensor(conv_kernels.conv_kernel_gradient(x.array, dy.array, tuple(kernel_shape),
                                                   *geometry.arguments(), geometry.groups))
    if should_record((x, dy)):
        record((x, dy), out, (
            lambda u: _conv_input_gradient(dy, u, geometry, x.array.shape),
            lambda u: _conv(x, u, geometry)))
    return out


def _fused(x: Tensor, kernel: Tensor, bias: Tensor | None, geometry: Geometry,
           activation: str, alpha: float) -> Tensor:
    """act(conv(x, kernel) + bias) on NHWC tensors, one tape record."""
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    recorded = should_record(inputs)
    y, pre, patches = conv_kernels.conv_forward(
        x.array, kernel.array, None if bias is None else bias.array, *geometry.arguments(),
        geometry.groups, activation, alpha, keep_patches=recorded)
    out = Tensor(y)
    if recorded:
        def vjp(upstream: Tensor, needs):
            if _recording_tapes:  # an outer tape differentiates this backward pass: compose it
                def composed(x_, kernel_, *bias_):
                    z = _conv(x_, kernel_, geometry)
                    return _DENSE_ACTIVATIONS[activation](z + bias_[0] if bias_ else z, alpha)
                return _recompute_vjp(composed, inputs, upstream, needs)
            has_bias = len(needs) > 2
            dx, dkernel, dbias = conv_kernels.conv_backward(
                upstream.array, x.array, kernel.array, y, pre, patches, *geometry.arguments(),
                geometry.groups, activation, alpha, needs[0], needs[1], has_bias and needs[2])
            grads = tuple(None if g is None else Tensor(g) for g in (dx, dkernel, dbias))
            return grads if has_bias else grads[:2]
        record(inputs, out, vjp)
    return out


def _activation_name(activation) -> str:
    if activation is None:
        return "linear"
    if activation.__class__ is not str and callable(activation):
        activation = getattr(activation, "__name__", str(activation))
    if activation not in _DENSE_ACTIVATIONS:
        raise InvalidArgumentError(f"conv: unknown activation {activation!r}; expected one of "
                                   f"{sorted(_DENSE_ACTIVATIONS)} or None.")
    return activation


def _convolve(op, input, filters, bias, strides, padding, data_format, dilations, rank,
              activation="linear", alpha=0.2, groups=None, depthwise=False) -> Tensor:
    """The shared body of every forward convolution (1-D or 2-D, any layout)."""
    layout = ("NWC", "NCW") if rank == 1 else ("NHWC", "NCHW")
    last = channels_last(op, data_format, layout[0])
    x, kernel = binary_operands(input, filters, op)
    require_float(op, x)
    if bias is not None:
        bias = binary_operands(x, bias, op)[1]
    check_rank(op, x, rank + 2, layout[0] if last else layout[1])
    if kernel.array.ndim != rank + 2:
        expected = "(kw, in, out)" if rank == 1 else "(kh, kw, in, out)"
        raise InvalidArgumentError(f"{op}: filters must have rank {rank + 2} {expected}, got "
                                   f"shape {format_shape(kernel.array.shape)}.")
    strides = spatial(op, strides, rank, "strides", last)
    dilations = spatial(op, dilations, rank, "dilations", last)
    x = to_nhwc(x, last, rank)
    if rank == 1:
        kernel = reshape(kernel, (1,) + tuple(kernel.array.shape))
        strides, dilations = (1,) + strides, (1,) + dilations
    kh, kw, k_in, k_out = kernel.array.shape
    channels = x.array.shape[3]
    if depthwise:
        if k_in != channels:
            raise InvalidArgumentError(
                f"{op}: filter's in_channels ({k_in}) must equal the input's channels "
                f"({channels}); filter shape {format_shape(kernel.array.shape)}, input "
                f"{format_shape(x.array.shape)}.")
        kernel = reshape(kernel, (kh, kw, 1, k_in * k_out))
        groups = channels
    else:
        if k_in == 0 or channels % k_in:
            raise InvalidArgumentError(
                f"{op}: the input has {channels} channels but the filter expects {k_in} "
                f"(filter shape {format_shape(kernel.array.shape)}); the input's channels must "
                "equal the filter's in_channels, or be a multiple of it for grouped convolution.")
        groups = channels // k_in
        if k_out % groups:
            raise InvalidArgumentError(f"{op}: {groups} groups need out_channels divisible by "
                                       f"{groups}, got filter {format_shape(kernel.array.shape)}.")
    out_channels = kernel.array.shape[3]
    if bias is not None and bias.array.shape != (out_channels,):
        raise InvalidArgumentError(f"{op}: bias must have shape [{out_channels}], got "
                                   f"{format_shape(bias.array.shape)}.")
    sizes = x.array.shape[1:3]
    pads = resolve_pads(op, padding, sizes, (kh, kw), strides, dilations, last, rank)
    geometry = Geometry((kh, kw), strides, dilations, pads, groups)
    output_sizes(op, sizes, geometry)
    y = _fused(x, kernel, bias, geometry, activation, alpha)
    return from_nhwc(y, last, rank)


# ---- public ops --------------------------------------------------------------------------------
def _draw(rng, *shape):
    return rng.uniform(-1, 1, shape)


def _conv2d_samples(rng):
    x = lambda h=5, w=4, c=2: _draw(rng, 2, h, w, c)  # noqa: E731
    k = lambda kh=3, kw=2, i=2, o=3: _draw(rng, kh, kw, i, o)  # noqa: E731
    return [((x(), k()), {"strides": 1, "padding": "SAME"}),
            ((x(), k()), {"strides": 2, "padding": "VALID"}),
            ((x(7, 5), k()), {"strides": [1, 3, 2, 1], "padding": "SAME"}),
            ((x(6, 5), k()), {"strides": 1, "padding": "SAME", "dilations": 2}),
            ((x(), k()), {"strides": 1, "padding": [[0, 0], [1, 0], [2, 1], [0, 0]]}),
            ((_draw(rng, 2, 2, 4, 3), k(2, 2, 2, 3)), {"strides": 1, "padding": "VALID",
                                                       "data_format": "NCHW"}),
            ((x(c=4), k(i=2, o=4)), {"strides": 1, "padding": "VALID"})]  # two groups


@register("nn.conv2d", samples=_conv2d_samples)
def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None,
           name=None) -> Tensor:
    """2-D convolution of `input` (N, H, W, C) with `filters` (kh, kw, C, out).

    padding: 'SAME' (output ceil(H / stride); odd padding extra on the bottom/right), 'VALID',
    or explicit [[0, 0], [top, bottom], [left, right], [0, 0]]. A filter with C / g input
    channels makes a grouped convolution with g groups.

    >>> import tensorflowish as tf
    >>> y = tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1]), 1, "VALID")
    >>> y.numpy()[0, :, :, 0].tolist()
    [[9.0, 9.0], [9.0, 9.0]]
    """
    return _convolve("conv2d", input, filters, None, strides, padding, data_format, dilations, 2)


def _conv1d_samples(rng):
    return [((_draw(rng, 2, 7, 2), _draw(rng, 3, 2, 3)), {"stride": 2, "padding": "SAME"}),
            ((_draw(rng, 2, 7, 2), _draw(rng, 2, 2, 3)), {"stride": 1, "padding": "VALID",
                                                         "dilations": 2}),
            ((_draw(rng, 2, 2, 6), _draw(rng, 3, 2, 2)), {"stride": 1, "padding": "SAME",
                                                         "data_format": "NCW"})]


@register("nn.conv1d", samples=_conv1d_samples)
def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None,
           name=None) -> Tensor:
    """1-D convolution of `input` (N, W, C) with `filters` (kw, C, out)."""
    return _convolve("conv1d", input, filters, None, stride, padding, data_format, dilations, 1)


def _depthwise_samples(rng):
    return [((_draw(rng, 2, 5, 4, 3), _draw(rng, 3, 2, 3, 2)), {"strides": [1, 1, 1, 1],
                                                               "padding": "SAME"}),
            ((_draw(rng, 2, 7, 6, 2), _draw(rng, 2, 3, 2, 1)), {"strides": [1, 2, 2, 1],
                                                               "padding": "VALID"})]


@register("nn.depthwise_conv2d", samples=_depthwise_samples)
def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None,
                     name=None) -> Tensor:
    """Each input channel convolved with its own `channel_multiplier` filters: `filter`
    (kh, kw, C, multiplier) gives C * multiplier outputs, channel c * multiplier + m."""
    return _convolve("depthwise_conv2d", input, filter, None, strides, padding, data_format,
                     dilations, 2, depthwise=True)


def _separable_samples(rng):
    return [((_draw(rng, 2, 5, 4, 2), _draw(rng, 3, 3, 2, 2), _draw(rng, 1, 1, 4, 3)),
             {"strides": [1, 1, 1, 1], "padding": "SAME"})]


@register("nn.separable_conv2d", samples=_separable_samples)
def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding,
                     data_format=None, dilations=None, name=None) -> Tensor:
    """A depthwise convolution followed by a 1x1 convolution with `pointwise_filter`
    (1, 1, C * multiplier, out)."""
    depthwise = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format,
                                 dilations)
    return conv2d(depthwise, pointwise_filter, 1, "VALID", data_format or "NHWC")


def _transpose_samples(rng):
    return [((_draw(rng, 2, 3, 2, 3), _draw(rng, 3, 3, 2, 3), [2, 6, 4, 2]),
             {"strides": 2, "padding": "SAME"}),
            ((_draw(rng, 2, 3, 2, 3), _draw(rng, 2, 3, 2, 3), [2, 7, 6, 2]),
             {"strides": [2, 3], "padding": "VALID"})]


@register("nn.conv2d_transpose", samples=_transpose_samples)
def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",
                     dilations=None, name=None) -> Tensor:
    """The gradient of conv2d with respect to its input (a "deconvolution"): `filters` is
    (kh, kw, out_channels, in_channels) and `output_shape` the full output shape."""
    op = "conv2d_transpose"
    last = channels_last(op, data_format, "NHWC")
    x, kernel = binary_operands(input, filters, op)
    require_float(op, x)
    check_rank(op, x, 4, "NHWC" if last else "NCHW")
    shape = [int(v) for v in (output_shape.numpy() if isinstance(output_shape, Tensor)
                              else output_shape)]
    if len(shape) != 4 or kernel.array.ndim != 4:
        raise InvalidArgumentError(f"{op}: output_shape must have 4 entries and filters rank 4, "
                                   f"got {shape} and {format_shape(kernel.array.shape)}.")
    strides = spatial(op, strides, 2, "strides", last)
    dilations = spatial(op, dilations, 2, "dilations", last)
    x = to_nhwc(x, last, 2)
    out_shape = tuple(shape) if last else (shape[0], shape[2], shape[3], shape[1])
    kh, kw, k_out, k_in = kernel.array.shape
    if x.array.shape[3] != k_in or out_shape[3] != k_out or out_shape[0] != x.array.shape[0]:
        raise InvalidArgumentError(
            f"{op}: filters {format_shape(kernel.array.shape)} are (kh, kw, out_channels, "
            f"in_channels): in_channels must equal the input's channels "
            f"({format_shape(x.array.shape)}) and out_channels output_shape's {shape}.")
    pads = resolve_pads(op, padding, out_shape[1:3], (kh, kw), strides, dilations, last)
    geometry = Geometry((kh, kw), strides, dilations, pads)
    if output_sizes(op, out_shape[1:3], geometry) != x.array.shape[1:3]:
        raise InvalidArgumentError(
            f"{op}: output_shape {shape} does not fit the input {format_shape(input.shape)}: a "
            f"conv2d with these strides and padding maps {out_shape[1:3]} to "
            f"{output_sizes(op, out_shape[1:3], geometry)}, not {x.array.shape[1:3]}.")
    y = _conv_input_gradient(x, kernel, geometry, out_shape)
    return from_nhwc(y, last, 2)


def _fused_samples(rng):
    cases = []
    for activation in ("relu", "tanh", "gelu", None):
        cases.append(((_draw(rng, 2, 5, 4, 2), _draw(rng, 3, 3, 2, 3), _draw(rng, 3)),
                      {"strides": 1, "padding": "SAME", "activation": activation}))
    cases.append(((_draw(rng, 2, 4, 4, 3), _draw(rng, 1, 1, 3, 2), _draw(rng, 2)),
                  {"activation": "sigmoid"}))  # 1x1: plain GEMM
    return cases


@register("nn.conv", samples=_fused_samples)
def conv(input, filters, bias=None, strides=1, padding="VALID", data_format=None,
         dilations=None, activation=None, alpha: float = 0.2, name=None) -> Tensor:
    """The fused convolution layer, like `tf.nn.dense`: act(conv(input, filters) + bias) as ONE
    op (im2col, one GEMM, one pass for bias and activation; one fused backward). 1-D (rank-3
    input) or 2-D (rank 4); `filters` with fewer input channels than the input makes a grouped
    convolution. activation: None/'linear', 'relu', 'sigmoid', 'tanh', 'gelu', 'leaky_relu'.

    >>> import tensorflowish as tf
    >>> y = tf.nn.conv(tf.ones([1, 3, 3, 1]), tf.ones([3, 3, 1, 2]), tf.constant([-8.0, 1.0]),
    ...                activation="relu")
    >>> y.numpy().ravel().tolist()
    [1.0, 10.0]
    """
    x = as_tensor(input)
    rank = x.array.ndim - 2
    if rank not in (1, 2):
        raise InvalidArgumentError(f"conv: input must have rank 3 (1-D) or 4 (2-D), got shape "
                                   f"{format_shape(x.array.shape)}.")
    return _convolve("conv", x, filters, bias, strides, padding, data_format, dilations, rank,
                     _activation_name(activation), alpha)


@register("nn.convolution", samples=lambda rng: [
    ((_draw(rng, 2, 5, 4, 2), _draw(rng, 2, 3, 2, 2)), {"padding": "SAME", "dilations": 2})])
def convolution(input, filters, strides=None, padding="VALID", data_format=None,
                dilations=None, name=None) -> Tensor:
    """`tf.nn.convolution`: conv1d or conv2d by the input's rank."""
    rank = as_tensor(input).array.ndim - 2
    if rank == 1:
        return conv1d(input, filters, strides or 1, padding, data_format or "NWC", dilations)
    if rank == 2:
        return conv2d(input, filters, strides or 1, padding, data_format or "NHWC", dilations)
    raise UnimplementedError(f"convolution: only 1-D and 2-D convolutions are supported, got an "
                             f"input of rank {rank + 2}.")


__all__ = ["conv", "conv1d", "conv2d", "conv2d_transpose", "convolution", "depthwise_conv2d",
           "separable_conv2d", "Geometry"]
