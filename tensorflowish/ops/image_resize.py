"""`tf.image.resize` and `resize_with_pad`: every method is one separable linear map.

Resizing an image is, per axis, a fixed matrix of weights: out = W_h @ image @ W_wᵀ for each
channel. The matrices reproduce TensorFlow's kernels (half-pixel centres; legacy bilinear,
nearest and bicubic ops when `antialias=False`, its scale-and-translate kernels otherwise), so
the forward is two BLAS matmuls and the gradient is the same map with the matrices transposed.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    format_shape,
    record,
    register,
    should_record,
)


class ResizeMethod:
    """TensorFlow's method names for `tf.image.resize`."""

    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


# --- the kernels of TensorFlow's scale_and_translate (radius, function of |x|) ----------------
def _sinc(x):
    return np.where(x == 0, 1.0, np.sin(np.pi * x) / np.where(x == 0, 1.0, np.pi * x))


def _lanczos(radius):
    return radius, lambda x: np.where(x < radius, _sinc(x) * _sinc(x / radius), 0.0)


def _keys_cubic(x):
    return np.where(x >= 2, 0.0, np.where(x >= 1, ((-0.5 * x + 2.5) * x - 4) * x + 2,
                                          ((1.5 * x - 2.5) * x) * x + 1))


def _mitchell(x):
    b = c = 1.0 / 3.0
    near = ((12 - 9 * b - 6 * c) * x ** 3 + (-18 + 12 * b + 6 * c) * x ** 2 + (6 - 2 * b)) / 6
    far = ((-b - 6 * c) * x ** 3 + (6 * b + 30 * c) * x ** 2 + (-12 * b - 48 * c) * x
           + (8 * b + 24 * c)) / 6
    return np.where(x >= 2, 0.0, np.where(x >= 1, far, near))


_GAUSSIAN_RADIUS, _SIGMA = 1.5, 0.5  # TensorFlow's GaussianKernelFunc (Turkowski)
_KERNELS = {
    "bilinear": (1.0, lambda x: np.maximum(0.0, 1.0 - x)),  # TensorFlow's "triangle"
    "bicubic": (2.0, _keys_cubic),
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
    "gaussian": (_GAUSSIAN_RADIUS, lambda x: np.where(
        x < _GAUSSIAN_RADIUS, np.exp(-x * x / (2.0 * _SIGMA * _SIGMA)), 0.0)),
    "mitchellcubic": (2.0, _mitchell),
}


def _scale_and_translate_weights(in_size: int, out_size: int, method: str,
                                 antialias: bool) -> np.ndarray:
    """TensorFlow's ComputeSpans: weights [out_size, in_size], each row normalised."""
    radius, kernel = _KERNELS[method]
    inverse_scale = in_size / out_size
    kernel_scale = max(inverse_scale, 1.0) if antialias else 1.0
    weights = np.zeros((out_size, in_size))
    for x in range(out_size):
        sample = (x + 0.5) * inverse_scale
        if sample < 0 or sample > in_size:
            continue
        start = min(max(math.ceil(sample - radius * kernel_scale - 0.5), 0), in_size - 1)
        end = min(max(math.floor(sample + radius * kernel_scale - 0.5), 0), in_size - 1) + 1
        sources = np.arange(start, end)
        row = kernel(np.abs((sources + 0.5 - sample) / kernel_scale))
        total = row.sum()
        if abs(total) >= 1000.0 * np.finfo(np.float32).tiny:
            row = row / total
        weights[x, start:end] = row
    return weights


def _bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    """TensorFlow's ResizeBilinear with half-pixel centres (edges clamped)."""
    scale = in_size / out_size
    position = (np.arange(out_size) + 0.5) * scale - 0.5
    floor = np.floor(position)
    lower = np.clip(floor, 0, in_size - 1).astype(int)
    upper = np.clip(np.ceil(position), 0, in_size - 1).astype(int)
    fraction = position - floor
    weights = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(weights, (rows, lower), 1 - fraction)
    np.add.at(weights, (rows, upper), fraction)
    return weights


def _nearest_weights(in_size: int, out_size: int) -> np.ndarray:
    """TensorFlow's ResizeNearestNeighbor with half-pixel centres."""
    scale = in_size / out_size
    source = np.minimum(np.floor((np.arange(out_size) + 0.5) * scale).astype(int), in_size - 1)
    weights = np.zeros((out_size, in_size))
    weights[np.arange(out_size), source] = 1.0
    return weights


