"""Regularisation layers: ``Dropout``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorflowish import backend as tf_backend
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs during training and scale the rest by
    ``1 / (1 - rate)``; the identity at inference (``training`` False or not given)."""

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout(rate=...) must be in [0, 1), got {rate}.")
        self.rate = rate
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        shape = tuple(inputs.shape)
        if self.noise_shape is not None:
            shape = tuple(s if n is None else int(n) for s, n in zip(shape, self.noise_shape))
        from tensorflowish import random as tf_random

        rng = tf_random.numpy_generator(self.seed)
        keep = rng.random(shape, dtype=np.float32) >= self.rate
        mask = keep.astype(inputs.dtype.as_numpy_dtype) * np.asarray(
            1.0 / (1.0 - self.rate), dtype=inputs.dtype.as_numpy_dtype
        )
        xp = tf_backend.get_array_module(inputs.array)
        return inputs * Tensor(xp.asarray(mask))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
