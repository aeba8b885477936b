"""`tf.image.psnr` and `tf.image.ssim`: TensorFlow's image-similarity measures, differentiable.

SSIM's Gaussian window is separable, so each local mean is one `separable_transform` (two
matmuls with banded matrices) instead of a depthwise convolution.
"""

from __future__ import annotations

import numpy as np

from .image_resize import separable_transform
from .registry import InvalidArgumentError, Tensor, as_tensor, format_shape, register


def _pair(op: str, a, b) -> tuple[Tensor, Tensor]:
    from .math import cast

    a, b = as_tensor(a), as_tensor(b)
    if a.array.shape != b.array.shape:
        raise InvalidArgumentError(f"{op}: the two images must have the same shape, got "
                                   f"{format_shape(a.array.shape)} and "
                                   f"{format_shape(b.array.shape)}.")
    if a.array.ndim < 3:
        raise InvalidArgumentError(f"{op}: images must have rank >= 3 ([..., height, width, "
                                   f"channels]), got shape {format_shape(a.array.shape)}.")
    if a.array.dtype.kind != "f":
        from .image_color import convert_image_dtype

        return convert_image_dtype(a, "float32"), convert_image_dtype(b, "float32")
    if a.array.dtype != np.float32 and a.array.dtype != np.float64:
        return cast(a, "float32"), cast(b, "float32")
    return a, b


@register("image.psnr", samples=lambda rng: [
    ((rng.uniform(0, 1, (2, 4, 4, 3)), rng.uniform(0, 1, (2, 4, 4, 3)), 1.0), {})],
    grad_arguments=(0, 1))
def psnr(a, b, max_val, name=None) -> Tensor:
    """Peak signal-to-noise ratio in dB per image: 20 log10(max_val) - 10 log10(MSE)."""
    from .math import log
    from .reductions import reduce_mean

    a, b = _pair("psnr", a, b)
    difference = a - b
    mse = reduce_mean(difference * difference, axis=(-3, -2, -1))
    max_val = float(max_val)
    return 20.0 * float(np.log10(max_val)) - (10.0 / float(np.log(10.0))) * log(mse)


def _gaussian_band(size: int, filter_size: int, sigma: float) -> np.ndarray:
    """[size - filter_size + 1, size]: each row the normalised 1-D Gaussian, sliding (VALID)."""
    coordinates = np.arange(filter_size) - (filter_size - 1) / 2.0
    window = np.exp(-0.5 * coordinates ** 2 / sigma ** 2)
    window /= window.sum()
    rows = size - filter_size + 1
    band = np.zeros((rows, size))
    for row in range(rows):
        band[row, row:row + filter_size] = window
    return band


def _as_nhwc(x: Tensor):
    from .shapes import reshape

    shape = x.array.shape
    return reshape(x, (-1,) + shape[-3:]), shape[:-3]


@register("image.ssim", samples=lambda rng: [
    ((rng.uniform(0, 1, (1, 7, 8, 2)), rng.uniform(0, 1, (1, 7, 8, 2)), 1.0),
     {"filter_size": 5, "filter_sigma": 1.0})], grad_arguments=(0, 1))
def ssim(img1, img2, max_val, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         return_index_map: bool = False) -> Tensor:
    """Structural similarity per image (mean over the Gaussian-windowed map and channels)."""
    from .reductions import reduce_mean
    from .shapes import reshape

    a, b = _pair("ssim", img1, img2)
    height, width = a.array.shape[-3:-1]
    filter_size = int(filter_size)
    if height < filter_size or width < filter_size:
        raise InvalidArgumentError(f"ssim: images of {height}x{width} are smaller than "
                                   f"filter_size={filter_size}; use a smaller filter_size.")
    rows = _gaussian_band(height, filter_size, float(filter_sigma))
    cols = _gaussian_band(width, filter_size, float(filter_sigma))
    x, batch = _as_nhwc(a)
    y, _ = _as_nhwc(b)

    def local_mean(t):
        return separable_transform(t, rows, cols)

    max_val = float(max_val)
    c1, c2 = (float(k1) * max_val) ** 2, (float(k2) * max_val) ** 2
    mean_x, mean_y = local_mean(x), local_mean(y)
    numerator0 = mean_x * mean_y * 2.0
    denominator0 = mean_x * mean_x + mean_y * mean_y
    luminance = (numerator0 + c1) / (denominator0 + c1)
    numerator1 = local_mean(x * y) * 2.0
    denominator1 = local_mean(x * x + y * y)
    contrast_structure = (numerator1 - numerator0 + c2) / (denominator1 - denominator0 + c2)
    index_map = luminance * contrast_structure
    if return_index_map:
        return reshape(index_map, tuple(batch) + tuple(index_map.shape[1:]))
    per_channel = reduce_mean(index_map, axis=(-3, -2))
    return reshape(reduce_mean(per_channel, axis=-1), tuple(batch))
