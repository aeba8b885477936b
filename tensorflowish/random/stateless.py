"""TensorFlow's stateless random ops: the numbers are a pure function of `seed` (shape [2]).

The same seed gives the same numbers on every run and on both backends (Philox on the host, see
`philox.py`); different seeds give independent streams. `split` and `fold_in` derive new seeds.

>>> import tensorflowish as tf
>>> a = tf.random.stateless_normal([3], seed=[1, 2])
>>> bool(tf.reduce_all(a == tf.random.stateless_normal([3], seed=[1, 2])))
True
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dtypes
from ..errors import InvalidArgumentError
from ..tensor import Tensor
from ..tensor import shape_tuple as _shape_tuple
from . import philox


def _seed_words(seed) -> tuple[int, int]:
    values = np.asarray(seed.numpy() if isinstance(seed, Tensor) else seed)
    if values.dtype.kind not in "iu":
        raise InvalidArgumentError(f"seed must be integers (int32 or int64), got "
                                   f"{values.dtype}.")
    if values.shape != (2,):
        raise InvalidArgumentError(f"seed must have shape [2], not {list(values.shape)}")
    return int(values[0]), int(values[1])


def _generator(seed) -> np.random.Generator:
    return philox.numpy_generator(_seed_words(seed))


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", name=None,
                     alg="auto_select") -> Tensor:
    """Normal samples determined by `seed`."""
    values = _generator(seed).standard_normal(_shape_tuple(shape))
    return philox.to_tensor(philox.affine(values, mean, stddev), dtype)


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype="float32", name=None,
                               alg="auto_select") -> Tensor:
    """Normal samples within two standard deviations, determined by `seed`."""
    values = philox.truncated(_generator(seed), _shape_tuple(shape))
    return philox.to_tensor(philox.affine(values, mean, stddev), dtype)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype="float32", name=None,
                      alg="auto_select") -> Tensor:
    """Uniform samples in [minval, maxval) determined by `seed` (integers: both bounds, or both
    None for the whole range of `dtype`)."""
    shape = _shape_tuple(shape)
    generator = _generator(seed)
    if _dtypes.numpy_dtype(dtype).kind in "iu":
        return philox.to_tensor(philox.integers(generator, shape, minval, maxval, dtype), dtype)
    low = philox.host_array(0.0 if minval is None else minval)
    high = philox.host_array(1.0 if maxval is None else maxval)
    return philox.to_tensor(low + philox.floats(generator, shape, dtype) * (high - low), dtype)


def stateless_categorical(logits, num_samples, seed, dtype="int64", name=None) -> Tensor:
    """`num_samples` class indices per row of `logits` [batch, classes], determined by seed."""
    return philox.to_tensor(philox.categorical(_generator(seed), logits, num_samples), dtype)


def stateless_binomial(shape, seed, counts, probs, output_dtype="int32", name=None) -> Tensor:
    """Binomial samples (successes in `counts` trials of probability `probs`)."""
    counts = philox.host_array(counts).astype(np.int64)
    return philox.to_tensor(_generator(seed).binomial(counts, philox.host_array(probs),
                                                      _shape_tuple(shape)), output_dtype)


def stateless_gamma(shape, seed, alpha, beta=None, dtype="float32", name=None) -> Tensor:
    """Gamma samples of shape `alpha` and rate `beta` (default 1); `shape` must end with the
    broadcast shape of alpha and beta."""
    alpha = philox.host_array(alpha)
    beta = philox.host_array(1.0 if beta is None else beta)
    values = _generator(seed).gamma(alpha, 1.0 / beta, _shape_tuple(shape))
    return philox.to_tensor(values, dtype)


def stateless_poisson(shape, seed, lam, dtype="int32", name=None) -> Tensor:
    """Poisson samples of rate `lam`; `shape` must end with the shape of `lam`."""
    values = _generator(seed).poisson(philox.host_array(lam), _shape_tuple(shape))
    return philox.to_tensor(values, dtype)


def split(seed, num=2, alg="auto_select") -> Tensor:
    """`num` new seeds derived from `seed`, as a [num, 2] tensor of the seed's dtype."""
    dtype = seed.dtype if isinstance(seed, Tensor) else "int32"
    return _derive(seed, (int(num), 2), dtype)


def fold_in(seed, data, alg="auto_select") -> Tensor:
    """A new seed from `seed` and an integer `data` (e.g. a step number)."""
    dtype = seed.dtype if isinstance(seed, Tensor) else "int32"
    words = _seed_words(seed)
    generator = philox.numpy_generator(words, counter=(int(data), 1))
    return _seed_tensor(generator, (2,), dtype)


def _derive(seed, shape, dtype) -> Tensor:
    generator = philox.numpy_generator(_seed_words(seed), counter=(0, 1))
    return _seed_tensor(generator, shape, dtype)


def _seed_tensor(generator, shape, dtype) -> Tensor:
    info = np.iinfo(_dtypes.numpy_dtype(dtype))
    values = generator.integers(info.min, info.max, shape, dtype=_dtypes.numpy_dtype(dtype),
                                endpoint=True)
    return philox.to_tensor(values, dtype)


# stateful ops that draw from the per-op/global NumPy generators (TensorFlow's seed rules)
def gamma(shape, alpha, beta=None, dtype="float32", seed=None, name=None) -> Tensor:
    """Gamma samples: the result has shape `shape + broadcast(alpha, beta).shape`."""
    from . import numpy_generator

    alpha = philox.host_array(alpha)
    beta = philox.host_array(1.0 if beta is None else beta)
    batch = np.broadcast_shapes(alpha.shape, beta.shape)
    values = numpy_generator(seed).gamma(alpha, 1.0 / beta, _shape_tuple(shape) + batch)
    return philox.to_tensor(values, dtype)


def poisson(shape, lam, dtype="float32", seed=None, name=None) -> Tensor:
    """Poisson samples: the result has shape `shape + lam.shape` (float32 by default, as TF)."""
    from . import numpy_generator

    lam = philox.host_array(lam)
    values = numpy_generator(seed).poisson(lam, _shape_tuple(shape) + lam.shape)
    return philox.to_tensor(values, dtype)
