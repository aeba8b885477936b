"""`tf.image` colours: dtype conversion, brightness, contrast, saturation, hue, grayscale, HSV,
standardisation — TensorFlow's formulas, composed from differentiable ops.

Integer images are converted to float (`convert_image_dtype`), adjusted, and converted back
with saturation, as TensorFlow does.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dtypes
from .image import image_rank
from .registry import InvalidArgumentError, Tensor, array_module, as_tensor, register

_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


@register("image.convert_image_dtype", differentiable=False)
def convert_image_dtype(image, dtype, saturate: bool = False, name=None) -> Tensor:
    """Convert between image dtypes, rescaling: floats are in [0, 1], integers span their
    dtype's range (uint8 255 is float 1.0). Float to float is a plain cast (differentiable)."""
    from .math import cast, clip_by_value

    x = as_tensor(image)
    source = x.array.dtype
    target = _dtypes.numpy_dtype(dtype)
    if target.kind not in "fiu":
        raise InvalidArgumentError(f"convert_image_dtype: dtype must be a float or integer "
                                   f"type, got {_dtypes.as_dtype(target).name}.")
    if source == target:
        return x
    xp = array_module(x.array)
    if source.kind in "iu" and target.kind in "iu":
        source_max, target_max = int(np.iinfo(source).max), int(np.iinfo(target).max)
        if source_max > target_max:
            scale = (source_max + 1) // (target_max + 1)
            return Tensor((x.array // scale).astype(target))
        scale = (target_max + 1) // (source_max + 1)
        return Tensor(x.array.astype(target) * xp.asarray(scale, dtype=target))
    if source.kind in "iu":  # integer to float
        return cast(x, target.name) * (1.0 / float(np.iinfo(source).max))
    if target.kind == "f":  # float to float
        return cast(x, target.name)
    info = np.iinfo(target)  # float to integer
    scaled = x * (float(info.max) + 0.5)
    if saturate:
        scaled = clip_by_value(scaled, float(info.min), float(info.max))
    return Tensor(scaled.array.astype(target))


def _float_image(op: str, image) -> tuple[Tensor, np.dtype]:
    x = as_tensor(image)
    dtype = x.array.dtype
    if dtype.kind not in "fiuV":  # V: bfloat16
        raise InvalidArgumentError(f"{op}: images must be float or integer, got "
                                   f"{_dtypes.as_dtype(dtype).name}.")
    return (x if dtype.kind in "fV" else convert_image_dtype(x, "float32")), dtype


def _back(x: Tensor, dtype) -> Tensor:
    return convert_image_dtype(x, dtype.name, saturate=True) if dtype.kind in "iu" else x


def _images(rng, channels=3):
    return [((rng.uniform(0.05, 0.95, (2, 3, 4, channels)),), {})]


@register("image.adjust_brightness", samples=lambda rng: [
    ((rng.uniform(0, 1, (3, 4, 3)), 0.2), {})], grad_arguments=(0,))
def adjust_brightness(image, delta) -> Tensor:
    """image + delta (in the [0, 1] float scale for integer images)."""
    x, dtype = _float_image("adjust_brightness", image)
    return _back(x + float(delta), dtype)


@register("image.adjust_contrast", samples=lambda rng: [
    ((rng.uniform(0, 1, (2, 3, 4, 3)), 1.7), {})], grad_arguments=(0,))
def adjust_contrast(images, contrast_factor) -> Tensor:
    """(x - mean) * contrast_factor + mean, the mean per image and channel."""
    from .reductions import reduce_mean

    x, dtype = _float_image("adjust_contrast", images)
    mean = reduce_mean(x, axis=(-3, -2), keepdims=True)
    return _back((x - mean) * float(contrast_factor) + mean, dtype)


def _check_rgb(op: str, x: Tensor) -> None:
    if x.array.ndim < 1 or x.array.shape[-1] != 3:
        raise InvalidArgumentError(f"{op}: the last dimension must be 3 (RGB), got shape "
                                   f"{list(x.array.shape)}.")


@register("image.rgb_to_grayscale", samples=_images, grad_arguments=(0,))
def rgb_to_grayscale(images, name=None) -> Tensor:
    """Luma (0.2989 R + 0.5870 G + 0.1140 B), keeping a last dimension of 1."""
    from .reductions import reduce_sum

    x, dtype = _float_image("rgb_to_grayscale", images)
    _check_rgb("rgb_to_grayscale", x)
    weights = Tensor(array_module(x.array).asarray(_GRAY_WEIGHTS, dtype=x.array.dtype))
    return _back(reduce_sum(x * weights, axis=-1, keepdims=True), dtype)


@register("image.grayscale_to_rgb", samples=lambda rng: [((rng.uniform(0, 1, (3, 4, 1)),), {})])
def grayscale_to_rgb(images, name=None) -> Tensor:
    """Repeat the one channel three times."""
    from .shapes import concat

    x = as_tensor(images)
    if x.array.shape[-1] != 1:
        raise InvalidArgumentError(f"grayscale_to_rgb: the last dimension must be 1, got shape "
                                   f"{list(x.array.shape)}.")
    return concat([x, x, x], -1)


def _channels(x: Tensor):
    return x[..., 0], x[..., 1], x[..., 2]


@register("image.rgb_to_hsv", samples=_images)
def rgb_to_hsv(images, name=None) -> Tensor:
    """Hue, saturation and value in [0, 1] from RGB floats in [0, 1] (TensorFlow's formula)."""
    from .math import maximum, minimum, where
    from .shapes import stack

    x = as_tensor(images)
    _check_rgb("rgb_to_hsv", x)
    if x.array.dtype.kind not in "fV":
        raise InvalidArgumentError("rgb_to_hsv: images must be float in [0, 1]; use "
                                   "tf.image.convert_image_dtype first.")
    red, green, blue = _channels(x)
    value = maximum(maximum(red, green), blue)
    spread = value - minimum(minimum(red, green), blue)
    zero = 0.0 * value
    positive_value = value > zero
    saturation = where(positive_value, spread / where(positive_value, value, 1.0 + zero), zero)
    has_hue = spread > zero
    norm = 1.0 / (6.0 * where(has_hue, spread, 1.0 + zero))
    hue = where(red == value, norm * (green - blue),
                where(green == value, norm * (blue - red) + 2.0 / 6.0,
                      norm * (red - green) + 4.0 / 6.0))
    hue = where(has_hue, hue, zero)
    hue = where(hue < zero, hue + 1.0, hue)
    return stack([hue, saturation, value], axis=-1)


@register("image.hsv_to_rgb", samples=lambda rng: [((rng.uniform(0.05, 0.95, (2, 3, 3)),), {})])
def hsv_to_rgb(images, name=None) -> Tensor:
    """RGB in [0, 1] from hue, saturation and value (TensorFlow's piecewise-linear formula)."""
    from .math import abs, clip_by_value
    from .shapes import stack

    x = as_tensor(images)
    _check_rgb("hsv_to_rgb", x)
    hue, saturation, value = _channels(x)
    dh = hue * 6.0
    dr = clip_by_value(abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = clip_by_value(2.0 - abs(dh - 2.0), 0.0, 1.0)
    db = clip_by_value(2.0 - abs(dh - 4.0), 0.0, 1.0)
    one_minus_s = 1.0 - saturation
    return stack([(one_minus_s + saturation * dr) * value,
                  (one_minus_s + saturation * dg) * value,
                  (one_minus_s + saturation * db) * value], axis=-1)


@register("image.adjust_hue", samples=lambda rng: [((_vivid(rng), 0.2), {})], grad_arguments=(0,))
def adjust_hue(image, delta, name=None) -> Tensor:
    """Rotate the hue by `delta` (in [-1, 1], a fraction of the colour wheel)."""
    from .shapes import stack

    x, dtype = _float_image("adjust_hue", image)
    _check_rgb("adjust_hue", x)
    delta = float(delta)
    if not -1.0 <= delta <= 1.0:
        raise InvalidArgumentError(f"adjust_hue: delta must be in the interval [-1, 1], got "
                                   f"{delta}.")
    hue, saturation, value = _channels(rgb_to_hsv(x))
    shifted = hue + delta
    wrapped = shifted - Tensor(array_module(shifted.array).floor(shifted.array))  # constant
    return _back(hsv_to_rgb(stack([wrapped, saturation, value], axis=-1)), dtype)


@register("image.adjust_saturation", samples=lambda rng: [((_vivid(rng), 0.6), {})],
          grad_arguments=(0,))
def adjust_saturation(image, saturation_factor, name=None) -> Tensor:
    """Scale the saturation by `saturation_factor`, clipped to [0, 1]."""
    from .math import clip_by_value
    from .shapes import stack

    x, dtype = _float_image("adjust_saturation", image)
    _check_rgb("adjust_saturation", x)
    hue, saturation, value = _channels(rgb_to_hsv(x))
    saturation = clip_by_value(saturation * float(saturation_factor), 0.0, 1.0)
    return _back(hsv_to_rgb(stack([hue, saturation, value], axis=-1)), dtype)


def _vivid(rng):
    """Colours with distinct channels (HSV is piecewise: the gradient check stays in one piece)."""
    base = rng.permuted(np.tile([0.2, 0.5, 0.8], (2, 3, 1)), axis=-1)
    return base + rng.uniform(-0.05, 0.05, base.shape)


@register("image.per_image_standardization", samples=_images)
def per_image_standardization(image) -> Tensor:
    """(x - mean) / max(stddev, 1/sqrt(N)) per image (N its number of values); the result is
    float32 whatever the input's dtype, as in TensorFlow."""
    from .math import maximum, sqrt
    from .reductions import reduce_mean

    x = as_tensor(image)
    rank = image_rank("per_image_standardization", x)
    if x.array.dtype != np.float32:
        from .math import cast

        x = cast(x, "float32")
    axes = (-3, -2, -1)
    count = int(np.prod(x.array.shape[-3:]))
    mean = reduce_mean(x, axis=axes, keepdims=True)
    centred = x - mean
    stddev = sqrt(reduce_mean(centred * centred, axis=axes, keepdims=True))
    del rank
    return centred / maximum(stddev, 1.0 / float(np.sqrt(count)))
