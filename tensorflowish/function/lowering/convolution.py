"""Lowering rules of the fused convolution layer (`nn.conv`; `nn.conv1d`, `nn.conv2d` and
`nn.convolution`, which eager computes as it without bias and activation) and of pooling
(`nn.pool` and the max/avg pool ops), for channels-last inputs (1-D or 2-D convolutions and
pooling): the same `kernels.convolution` calls as their eager ops (`ops/convolution.py`,
`ops/pooling.py`), with the window geometry resolved once, at compile time, by the ops' own
argument rules."""

from __future__ import annotations

import numpy as np

from ...kernels import conv_cpu
from ...kernels import convolution as conv_kernels
from ...ops import convolution as conv_ops
from . import Backward, Line, Lowered, NotLowered, lowering


def _geometry(line: Line, x_shape, window, strides, dilations, padding, data_format, groups=1):
    """A Geometry as the eager op resolves it, for a channels-last 2-D input, or a 1-D one
    seen as 2-D with a height of 1 (as the op sees it)."""
    rank = len(x_shape) - 2
    layout = "NHWC" if rank == 2 else "NWC"
    if rank not in (1, 2) or not conv_ops.channels_last(line.name, data_format, layout):
        raise NotLowered("not a channels-last 1-D or 2-D input")
    strides = conv_ops.spatial(line.name, strides, rank, "strides", True)
    dilations = conv_ops.spatial(line.name, dilations, rank, "dilations", True)
    sizes = tuple(x_shape[1:3]) if rank == 2 else (1, x_shape[1])
    if rank == 1:
        window, strides, dilations = (1,) + tuple(window), (1,) + strides, (1,) + dilations
    pads = conv_ops.resolve_pads(line.name, padding, sizes, tuple(window), strides, dilations,
                                 True, rank)
    return conv_ops.Geometry(tuple(window), strides, dilations, pads, groups)


@lowering("nn.conv")
def conv(line: Line) -> Lowered:
    return fused_conv(line, line.literal("strides"), line["bias"] is not None,
                      line.literal("activation"), line.literal("alpha"))


