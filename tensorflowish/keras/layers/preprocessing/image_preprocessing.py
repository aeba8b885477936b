"""Deterministic image preprocessing layers: ``Rescaling``, ``Resizing``, ``CenterCrop``
(NHWC images, batched or one at a time)."""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.preprocessing import image_utils
from tensorflowish.tensor import Tensor


class Rescaling(Layer):
    """``inputs * scale + offset``: e.g. ``Rescaling(1 / 255)`` maps [0, 255] to [0, 1],
    ``Rescaling(1 / 127.5, offset=-1)`` to [-1, 1]."""

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset
        self.supports_masking = True

    def call(self, inputs: Tensor) -> Tensor:
        if not inputs.dtype.is_floating:
            inputs = tf.cast(inputs, self.dtype)
        scale = tf.cast(tf.convert_to_tensor(self.scale), inputs.dtype)
        offset = tf.cast(tf.convert_to_tensor(self.offset), inputs.dtype)
        return inputs * scale + offset

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Resizing(Layer):
    """Resize images to ``(height, width)`` with ``interpolation`` ("bilinear", "nearest",
    "bicubic", "area", "lanczos3", ...); ``crop_to_aspect_ratio`` first crops the largest
    centred window of the target's aspect ratio, ``pad_to_aspect_ratio`` pads with
    ``fill_value`` instead, so that nothing is stretched."""

    def __init__(self, height: int, width: int, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
                 fill_mode: str = "constant", fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        image_utils.check_data_format("Resizing", data_format)
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both "
                             "be True.")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode, self.fill_value = fill_mode, float(fill_value)
        self.data_format = data_format

    def call(self, inputs: Tensor) -> Tensor:
        images, single = image_utils.as_images("Resizing", inputs)
        if not images.dtype.is_floating:
            images = tf.cast(images, self.dtype)
        resized = image_utils.resize(images, self.height, self.width, self.interpolation,
                                     self.crop_to_aspect_ratio, self.pad_to_aspect_ratio,
                                     self.fill_value)
        return image_utils.finish(resized, single)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "data_format": self.data_format}


def center_crop(images: Tensor, height: int, width: int) -> Tensor:
    """The centred ``height`` x ``width`` window of NHWC images; images smaller than that are
    resized after cropping to the target's aspect ratio (Keras's rule)."""
    in_height, in_width = int(images.shape[1]), int(images.shape[2])
    if in_height < height or in_width < width:
        return image_utils.resize(images, height, width, crop_to_aspect_ratio=True)
    top, left = (in_height - height) // 2, (in_width - width) // 2
    return images[:, top:top + height, left:left + width, :]


class CenterCrop(Layer):
    """Crop the centre ``height`` x ``width`` of each image (smaller images are resized up,
    keeping the aspect ratio by cropping first)."""

    def __init__(self, height: int, width: int, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        image_utils.check_data_format("CenterCrop", data_format)
        self.height, self.width, self.data_format = int(height), int(width), data_format

    def call(self, inputs: Tensor) -> Tensor:
        images, single = image_utils.as_images("CenterCrop", inputs)
        if not images.dtype.is_floating:
            images = tf.cast(images, self.dtype)
        return image_utils.finish(center_crop(images, self.height, self.width), single)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}
