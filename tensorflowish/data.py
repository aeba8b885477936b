"""Input pipelines: ``tf.data.Dataset`` over in-memory arrays.

A dataset is a recipe; iterating it yields elements (a Tensor, or a tuple/dict of Tensors).
The pipeline works on raw backend arrays inside and wraps them as Tensors only at the end,
and the common training pipeline ``from_tensor_slices(...).shuffle(...).batch(...)`` takes a
fast path: it computes the order of the rows once per epoch and slices whole arrays per
batch instead of stacking elements one by one in Python.

    >>> import tensorflowish as tf
    >>> ds = tf.data.Dataset.from_tensor_slices(([1., 2., 3.], [0, 1, 0])).batch(2)
    >>> [x.shape.as_list() for x, y in ds]
    [[2], [1]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Dataset"]

AUTOTUNE = -1
"""Accepted wherever TensorFlow accepts ``tf.data.AUTOTUNE``; this pipeline runs in-process."""

INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


# --- element structures: a leaf, or a tuple/list/dict of structures ---------------------------


def _map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    if isinstance(structure, dict):
        return {key: _map_structure(fn, value) for key, value in structure.items()}
    if isinstance(structure, tuple):
        return tuple(_map_structure(fn, value) for value in structure)
    return fn(structure)


def _flatten(structure: Any) -> list:
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in _flatten(value)]
    if isinstance(structure, tuple):
        return [leaf for value in structure for leaf in _flatten(value)]
    return [structure]


def _zip_structures(fn: Callable[[list], Any], structures: list) -> Any:
    """Apply ``fn`` to the list of matching leaves of several structures of the same shape."""
    first = structures[0]
    if isinstance(first, dict):
        return {key: _zip_structures(fn, [s[key] for s in structures]) for key in first}
    if isinstance(first, tuple):
        return tuple(
            _zip_structures(fn, [s[index] for s in structures]) for index in range(len(first))
        )
    return fn(structures)


def _to_array(value: Any) -> Any:
    """A leaf as a raw backend array (Tensors are unwrapped, everything else converted)."""
    import tensorflowish as tf

    if isinstance(value, tf.Tensor):
        return value.array
    return tf.convert_to_tensor(value).array


def _to_tensor(array: Any) -> Any:
    import tensorflowish as tf

    if isinstance(array, tf.Tensor):
        return array
    return tf.convert_to_tensor(array)


def _array_module(array: Any) -> Any:
    from tensorflowish import backend

    return backend.get_array_module(array)


def _normalise_input(structure: Any) -> Any:
    """Tuples and dicts are structure; a list is data (as in TensorFlow), unless it holds arrays."""
    if isinstance(structure, dict):
        return {key: _normalise_input(value) for key, value in structure.items()}
    if isinstance(structure, tuple):
        return tuple(_normalise_input(value) for value in structure)
    return _to_array(structure)


# --- the Dataset ------------------------------------------------------------------------------


class Dataset:
    """A sequence of elements, built from arrays and transformed lazily (``tf.data.Dataset``).

    Create one with :meth:`from_tensor_slices`, :meth:`from_tensors` or :meth:`range`, then
    chain ``shuffle``, ``batch``, ``map``, ``take``, ``skip``, ``repeat`` and ``prefetch``.
    Iterating yields Tensors in the structure of the input (a tuple stays a tuple, a dict a dict).
    """

    def _iter_arrays(self) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cardinality(self) -> int:
        return UNKNOWN_CARDINALITY

    # construction --------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors: Any) -> Dataset:
        """Slice ``tensors`` along their first axis: element ``i`` is ``tensors[i]``.

        ``tensors`` may be one array/Tensor/list, or a tuple or dict of them; all of them must
        have the same length.

        >>> import numpy as np, tensorflowish as tf
        >>> ds = tf.data.Dataset.from_tensor_slices({"x": np.zeros((4, 2)), "y": np.arange(4)})
        >>> len(ds)
        4
        """
        return _SliceDataset(_normalise_input(tensors))

    @staticmethod
    def from_tensors(tensors: Any) -> Dataset:
        """A dataset of one element: ``tensors`` itself."""
        return _ElementsDataset([_normalise_input(tensors)])

    @staticmethod
    def range(*args: int) -> Dataset:
        """Like Python's ``range``: ``Dataset.range(5)`` yields int64 scalars 0..4."""
        values = np.arange(*args, dtype=np.int64)
        return _SliceDataset(_to_array(values))

    @staticmethod
    def zip(datasets: tuple | dict) -> Dataset:
        """Combine datasets element-wise into tuples (or dicts); stops at the shortest."""
        if not isinstance(datasets, (tuple, dict)):
            raise TypeError(
                f"Dataset.zip expects a tuple or dict of datasets, got {type(datasets).__name__}; "
                "write Dataset.zip((ds1, ds2))."
            )
        return _ZipDataset(datasets)

    # transformations -----------------------------------------------------------------------

    def shuffle(
        self,
        buffer_size: int,
        seed: int | None = None,
        reshuffle_each_iteration: bool = True,
    ) -> Dataset:
        """Randomly shuffle elements with a buffer of ``buffer_size`` (TensorFlow semantics).

        A buffer at least as large as the dataset gives a uniform permutation. With ``seed``
        the order is reproducible; without it, it follows ``tf.random.set_seed``.
        """
        buffer_size = int(buffer_size)
        if buffer_size == AUTOTUNE:
            buffer_size = 1 << 62
        if buffer_size < 1:
            raise ValueError(
                f"shuffle(buffer_size=...) must be at least 1, got {buffer_size}; use the "
                "dataset's length for a full shuffle."
            )
        return _ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def batch(
        self,
        batch_size: int,
        drop_remainder: bool = False,
        num_parallel_calls: int | None = None,
        deterministic: bool | None = None,
    ) -> Dataset:
        """Stack consecutive elements into batches of ``batch_size`` along a new first axis."""
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch(batch_size=...) must be at least 1, got {batch_size}.")
        return _BatchDataset(self, batch_size, bool(drop_remainder))

    def map(
        self,
        map_func: Callable[..., Any],
        num_parallel_calls: int | None = None,
        deterministic: bool | None = None,
    ) -> Dataset:
        """Apply ``map_func`` to every element; a tuple element is passed as separate arguments."""
        if not callable(map_func):
            raise TypeError(f"map expects a function, got {type(map_func).__name__}.")
        return _MapDataset(self, map_func)

    def take(self, count: int) -> Dataset:
        """The first ``count`` elements (all of them if ``count`` is -1)."""
        return _TakeDataset(self, int(count))

    def shard(self, num_shards: int, index: int) -> Dataset:
        """Every ``num_shards``-th element starting at ``index`` (one worker's part of the data).

        On a dataset of slices this stays a dataset of slices (the fast shuffle/batch path).
        """
        return self._shard(num_shards, index, drop_remainder=False)

    def _shard(self, num_shards: int, index: int, drop_remainder: bool) -> Dataset:
        """``shard``; with ``drop_remainder`` (distribute.shard's) all shards have one length."""
        num_shards, index = check_shard(num_shards, index)
        return _ShardDataset(self, num_shards, index, drop_remainder)

    def skip(self, count: int) -> Dataset:
        """All but the first ``count`` elements."""
        return _SkipDataset(self, int(count))

    def repeat(self, count: int | None = None) -> Dataset:
        """Repeat the dataset ``count`` times (forever if ``count`` is None or -1)."""
        if count is not None and int(count) < -1:
            raise ValueError(f"repeat(count=...) must be -1, None or >= 0, got {count}.")
        return _RepeatDataset(self, None if count is None or int(count) == -1 else int(count))

    def prefetch(self, buffer_size: int = AUTOTUNE) -> Dataset:
        """Accepted for compatibility; elements are produced on demand in this process."""
        return self

    def cache(self, filename: str = "") -> Dataset:
        """Accepted for compatibility; in-memory datasets need no cache."""
        return self

    def unbatch(self) -> Dataset:
        """Split each element along its first axis into separate elements."""
        return _UnbatchDataset(self)

    # inspection ----------------------------------------------------------------------------

    def cardinality(self) -> Any:
        """Number of elements, or ``INFINITE_CARDINALITY`` (-1) / ``UNKNOWN_CARDINALITY`` (-2)."""
        import tensorflowish as tf

        return tf.constant(self._cardinality(), dtype=tf.int64)

    def __len__(self) -> int:
        n = self._cardinality()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite (it repeats forever); it has no length.")
        if n < 0:
            raise TypeError("The dataset's length is unknown; use cardinality() or iterate it.")
        return n

    def __iter__(self) -> Iterator[Any]:
        for element in self._iter_arrays():
            yield _map_structure(_to_tensor, element)

    def as_numpy_iterator(self) -> Iterator[Any]:
        """Iterate elements as NumPy arrays (host copies)."""
        from tensorflowish import backend

        for element in self._iter_arrays():
            yield _map_structure(
                lambda a: backend.to_numpy(a.array if hasattr(a, "array") else a), element
            )

    @property
    def element_spec(self) -> Any:
        """Shapes and dtypes of one element, as ``(shape, dtype)`` pairs in its structure."""
        for element in self._iter_arrays():
            return _map_structure(lambda a: (tuple(a.shape), np.dtype(a.dtype).name), element)
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__.lstrip('_')} cardinality={self._cardinality()}>"


