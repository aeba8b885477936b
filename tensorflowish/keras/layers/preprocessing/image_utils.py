"""Array helpers of the image preprocessing layers: batches of NHWC images as backend arrays,
projective transforms with TensorFlow's fill modes and interpolation, resizing with the aspect
ratio kept."""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.tensor import Tensor

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def check_options(layer: str, fill_mode: str, interpolation: str, data_format: Any) -> None:
    if fill_mode not in FILL_MODES:
        raise ValueError(f"{layer}: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}.")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{layer}: interpolation must be one of {INTERPOLATIONS}, got "
                         f"{interpolation!r}.")
    check_data_format(layer, data_format)


def check_data_format(layer: str, data_format: Any) -> None:
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"{layer}: only data_format='channels_last' (NHWC) images are "
                                  f"supported, got {data_format!r}.")


def as_images(layer: str, inputs: Any) -> tuple[Tensor, bool]:
    """(batch of NHWC float images, whether the input was one HWC image)."""
    images = inputs if isinstance(inputs, Tensor) else tf.convert_to_tensor(inputs)
    if images.ndim == 3:
        return tf.expand_dims(images, 0), True
    if images.ndim != 4:
        raise ValueError(f"{layer} expects images of shape (batch, height, width, channels) or "
                         f"(height, width, channels), got {tuple(images.shape)}.")
    return images, False


def finish(images: Tensor, single: bool) -> Tensor:
    return images[0] if single else images


def _map_coordinates(coordinate: Any, size: int, fill_mode: str, xp: Any) -> Any:
    """TensorFlow's map_coord for float coordinates outside [0, size - 1]."""
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        if size == 1:
            return xp.zeros_like(coordinate)
        period = 2.0 * size
        coordinate = xp.mod(coordinate, period)
        coordinate = xp.where(coordinate >= size, period - coordinate - 1.0, coordinate)
        return xp.clip(coordinate, 0.0, size - 1.0)
    if fill_mode == "wrap":  # a b c d | a b c d | a b c d, written as TensorFlow's kernel
        if size == 1:
            return xp.zeros_like(coordinate)
        last = size - 1.0
        below = coordinate + size * (xp.trunc(-coordinate / last) + 1.0)
        above = coordinate - size * xp.trunc(coordinate / last)
        coordinate = xp.where(coordinate < 0, below, xp.where(coordinate > last, above,
                                                              coordinate))
        return xp.clip(coordinate, 0.0, last)
    if fill_mode == "nearest":
        return xp.clip(coordinate, 0.0, size - 1.0)
    return coordinate  # constant: read outside as fill_value


def transform(images: Tensor, matrices: np.ndarray, fill_mode: str = "reflect",
              interpolation: str = "bilinear", fill_value: float = 0.0) -> Tensor:
    """Apply per-image projective transforms ``[a0, a1, a2, b0, b1, b2, c0, c1]`` (mapping
    output pixel (x, y) to input ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`` with
    ``k = c0 x + c1 y + 1``), as TensorFlow's ImageProjectiveTransformV3."""
    array = images.array
    xp = tf_backend.get_array_module(array)
    batch, height, width, channels = array.shape
    # float32 coordinates, as TensorFlow's kernel computes them (a pixel exactly half-way
    # between two rounds by the same rule)
    m = xp.asarray(np.asarray(matrices, dtype=np.float32).reshape(batch, 8))
    ys, xs = xp.meshgrid(xp.arange(height, dtype=xp.float32), xp.arange(width, dtype=xp.float32),
                         indexing="ij")
    k = m[:, 6, None, None] * xs + m[:, 7, None, None] * ys + 1.0
    in_x = (m[:, 0, None, None] * xs + m[:, 1, None, None] * ys + m[:, 2, None, None]) / k
    in_y = (m[:, 3, None, None] * xs + m[:, 4, None, None] * ys + m[:, 5, None, None]) / k
    in_x = _map_coordinates(in_x, width, fill_mode, xp)
    in_y = _map_coordinates(in_y, height, fill_mode, xp)
    flat = array.reshape(batch, height * width, channels)
    fill = xp.asarray(fill_value, dtype=array.dtype)

    def read(y: Any, x: Any) -> Any:
        inside = (y >= 0) & (y <= height - 1) & (x >= 0) & (x <= width - 1)
        yi = xp.clip(y, 0, height - 1).astype(xp.int64)
        xi = xp.clip(x, 0, width - 1).astype(xp.int64)
        index = (yi * width + xi).reshape(batch, -1, 1)
        values = xp.take_along_axis(flat, index, axis=1).reshape(batch, height, width, channels)
        return xp.where(inside[..., None], values, fill)

    if interpolation == "nearest":
        def round_half_away(v: Any) -> Any:  # C's round(), not NumPy's round-half-to-even
            return xp.sign(v) * xp.floor(xp.abs(v) + 0.5)

        result = read(round_half_away(in_y), round_half_away(in_x))
    else:
        y0, x0 = xp.floor(in_y), xp.floor(in_x)
        wy, wx = (in_y - y0)[..., None], (in_x - x0)[..., None]
        result = ((1 - wy) * ((1 - wx) * read(y0, x0) + wx * read(y0, x0 + 1))
                  + wy * ((1 - wx) * read(y0 + 1, x0) + wx * read(y0 + 1, x0 + 1)))
    return Tensor(result.astype(array.dtype, copy=False))


def resize(images: Tensor, height: int, width: int, interpolation: str = "bilinear",
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
           fill_value: float = 0.0) -> Tensor:
    """Resize NHWC images, first cropping (or padding) them to the target's aspect ratio when
    asked, centred as Keras does."""
    in_height, in_width = int(images.shape[1]), int(images.shape[2])
    # Keras's arithmetic: sizes truncated, windows centred with the extra pixel at the end
    if crop_to_aspect_ratio:
        crop_height = max(min(in_height, int(in_width * height / width)), 1)
        crop_width = max(min(in_width, int(in_height * width / height)), 1)
        top, left = (in_height - crop_height) // 2, (in_width - crop_width) // 2
        images = images[:, top:top + crop_height, left:left + crop_width, :]
    elif pad_to_aspect_ratio:
        pad_height = max(in_height, int(in_width * height / width))
        pad_width = max(in_width, int(in_height * width / height))
        top, left = (pad_height - in_height) // 2, (pad_width - in_width) // 2
        images = tf.pad(images, [[0, 0], [top, pad_height - in_height - top],
                                 [left, pad_width - in_width - left], [0, 0]],
                        constant_values=fill_value)
    if tuple(images.shape[1:3]) == (height, width):
        return images
    resized = tf.image.resize(images, [height, width], method=interpolation)
    return tf.cast(resized, images.dtype) if resized.dtype != images.dtype else resized
