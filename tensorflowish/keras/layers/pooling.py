"""Pooling layers: ``MaxPooling1D/2D``, ``AveragePooling1D/2D`` and the global poolings
``GlobalAveragePooling1D/2D``, ``GlobalMaxPooling1D/2D`` (``keepdims``), with Keras 3's
arguments (``strides=None`` means the pool size).

    >>> import tensorflowish as tf
    >>> tf.keras.layers.MaxPooling2D()(tf.ones([1, 5, 5, 2])).shape.as_list()
    [1, 2, 2, 2]
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras.layers.convolutional import (
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    tf_data_format,
)
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class BasePooling(Layer):
    """What the window poolings share; `pooling_type` is 'MAX' or 'AVG'."""

    rank = 2
    pooling_type = "MAX"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", kind)
        self.strides = self.pool_size if strides is None else normalize_tuple(
            strides, self.rank, "strides", kind)
        self.padding = normalize_padding(padding, kind)
        self.data_format = normalize_data_format(data_format, kind)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != self.rank + 2:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of rank "
                             f"{self.rank + 2}, got shape {tuple(inputs.shape)}.")
        return tf.nn.pool(inputs, list(self.pool_size), self.pooling_type,
                          strides=list(self.strides), padding=self.padding.upper(),
                          data_format=tf_data_format(self.data_format, self.rank))

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(BasePooling):
    """The maximum of each window of `pool_size` steps."""

    rank = 1


class MaxPooling2D(BasePooling):
    """The maximum of each `pool_size` window (default 2x2, strides = pool_size)."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(BasePooling):
    """The mean of each window of `pool_size` steps (padding is not counted)."""

    rank = 1
    pooling_type = "AVG"


class AveragePooling2D(BasePooling):
    """The mean of each `pool_size` window (padding is not counted)."""

    pooling_type = "AVG"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class BaseGlobalPooling(Layer):
    """Reduce every spatial axis with `reduce` (tf.reduce_mean or tf.reduce_max)."""

    rank = 2
    reduce = staticmethod(tf.reduce_mean)

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != self.rank + 2:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of rank "
                             f"{self.rank + 2}, got shape {tuple(inputs.shape)}.")
        first = 1 if self.data_format == "channels_last" else 2
        axes = list(range(first, first + self.rank))
        return self.reduce(inputs, axis=axes, keepdims=self.keepdims)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling1D(BaseGlobalPooling):
    """The mean over the steps: (batch, steps, channels) -> (batch, channels). With a mask
    (a `mask_zero=True` embedding, `Masking`), the mean of the unmasked steps only, as Keras."""

    rank = 1

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        if mask is None:
            return super().call(inputs)
        channels_last = self.data_format == "channels_last"
        steps_axis = 1 if channels_last else 2
        # Keras 3's: the masked steps' values replaced by 0, the sum divided by the count
        keep = tf.cast(tf.expand_dims(mask, 2 if channels_last else 1), tf.bool)
        inputs = tf.where(keep, inputs, 0)
        count = tf.reduce_sum(tf.cast(keep, inputs.dtype), axis=steps_axis,
                              keepdims=self.keepdims)
        total = tf.reduce_sum(inputs, axis=steps_axis, keepdims=self.keepdims)
        with np.errstate(invalid="ignore"):  # a sequence with no step left: NaN, as Keras
            return total / count

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None  # the steps axis is gone


class GlobalAveragePooling2D(BaseGlobalPooling):
    """The mean over height and width: (batch, H, W, channels) -> (batch, channels)."""


class GlobalMaxPooling1D(BaseGlobalPooling):
    """The maximum over the steps."""

    rank = 1
    reduce = staticmethod(tf.reduce_max)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """The maximum over height and width."""

    reduce = staticmethod(tf.reduce_max)


MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = (MaxPooling1D, MaxPooling2D, AveragePooling1D,
                                              AveragePooling2D)
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
