"""Reshaping layers: ``Flatten``, ``Reshape``, ``Permute``, ``RepeatVector``, ``Cropping1D``."""

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
        return tf.reshape(inputs, (batch, -1) if inputs.ndim > 1 else (batch, 1))


class Reshape(Layer):
    """Reshape each example to ``target_shape`` (the batch dimension is kept; -1 allowed)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        return tf.reshape(inputs, (inputs.shape[0], *self.target_shape))

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
