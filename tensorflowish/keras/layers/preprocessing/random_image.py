"""Random image augmentation layers: ``RandomFlip``, ``RandomRotation``, ``RandomZoom``,
``RandomTranslation``, ``RandomContrast``, ``RandomBrightness``, ``RandomCrop``.

As in Keras 3 they augment when called with ``training=True`` (which ``fit`` passes) or with no
``training`` flag at all (in a ``tf.data`` pipeline), and pass images through unchanged with
``training=False`` (``predict``, ``evaluate``). Each draws from its own seeded generator. The
augmented images carry no gradient to the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish import random as tf_random
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.preprocessing import image_utils
from tensorflowish.tensor import Tensor


def _range(layer: str, name: str, factor: Any, symmetric: bool = True) -> tuple[float, float]:
    """A factor as (lower, upper): a number f is (-f, f)."""
    if isinstance(factor, (int, float)):
        lower, upper = (-float(factor), float(factor)) if symmetric else (0.0, float(factor))
    else:
        values = tuple(float(f) for f in factor)
        if len(values) != 2:
            raise ValueError(f"{layer}: {name} must be a number or a (lower, upper) pair, got "
                             f"{factor!r}.")
        lower, upper = values
    if lower > upper:
        raise ValueError(f"{layer}: {name} lower bound {lower} is above the upper {upper}.")
    return lower, upper


class _RandomImageLayer(Layer):
    """Shared: the seeded generator, the training switch, batch handling."""

    _name = "layer"
    # drawn and applied on the host: one line of a traced graph, run at every replay from the
    # same random stream as eagerly
    _graph_lines = {"_augment": False}

    def __init__(self, seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        image_utils.check_data_format(type(self).__name__, data_format)
        self.seed, self.data_format = seed, data_format
        self._generator = np.random.default_rng(seed) if seed is not None else None

    def _rng(self) -> np.random.Generator:
        return self._generator if self._generator is not None else tf_random.numpy_generator()

    def call(self, inputs: Tensor, training: bool = True) -> Tensor:
        images, single = image_utils.as_images(type(self).__name__, inputs)
        if not images.dtype.is_floating:
            images = tf.cast(images, self.dtype)
        if training is False:
            return image_utils.finish(self._inference(images), single)
        return image_utils.finish(self._augment(images), single)

    def _inference(self, images: Tensor) -> Tensor:
        return images

    def _augment(self, images: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class RandomFlip(_RandomImageLayer):
    """Flip each image left-right and/or up-down with probability 1/2 (``mode``:
    "horizontal", "vertical" or "horizontal_and_vertical")."""

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None,
                 **kwargs: Any) -> None:
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip mode must be 'horizontal', 'vertical' or "
                             f"'horizontal_and_vertical', got {mode!r}.")
        super().__init__(seed=seed, **kwargs)
        self.mode = mode

    def _augment(self, images: Tensor) -> Tensor:
        array = images.array
        xp = tf_backend.get_array_module(array)
        batch = array.shape[0]
        rng = self._rng()
        result = array
        if "horizontal" in self.mode:
            flip = xp.asarray(rng.random(batch) < 0.5)[:, None, None, None]
            result = xp.where(flip, result[:, :, ::-1, :], result)
        if "vertical" in self.mode:
            flip = xp.asarray(rng.random(batch) < 0.5)[:, None, None, None]
            result = xp.where(flip, result[:, ::-1, :, :], result)
        return Tensor(xp.ascontiguousarray(result))

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


class _AffineLayer(_RandomImageLayer):
    def __init__(self, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        image_utils.check_options(type(self).__name__, fill_mode, interpolation, None)
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = float(fill_value)

    def _augment(self, images: Tensor) -> Tensor:
        batch, height, width = (int(d) for d in images.shape[:3])
        matrices = self._matrices(self._rng(), batch, height, width)
        return image_utils.transform(images, matrices, self.fill_mode, self.interpolation,
                                     self.fill_value)

    def get_config(self) -> dict:
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomRotation(_AffineLayer):
    """Rotate each image by a random angle: ``factor`` is a fraction of a full turn, so
    ``factor=0.1`` rotates by up to ±36° (a pair gives (lower, upper))."""

    def __init__(self, factor: float | Sequence[float], fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = factor
        self._lower, self._upper = _range("RandomRotation", "factor", factor)

    def _matrices(self, rng, batch, height, width) -> np.ndarray:
        angles = rng.uniform(self._lower, self._upper, batch) * 2.0 * math.pi
        cos, sin = np.cos(angles), np.sin(angles)
        x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2.0
        y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2.0
        zeros = np.zeros(batch)
        return np.stack([cos, -sin, x_offset, sin, cos, y_offset, zeros, zeros], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(_AffineLayer):
    """Zoom each image by a random amount: ``height_factor`` (and ``width_factor``, by default
    the same zoom) is a fraction: positive values zoom out, negative values zoom in."""

    def __init__(self, height_factor: float | Sequence[float],
                 width_factor: float | Sequence[float] | None = None,
                 fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _range("RandomZoom", "height_factor", height_factor)
        self._width = None if width_factor is None else _range("RandomZoom", "width_factor",
                                                               width_factor)
        for lower, _ in (self._height, self._width or (0.0, 0.0)):
            if lower < -1.0:
                raise ValueError(f"RandomZoom factors must be >= -1, got {lower}.")

    def _matrices(self, rng, batch, height, width) -> np.ndarray:
        zoom_height = 1.0 + rng.uniform(*self._height, batch)
        zoom_width = zoom_height if self._width is None else 1.0 + rng.uniform(*self._width,
                                                                                 batch)
        x_offset = (width - 1) / 2.0 * (1.0 - zoom_width)
        y_offset = (height - 1) / 2.0 * (1.0 - zoom_height)
        zeros = np.zeros(batch)
        return np.stack([zoom_width, zeros, x_offset, zeros, zoom_height, y_offset, zeros,
                         zeros], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_AffineLayer):
    """Shift each image by a random fraction of its height and width (``height_factor=0.1``:
    up to 10% up or down)."""

    def __init__(self, height_factor: float | Sequence[float],
                 width_factor: float | Sequence[float], fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _range("RandomTranslation", "height_factor", height_factor)
        self._width = _range("RandomTranslation", "width_factor", width_factor)

    def _matrices(self, rng, batch, height, width) -> np.ndarray:
        dy = rng.uniform(*self._height, batch) * height
        dx = rng.uniform(*self._width, batch) * width
        ones, zeros = np.ones(batch), np.zeros(batch)
        return np.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomContrast(_RandomImageLayer):
    """Scale each image's deviation from its per-channel mean by a random factor in
    ``[1 - lower, 1 + upper]``, then clip to ``value_range``."""

    def __init__(self, factor: float | Sequence[float], value_range: Sequence[float] = (0, 255),
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.factor, self.value_range = factor, tuple(float(v) for v in value_range)
        lower, upper = _range("RandomContrast", "factor", factor)
        self._lower, self._upper = 1.0 + lower, 1.0 + upper
        if self._lower < 0:
            raise ValueError(f"RandomContrast factor must not go below -1, got {factor!r}.")

    def _augment(self, images: Tensor) -> Tensor:
        xp = tf_backend.get_array_module(images.array)
        factors = self._rng().uniform(self._lower, self._upper, images.shape[0])
        factors = Tensor(xp.asarray(factors.reshape(-1, 1, 1, 1), dtype=images.array.dtype))
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        return tf.clip_by_value((images - mean) * factors + mean, *self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomBrightness(_RandomImageLayer):
    """Add a random offset to each image: ``factor`` is a fraction of ``value_range``'s width
    (0.2 on [0, 255]: up to ±51), then clip to ``value_range``."""

    def __init__(self, factor: float | Sequence[float], value_range: Sequence[float] = (0, 255),
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.factor, self.value_range = factor, tuple(float(v) for v in value_range)
        self._lower, self._upper = _range("RandomBrightness", "factor", factor)
        if self._lower < -1.0 or self._upper > 1.0:
            raise ValueError(f"RandomBrightness factor must be within [-1, 1], got {factor!r}.")

    def _augment(self, images: Tensor) -> Tensor:
        xp = tf_backend.get_array_module(images.array)
        width = self.value_range[1] - self.value_range[0]
        deltas = self._rng().uniform(self._lower, self._upper, images.shape[0]) * width
        deltas = Tensor(xp.asarray(deltas.reshape(-1, 1, 1, 1), dtype=images.array.dtype))
        return tf.clip_by_value(images + deltas, *self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomCrop(_RandomImageLayer):
    """Crop a random ``height`` x ``width`` window while training (one position per batch);
    an image not larger than that in both dimensions is cropped from its top-left corner and
    resized to the target. At inference the images pass unchanged: that is what Keras 3.15
    does (its docstring promises a resize, its code returns the input)."""

    def __init__(self, height: int, width: int, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.height, self.width = int(height), int(width)

    def _augment(self, images: Tensor) -> Tensor:
        in_height, in_width = int(images.shape[1]), int(images.shape[2])
        top = left = 0
        if in_height > self.height and in_width > self.width:
            rng = self._rng()
            top = int(rng.integers(0, in_height - self.height + 1))
            left = int(rng.integers(0, in_width - self.width + 1))
        images = images[:, top:top + self.height, left:left + self.width, :]
        if tuple(images.shape[1:3]) != (self.height, self.width):
            images = tf.cast(tf.image.resize(images, [self.height, self.width]), images.dtype)
        return images

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width}
