"""Convolution and pooling on ``numpy.ndarray``: the NumPy twins of ``conv.cu``.

Every function works on NHWC arrays with the geometry already resolved: ``kernel_size``
``(kh, kw)``, ``strides`` ``(sh, sw)``, ``dilations`` ``(dh, dw)`` and ``pads``
``(top, bottom, left, right)``, as :mod:`tensorflowish.kernels.convolution` checks them. A 1-D
convolution is a 2-D one with ``H = 1``.

The convolution is the dense neuron over unrolled windows: ``im2col`` copies the windows of the
(padded) input into one contiguous ``(N*Ho*Wo, kh*kw*C)`` buffer, one GEMM
multiplies it by the kernel seen as ``(kh*kw*C, O)`` (its rows are exactly NHWC output pixels),
and one in-place pass adds the bias and applies the activation. Backward: the activation
derivative in place, one GEMM for the kernel gradient, one for the patch gradient, and
``col2im`` adds the ``kh * kw`` patch slices back (no ``np.add.at``). A 1x1 convolution with
stride 1 and no padding skips im2col: the input itself is the patch matrix.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import cpu

# im2col copies one strided view of every window (a single np.copyto) from this many input
# channels up, and kh*kw strided slices below it (measured in docs/conv.md)
STRIDED_IM2COL_MIN_CHANNELS = 3

# ---- buffers reused between calls -----------------------------------------------------------
# A patch matrix of a 32x32x32 layer at batch 128 is 150 MB; allocating it afresh costs a page
# fault per 4 KiB on every call. A buffer is reused only when nothing but this cache holds it
# (the tape of a previous step may still keep one alive for its backward pass).
_BUFFERS: dict[tuple, list[np.ndarray]] = {}


def _free_refcount() -> int:
    """What getrefcount says, in _buffer's loop, of an array that only the cache holds."""
    for array in [np.empty(0)]:
        return sys.getrefcount(array)
    raise AssertionError


_FREE_REFCOUNT = _free_refcount()
_MAX_PER_KEY = 4


def _buffer(kind: tuple, shape: tuple[int, ...], dtype: Any, zero: bool) -> np.ndarray:
    """An array of ``shape`` that nobody else holds; ``zero``: filled with zeros when new (a
    reused one keeps what the same ``kind`` of caller left, which for padded inputs is zeros in
    the border)."""
    key = (kind, shape, np.dtype(dtype).str)
    arrays = _BUFFERS.setdefault(key, [])
    for array in arrays:
        if sys.getrefcount(array) <= _FREE_REFCOUNT:
            return array
    array = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    if len(arrays) < _MAX_PER_KEY:
        arrays.append(array)
    if sum(a.nbytes for v in _BUFFERS.values() for a in v) > 2 << 30:  # never hoard > 2 GiB
        _BUFFERS.clear()
    return array


def output_size(size: int, kernel: int, stride: int, dilation: int, pad_total: int) -> int:
    """Output length of a window slid over ``size + pad_total`` positions."""
    return (size + pad_total - (kernel - 1) * dilation - 1) // stride + 1


def _window_slices(out_h, out_w, kernel_size, strides, dilations):
    """For each window offset (i, j): the strided slices of the padded input it reads."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, strides, dilations
    for i in range(kh):
        rows = slice(i * dh, i * dh + (out_h - 1) * sh + 1, sh)
        for j in range(kw):
            yield i, j, rows, slice(j * dw, j * dw + (out_w - 1) * sw + 1, sw)


def pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """x with ``pads`` (top, bottom, left, right) rows/columns of ``value`` around H and W."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    shape = (n, h + top + bottom, w + left + right, c)
    if value == 0:
        padded = _buffer(("pad", top, left), shape, x.dtype, zero=True)
    else:
        padded = np.full(shape, value, x.dtype)
    padded[:, top:top + h, left:left + w] = x
    return padded


