"""`tf.random.Generator`: a random-number generator whose state is a variable.

As in TensorFlow, the state is an int64 `tf.Variable` of shape [3]: a 128-bit counter (two
words) and a 64-bit key. Every draw reads the state, produces numbers that are a pure function of
it (Philox, see `philox.py`), and advances the counter, so a generator made `from_seed` gives the
same sequence on every run and on both backends.

>>> import tensorflowish as tf
>>> g = tf.random.Generator.from_seed(1)
>>> a = g.normal([2])
>>> g.reset_from_seed(1)
>>> bool(tf.reduce_all(g.normal([2]) == a))
True
"""

from __future__ import annotations

import secrets

import numpy as np

from .. import dtypes as _dtypes
from ..module import Module
from ..tensor import Tensor, Variable
from ..tensor import shape_tuple as _shape_tuple
from . import philox

_PHILOX = 1  # TensorFlow's tf.random.Algorithm.PHILOX


class Algorithm:
    """The bit generators TensorFlow names; only Philox is implemented."""

    PHILOX = 1
    THREEFRY = 2
    AUTO_SELECT = 3


def _check_algorithm(alg) -> int:
    if alg is None or alg in (_PHILOX, Algorithm.AUTO_SELECT) or \
            str(alg).lower() in ("philox", "auto_select"):
        return _PHILOX
    from ..errors import UnimplementedError

    raise UnimplementedError(f"tf.random.Generator: only the Philox algorithm is implemented, "
                             f"got alg={alg!r}.")


def _signed(word: int) -> int:
    word &= (1 << 64) - 1
    return word - (1 << 64) if word >= 1 << 63 else word


def _state_from_seed(seed) -> list[int]:
    """[counter, counter, key] for a seed: the seed is the key, so different seeds give
    independent streams rather than one stream at shifted positions."""
    if isinstance(seed, Tensor):
        seed = seed.numpy()
    words = [int(w) for w in np.ravel(np.asarray(seed, dtype=np.int64))] if \
        not isinstance(seed, int) else [seed]
    if len(words) == 1:
        return [0, 0, _signed(words[0])]
    if len(words) == 3:
        return [_signed(w) for w in words]
    # any other length: mixed into one key
    mixed = np.random.SeedSequence([w & ((1 << 64) - 1) for w in words]).generate_state(
        2, np.uint64)
    return [0, 0, _signed(int(mixed[0]))]


