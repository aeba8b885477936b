"""Reshaping layers: ``Flatten``, ``Reshape``, ``Permute``, ``RepeatVector``, ``Cropping1D``,
``UpSampling2D``, ``ZeroPadding2D``, ``Cropping2D``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class Flatten(Layer):
    """Reshape ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim == 0:
            raise ValueError(f"Flatten '{self.name}' needs a batch dimension, got a scalar.")
        if inputs.ndim == 2:
            return inputs
        batch = inputs.shape[0]
        if batch is None:  # a relaxed batch in a tf.function: its size is a tensor
            batch = tf.shape(inputs)[0]
        return tf.reshape(inputs, (batch, -1) if inputs.ndim > 1 else (batch, 1))


class Reshape(Layer):
    """Reshape each example to ``target_shape`` (the batch dimension is kept; -1 allowed)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        batch = inputs.shape[0]
        if batch is None:  # a relaxed batch in a tf.function: its size is a tensor
            batch = tf.shape(inputs)[0]
        return tf.reshape(inputs, (batch, *self.target_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Reorder the non-batch axes: ``dims`` numbers them from 1 (``Permute((2, 1))`` swaps the
    two axes of (batch, a, b) inputs)."""

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute dims must be a permutation of 1..{len(self.dims)} (the "
                             f"batch axis 0 stays first), got {self.dims}.")

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != len(self.dims) + 1:
            raise ValueError(f"Permute '{self.name}' with dims {self.dims} needs inputs of rank "
                             f"{len(self.dims) + 1}, got shape {tuple(inputs.shape)}.")
        return tf.transpose(inputs, (0, *self.dims))

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeat (batch, features) inputs ``n`` times: (batch, n, features)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"RepeatVector(n=...) must be a positive integer, got {n!r}.")
        self.n = n

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != 2:
            raise ValueError(f"RepeatVector '{self.name}' needs inputs of shape (batch, "
                             f"features), got {tuple(inputs.shape)}.")
        return tf.tile(tf.expand_dims(inputs, 1), (1, self.n, 1))

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


class Cropping1D(Layer):
    """Remove ``cropping`` = (start, end) steps (or the same number at both ends) from the
    time axis of (batch, steps, features) inputs."""

    def __init__(self, cropping: int | Sequence[int] = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pair = (cropping, cropping) if isinstance(cropping, int) else tuple(cropping)
        if len(pair) != 2 or any(int(c) < 0 for c in pair):
            raise ValueError(f"Cropping1D cropping must be a non-negative int or a pair, got "
                             f"{cropping!r}.")
        self.cropping = (int(pair[0]), int(pair[1]))

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != 3:
            raise ValueError(f"Cropping1D '{self.name}' needs inputs of shape (batch, steps, "
                             f"features), got {tuple(inputs.shape)}.")
        start, end = self.cropping
        steps = inputs.shape[1]
        if start + end >= steps:
            raise ValueError(f"Cropping1D '{self.name}': cropping {self.cropping} leaves nothing "
                             f"of {steps} steps.")
        return inputs[:, start:steps - end, :]

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": self.cropping}
def _spatial_axes(data_format: str | None) -> tuple[int, int]:
    from tensorflowish.keras.layers.convolutional import normalize_data_format

    return (1, 2) if normalize_data_format(data_format, "layer") == "channels_last" else (2, 3)


def _pairs(value: Any, what: str, layer: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's three spellings: an int, (rows, columns), or ((top, bottom), (left, right))."""
    if isinstance(value, int):
        pairs = ((value, value), (value, value))
    elif len(value) == 2 and all(isinstance(v, int) for v in value):
        pairs = ((value[0], value[0]), (value[1], value[1]))
    else:
        pairs = tuple(tuple(int(v) for v in pair) for pair in value)
    if len(pairs) != 2 or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"{layer}: {what} must be an int, 2 ints or 2 pairs of non-negative "
                         f"ints, got {value!r}.")
    return pairs


class UpSampling2D(Layer):
    """Repeat rows and columns `size` times ('nearest') or interpolate ('bilinear', with
    half-pixel centres as tf.image.resize)."""

    def __init__(self, size: Any = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"UpSampling2D: size must be a positive int or 2 of them, got "
                             f"{size!r}.")
        self.data_format = data_format
        self.axes = _spatial_axes(data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got "
                             f"{interpolation!r}.")
        self.interpolation = interpolation

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != 4:
            raise ValueError(f"UpSampling2D '{self.name}' expects inputs of rank 4, got shape "
                             f"{tuple(inputs.shape)}.")
        x = inputs
        for axis, factor in zip(self.axes, self.size):
            if self.interpolation == "nearest":
                x = tf.repeat(x, factor, axis=axis)
            else:
                x = _linear_resize(x, axis, factor)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


def _linear_resize(x: Tensor, axis: int, factor: int) -> Tensor:
    """Linear interpolation along `axis` to `factor` times its length (half-pixel centres), as
    a product with a (new, old) weight matrix, so its gradient is the transposed product."""
    import numpy as np

    old = x.shape[axis]
    source = np.clip((np.arange(old * factor) + 0.5) / factor - 0.5, 0, old - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, old - 1)
    weights = np.zeros((old * factor, old))
    np.add.at(weights, (np.arange(old * factor), low), 1 - (source - low))
    np.add.at(weights, (np.arange(old * factor), high), source - low)
    matrix = tf.constant(weights.astype(x.dtype.as_numpy_dtype))
    perm = [a for a in range(x.ndim) if a != axis] + [axis]
    inverse = [perm.index(a) for a in range(x.ndim)]
    y = tf.matmul(tf.transpose(x, perm), matrix, transpose_b=True)
    return tf.transpose(y, inverse)


class ZeroPadding2D(Layer):
    """Add rows and columns of zeros: padding an int, (rows, columns) or
    ((top, bottom), (left, right))."""

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = _pairs(padding, "padding", "ZeroPadding2D")
        self.data_format = data_format
        self.axes = _spatial_axes(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        paddings = [[0, 0]] * 4
        for axis, pair in zip(self.axes, self.padding):
            paddings[axis] = list(pair)
        return tf.pad(inputs, paddings)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping2D(Layer):
    """Remove rows and columns at the borders: cropping an int, (rows, columns) or
    ((top, bottom), (left, right))."""

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, "cropping", "Cropping2D")
        self.data_format = data_format
        self.axes = _spatial_axes(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        index = [slice(None)] * 4
        for axis, (before, after) in zip(self.axes, self.cropping):
            if before + after >= inputs.shape[axis]:
                raise ValueError(f"Cropping2D '{self.name}': cropping {self.cropping} removes all "
                                 f"of axis {axis} of inputs {tuple(inputs.shape)}.")
            index[axis] = slice(before, inputs.shape[axis] - after)
        return inputs[tuple(index)]

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}