class _SliceDataset(Dataset):
    def __init__(self, arrays: Any) -> None:
        leaves = _flatten(arrays)
        lengths = []
        for leaf in leaves:
            if leaf.ndim == 0:
                raise ValueError(
                    "from_tensor_slices needs arrays with a first axis to slice along, got a "
                    "scalar; use Dataset.from_tensors for a single element."
                )
            lengths.append(leaf.shape[0])
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(tuple(leaf.shape)) for leaf in leaves)
            raise ValueError(
                "from_tensor_slices needs all components to have the same first dimension, got "
                f"shapes {shapes}; make x and y the same length."
            )
        self.arrays = arrays
        self.length = lengths[0]

    def _cardinality(self) -> int:
        return self.length

    def _order(self) -> np.ndarray | None:
        """Row order for one pass (None: in order)."""
        return None

    def _iter_arrays(self) -> Iterator[Any]:
        for i in range(self.length):
            yield _map_structure(lambda a, i=i: a[i], self.arrays)

    def _shard(self, num_shards: int, index: int, drop_remainder: bool) -> Dataset:
        num_shards, index = check_shard(num_shards, index)
        stop = self.length - self.length % num_shards if drop_remainder else self.length
        return _SliceDataset(_map_structure(lambda a: a[index:stop:num_shards], self.arrays))

    def _gather(self, rows: Any) -> Any:
        """Rows of every component: a slice or an index array."""
        if isinstance(rows, slice):
            return _map_structure(lambda a: a[rows], self.arrays)

        def take(array: Any) -> Any:
            xp = _array_module(array)
            return array[xp.asarray(rows)] if xp is not np else array[rows]

        return _map_structure(take, self.arrays)