def fused_conv(line: Line, strides, has_bias: bool, activation, alpha) -> Lowered:
    """The fused convolution of a line with arguments `input`, `filters` (and `bias`),
    `padding`, `data_format` and `dilations` (nn.conv's, and conv1d's or conv2d's, which
    eager computes as nn.conv without bias and activation)."""
    x, kernel = line.binary("input", "filters")
    inputs = [x, kernel]
    if has_bias:
        inputs.append(line.binary("input", "bias")[1])
    x_shape, kernel_shape = line.shape(x), line.shape(kernel)
    if line.dtype(x).kind != "f" or len(kernel_shape) != len(x_shape) or \
            kernel_shape[-2] == 0:
        raise NotLowered("dtype or filter rank")
    activation = conv_ops._activation_name(activation)
    geometry = _geometry(line, x_shape, kernel_shape[:-2], strides,
                         line.literal("dilations"), line.literal("padding"),
                         line.literal("data_format"), x_shape[-1] // kernel_shape[-2])
    arguments = (*geometry.arguments(), geometry.groups, activation, alpha)
    flat = len(x_shape) == 3  # 1-D: the op reshapes to NHWC with a height of 1, and back
    x4 = (x_shape[0], 1) + tuple(x_shape[1:])
    k4 = (1,) + tuple(kernel_shape)
    y_shape = line.output_shape

    # the NumPy kernels themselves (plans run on NumPy arrays), with out= for the plan's buffers
    def forward(a, k, b=None, out=None):
        if flat:
            a, k = a.reshape(x4), k.reshape(k4)
        y, pre, patches = conv_cpu.conv_forward(a, k, b, *arguments, keep_patches=True,
                                                out=None if out is None else out[0])
        return (y.reshape(y_shape) if flat else y), (pre, patches)

    dtype = line.dtype(x)
    y4 = (y_shape[0], 1) + tuple(y_shape[1:]) if flat else tuple(y_shape)
    # dx (4-D, as the kernel computes it) and dbias; the small kernel gradient is allocated
    gradient_buffers = ((x4 if flat else tuple(x_shape), dtype), None,
                        ((kernel_shape[-1],), dtype))[:len(inputs)]

    def vjp(needs, overwrite):
        need_bias = len(needs) > 2 and needs[2]

        def backward(g, a, k, y, residual, out=None):
            if flat:
                g, a, k = g.reshape(y.shape[:1] + (1,) + y.shape[1:]), a.reshape(x4), \
                    k.reshape(k4)
                y = y.reshape(g.shape)
            out = None if out is None else tuple(out) + (None,) * (3 - len(out))
            dx, dk, db = conv_cpu.conv_backward(g, a, k, y, *residual, *arguments, needs[0],
                                                needs[1], need_bias, None, overwrite, out)
            if flat:
                dx = None if dx is None else dx.reshape(x_shape)
                dk = None if dk is None else dk.reshape(kernel_shape)
            return (dx, dk, db)[:len(needs)]
        return Backward(backward, ("in0", "in1", "out", "res"), buffers=gradient_buffers)
    return Lowered(forward, inputs, vjp, residual=True, buffers=((y4, dtype), None))


def _pool_rule(line: Line, kind: str, window, strides, padding, data_format, dilations=None):
    x = line.tensor("input", float_only=True)
    if kind == "AVG" and not isinstance(padding, str):
        raise NotLowered("explicit average-pool padding")
    rank = len(line.shape(x)) - 2
    if rank not in (1, 2):
        raise NotLowered("not 1-D or 2-D pooling")
    window = conv_ops.spatial(line.name, window, rank, "ksize", True)
    geometry = _geometry(line, line.shape(x), window, strides, dilations, padding, data_format)
    arguments = (geometry.kernel_size, *geometry.arguments())
    # 1-D: the op reshapes to NHWC with a height of 1 and back (its VJP too)
    shape = tuple(line.shape(x))
    x4 = shape if rank == 2 else (shape[0], 1) + shape[1:]
    y_shape = tuple(line.output_shape)
    y4 = y_shape if rank == 2 else (y_shape[0], 1) + y_shape[1:]
    if kind == "MAX":
        def forward(a, out=None):
            y, argmax = conv_cpu.max_pool(a.reshape(x4), *arguments, out=out)
            return y.reshape(y_shape), argmax

        def backward(g, argmax, out=None):
            return (conv_cpu.max_pool_backward(g.reshape(y4), argmax, x4, *arguments,
                                               out=None if out is None else out[0])
                    .reshape(shape),)
        dtype = line.dtype(x)
        # the input gradient goes into a buffer where there is no padding to cut off
        backward_buffers = () if any(geometry.pads) else ((x4, dtype),)
        return Lowered(forward, [x],
                       lambda needs, overwrite: Backward(backward, ("res",),
                                                         buffers=backward_buffers),
                       residual=True, buffers=((y4, dtype), (y4, np.dtype(np.int32))))

    def backward_avg(g):
        return (conv_kernels.avg_pool_backward(g.reshape(y4), x4, *arguments).reshape(shape),)
    return Lowered(lambda a: conv_kernels.avg_pool(a.reshape(x4), *arguments).reshape(y_shape),
                   [x], lambda needs, overwrite: Backward(backward_avg))


@lowering("nn.conv2d")
def conv2d(line: Line) -> Lowered:
    return fused_conv(line, line.literal("strides"), False, None, 0.2)


@lowering("nn.conv1d")
def conv1d(line: Line) -> Lowered:
    return fused_conv(line, line.literal("stride"), False, None, 0.2)


@lowering("nn.convolution")
def convolution(line: Line) -> Lowered:
    """tf.nn.convolution: conv1d or conv2d by the input's rank (strides None: 1)."""
    return fused_conv(line, line.literal("strides") or 1, False, None, 0.2)


@lowering("nn.pool")
def pool(line: Line) -> Lowered:
    kind = str(line.literal("pooling_type")).upper()
    if kind not in ("MAX", "AVG"):
        raise NotLowered("pooling type")
    return _pool_rule(line, kind, line.literal("window_shape"), line.literal("strides"),
                      line.literal("padding"), line.literal("data_format"),
                      line.literal("dilations"))


@lowering("nn.max_pool2d", "nn.max_pool1d", "nn.max_pool")
def max_pool(line: Line) -> Lowered:
    return _pool_rule(line, "MAX", line.literal("ksize"), line.literal("strides"),
                      line.literal("padding"), line.literal("data_format"))


@lowering("nn.avg_pool2d", "nn.avg_pool1d", "nn.avg_pool")
def avg_pool(line: Line) -> Lowered:
    return _pool_rule(line, "AVG", line.literal("ksize"), line.literal("strides"),
                      line.literal("padding"), line.literal("data_format"))