def _bicubic_weights(in_size: int, out_size: int) -> np.ndarray:
    """TensorFlow's ResizeBicubic with half-pixel centres: Keys' cubic (a = -0.5); taps that
    fall outside the image get no weight and the others are renormalised. TensorFlow reads
    the weights from a table of 1024 steps, so the fraction is rounded to 1/1024 first."""
    scale = in_size / out_size
    weights = np.zeros((out_size, in_size))
    for x in range(out_size):
        position = (x + 0.5) * scale - 0.5
        base = math.floor(position)
        position = base + np.round((position - base) * 1024) / 1024
        taps = np.arange(base - 1, base + 3)
        row = _keys_cubic(np.abs(position - taps))
        inside = (taps >= 0) & (taps < in_size)
        row = np.where(inside, row, 0.0)
        weights[x, taps[inside]] = row[inside] / row.sum()
    return weights


def _area_weights(in_size: int, out_size: int) -> np.ndarray:
    """TensorFlow's ResizeArea: each output pixel averages the input pixels it covers."""
    scale = in_size / out_size
    weights = np.zeros((out_size, in_size))
    for x in range(out_size):
        start, end = x * scale, (x + 1) * scale
        for source in range(int(math.floor(start)), min(int(math.ceil(end)), in_size)):
            overlap = min(source + 1.0, end) - max(float(source), start)
            if overlap > 0:
                weights[x, source] = overlap / scale
    return weights


def resize_weights(in_size: int, out_size: int, method: str, antialias: bool) -> np.ndarray:
    """The [out_size, in_size] matrix that resizes one axis as TensorFlow does."""
    if method == "nearest":
        return _nearest_weights(in_size, out_size)
    if method == "area":
        return _area_weights(in_size, out_size)
    if method == "bilinear" and not antialias:
        return _bilinear_weights(in_size, out_size)
    if method == "bicubic" and not antialias:
        return _bicubic_weights(in_size, out_size)
    return _scale_and_translate_weights(in_size, out_size, method, antialias)


@register("image.separable_transform", samples=lambda rng: [
    ((rng.uniform(-1, 1, (2, 4, 5, 3)), rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (2, 5))),
     {})], grad_arguments=(0,))
def separable_transform(images, row_weights, column_weights, name=None) -> Tensor:
    """out[b, i, j, c] = Σ_pq row_weights[i, p] column_weights[j, q] images[b, p, q, c].

    The linear map behind resizing and Gaussian filtering of NHWC images (the weights are
    constants: only `images` is differentiated). Each output pixel reads only the few input
    pixels its kernel covers, so each axis is applied as one gather-multiply-add per kernel tap
    (two for bilinear), not as a dense matrix product; the gradient is the transposed map.
    """
    x = as_tensor(images)
    rows, columns = _host_weights(row_weights), _host_weights(column_weights)
    if x.array.ndim != 4 or rows.shape[1] != x.array.shape[1] or \
            columns.shape[1] != x.array.shape[2]:
        raise InvalidArgumentError(
            f"separable_transform: images {format_shape(x.array.shape)} need row weights "
            f"[rows, {x.array.shape[1] if x.array.ndim == 4 else '?'}] and column weights "
            f"[cols, {x.array.shape[2] if x.array.ndim == 4 else '?'}], got "
            f"{format_shape(rows.shape)} and {format_shape(columns.shape)}.")
    array = x.array
    compute = np.float32 if array.dtype.itemsize == 2 else array.dtype  # half: float32 sums
    out_array = _apply_taps(_apply_taps(array, rows, 1, compute), columns, 2, compute)
    out = Tensor(out_array.astype(array.dtype, copy=False))
    if should_record((x,)):
        record((x,), out, (lambda g: separable_transform(g, rows.T, columns.T),))
    return out


def _host_weights(weights) -> np.ndarray:
    if isinstance(weights, Tensor):
        weights = weights.array
    return np.asarray(backend.to_numpy(weights), dtype=np.float64)


def _apply_taps(array, weights: np.ndarray, axis: int, compute):
    """Σ_t values[:, t] * array.take(indices[:, t], axis): `weights` [out, in] as its nonzero
    taps per output position (padded with zero weights to the same count)."""
    xp = array_module(array)
    nonzero = weights != 0
    taps = max(int(nonzero.sum(axis=1).max(initial=0)), 1)
    indices = np.argsort(~nonzero, axis=1, kind="stable")[:, :taps]  # nonzero columns first
    values = np.take_along_axis(weights, indices, axis=1)
    shape = [1] * array.ndim
    shape[axis] = weights.shape[0]
    total = None
    for tap in range(taps):
        index = xp.asarray(indices[:, tap])
        value = xp.asarray(values[:, tap].reshape(shape), dtype=compute)
        part = xp.take(array, index, axis=axis).astype(compute, copy=False) * value
        if total is None:
            total = part
        else:
            total += part
    return total