def _shuffled_order(n: int, buffer_size: int, rng: np.random.Generator) -> np.ndarray:
    """The order TensorFlow's buffered shuffle produces, computed on indices only."""
    if buffer_size >= n:
        return rng.permutation(n)
    order = np.empty(n, dtype=np.int64)
    buffer = list(range(buffer_size))
    picks = rng.integers(0, 1 << 62, size=n)
    next_index = buffer_size
    for out in range(n):
        slot = int(picks[out] % len(buffer))
        order[out] = buffer[slot]
        if next_index < n:
            buffer[slot] = next_index
            next_index += 1
        else:
            buffer[slot] = buffer[-1]
            buffer.pop()
    return order


class _ShuffleDataset(Dataset):
    def __init__(
        self, parent: Dataset, buffer_size: int, seed: int | None, reshuffle: bool
    ) -> None:
        self.parent = parent
        self.buffer_size = buffer_size
        self.reshuffle = reshuffle
        if seed is None:
            from tensorflowish import random as tf_random

            seed = int(tf_random.numpy_generator().integers(0, 1 << 62))
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _generator(self) -> np.random.Generator:
        return self._rng if self.reshuffle else np.random.default_rng(self.seed)

    def _order(self, n: int) -> np.ndarray:
        return _shuffled_order(n, self.buffer_size, self._generator())

    def _iter_arrays(self) -> Iterator[Any]:
        if isinstance(self.parent, _SliceDataset):
            slices = self.parent
            for i in self._order(slices.length):
                yield _map_structure(lambda a, i=int(i): a[i], slices.arrays)
            return
        rng = self._generator()
        buffer: list = []
        for element in self.parent._iter_arrays():
            if len(buffer) < self.buffer_size:
                buffer.append(element)
                continue
            slot = int(rng.integers(len(buffer)))
            yield buffer[slot]
            buffer[slot] = element
        while buffer:
            slot = int(rng.integers(len(buffer)))
            buffer[slot], buffer[-1] = buffer[-1], buffer[slot]
            yield buffer.pop()


