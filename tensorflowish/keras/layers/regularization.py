"""Regularisation layers: ``Dropout``, ``SpatialDropout2D``, ``GaussianNoise``, ``GaussianDropout``,
``AlphaDropout``, ``ActivityRegularization``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorflowish import backend as tf_backend
from tensorflowish import random as tf_random
from tensorflowish.keras import regularizers
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs during training and scale the rest by
    ``1 / (1 - rate)``; the identity at inference (``training`` False or not given)."""

    # drawn on the host from the layer's generator: one line of a traced graph, redrawn at
    # every replay from the same stream as eagerly (False: drawn in spec-only traces too)
    _graph_lines = {"_keep_mask": False}
    # it draws only from tf.random's streams: a trace's shape probe may run it once more (with
    # the streams put back: tensorflowish/function/shape_probe.py)
    _probe_lines = ("_keep_mask",)

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
        self.supports_masking = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        return inputs * self._keep_mask(inputs)

    def _keep_mask(self, inputs: Tensor) -> Tensor:
        """0 for the dropped entries, 1 / (1 - rate) for the kept ones."""
        shape = inputs.array.shape  # the real shape, also in a trace with None dimensions
        if self.noise_shape is not None:
            shape = tuple(s if n is None else int(n) for s, n in zip(shape, self.noise_shape))
        rng = tf_random.numpy_generator(self.seed)
        keep = rng.random(shape, dtype=np.float32) >= self.rate
        mask = keep.astype(inputs.dtype.as_numpy_dtype) * np.asarray(
            1.0 / (1.0 - self.rate), dtype=inputs.dtype.as_numpy_dtype
        )
        xp = tf_backend.get_array_module(inputs.array)
        return Tensor(xp.asarray(mask))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _noise(inputs: Tensor, values: np.ndarray) -> Tensor:
    """Host-drawn noise as a tensor of the inputs' dtype, on the inputs' device."""
    xp = tf_backend.get_array_module(inputs.array)
    return Tensor(xp.asarray(values.astype(inputs.dtype.as_numpy_dtype, copy=False)))


def _check_rate(layer: str, rate: float) -> float:
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{layer}(rate=...) must be in [0, 1), got {rate}.")
    return rate


class GaussianNoise(Layer):
    """Add zero-mean Gaussian noise of standard deviation ``stddev`` while training; the
    identity at inference."""

    _graph_lines = {"_noise_of": False}  # host-drawn: one line of a traced graph (see Dropout)
    _probe_lines = ("_noise_of",)

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if stddev < 0:
            raise ValueError(f"GaussianNoise(stddev=...) must be >= 0, got {stddev}.")
        self.stddev, self.seed = float(stddev), seed
        self.supports_masking = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.stddev == 0.0:
            return inputs
        return inputs + self._noise_of(inputs)

    def _noise_of(self, inputs: Tensor) -> Tensor:
        rng = tf_random.numpy_generator(self.seed)
        return _noise(inputs, rng.normal(0.0, self.stddev, inputs.array.shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiply by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))``
    while training; the identity at inference."""

    _graph_lines = {"_noise_of": False}  # host-drawn: one line of a traced graph (see Dropout)
    _probe_lines = ("_noise_of",)

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.seed = _check_rate("GaussianDropout", rate), seed
        self.supports_masking = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        return inputs * self._noise_of(inputs)

    def _noise_of(self, inputs: Tensor) -> Tensor:
        stddev = (self.rate / (1.0 - self.rate)) ** 0.5
        rng = tf_random.numpy_generator(self.seed)
        return _noise(inputs, rng.normal(1.0, stddev, inputs.array.shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Layer):
    """Dropout for SELU networks: dropped inputs are set to SELU's negative saturation and the
    result is scaled and shifted so that mean and variance are kept (Klambauer et al.)."""

    _ALPHA = 1.6732632423543772848170429916717
    _SCALE = 1.0507009873554804934193349852946
    _graph_lines = {"_kept": False}  # host-drawn: one line of a traced graph (see Dropout)
    _probe_lines = ("_kept",)

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.seed = _check_rate("AlphaDropout", rate), seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.supports_masking = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        alpha_p = -self._ALPHA * self._SCALE
        a = ((1.0 - self.rate) * (1.0 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        kept = self._kept(inputs)
        return a * (inputs * kept + alpha_p * (1.0 - kept)) + b

    def _kept(self, inputs: Tensor) -> Tensor:
        """1 for the kept entries, 0 for the dropped ones."""
        shape = inputs.array.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else int(n) for s, n in zip(shape, self.noise_shape))
        keep = tf_random.numpy_generator(self.seed).random(shape) >= self.rate
        return _noise(inputs, keep.astype(np.float64))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class ActivityRegularization(Layer):
    """The identity, adding ``l1 * sum(|x|) + l2 * sum(x**2)`` of its inputs to the losses."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any) -> None:
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)
        self.supports_masking = True

    def get_config(self) -> dict:
        config = {**super().get_config(), "l1": self.l1, "l2": self.l2}
        config.pop("activity_regularizer", None)
        return config
class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: one keep/drop decision per (example, channel), so
    neighbouring (correlated) pixels are dropped together."""

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        data_format = "channels_last" if data_format is None else data_format
        noise_shape = (None, 1, 1, None) if data_format == "channels_last" else (None, None, 1, 1)
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)
        self.data_format = data_format

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if inputs.ndim != 4:
            raise ValueError(f"SpatialDropout2D '{self.name}' expects inputs of rank 4, got "
                             f"shape {tuple(inputs.shape)}.")
        return super().call(inputs, training=training)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}
