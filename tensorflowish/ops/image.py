"""`tf.image` geometry: flips, rotations, crops, padding, random crops/flips and patches.

Images are NHWC (`[batch, height, width, channels]`) or one HWC image, as in TensorFlow. Every
op here is composed from differentiable ops (slicing, pad, reverse, gather by index), so the
gradients follow. Resizing lives in `image_resize.py`, colours in `image_color.py`, quality
measures in `image_quality.py`.
"""

from __future__ import annotations

import numpy as np

from .registry import InvalidArgumentError, Tensor, as_tensor, format_shape, register


def image_rank(op: str, image: Tensor) -> int:
    """3 or 4, or TensorFlow's error for any other rank."""
    rank = image.array.ndim
    if rank not in (3, 4):
        raise InvalidArgumentError(f"{op}: 'image' (shape {format_shape(image.array.shape)}) "
                                   f"must have either 3 or 4 dimensions.")
    return rank


def _image_samples(rng):
    return [((rng.uniform(-1, 1, (3, 4, 2)),), {}), ((rng.uniform(-1, 1, (2, 3, 4, 1)),), {})]


@register("image.flip_left_right", samples=_image_samples)
def flip_left_right(image) -> Tensor:
    """Mirror along the width axis."""
    x = as_tensor(image)
    image_rank("flip_left_right", x)
    return x[..., ::-1, :]


@register("image.flip_up_down", samples=_image_samples)
def flip_up_down(image) -> Tensor:
    """Mirror along the height axis."""
    x = as_tensor(image)
    image_rank("flip_up_down", x)
    return x[..., ::-1, :, :]


@register("image.transpose", "image.transpose_image", samples=_image_samples)
def transpose(image, name=None) -> Tensor:
    """Swap height and width."""
    from .shapes import transpose as permute

    x = as_tensor(image)
    rank = image_rank("transpose", x)
    return permute(x, [1, 0, 2] if rank == 3 else [0, 2, 1, 3])


@register("image.rot90", samples=lambda rng: [((rng.uniform(-1, 1, (3, 4, 2)),), {}),
                                               ((rng.uniform(-1, 1, (2, 3, 4, 1)), 3), {})],
          grad_arguments=(0,))
def rot90(image, k=1, name=None) -> Tensor:
    """Rotate by k quarter turns counter-clockwise."""
    x = as_tensor(image)
    image_rank("rot90", x)
    k = int(k) % 4
    if k == 0:
        return x
    if k == 1:
        return flip_up_down(transpose(x))
    if k == 2:
        return flip_up_down(flip_left_right(x))
    return transpose(flip_up_down(x))


def _bounding_box(op: str, x: Tensor, box: tuple, outer: str) -> tuple:
    """(height, width, top, left, rows, cols) of `x`'s images and of the box
    (offset_height, offset_width, target_height, target_width), checked: with outer 'image'
    the box must lie inside the image (cropping), with 'box' the image inside the box."""
    height, width = x.array.shape[-3:-1]
    offset_height, offset_width, target_height, target_width = (int(v) for v in box)
    checks = [(offset_height >= 0, "offset_height must be >= 0."),
              (offset_width >= 0, "offset_width must be >= 0."),
              (target_height > 0, "target_height must be > 0."),
              (target_width > 0, "target_width must be > 0.")]
    if outer == "image":  # cropping: the box must lie inside the image
        checks += [(height >= target_height + offset_height,
                    "height must be >= target + offset."),
                   (width >= target_width + offset_width, "width must be >= target + offset.")]
    else:  # padding: the image must fit inside the box
        checks += [(target_height >= height + offset_height,
                    "height must be <= target - offset"),
                   (target_width >= width + offset_width, "width must be <= target - offset")]
    for ok, message in checks:
        if not ok:
            raise InvalidArgumentError(f"{op}: {message} (image {height}x{width}, offset "
                                       f"{offset_height},{offset_width}, target "
                                       f"{target_height}x{target_width})")
    return height, width, offset_height, offset_width, target_height, target_width


@register("image.crop_to_bounding_box", samples=lambda rng: [
    ((rng.uniform(-1, 1, (2, 5, 6, 1)), 1, 2, 3, 3), {})], grad_arguments=(0,))