def _stack(leaves: list) -> Any:
    xp = _array_module(leaves[0])
    return xp.stack(leaves)


class _BatchDataset(Dataset):
    def __init__(self, parent: Dataset, batch_size: int, drop_remainder: bool) -> None:
        self.parent = parent
        self.batch_size = batch_size
        self.drop_remainder = drop_remainder

    def _cardinality(self) -> int:
        n = self.parent._cardinality()
        if n < 0:
            return n
        return n // self.batch_size if self.drop_remainder else math.ceil(n / self.batch_size)

    def _iter_arrays(self) -> Iterator[Any]:
        # Fast path: slices (optionally shuffled) -> batch slices whole arrays per batch.
        source, order = None, None
        if isinstance(self.parent, _SliceDataset):
            source = self.parent
        elif isinstance(self.parent, _ShuffleDataset) and isinstance(
            self.parent.parent, _SliceDataset
        ):
            source = self.parent.parent
            order = self.parent._order(source.length)
        if source is not None:
            n, size = source.length, self.batch_size
            stop = n - n % size if self.drop_remainder else n
            for start in range(0, stop, size):
                end = min(start + size, n)
                yield source._gather(slice(start, end) if order is None else order[start:end])
            return
        pending: list = []
        for element in self.parent._iter_arrays():
            pending.append(element)
            if len(pending) == self.batch_size:
                yield _zip_structures(_stack, pending)
                pending = []
        if pending and not self.drop_remainder:
            yield _zip_structures(_stack, pending)


class _MapDataset(Dataset):
    def __init__(self, parent: Dataset, fn: Callable[..., Any]) -> None:
        self.parent = parent
        self.fn = fn

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _iter_arrays(self) -> Iterator[Any]:
        for element in self.parent._iter_arrays():
            tensors = _map_structure(_to_tensor, element)
            result = self.fn(*tensors) if isinstance(tensors, tuple) else self.fn(tensors)
            if isinstance(result, list):
                result = tuple(result)
            yield _map_structure(_to_array, result)


class _TakeDataset(Dataset):
    def __init__(self, parent: Dataset, count: int) -> None:
        self.parent = parent
        self.count = count

    def _cardinality(self) -> int:
        n = self.parent._cardinality()
        if self.count < 0:
            return n
        if n == INFINITE_CARDINALITY:
            return self.count
        return n if n < 0 else min(n, self.count)

    def _iter_arrays(self) -> Iterator[Any]:
        if self.count == 0:
            return
        for index, element in enumerate(self.parent._iter_arrays()):
            yield element
            if self.count >= 0 and index + 1 >= self.count:
                return


