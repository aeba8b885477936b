"""The one source of random bits behind `tf.random.Generator` and the stateless ops: Philox.

Philox is counter-based: the numbers are a pure function of a key and a counter, identical on
every machine and every run. Values are drawn on the host by NumPy's Philox (4x64, 10 rounds) and
only then moved to the device, so the CPU and GPU backends give the same numbers. They are not
TensorFlow's numbers (TensorFlow uses Philox 4x32 with its own transformations to floats).

Every draw goes through `draw(key, counter, sample)`, which returns the values and the counter
after them, so a stateful generator can advance its state.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .. import dtypes as _dtypes
from ..tensor import Tensor

_MASK = (1 << 64) - 1


def _words(value) -> int:
    return int(value) & _MASK


def numpy_generator(key, counter=(0, 0)) -> np.random.Generator:
    """A NumPy generator positioned at (key, counter): key is 1 or 2 words, counter 2 words."""
    key = [_words(k) for k in np.ravel(key)]
    key = (key + [0, 0])[:2]
    counter = [_words(c) for c in np.ravel(counter)]
    bits = np.random.Philox(counter=np.array(counter[:2] + [0, 0], dtype=np.uint64),
                            key=np.array(key, dtype=np.uint64))
    return np.random.Generator(bits)


def counter_after(generator: np.random.Generator) -> tuple[int, int]:
    """The 128-bit counter after the blocks a draw used (as two 64-bit words)."""
    state = generator.bit_generator.state["state"]["counter"]
    return int(state[0]), int(state[1])


def floats(generator: np.random.Generator, shape: tuple, dtype) -> np.ndarray:
    """Uniform floats in [0, 1) that stay below 1 in the target dtype."""
    numpy_dtype = _dtypes.numpy_dtype(dtype)
    if numpy_dtype == np.float64:
        return generator.random(shape)
    values = generator.random(shape, dtype=np.float32)
    if numpy_dtype != np.float32:  # float16, bfloat16: rounding must not reach 1.0
        below_one = np.nextafter(np.array(1, numpy_dtype), np.array(0, numpy_dtype))
        values = np.minimum(values.astype(numpy_dtype), below_one).astype(np.float32)
    return values


def truncated(generator: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal values, redrawn wherever they fall more than two deviations out."""
    values = generator.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = generator.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return values


def integers(generator: np.random.Generator, shape: tuple, minval, maxval, dtype) -> np.ndarray:
    """Uniform integers in [minval, maxval), or over the whole dtype when both are None."""
    numpy_dtype = _dtypes.numpy_dtype(dtype)
    check_integer_bounds(minval, maxval, dtype)
    if minval is None and maxval is None:
        info = np.iinfo(numpy_dtype)
        return generator.integers(info.min, info.max, shape, dtype=numpy_dtype,
                                  endpoint=True)
    low, high = np.asarray(_host(minval)), np.asarray(_host(maxval))
    if np.any(high <= low):
        raise ValueError(f"Need minval < maxval, got minval={low.tolist()} and "
                         f"maxval={high.tolist()}.")
    return generator.integers(low, high, shape, dtype=numpy_dtype)


def check_integer_bounds(minval, maxval, dtype) -> None:
    """TensorFlow's rule: integer bounds are both given or both None (the whole range)."""
    if (minval is None) != (maxval is None):
        raise ValueError(f"For integer dtype {_dtypes.as_dtype(dtype).name}, minval and maxval "
                         f"must be both `None` or both non-`None`; got minval={minval} and "
                         f"maxval={maxval}")


def categorical(generator: np.random.Generator, logits, num_samples: int) -> np.ndarray:
    """Class indices drawn from each row of unnormalised log-probabilities [batch, classes]."""
    logits = np.asarray(_host(logits), dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"categorical: logits must be 2-D [batch_size, num_classes], got shape "
                         f"{list(logits.shape)}.")
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= cumulative[:, -1:]
    uniform = generator.random((logits.shape[0], int(num_samples)))
    indices = (cumulative[:, None, :] <= uniform[..., None]).sum(-1)
    return np.minimum(indices, logits.shape[1] - 1)


def _host(value):
    if isinstance(value, Tensor):
        return value.numpy()
    return value


def host_array(value, dtype=np.float64) -> np.ndarray:
    """A parameter (tensor, array or number) as a host array."""
    return np.asarray(_host(value), dtype=dtype)


def affine(values: np.ndarray, mean, stddev) -> np.ndarray:
    """values * stddev + mean, skipping the passes that would change nothing (the default 0, 1)."""
    if not (isinstance(stddev, (int, float)) and stddev == 1):
        values = values * host_array(stddev)
    if not (isinstance(mean, (int, float)) and mean == 0):
        values = values + host_array(mean)
    return values


def to_tensor(values: np.ndarray, dtype) -> Tensor:
    """Host values as a tensor of `dtype` on the current device."""
    return Tensor(backend.asarray(np.asarray(values).astype(_dtypes.numpy_dtype(dtype),
                                                            copy=False)))