class Generator(Module):
    """A stateful random-number generator (Philox), as `tf.random.Generator`.

    A `tf.Module`, as in TensorFlow: its state variable is saved by `tf.train.Checkpoint` and
    listed in `variables`.
    """

    def __init__(self, copy_from=None, state=None, alg=None) -> None:
        super().__init__(name="generator")
        if copy_from is not None:
            state = copy_from.state.numpy()
            alg = copy_from.algorithm
        elif state is None:
            raise ValueError("tf.random.Generator: give `copy_from` or `state` (or use "
                             "Generator.from_seed / from_non_deterministic_state).")
        self._alg = _check_algorithm(alg)
        state = np.asarray(state.numpy() if isinstance(state, Tensor) else state,
                           dtype=np.int64).ravel()
        if state.shape != (3,):
            raise ValueError(f"tf.random.Generator: a Philox state has 3 int64 words "
                             f"(counter, counter, key), got {state.size}.")
        self._state_var = Variable(state, trainable=False, name="StateVar", dtype="int64")

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_seed(cls, seed, alg=None) -> Generator:
        """A generator whose numbers depend only on `seed` (an int or a list of ints)."""
        return cls(state=_state_from_seed(seed), alg=alg)

    @classmethod
    def from_non_deterministic_state(cls, alg=None) -> Generator:
        """A generator seeded from the operating system's entropy."""
        return cls(state=[0, 0, _signed(secrets.randbits(64))], alg=alg)

    @classmethod
    def from_state(cls, state, alg) -> Generator:
        return cls(state=state, alg=alg)

    @classmethod
    def from_key_counter(cls, key, counter, alg) -> Generator:
        counter = [int(c) for c in np.ravel(np.asarray(counter))]
        return cls(state=[counter[0], counter[1] if len(counter) > 1 else 0, int(key)], alg=alg)

    # --- state ----------------------------------------------------------------------------
    @property
    def state(self) -> Variable:
        return self._state_var

    @property
    def algorithm(self) -> int:
        return self._alg

    @property
    def key(self) -> Tensor:
        return Tensor(self._state_var.numpy()[2:])

    def reset(self, state) -> None:
        """Set the state (3 int64 words)."""
        self._state_var.assign(np.asarray(state.numpy() if isinstance(state, Tensor) else state,
                                          dtype=np.int64))

    def reset_from_seed(self, seed) -> None:
        """Start again as `Generator.from_seed(seed)` would."""
        self._state_var.assign(np.asarray(_state_from_seed(seed), dtype=np.int64))

    def reset_from_key_counter(self, key, counter) -> None:
        counter = [int(c) for c in np.ravel(np.asarray(counter))]
        self.reset([counter[0], counter[1] if len(counter) > 1 else 0, int(key)])

    def skip(self, delta) -> None:
        """Advance the counter by `delta` blocks, as if that many had been drawn."""
        counter, key = self._counter_and_key()
        total = (counter[0] + (counter[1] << 64) + int(delta)) & ((1 << 128) - 1)
        self._store(((total & ((1 << 64) - 1)), total >> 64), key)

    def _counter_and_key(self):
        words = [int(w) & ((1 << 64) - 1) for w in self._state_var.numpy()]
        return (words[0], words[1]), words[2]

    def _store(self, counter, key) -> None:
        self._state_var.assign(np.array([_signed(counter[0]), _signed(counter[1]),
                                         _signed(key)], dtype=np.int64))

    def _draw(self, sample):
        """Run `sample(numpy_generator)` at the current state and advance the state past it."""
        counter, key = self._counter_and_key()
        generator = philox.numpy_generator(key, counter)
        values = sample(generator)
        self._store(philox.counter_after(generator), key)
        return values

    # --- distributions --------------------------------------------------------------------
    def normal(self, shape, mean=0.0, stddev=1.0, dtype="float32", name=None) -> Tensor:
        """Normal samples."""
        shape = _shape_tuple(shape)
        values = self._draw(lambda g: g.standard_normal(shape))
        return philox.to_tensor(philox.affine(values, mean, stddev), dtype)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype="float32",
                         name=None) -> Tensor:
        """Normal samples redrawn where they fall more than two standard deviations out."""
        shape = _shape_tuple(shape)
        values = self._draw(lambda g: philox.truncated(g, shape))
        return philox.to_tensor(philox.affine(values, mean, stddev), dtype)

    def uniform(self, shape, minval=0, maxval=None, dtype="float32", name=None) -> Tensor:
        """Uniform samples in [minval, maxval): floats (maxval defaults to 1), or integers
        (both bounds given, or both None for the dtype's whole range)."""
        shape = _shape_tuple(shape)
        numpy_dtype = _dtypes.numpy_dtype(dtype)
        if numpy_dtype.kind in "iu":
            philox.check_integer_bounds(minval, maxval, dtype)
            return philox.to_tensor(self._draw(
                lambda g: philox.integers(g, shape, minval, maxval, dtype)), dtype)
        low = philox.host_array(0.0 if minval is None else minval)
        high = philox.host_array(1.0 if maxval is None else maxval)
        values = self._draw(lambda g: philox.floats(g, shape, dtype))
        return philox.to_tensor(low + values * (high - low), dtype)

    def uniform_full_int(self, shape, dtype="uint64", name=None) -> Tensor:
        """Integers over the whole range of `dtype`."""
        shape = _shape_tuple(shape)
        return philox.to_tensor(self._draw(
            lambda g: philox.integers(g, shape, None, None, dtype)), dtype)

    def binomial(self, shape, counts, probs, dtype="int32", name=None) -> Tensor:
        """Binomial samples: successes in `counts` trials of probability `probs`."""
        shape = _shape_tuple(shape)
        counts = philox.host_array(counts).astype(np.int64)
        probs = philox.host_array(probs)
        return philox.to_tensor(self._draw(lambda g: g.binomial(counts, probs, shape)), dtype)

    def make_seeds(self, count=1) -> Tensor:
        """`count` new seeds for the stateless ops, as an int64 tensor of shape [2, count]."""
        seeds = self._draw(lambda g: g.integers(np.iinfo(np.int64).min,
                                                np.iinfo(np.int64).max, (2, int(count)),
                                                dtype=np.int64, endpoint=True))
        return philox.to_tensor(seeds, "int64")

    def split(self, count=1) -> list:
        """`count` new generators, independent of this one (which advances)."""
        keys = self._draw(lambda g: g.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max,
                                               int(count), dtype=np.int64, endpoint=True))
        return [Generator(state=[0, 0, int(key)], alg=self._alg) for key in keys]


_global_generator: Generator | None = None


def get_global_generator() -> Generator:
    """The process's generator, made from non-deterministic state on first use (as TensorFlow:
    `tf.random.set_seed` does not reset it; use `set_global_generator` for a seeded one)."""
    global _global_generator
    if _global_generator is None:
        _global_generator = Generator.from_non_deterministic_state()
    return _global_generator


def set_global_generator(generator: Generator) -> None:
    """Replace the global generator (e.g. with `Generator.from_seed(...)`)."""
    global _global_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"set_global_generator expects a tf.random.Generator, got "
                        f"{type(generator).__name__}.")
    _global_generator = generator