_FLOAT_OUTPUT = ("bilinear", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
                 "mitchellcubic")


def _as_batch(op: str, images) -> tuple[Tensor, bool]:
    x = as_tensor(images)
    if x.array.ndim == 3:
        from .shapes import expand_dims

        return expand_dims(x, 0), True
    if x.array.ndim != 4:
        raise InvalidArgumentError(f"{op}: 'images' must have either 3 or 4 dimensions "
                                   f"([height, width, channels] or [batch, height, width, "
                                   f"channels]), got shape {format_shape(x.array.shape)}.")
    return x, False


def _size_pair(op: str, size) -> tuple[int, int]:
    values = size.numpy().tolist() if isinstance(size, Tensor) else list(size)
    if len(values) != 2 or any(int(v) <= 0 for v in values):
        raise InvalidArgumentError(f"{op}: size must be two positive integers [new_height, "
                                   f"new_width], got {values}.")
    return int(values[0]), int(values[1])


@register("image.resize", samples=lambda rng: [
    ((rng.uniform(-1, 1, (1, 4, 5, 2)), [3, 7]), {}),
    ((rng.uniform(-1, 1, (4, 5, 1)), [6, 2]), {"method": "bicubic"}),
    ((rng.uniform(-1, 1, (1, 4, 6, 1)), [3, 4]), {"method": "area"}),
    ((rng.uniform(-1, 1, (1, 6, 5, 1)), [3, 2]), {"method": "lanczos3", "antialias": True})],
    grad_arguments=(0,))
def resize(images, size, method="bilinear", preserve_aspect_ratio: bool = False,
           antialias: bool = False, name=None) -> Tensor:
    """Resize NHWC images (or one HWC image) to `size` = [new_height, new_width].

    Methods: bilinear, nearest, bicubic, area, lanczos3, lanczos5, gaussian, mitchellcubic.
    The result is float32 (whatever the input's dtype), except with `nearest`, which keeps the
    input's dtype, as in TensorFlow.

    >>> import tensorflowish as tf
    >>> tf.image.resize(tf.ones([1, 4, 4, 3]), [2, 8]).shape
    TensorShape([1, 2, 8, 3])
    """
    method = str(method).lower()
    method = {"nearest_neighbor": "nearest"}.get(method, method)
    if method not in _FLOAT_OUTPUT and method != "nearest":
        raise InvalidArgumentError(f"resize: unknown method {method!r}; expected one of "
                                   f"{sorted(_FLOAT_OUTPUT + ('nearest',))}.")
    x, single = _as_batch("resize", images)
    height, width = x.array.shape[1:3]
    new_height, new_width = _size_pair("resize", size)
    if preserve_aspect_ratio:
        scale = min(new_height / height, new_width / width)
        new_height = max(int(round(height * scale)), 1)
        new_width = max(int(round(width * scale)), 1)
    dtype = x.array.dtype
    if method != "nearest" and dtype != np.float32:  # TensorFlow resizes in float32
        from .math import cast

        x = cast(x, "float32")
    row_weights = resize_weights(height, new_height, method, bool(antialias))
    column_weights = resize_weights(width, new_width, method, bool(antialias))
    out = separable_transform(x, row_weights, column_weights)
    if method == "nearest" and out.array.dtype != dtype:
        from .math import cast

        out = cast(out, dtype)
    if single:
        from .shapes import squeeze

        out = squeeze(out, [0])
    return out


@register("image.resize_with_pad", samples=lambda rng: [
    ((rng.uniform(-1, 1, (1, 4, 5, 1)), 6, 6), {})], grad_arguments=(0,))
def resize_with_pad(image, target_height, target_width, method="bilinear",
                    antialias: bool = False) -> Tensor:
    """Resize keeping the aspect ratio, then pad with zeros to [target_height, target_width]."""
    from .image import pad_to_bounding_box

    x, single = _as_batch("resize_with_pad", image)
    height, width = x.array.shape[1:3]
    target_height, target_width = int(target_height), int(target_width)
    ratio = max(width / target_width, height / target_height)
    resized_height, resized_width = math.floor(height / ratio), math.floor(width / ratio)
    pad_top = max(0, math.floor((target_height - height / ratio) / 2))
    pad_left = max(0, math.floor((target_width - width / ratio) / 2))
    resized = resize(x, [resized_height, resized_width], method=method, antialias=antialias)
    out = pad_to_bounding_box(resized, pad_top, pad_left, target_height, target_width)
    if single:
        from .shapes import squeeze

        out = squeeze(out, [0])
    return out