def im2col(x: np.ndarray, kernel_size, strides, dilations, pads) -> np.ndarray:
    """The patch matrix ``(N, Ho, Wo, kh, kw, C)`` of x: one row of ``kh*kw*C`` per output pixel.

    The result is a reused buffer: it stays valid while the caller holds it.
    """
    padded = pad(x, pads)
    n, hp, wp, c = padded.shape
    (kh, kw) = kernel_size
    out_h = output_size(hp, kh, strides[0], dilations[0], 0)
    out_w = output_size(wp, kw, strides[1], dilations[1], 0)
    cols = _buffer(("cols",), (n, out_h, out_w, kh, kw, c), x.dtype, zero=False)
    if c >= STRIDED_IM2COL_MIN_CHANNELS:
        # one copy from a strided view of all windows: 4-5x faster than kh*kw slice copies
        # from 3 channels up, slower for 1 (docs/conv.md)
        s = padded.strides
        windows = as_strided(padded, cols.shape, (s[0], s[1] * strides[0], s[2] * strides[1],
                                                  s[1] * dilations[0], s[2] * dilations[1], s[3]),
                             writeable=False)
        np.copyto(cols, windows)
        return cols
    for i, j, rows, columns in _window_slices(out_h, out_w, kernel_size, strides, dilations):
        cols[:, :, :, i, j, :] = padded[:, rows, columns, :]
    return cols


