"""The GPU twins of :mod:`.conv_cpu`: the CUDA kernels of ``conv.cu``, cuBLAS for the GEMMs, and
the dense layer's bias+activation kernels (``dense.cu``) for the epilogue.

Each function takes a :class:`.cuda.KernelRunner` first, so the tests run this exact launch code
on the CPU emulator. Same arguments and results as the CPU functions, except that the forward
pass keeps no patch matrix (the backward pass makes it again: GPU memory is the scarcer
resource, and im2col is cheap there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import conv_cpu
from .cuda import (
    ACTIVATIONS,
    COLUMN_SUM_BLOCK,
    ELEMENTWISE_THREADS,
    KernelRunner,
    _bits,
    _int,
    _scalar,
)
from .cuda import _elementwise_grid as elementwise_grid
from .cuda import cupy_runner as runner

__all__ = ["runner", "conv_forward", "conv_backward", "conv_transpose", "conv_kernel_gradient",
           "max_pool", "max_pool_backward", "max_pool_gather", "avg_pool", "avg_pool_backward"]


def _window(input_shape, out_hw, window, strides, dilations, pads) -> tuple:
    """The 14 int32 geometry arguments every kernel of conv.cu takes."""
    n, h, w, c = input_shape
    values = (n, h, w, c, *window, *strides, *dilations, pads[0], pads[2], *out_hw)
    return tuple(_int(v, "size") for v in values)


def _out_hw(input_shape, window, strides, dilations, pads) -> tuple[int, int]:
    return (conv_cpu.output_size(input_shape[1], window[0], strides[0], dilations[0],
                                 pads[0] + pads[1]),
            conv_cpu.output_size(input_shape[2], window[1], strides[1], dilations[1],
                                 pads[2] + pads[3]))


def _launch(runner: KernelRunner, name: str, dtype, size: int, arrays: tuple, geometry: tuple):
    if size:  # float16/bfloat16 arrays go to the _f16/_bf16 kernels as their 16 bits
        runner.kernel("conv.cu", name, dtype)(
            elementwise_grid(runner, size), (ELEMENTWISE_THREADS,),
            tuple(_bits(array) for array in arrays) + geometry)


def im2col(runner: KernelRunner, x, kernel_size, strides, dilations, pads):
    """The (N*Ho*Wo, kh*kw*C) patch matrix (the layout of conv_cpu.im2col)."""
    x = runner.xp.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, kernel_size, strides, dilations, pads)
    rows = x.shape[0] * out_hw[0] * out_hw[1]
    cols = runner.empty((rows, kernel_size[0] * kernel_size[1] * x.shape[3]), x.dtype)
    _launch(runner, "tfish_im2col", x.dtype, cols.size, (cols, x),
            _window(x.shape, out_hw, kernel_size, strides, dilations, pads))
    return cols, out_hw


def col2im(runner: KernelRunner, dcols, input_shape, out_hw, kernel_size, strides, dilations,
           pads):
    """The adjoint of :func:`im2col`: a new ``input_shape`` array."""
    dx = runner.empty(tuple(input_shape), dcols.dtype)
    _launch(runner, "tfish_col2im", dcols.dtype, dx.size, (dx, runner.xp.ascontiguousarray(dcols)),
            _window(input_shape, out_hw, kernel_size, strides, dilations, pads))
    return dx


def _patches(runner, x, kernel_shape, strides, dilations, pads):
    kh, kw = kernel_shape[:2]
    if conv_cpu._is_pointwise((kh, kw), strides, pads):
        x = runner.xp.ascontiguousarray(x)
        return x.reshape(-1, x.shape[3]), x.shape[1:3]
    return im2col(runner, x, (kh, kw), strides, dilations, pads)


def _matmul(xp, a, b):
    """a @ b in the dtype of a: NumPy multiplies bfloat16 (the emulator's only; CuPy has none)
    into float32, which is then rounded back, as a GPU stores a half-precision GEMM."""
    return xp.matmul(a, b).astype(a.dtype, copy=False)


def _product(xp, cols2d, kernel, groups):
    """patches @ kernel per group, (P, O)."""
    if groups == 1:
        return _matmul(xp, cols2d, xp.ascontiguousarray(kernel).reshape(-1, kernel.shape[3]))
    kh, kw = kernel.shape[:2]
    product = _matmul(xp, conv_cpu._grouped(cols2d, groups, kh * kw),
                      conv_cpu._kernel_groups(kernel, groups))
    return xp.ascontiguousarray(product.transpose(1, 0, 2)).reshape(cols2d.shape[0],
                                                                    kernel.shape[3])


def _kernel_gradient(xp, cols2d, g2d, kernel_shape, groups):
    kh, kw, cg, o = kernel_shape
    if groups == 1:
        return _matmul(xp, cols2d.T, g2d).reshape(kernel_shape)
    g_groups = g2d.reshape(g2d.shape[0], groups, o // groups).transpose(1, 0, 2)
    product = _matmul(xp, conv_cpu._grouped(cols2d, groups, kh * kw).transpose(0, 2, 1),
                      g_groups)
    return xp.ascontiguousarray(product.reshape(groups, kh * kw, cg, o // groups)
                                .transpose(1, 2, 0, 3)).reshape(kernel_shape)


def _patch_gradient(xp, g2d, kernel, groups):
    kh, kw = kernel.shape[:2]
    if groups == 1:
        return _matmul(xp, g2d, xp.ascontiguousarray(kernel).reshape(-1, kernel.shape[3]).T)
    g_groups = g2d.reshape(g2d.shape[0], groups, g2d.shape[1] // groups).transpose(1, 0, 2)
    product = _matmul(xp, g_groups, conv_cpu._kernel_groups(kernel, groups).transpose(0, 2, 1))
    return xp.ascontiguousarray(conv_cpu._ungrouped(product, kh * kw))


def conv_forward(runner: KernelRunner, x, kernel, bias, strides, dilations, pads, groups,
                 activation, alpha):
    """``(y, pre, None)``: im2col, one cuBLAS GEMM, the fused bias+activation kernel."""
    xp, dtype = runner.xp, x.dtype
    cols2d, out_hw = _patches(runner, x, kernel.shape, strides, dilations, pads)
    o = kernel.shape[3]
    pre = _product(xp, cols2d, kernel, groups)
    rows = pre.shape[0]
    bias = xp.zeros(o, dtype) if bias is None else xp.ascontiguousarray(bias)
    save_pre = activation == "gelu"
    y = runner.empty(pre.shape, dtype) if save_pre else pre
    if pre.size:
        runner.kernel("dense.cu", "tfish_bias_act_forward", dtype)(
            elementwise_grid(runner, pre.size), (ELEMENTWISE_THREADS,),
            (_bits(pre), _bits(y), _bits(bias), _int(rows, "rows"), _int(o, "units"),
             _int(ACTIVATIONS.index(activation), "activation"), _scalar(dtype)(alpha),
             np.int32(save_pre)))
    shape = (x.shape[0], *out_hw, o)
    return y.reshape(shape), (pre.reshape(shape) if save_pre else None), None


def conv_backward(runner: KernelRunner, dy, x, kernel, y, pre, strides, dilations, pads, groups,
                  activation, alpha, need_dx, need_dkernel, need_dbias, input_shape=None):
    """``(dx, dkernel, dbias)``: the fused activation-derivative kernel, two cuBLAS GEMMs,
    col2im, and the column-sum kernel for the bias."""
    xp, dtype = runner.xp, dy.dtype
    kh, kw, _, o = kernel.shape
    input_shape = tuple(x.shape) if input_shape is None else tuple(input_shape)
    g = xp.ascontiguousarray(dy)
    if y is not None and activation != "linear" and g.size:
        derivative = runner.empty(g.shape, dtype)
        y = xp.ascontiguousarray(y)
        runner.kernel("dense.cu", "tfish_activation_backward", dtype)(
            elementwise_grid(runner, g.size), (ELEMENTWISE_THREADS,),
            (_bits(derivative), _bits(g), _bits(y),
             _bits(xp.ascontiguousarray(pre) if activation == "gelu" else y),
             _int(g.size, "size"), np.int32(ACTIVATIONS.index(activation)),
             _scalar(dtype)(alpha)))
        g = derivative
    g2d = g.reshape(-1, o)
    dx = dkernel = dbias = None
    if need_dkernel:
        cols2d, _ = _patches(runner, x, kernel.shape, strides, dilations, pads)
        dkernel = _kernel_gradient(xp, cols2d, g2d, tuple(kernel.shape), groups)
    if need_dx:
        dcols = _patch_gradient(xp, g2d, kernel, groups)
        if conv_cpu._is_pointwise((kh, kw), strides, pads):
            dx = dcols.reshape(input_shape)
        else:
            dx = col2im(runner, dcols, input_shape, dy.shape[1:3], (kh, kw), strides, dilations,
                        pads)
    if need_dbias:
        dbias = runner.empty((o,), dtype)
        if o:
            runner.kernel("dense.cu", "tfish_column_sum", dtype)(
                (-(-o // COLUMN_SUM_BLOCK[0]),), COLUMN_SUM_BLOCK,
                (_bits(dbias), _bits(g2d), _int(g2d.shape[0], "rows"), _int(o, "units")))
    return dx, dkernel, dbias


def conv_transpose(runner, dy, kernel, input_shape, strides, dilations, pads, groups):
    return conv_backward(runner, dy, None, kernel, None, None, strides, dilations, pads, groups,
                         "linear", 0.0, True, False, False, input_shape)[0]


def conv_kernel_gradient(runner, x, dy, kernel_shape, strides, dilations, pads, groups):
    cols2d, _ = _patches(runner, x, kernel_shape, strides, dilations, pads)
    g2d = runner.xp.ascontiguousarray(dy).reshape(-1, kernel_shape[3])
    return _kernel_gradient(runner.xp, cols2d, g2d, tuple(kernel_shape), groups)


# ---- pooling --------------------------------------------------------------------------------
def max_pool(runner: KernelRunner, x, window, strides, dilations, pads) -> tuple[Any, Any]:
    x = runner.xp.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, window, strides, dilations, pads)
    shape = (x.shape[0], *out_hw, x.shape[3])
    y, argmax = runner.empty(shape, x.dtype), runner.empty(shape, np.int32)
    _launch(runner, "tfish_max_pool_forward", x.dtype, y.size, (y, argmax, x),
            _window(x.shape, out_hw, window, strides, dilations, pads))
    return y, argmax


def max_pool_backward(runner, dy, argmax, input_shape, window, strides, dilations, pads):
    dx = runner.empty(tuple(input_shape), dy.dtype)
    _launch(runner, "tfish_max_pool_backward", dy.dtype, dx.size,
            (dx, runner.xp.ascontiguousarray(dy), argmax),
            _window(input_shape, dy.shape[1:3], window, strides, dilations, pads))
    return dx


def max_pool_gather(runner, u, argmax, window, strides, dilations, pads):
    out = runner.empty(argmax.shape, u.dtype)
    u = runner.xp.ascontiguousarray(u)
    _launch(runner, "tfish_max_pool_gather", u.dtype, out.size, (out, u, argmax),
            _window(u.shape, argmax.shape[1:3], window, strides, dilations, pads))
    return out


def avg_pool(runner: KernelRunner, x, window, strides, dilations, pads):
    x = runner.xp.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, window, strides, dilations, pads)
    y = runner.empty((x.shape[0], *out_hw, x.shape[3]), x.dtype)
    _launch(runner, "tfish_avg_pool_forward", x.dtype, y.size, (y, x),
            _window(x.shape, out_hw, window, strides, dilations, pads))
    return y


def avg_pool_backward(runner, dy, input_shape, window, strides, dilations, pads):
    dx = runner.empty(tuple(input_shape), dy.dtype)
    _launch(runner, "tfish_avg_pool_backward", dy.dtype, dx.size,
            (dx, runner.xp.ascontiguousarray(dy)),
            _window(input_shape, dy.shape[1:3], window, strides, dilations, pads))
    return dx
