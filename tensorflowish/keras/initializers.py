"""Weight initialisers (``tf.keras.initializers``), by class or by name.

Values are sampled on the host with NumPy (from the generator ``tf.random.set_seed`` seeds, or
from ``seed`` when given) and then placed on the current device.

    >>> import tensorflowish as tf
    >>> tf.keras.initializers.get("glorot_uniform")((3, 4)).shape.as_list()
    [3, 4]
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.object_config import keras_object_config

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros", "get",
]  # fmt: skip


def _generator(seed: int | None) -> np.random.Generator:
    from tensorflowish import random as tf_random

    return tf_random.numpy_generator(seed)


def _finish(values: np.ndarray, dtype: Any) -> Any:
    dtype = tf.as_dtype(dtype or keras_backend.floatx())
    return tf.convert_to_tensor(np.asarray(values, dtype=dtype.as_numpy_dtype))


def compute_fans(shape: tuple) -> tuple[float, float]:
    """Fan-in and fan-out of a weight: (in, out) for a kernel, times the receptive field for
    convolution kernels (``(*spatial, in, out)``)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive_field = float(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: ``initializer(shape, dtype=None)`` returns a Tensor of that shape."""

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        """Rebuild an initialiser from :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class _Seeded(Initializer):
    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def _generator(self) -> np.random.Generator:
        return _generator(self.seed)


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        return _finish(np.zeros(shape), dtype)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        return _finish(np.ones(shape), dtype)


class Constant(Initializer):
    """Every element equals ``value`` (or ``value`` broadcast to the shape)."""

    def __init__(self, value: Any = 0.0) -> None:
        self.value = value

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        value = self.value.numpy() if hasattr(self.value, "numpy") else self.value
        return _finish(np.broadcast_to(np.asarray(value, dtype=np.float64), shape), dtype)

    def get_config(self) -> dict:
        return {"value": self.value}


class RandomNormal(_Seeded):
    """Normal samples with ``mean`` and ``stddev`` (Keras default 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        return _finish(self._generator().normal(self.mean, self.stddev, size=shape), dtype)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_Seeded):
    """Uniform samples in ``[minval, maxval)`` (Keras default ±0.05)."""

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        return _finish(self._generator().uniform(self.minval, self.maxval, size=shape), dtype)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng: np.random.Generator, stddev: float, shape: tuple) -> np.ndarray:
    """Normal samples with values beyond two standard deviations redrawn."""
    values = rng.standard_normal(size=shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values * stddev


class TruncatedNormal(_Seeded):
    """Normal samples redrawn beyond two standard deviations (Keras default stddev 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        values = self.mean + _truncated_normal(self._generator(), self.stddev, shape)
        return _finish(values, dtype)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(_Seeded):
    """Samples scaled to the weight's fans: variance ``scale / n`` with ``n`` from ``mode``.

    ``mode`` is 'fan_in', 'fan_out' or 'fan_avg'; ``distribution`` is 'truncated_normal',
    'untruncated_normal' or 'uniform' (limit ``sqrt(3 * scale / n)``).
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling needs scale > 0, got {scale}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}.")
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform', "
                f"got {distribution!r}."
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._generator()
        if self.distribution == "truncated_normal":
            # 0.879... is the stddev of a standard normal truncated to (-2, 2)
            values = _truncated_normal(rng, math.sqrt(variance) / 0.87962566103423978, shape)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(variance), size=shape)
        else:
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        return _finish(values, dtype)

    def get_config(self) -> dict:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class GlorotUniform(VarianceScaling):
    """Uniform in ``±sqrt(6 / (fan_in + fan_out))`` (Keras's default kernel initialiser)."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / (fan_in + fan_out))``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / fan_in)`` (for ReLU layers)."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    """Uniform in ``±sqrt(6 / fan_in)``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class LecunNormal(VarianceScaling):
    """Truncated normal with stddev ``sqrt(1 / fan_in)``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "truncated_normal", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class LecunUniform(VarianceScaling):
    """Uniform in ``±sqrt(3 / fan_in)``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "uniform", seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class Orthogonal(_Seeded):
    """A (scaled) random orthogonal matrix, via the QR decomposition of a normal sample."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of rank 2 or more, got {tuple(shape)}.")
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        sample = self._generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(sample)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _finish(self.gain * q.reshape(shape), dtype)

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: tuple, dtype: Any = None) -> Any:
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, got {tuple(shape)}.")
        return _finish(self.gain * np.eye(*shape), dtype)

    def get_config(self) -> dict:
        return {"gain": self.gain}


_CLASSES = {
    cls.__name__: cls
    for cls in (
        Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
        GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform,
        Orthogonal, Identity,
    )
}  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_BY_NAME = {_snake(name): cls for name, cls in _CLASSES.items()}
_BY_NAME.update({name: cls for name, cls in _CLASSES.items()})
_BY_NAME.update({"zero": Zeros, "one": Ones, "normal": RandomNormal, "uniform": RandomUniform})


def get(identifier: Any) -> Initializer:
    """An initialiser from a name ('glorot_uniform', 'HeNormal', ...), a config dict
    ``{'class_name': ..., 'config': ...}``, an instance, or a function ``(shape, dtype)``."""
    if isinstance(identifier, Initializer) or (
        callable(identifier) and not isinstance(identifier, type)
    ):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, dict):
        cls = _BY_NAME.get(identifier.get("class_name", ""))
        if cls is None:
            raise ValueError(f"Unknown initializer config {identifier!r}.")
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(
                f"Unknown initializer {identifier!r}; expected one of "
                f"{sorted(_snake(n) for n in _CLASSES)}, an Initializer, or a function "
                "(shape, dtype) -> tensor."
            )
        return cls()
    raise TypeError(f"Cannot interpret {identifier!r} as an initializer.")


# Keras's lower-case aliases: tf.keras.initializers.glorot_uniform() etc.
zeros, ones, constant = Zeros, Ones, Constant
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
orthogonal, identity = Orthogonal, Identity


def serialize(initializer: Any) -> Any:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` form of an
    Initializer (a function is returned as it is)."""
    if not isinstance(initializer, Initializer):
        return initializer
    return keras_object_config(initializer, "keras.initializers")
