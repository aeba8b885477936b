"""Convolution and pooling kernels on raw arrays, NHWC, geometry already resolved.

Each function dispatches on the array type: ``numpy.ndarray`` to :mod:`.conv_cpu` (im2col, one
BLAS GEMM, in-place bias and activation), ``cupy.ndarray`` to :mod:`.conv_cuda` (the CUDA
kernels of ``conv.cu`` and cuBLAS). The geometry arguments are those of
:mod:`.conv_cpu`: ``kernel_size``/``window`` ``(kh, kw)``, ``strides``, ``dilations``, ``pads``
``(top, bottom, left, right)``; the caller (``tensorflowish.ops.convolution``) has checked
them and the shapes, in TensorFlow's words.

>>> import numpy as np
>>> from tensorflowish.kernels import convolution
>>> x, k = np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2))
>>> y, pre, patches = convolution.conv_forward(x, k, None, (1, 1), (1, 1), (1, 1, 1, 1), 1,
...                                            "linear", 0.2)
>>> y[0, :, :, 0].tolist()
[[4.0, 6.0, 6.0, 4.0], [6.0, 9.0, 9.0, 6.0], [6.0, 9.0, 9.0, 6.0], [4.0, 6.0, 6.0, 4.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import conv_cpu, conv_cuda

__all__ = ["conv_forward", "conv_backward", "conv_transpose", "conv_kernel_gradient",
           "max_pool", "max_pool_backward", "max_pool_gather", "avg_pool", "avg_pool_backward"]


def _cpu(array: Any) -> bool:
    return array.__class__ is np.ndarray


def conv_forward(x, kernel, bias, strides, dilations, pads, groups=1, activation="linear",
                 alpha=0.2, keep_patches=True):
    """``(y, pre, patches)``: ``y = act(conv(x, kernel) + bias)``, x (N, H, W, C), kernel
    (kh, kw, C/groups, O), bias (O,) or None. ``pre`` is the pre-activation where the backward
    pass needs it (gelu), else None; ``patches`` is whatever the backward pass can reuse (the
    patch matrix on the CPU), or None."""
    if _cpu(x):
        return conv_cpu.conv_forward(x, kernel, bias, strides, dilations, pads, groups,
                                     activation, alpha, keep_patches)
    return conv_cuda.conv_forward(conv_cuda.runner(), x, kernel, bias, strides, dilations, pads,
                                  groups, activation, alpha)


def conv_backward(dy, x, kernel, y, pre, patches, strides, dilations, pads, groups, activation,
                  alpha, need_dx=True, need_dkernel=True, need_dbias=True):
    """``(dx, dkernel, dbias)`` of :func:`conv_forward` (None where not needed)."""
    if _cpu(dy):
        return conv_cpu.conv_backward(dy, x, kernel, y, pre, patches, strides, dilations, pads,
                                      groups, activation, alpha, need_dx, need_dkernel,
                                      need_dbias)
    return conv_cuda.conv_backward(conv_cuda.runner(), dy, x, kernel, y, pre, strides,
                                   dilations, pads, groups, activation, alpha, need_dx,
                                   need_dkernel, need_dbias)


def conv_transpose(dy, kernel, input_shape, strides, dilations, pads, groups=1):
    """The gradient of a linear convolution with respect to its input of ``input_shape``."""
    if _cpu(dy):
        return conv_cpu.conv_transpose(dy, kernel, input_shape, strides, dilations, pads, groups)
    return conv_cuda.conv_transpose(conv_cuda.runner(), dy, kernel, input_shape, strides,
                                    dilations, pads, groups)


def conv_kernel_gradient(x, dy, kernel_shape, strides, dilations, pads, groups=1):
    """The gradient of a linear convolution with respect to its kernel of ``kernel_shape``."""
    if _cpu(x):
        return conv_cpu.conv_kernel_gradient(x, dy, kernel_shape, strides, dilations, pads,
                                             groups)
    return conv_cuda.conv_kernel_gradient(conv_cuda.runner(), x, dy, kernel_shape, strides,
                                          dilations, pads, groups)


def max_pool(x, window, strides, dilations, pads):
    """``(y, argmax)``: window maxima and the offset ``i * kw + j`` of each winner (int32)."""
    if _cpu(x):
        return conv_cpu.max_pool(x, window, strides, dilations, pads)
    return conv_cuda.max_pool(conv_cuda.runner(), x, window, strides, dilations, pads)


def max_pool_backward(dy, argmax, input_shape, window, strides, dilations, pads):
    """dx of :func:`max_pool`: each gradient added onto its window's winner."""
    if _cpu(dy):
        return conv_cpu.max_pool_backward(dy, argmax, input_shape, window, strides, dilations,
                                          pads)
    return conv_cuda.max_pool_backward(conv_cuda.runner(), dy, argmax, input_shape, window,
                                       strides, dilations, pads)


def max_pool_gather(dx, argmax, window, strides, dilations, pads):
    """The adjoint of :func:`max_pool_backward`: ``dx`` read at each window's winner."""
    if _cpu(dx):
        return conv_cpu.max_pool_gather(dx, argmax, window, strides, dilations, pads)
    return conv_cuda.max_pool_gather(conv_cuda.runner(), dx, argmax, window, strides, dilations,
                                     pads)


def avg_pool(x, window, strides, dilations, pads):
    """Window means over the real inputs (padding not counted)."""
    if _cpu(x):
        return conv_cpu.avg_pool(x, window, strides, dilations, pads)
    return conv_cuda.avg_pool(conv_cuda.runner(), x, window, strides, dilations, pads)


def avg_pool_backward(dy, input_shape, window, strides, dilations, pads):
    """dx of :func:`avg_pool`."""
    if _cpu(dy):
        return conv_cpu.avg_pool_backward(dy, input_shape, window, strides, dilations, pads)
    return conv_cuda.avg_pool_backward(conv_cuda.runner(), dy, input_shape, window, strides,
                                       dilations, pads)