def crop_to_bounding_box(image, offset_height, offset_width, target_height,
                         target_width) -> Tensor:
    """The box of `target_height` x `target_width` pixels starting at the offsets."""
    x = as_tensor(image)
    image_rank("crop_to_bounding_box", x)
    _, _, top, left, rows, cols = _bounding_box(
        "crop_to_bounding_box", x, (offset_height, offset_width, target_height, target_width),
        "image")
    return x[..., top:top + rows, left:left + cols, :]


@register("image.pad_to_bounding_box", samples=lambda rng: [
    ((rng.uniform(-1, 1, (2, 3, 2, 1)), 1, 2, 5, 5), {})], grad_arguments=(0,))
def pad_to_bounding_box(image, offset_height, offset_width, target_height,
                        target_width) -> Tensor:
    """Place the image at the offsets inside a zero image of the target size."""
    from .indexing import pad

    x = as_tensor(image)
    rank = image_rank("pad_to_bounding_box", x)
    height, width, top, left, rows, cols = _bounding_box(
        "pad_to_bounding_box", x, (offset_height, offset_width, target_height, target_width),
        "box")
    paddings = [[top, rows - height - top], [left, cols - width - left], [0, 0]]
    return pad(x, ([[0, 0]] if rank == 4 else []) + paddings)


@register("image.central_crop", samples=lambda rng: [
    ((rng.uniform(-1, 1, (7, 9, 1)), 0.5), {})], grad_arguments=(0,))
def central_crop(image, central_fraction) -> Tensor:
    """The central `central_fraction` (in (0, 1]) of each image, as TensorFlow rounds it."""
    x = as_tensor(image)
    image_rank("central_crop", x)
    fraction = float(central_fraction)
    if not 0.0 < fraction <= 1.0:
        raise InvalidArgumentError(f"central_crop: central_fraction must be within (0, 1], "
                                   f"got {fraction}.")
    if fraction == 1.0:
        return x
    height, width = x.array.shape[-3:-1]
    top = int((height - height * fraction) / 2)
    left = int((width - width * fraction) / 2)
    return x[..., top:height - top, left:width - left, :]


def _flip_mask(generator, x: Tensor, rank: int):
    count = x.array.shape[0] if rank == 4 else 1
    return generator.uniform(size=count) < 0.5


def _random_flip(op: str, image, generator, flip) -> Tensor:
    from .. import backend
    from .math import where

    x = as_tensor(image)
    rank = image_rank(op, x)
    chosen = _flip_mask(generator, x, rank)
    if rank == 3:
        return flip(x) if chosen[0] else x
    mask = Tensor(backend.asarray(chosen.reshape(-1, 1, 1, 1),
                                  device=backend.device_of(x.array)))
    return where(mask, flip(x), x)


def random_flip_left_right(image, seed=None) -> Tensor:
    """Mirror each image left-right with probability 1/2."""
    from ..random import numpy_generator

    return _random_flip("random_flip_left_right", image, numpy_generator(seed),
                        flip_left_right)


def random_flip_up_down(image, seed=None) -> Tensor:
    """Mirror each image upside down with probability 1/2."""
    from ..random import numpy_generator

    return _random_flip("random_flip_up_down", image, numpy_generator(seed), flip_up_down)


@register("image.stateless_random_flip_left_right", samples=lambda rng: [
    ((rng.uniform(-1, 1, (4, 2, 3, 1)), np.array([1, 2])), {})], grad_arguments=(0,))
def stateless_random_flip_left_right(image, seed) -> Tensor:
    """`random_flip_left_right` determined by a [2] seed."""
    from ..random.stateless import _generator

    return _random_flip("stateless_random_flip_left_right", image, _generator(seed),
                        flip_left_right)


@register("image.stateless_random_flip_up_down", samples=lambda rng: [
    ((rng.uniform(-1, 1, (4, 2, 3, 1)), np.array([3, 4])), {})], grad_arguments=(0,))
def stateless_random_flip_up_down(image, seed) -> Tensor:
    """`random_flip_up_down` determined by a [2] seed."""
    from ..random.stateless import _generator

    return _random_flip("stateless_random_flip_up_down", image, _generator(seed), flip_up_down)


