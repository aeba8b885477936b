"""`tf.random`: seeded random tensors with TensorFlow's seed rules; `Generator` and the stateless
ops live in `generator.py` and `stateless.py`.

Values are drawn on the host with NumPy's PCG64 and then moved to the current device, so the same
seed gives the same numbers on every backend and every run.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .. import dtypes as _dtypes
from ..tensor import Tensor, convert_to_tensor
from ..tensor import shape_tuple as _shape_tuple
from .philox import truncated as _truncated

_global_seed: int | None = None
_global_generator = np.random.default_rng()
_op_generators: dict[int, np.random.Generator] = {}


def set_seed(seed: int | None) -> None:
    """Make every later random op reproducible (with or without its own `seed`)."""
    global _global_seed, _global_generator
    _global_seed = None if seed is None else int(seed)
    _global_generator = np.random.default_rng(_global_seed)
    _op_generators.clear()


def numpy_generator(seed: int | None = None) -> np.random.Generator:
    """The generator an op should draw from: one per op-level seed, else the global one.

    As in TensorFlow, an op with a `seed` gives a fresh sequence after every `set_seed`, and
    repeated calls continue that sequence instead of repeating the same numbers.
    """
    if seed is None:
        return _global_generator
    key = int(seed)
    if key not in _op_generators:
        _op_generators[key] = np.random.default_rng([_global_seed or 0, key])
    return _op_generators[key]


def _to_tensor(values: np.ndarray, dtype) -> Tensor:
    return Tensor(backend.asarray(values.astype(_dtypes.numpy_dtype(dtype), copy=False)))


def normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None, name=None) -> Tensor:
    """Samples from a normal distribution."""
    values = numpy_generator(seed).normal(float(mean), float(stddev), _shape_tuple(shape))
    return _to_tensor(values, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None,
                     name=None) -> Tensor:
    """Normal samples, redrawn where they fall more than two standard deviations out."""
    values = _truncated(numpy_generator(seed), _shape_tuple(shape))
    return _to_tensor(values * float(stddev) + float(mean), dtype)


def uniform(shape, minval=0, maxval=None, dtype="float32", seed=None, name=None) -> Tensor:
    """Uniform samples in [minval, maxval) (maxval defaults to 1 for floats)."""
    numpy_dtype = _dtypes.numpy_dtype(dtype)
    generator = numpy_generator(seed)
    shape = _shape_tuple(shape)
    if numpy_dtype.kind in "iu":
        if maxval is None:
            raise ValueError("random.uniform: maxval is required for integer dtypes.")
        return _to_tensor(generator.integers(int(minval), int(maxval), shape), dtype)
    high = 1.0 if maxval is None else float(maxval)
    return _to_tensor(generator.uniform(float(minval), high, shape), dtype)


def shuffle(value, seed=None, name=None) -> Tensor:
    """Shuffle along the first axis."""
    x = convert_to_tensor(value)
    order = numpy_generator(seed).permutation(x.array.shape[0])
    xp = backend.get_array_module(x.array)
    return Tensor(x.array[xp.asarray(order)])


def categorical(logits, num_samples, dtype="int64", seed=None, name=None) -> Tensor:
    """Draw class indices from unnormalised log-probabilities, one row per batch entry."""
    logits_array = backend.to_numpy(convert_to_tensor(logits).array).astype(np.float64)
    probabilities = np.exp(logits_array - logits_array.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    generator = numpy_generator(seed)
    samples = np.stack([generator.choice(len(p), size=int(num_samples), p=p)
                        for p in probabilities])
    return _to_tensor(samples, dtype)


from . import experimental  # noqa: E402
from .generator import (  # noqa: E402
    Algorithm,
    Generator,
    get_global_generator,
    set_global_generator,
)
from .stateless import (  # noqa: E402
    fold_in,
    gamma,
    poisson,
    split,
    stateless_binomial,
    stateless_categorical,
    stateless_gamma,
    stateless_normal,
    stateless_poisson,
    stateless_truncated_normal,
    stateless_uniform,
)