class _SkipDataset(Dataset):
    def __init__(self, parent: Dataset, count: int) -> None:
        self.parent = parent
        self.count = count

    def _cardinality(self) -> int:
        n = self.parent._cardinality()
        if n < 0:
            return n
        return 0 if self.count < 0 else max(0, n - self.count)

    def _iter_arrays(self) -> Iterator[Any]:
        for index, element in enumerate(self.parent._iter_arrays()):
            if self.count < 0:
                return
            if index >= self.count:
                yield element


def check_shard(num_shards: int, index: int) -> tuple[int, int]:
    """``(num_shards, index)`` as ints, or a ValueError saying which is out of range."""
    num_shards, index = int(num_shards), int(index)
    if num_shards < 1:
        raise ValueError(f"shard: num_shards must be at least 1, got {num_shards}.")
    if not 0 <= index < num_shards:
        raise ValueError(f"shard: index must be in [0, num_shards), got index={index} with "
                         f"num_shards={num_shards}.")
    return num_shards, index


def shard_length(length: int, num_shards: int, index: int, drop_remainder: bool = False) -> int:
    """How many of `length` elements shard `index` of `num_shards` gets (negative stays as is:
    unknown or infinite cardinality)."""
    num_shards, index = check_shard(num_shards, index)
    if length < 0:
        return length
    if drop_remainder:
        return length // num_shards
    return max(0, (length - index + num_shards - 1) // num_shards)


class _ShardDataset(Dataset):
    """Element `index`, `index + num_shards`, ... of a parent dataset."""

    def __init__(self, parent: Dataset, num_shards: int, index: int, drop_remainder: bool):
        self.parent, self.num_shards, self.index = parent, num_shards, index
        self.drop_remainder = drop_remainder

    def _cardinality(self) -> int:
        return shard_length(self.parent._cardinality(), self.num_shards, self.index,
                            self.drop_remainder)

    def _iter_arrays(self) -> Iterator[Any]:
        group: list = []
        for element in self.parent._iter_arrays():
            group.append(element)
            if len(group) == self.num_shards:
                yield group[self.index]
                group = []
        if not self.drop_remainder and len(group) > self.index:
            yield group[self.index]


class _RepeatDataset(Dataset):
    def __init__(self, parent: Dataset, count: int | None) -> None:
        self.parent = parent
        self.count = count

    def _cardinality(self) -> int:
        n = self.parent._cardinality()
        if self.count is None:
            return 0 if n == 0 else INFINITE_CARDINALITY
        return n if n < 0 else n * self.count

    def _iter_arrays(self) -> Iterator[Any]:
        passes = 0
        while self.count is None or passes < self.count:
            produced = False
            for element in self.parent._iter_arrays():
                produced = True
                yield element
            passes += 1
            if not produced:
                return


class _ElementsDataset(Dataset):
    def __init__(self, elements: list) -> None:
        self.elements = elements

    def _cardinality(self) -> int:
        return len(self.elements)

    def _iter_arrays(self) -> Iterator[Any]:
        yield from self.elements


class _ZipDataset(Dataset):
    def __init__(self, datasets: tuple | dict) -> None:
        self.datasets = datasets

    def _members(self) -> list:
        if isinstance(self.datasets, dict):
            return list(self.datasets.values())
        return list(self.datasets)

    def _cardinality(self) -> int:
        counts = [d._cardinality() for d in self._members()]
        finite = [c for c in counts if c >= 0]
        if finite:
            return min(finite)
        return UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in counts else INFINITE_CARDINALITY

    def _iter_arrays(self) -> Iterator[Any]:
        iterators = [d._iter_arrays() for d in self._members()]
        for elements in zip(*iterators):
            if isinstance(self.datasets, dict):
                yield dict(zip(self.datasets.keys(), elements))
            else:
                yield tuple(elements)


class _UnbatchDataset(Dataset):
    def __init__(self, parent: Dataset) -> None:
        self.parent = parent

    def _iter_arrays(self) -> Iterator[Any]:
        for element in self.parent._iter_arrays():
            n = _flatten(element)[0].shape[0]
            for i in range(n):
                yield _map_structure(lambda a, i=i: a[i], element)