def _random_crop(value, size, generator) -> Tensor:
    x = as_tensor(value)
    size = [int(s) for s in (size.numpy() if isinstance(size, Tensor) else size)]
    shape = x.array.shape
    if len(size) != len(shape) or any(s > d or s < 0 for s, d in zip(size, shape)):
        raise InvalidArgumentError(f"random_crop: Need value.shape >= size, got "
                                   f"value.shape {format_shape(shape)} and size "
                                   f"{format_shape(size)}.")
    offsets = [int(generator.integers(0, d - s + 1)) for s, d in zip(size, shape)]
    return x[tuple(slice(o, o + s) for o, s in zip(offsets, size))]


def random_crop(value, size, seed=None, name=None) -> Tensor:
    """A random `size` slice of `value` (any rank)."""
    from ..random import numpy_generator

    return _random_crop(value, size, numpy_generator(seed))


@register("image.stateless_random_crop", samples=lambda rng: [
    ((rng.uniform(-1, 1, (5, 4, 2)), [3, 2, 2], np.array([5, 6])), {})], grad_arguments=(0,))
def stateless_random_crop(value, size, seed, name=None) -> Tensor:
    """`random_crop` determined by a [2] seed."""
    from ..random.stateless import _generator

    return _random_crop(value, size, _generator(seed))


def _window_starts(size: int, kernel: int, stride: int, rate: int, padding: str):
    effective = (kernel - 1) * rate + 1
    if padding == "VALID":
        count = max(0, (size - effective) // stride + 1)
        return np.arange(count) * stride, 0, 0
    count = -(-size // stride)
    total = max((count - 1) * stride + effective - size, 0)
    return np.arange(count) * stride, total // 2, total - total // 2


def _four(op: str, name: str, values) -> tuple[int, int]:
    values = [int(v) for v in values]
    if len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise InvalidArgumentError(f"{op}: {name} must be [1, rows, cols, 1], got {values}.")
    return values[1], values[2]


@register("image.extract_patches", samples=lambda rng: [
    ((rng.uniform(-1, 1, (1, 5, 5, 2)), [1, 3, 3, 1], [1, 2, 2, 1], [1, 1, 1, 1], "SAME"), {}),
    ((rng.uniform(-1, 1, (2, 5, 4, 1)), [1, 2, 2, 1], [1, 1, 2, 1], [1, 2, 1, 1], "VALID"),
     {})], grad_arguments=(0,))
def extract_patches(images, sizes, strides, rates, padding, name=None) -> Tensor:
    """Patches of `sizes` every `strides` (dilated by `rates`), each flattened into the depth:
    the result is [batch, out_rows, out_cols, size_rows * size_cols * depth]."""
    from .indexing import pad
    from .shapes import reshape

    x = as_tensor(images)
    if x.array.ndim != 4:
        raise InvalidArgumentError(f"extract_patches: images must be 4-D [batch, rows, cols, "
                                   f"depth], got shape {format_shape(x.array.shape)}.")
    padding = str(padding).upper()
    if padding not in ("SAME", "VALID"):
        raise InvalidArgumentError(f"extract_patches: padding must be 'SAME' or 'VALID', got "
                                   f"{padding!r}.")
    kernel = _four("extract_patches", "sizes", sizes)
    stride = _four("extract_patches", "strides", strides)
    rate = _four("extract_patches", "rates", rates)
    batch, rows, cols, depth = x.array.shape
    row_starts, top, bottom = _window_starts(rows, kernel[0], stride[0], rate[0], padding)
    col_starts, left, right = _window_starts(cols, kernel[1], stride[1], rate[1], padding)
    if top or bottom or left or right:
        x = pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    row_index = row_starts[:, None] + np.arange(kernel[0])[None, :] * rate[0]
    col_index = col_starts[:, None] + np.arange(kernel[1])[None, :] * rate[1]
    patches = x[:, row_index[:, None, :, None], col_index[None, :, None, :], :]
    return reshape(patches, (batch, len(row_starts), len(col_starts),
                             kernel[0] * kernel[1] * depth))