def _clipped(out_length: int, size: int, offset: int, stride: int):
    """The outputs o with 0 <= o * stride + offset < size: (first, stop) and the input slice."""
    first = -(offset // stride) if offset < 0 else 0  # ceil(-offset / stride)
    stop = min(out_length, (size - 1 - offset) // stride + 1) if size - 1 - offset >= 0 else 0
    if stop <= first:
        return first, first, slice(0, 0)
    start = first * stride + offset
    return first, stop, slice(start, start + (stop - first - 1) * stride + 1, stride)


def col2im(dcols: np.ndarray, input_shape, out_hw, kernel_size, strides, dilations,
           pads, out: np.ndarray | None = None) -> np.ndarray:
    """The adjoint of :func:`im2col`: each patch entry added back onto the input pixel it came
    from. ``dcols`` is ``(kh * kw, N * Ho * Wo, C)``, one contiguous block per window offset
    (as :func:`_patch_gradient` makes it); returns a new ``input_shape`` array.

    Each window offset adds its block onto one strided slice of dx, clipped to the real input,
    so no padded buffer is filled and copied out. ``out``: a contiguous array of
    ``input_shape`` to compute into (zeroed first)."""
    n, h, w, c = input_shape
    out_h, out_w = out_hw
    dcols = dcols.reshape(kernel_size[0], kernel_size[1], n, out_h, out_w, c)
    if out is None:
        dx = np.zeros((n, h, w, c), dcols.dtype)
    else:
        dx = out
        dx.fill(0)
    for i in range(kernel_size[0]):
        top, bottom, rows = _clipped(out_h, h, i * dilations[0] - pads[0], strides[0])
        if bottom == top:
            continue
        for j in range(kernel_size[1]):
            left, right, columns = _clipped(out_w, w, j * dilations[1] - pads[2], strides[1])
            if right > left:
                dx[:, rows, columns, :] += dcols[i, j, :, top:bottom, left:right, :]
    return dx


def _is_pointwise(kernel_size, strides, pads) -> bool:
    return tuple(kernel_size) == (1, 1) and tuple(strides) == (1, 1) and not any(pads)


# ---- the GEMMs, one per group ---------------------------------------------------------------
def _grouped(matrix: np.ndarray, groups: int, inner: int) -> np.ndarray:
    """(P, kh*kw*C) patch rows -> (groups, P, kh*kw*C/groups): each group's channels together."""
    rows = matrix.shape[0]
    per_group = matrix.shape[1] // inner // groups  # explicit sizes: rows may be 0
    return matrix.reshape(rows, inner, groups, per_group).transpose(2, 0, 1, 3).reshape(
        groups, rows, inner * per_group)


def _ungrouped(matrix: np.ndarray, inner: int) -> np.ndarray:
    """The inverse of :func:`_grouped`."""
    groups, rows, _ = matrix.shape
    per_group = matrix.shape[2] // inner
    return matrix.reshape(groups, rows, inner, per_group).transpose(1, 2, 0, 3).reshape(
        rows, inner * groups * per_group)


def _kernel_groups(kernel: np.ndarray, groups: int) -> np.ndarray:
    """(kh, kw, C/g, O) -> (g, kh*kw*C/g, O/g)."""
    kh, kw, cg, o = kernel.shape
    return kernel.reshape(kh * kw, cg, groups, o // groups).transpose(2, 0, 1, 3).reshape(
        groups, kh * kw * cg, o // groups)


def _patch_product(cols2d: np.ndarray, kernel: np.ndarray, groups: int, out: np.ndarray) -> None:
    """out (P, O) = patches @ kernel, per group."""
    kh, kw = kernel.shape[:2]
    if groups == 1:
        np.matmul(cols2d, kernel.reshape(-1, kernel.shape[3]), out=out)
        return
    product = np.matmul(_grouped(cols2d, groups, kh * kw), _kernel_groups(kernel, groups))
    out[...] = product.transpose(1, 0, 2).reshape(out.shape)


def _kernel_gradient(cols2d: np.ndarray, g: np.ndarray, kernel_shape, groups: int) -> np.ndarray:
    """dkernel (kh, kw, C/g, O) = patches.T @ g, per group."""
    kh, kw, cg, o = kernel_shape
    if groups == 1:
        return np.matmul(cols2d.T, g).reshape(kernel_shape)
    g_groups = g.reshape(g.shape[0], groups, o // groups).transpose(1, 0, 2)
    product = np.matmul(_grouped(cols2d, groups, kh * kw).transpose(0, 2, 1), g_groups)
    # (g, kh*kw*cg, O/g) -> (kh, kw, cg, O)
    return np.ascontiguousarray(product.reshape(groups, kh * kw, cg, o // groups)
                                .transpose(1, 2, 0, 3)).reshape(kernel_shape)


def _patch_gradient(g: np.ndarray, kernel: np.ndarray, groups: int) -> np.ndarray:
    """dpatches = g @ kernel.T laid out as (kh * kw, P, C): one batched GEMM (P, O) @ (O, C) per
    window offset, so that col2im adds contiguous blocks (1.5x faster than reading them out of a
    (P, kh*kw*C) matrix at 32x32x32, docs/conv.md). For groups == 1 it is a reused buffer
    (col2im consumes it at once), which saves the page faults of a new patch-sized array."""
    kh, kw, c, o = kernel.shape
    if groups == 1:
        out = _buffer(("dcols",), (kh * kw, g.shape[0], c), g.dtype, zero=False)
        return np.matmul(g, kernel.reshape(kh * kw, c, o).transpose(0, 2, 1), out=out)
    g_groups = g.reshape(g.shape[0], groups, o // groups).transpose(1, 0, 2)
    product = np.matmul(g_groups, _kernel_groups(kernel, groups).transpose(0, 2, 1))
    return _ungrouped(product, kh * kw).reshape(g.shape[0], kh * kw, c * groups).transpose(
        1, 0, 2)


# ---- the fused convolution ------------------------------------------------------------------
def conv_forward(x, kernel, bias, strides, dilations, pads, groups, activation, alpha,
                 keep_patches=True, out=None):
    """``(y, pre, patches)``: ``y = act(conv(x, kernel) + bias)`` (NHWC); ``pre`` as in
    :func:`cpu.dense_forward`; ``patches`` is the patch matrix for the backward pass (None for a
    1x1 convolution, whose patches are x itself, or when not ``keep_patches``). ``out``: a
    contiguous array of y's shape and dtype, not overlapping the inputs, to compute y into."""
    n = x.shape[0]
    kh, kw, _, o = kernel.shape
    if _is_pointwise((kh, kw), strides, pads):
        cols = None
        cols2d = x.reshape(-1, x.shape[3])
        out_h, out_w = x.shape[1:3]
    else:
        cols = im2col(x, (kh, kw), strides, dilations, pads)
        out_h, out_w = cols.shape[1:3]
        cols2d = cols.reshape(n * out_h * out_w, kh * kw * x.shape[3])
    y = np.empty((n, out_h, out_w, o), x.dtype) if out is None else out
    y2d = y.reshape(-1, o)
    _patch_product(cols2d, kernel, groups, y2d)
    if bias is not None:
        np.add(y2d, bias, out=y2d)
    pre = None
    if activation == "gelu":
        pre = y.copy()
        cpu._gelu(pre, out=y)
    else:
        cpu._activate_in_place(y, activation, alpha)
    return y, pre, cols if keep_patches else None


def conv_backward(dy, x, kernel, y, pre, patches, strides, dilations, pads, groups, activation,
                  alpha, need_dx, need_dkernel, need_dbias, input_shape=None,
                  overwrite_dy=False, out=None):
    """``(dx, dkernel, dbias)`` of :func:`conv_forward`. ``patches`` may be None (they are made
    again from x when the kernel gradient needs them); ``x`` may be None when only ``dx`` is
    needed (then ``input_shape`` gives its shape). ``overwrite_dy``: the activation's gradient
    may be computed into dy. ``out``: (dx, None, dbias) arrays (or None each) of the results'
    shapes and dtypes, contiguous and not overlapping the inputs, to compute them into."""
    kh, kw, _, o = kernel.shape
    dx_out, _, dbias_out = (None, None, None) if out is None else out
    input_shape = tuple(x.shape) if input_shape is None else tuple(input_shape)
    g = dy if y is None else cpu.activation_gradient(dy, y, pre, activation, alpha, overwrite_dy)
    g2d = g.reshape(-1, o)
    if not g2d.flags.c_contiguous:
        g2d = np.ascontiguousarray(g2d)
    pointwise = _is_pointwise((kh, kw), strides, pads)
    dkernel = dx = dbias = None
    if need_dkernel:
        if pointwise:
            cols2d = x.reshape(-1, x.shape[3])
        else:
            if patches is None:
                patches = im2col(x, (kh, kw), strides, dilations, pads)
            cols2d = patches.reshape(g2d.shape[0], kh * kw * input_shape[3])
        dkernel = _kernel_gradient(cols2d, g2d, kernel.shape, groups)
    if need_dx:
        dcols = _patch_gradient(g2d, kernel, groups)
        if pointwise:  # (1, P, C): the input gradient itself
            if dx_out is None:
                dx = np.array(dcols.reshape(input_shape), copy=True)
            else:
                dx = dx_out
                np.copyto(dx, dcols.reshape(input_shape))
        else:
            dx = col2im(dcols, input_shape, dy.shape[1:3], (kh, kw), strides, dilations, pads,
                        dx_out)
    if need_dbias:
        dbias = cpu.column_sums(g2d, out=dbias_out)
    return dx, dkernel, dbias


def conv_transpose(dy, kernel, input_shape, strides, dilations, pads, groups):
    """The input gradient of a linear convolution without bias (``conv2d_transpose``)."""
    return conv_backward(dy, None, kernel, None, None, None, strides, dilations, pads, groups,
                         "linear", 0.0, True, False, False, input_shape)[0]


def conv_kernel_gradient(x, dy, kernel_shape, strides, dilations, pads, groups):
    """The kernel gradient of a linear convolution (``conv2d_backprop_filter``)."""
    kh, kw, _, o = kernel_shape
    g2d = np.ascontiguousarray(dy).reshape(-1, o)
    if _is_pointwise((kh, kw), strides, pads):
        cols2d = x.reshape(-1, x.shape[3])
    else:
        cols2d = im2col(x, (kh, kw), strides, dilations, pads).reshape(g2d.shape[0],
                                                                        kh * kw * x.shape[3])
    return _kernel_gradient(cols2d, g2d, tuple(kernel_shape), groups)


# ---- pooling --------------------------------------------------------------------------------
def max_pool(x, window, strides, dilations, pads, out=None):
    """``(y, argmax)``: the window maxima and, per output, the offset ``i * kw + j`` of the first
    maximum in its window (int32); padding never wins (it is -inf). ``out``: (y, argmax) arrays
    (or None each) of their shapes and dtypes, contiguous, to compute them into."""
    padded = pad(x, pads, value=-np.inf)
    n, hp, wp, c = padded.shape
    out_h = output_size(hp, window[0], strides[0], dilations[0], 0)
    out_w = output_size(wp, window[1], strides[1], dilations[1], 0)
    y_out, argmax_out = (None, None) if out is None else out
    y = np.empty((n, out_h, out_w, c), x.dtype) if y_out is None else y_out
    if argmax_out is None:
        argmax = np.zeros(y.shape, np.int32)
    else:
        argmax = argmax_out
        argmax.fill(0)
    better = np.empty(y.shape, bool)
    for i, j, rows, columns in _window_slices(out_h, out_w, window, strides, dilations):
        candidate = padded[:, rows, columns, :]
        if i == 0 and j == 0:
            y[...] = candidate
            continue
        np.greater(candidate, y, out=better)
        np.copyto(y, candidate, where=better)
        np.copyto(argmax, i * window[1] + j, where=better)
    return y, argmax


def max_pool_backward(dy, argmax, input_shape, window, strides, dilations, pads, out=None):
    """dx: each output gradient added onto the input that won its window. ``out``: a contiguous
    array of ``input_shape`` and dy's dtype to compute dx into (used without padding)."""
    n, h, w, c = input_shape
    top, bottom, left, right = pads
    if out is not None and not any(pads):
        padded = out
        padded.fill(0)
    else:
        padded = np.zeros((n, h + top + bottom, w + left + right, c), dy.dtype)
    out_h, out_w = dy.shape[1:3]
    chosen = np.empty(dy.shape, dy.dtype)
    for i, j, rows, columns in _window_slices(out_h, out_w, window, strides, dilations):
        np.multiply(dy, argmax == i * window[1] + j, out=chosen)
        padded[:, rows, columns, :] += chosen
    if padded is out:
        return out
    return np.ascontiguousarray(padded[:, top:top + h, left:left + w])


def max_pool_gather(dx, argmax, window, strides, dilations, pads):
    """The adjoint of :func:`max_pool_backward`: per output, the value of ``dx`` at its winner."""
    padded = pad(dx, pads)
    out = np.zeros(argmax.shape, dx.dtype)
    out_h, out_w = argmax.shape[1:3]
    for i, j, rows, columns in _window_slices(out_h, out_w, window, strides, dilations):
        np.copyto(out, padded[:, rows, columns, :], where=argmax == i * window[1] + j)
    return out


def _window_counts(input_shape, out_shape, window, strides, dilations, pads, dtype):
    """How many real (not padding) inputs each window covers, shape (1, Ho, Wo, 1)."""
    _, h, w, _ = input_shape
    counts = []
    for axis, size in enumerate((h, w)):
        positions = np.arange(out_shape[1 + axis]) * strides[axis] - pads[2 * axis]
        offsets = np.arange(window[axis]) * dilations[axis]
        taps = positions[:, None] + offsets[None, :]
        counts.append(((taps >= 0) & (taps < size)).sum(axis=1))
    return np.multiply.outer(counts[0], counts[1]).astype(dtype)[None, :, :, None]


def avg_pool(x, window, strides, dilations, pads):
    """Window means over the real inputs only (padding is not counted, as in TensorFlow)."""
    padded = pad(x, pads)
    n, hp, wp, c = padded.shape
    out_h = output_size(hp, window[0], strides[0], dilations[0], 0)
    out_w = output_size(wp, window[1], strides[1], dilations[1], 0)
    y = np.zeros((n, out_h, out_w, c), x.dtype)
    for _, _, rows, columns in _window_slices(out_h, out_w, window, strides, dilations):
        y += padded[:, rows, columns, :]
    y /= _window_counts(x.shape, y.shape, window, strides, dilations, pads, x.dtype)
    return y


def avg_pool_backward(dy, input_shape, window, strides, dilations, pads):
    """dx: each output gradient shared equally by the real inputs of its window."""
    n, h, w, c = input_shape
    top, bottom, left, right = pads
    share = dy / _window_counts(input_shape, dy.shape, window, strides, dilations, pads, dy.dtype)
    padded = np.zeros((n, h + top + bottom, w + left + right, c), dy.dtype)
    out_h, out_w = dy.shape[1:3]
    for _, _, rows, columns in _window_slices(out_h, out_w, window, strides, dilations):
        padded[:, rows, columns, :] += share
    return np.ascontiguousarray(padded[:, top:top + h, left:left + w])
