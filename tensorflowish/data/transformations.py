"""Element-wise and ordering transformations: shuffle, map, take, skip, shard, repeat, zip,
filter, enumerate, concatenate, flat_map, interleave, scan, take_while, ignore_errors, cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from .sources import _SliceDataset
from .structure import TensorSpec, apply_function, same_structure, spec_of
from .structure import lists_to_tuples as _tuple_lists
from .structure import map_structure as _map_structure
from .structure import to_array as _to_array


class Resumable:
    """An iterator that may raise for one element and still go on with the next.

    Python generators end at their first exception; the per-element steps of a pipeline (map,
    filter, batch, the readers) are written as ``step()`` functions wrapped in this instead,
    so that ``ignore_errors()`` can skip one bad element and continue.
    """

    __slots__ = ("_step",)

    def __init__(self, step: Callable[[], Any]) -> None:
        self._step = step

    def __iter__(self) -> Resumable:
        return self

    def __next__(self) -> Any:
        return self._step()


class _PassThrough(Dataset):
    """A dataset that keeps its parent's cardinality and element spec."""

    parent: Dataset

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _spec(self) -> Any:
        return self.parent._spec()


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


class _ShuffleDataset(_PassThrough):
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


class _MapDataset(Dataset):
    def __init__(self, parent: Dataset, fn: Callable[..., Any]) -> None:
        self.parent = parent
        self.fn = fn

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _iter_arrays(self) -> Iterator[Any]:
        source, fn = iter(self.parent._iter_arrays()), self.fn
        return Resumable(lambda: apply_function(fn, next(source)))


class _TakeDataset(_PassThrough):
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


class _SkipDataset(_PassThrough):
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


class _ShardDataset(_PassThrough):
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


class _RepeatDataset(_PassThrough):
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

    def _inputs(self) -> list:
        return self._members()

    def _spec(self) -> Any:
        if isinstance(self.datasets, dict):
            return {key: d.element_spec for key, d in self.datasets.items()}
        return tuple(d.element_spec for d in self.datasets)

    def _iter_arrays(self) -> Iterator[Any]:
        iterators = [d._iter_arrays() for d in self._members()]
        for elements in zip(*iterators):
            if isinstance(self.datasets, dict):
                yield dict(zip(self.datasets.keys(), elements))
            else:
                yield tuple(elements)


# --- element-wise --------------------------------------------------------------------------


def _truth(value: Any, what: str) -> bool:
    array = _to_array(value)
    if array.shape != () or array.dtype != np.bool_:
        raise TypeError(
            f"{what} must return a scalar boolean, got dtype {array.dtype} and shape "
            f"{tuple(array.shape)}; compare with a value (x > 0) or reduce (tf.reduce_all)."
        )
    return bool(array)


class FilterDataset(_PassThrough):
    def __init__(self, parent: Dataset, predicate: Callable[..., Any]) -> None:
        self.parent, self.predicate = parent, predicate

    def _cardinality(self) -> int:
        return UNKNOWN_CARDINALITY  # TensorFlow's answer even for an infinite input

    def _iter_arrays(self) -> Iterator[Any]:
        source, predicate = iter(self.parent._iter_arrays()), self.predicate

        def step() -> Any:
            while True:
                element = next(source)
                if _truth(apply_function(predicate, element, convert=False), "filter's predicate"):
                    return element

        return Resumable(step)


class TakeWhileDataset(_PassThrough):
    def __init__(self, parent: Dataset, predicate: Callable[..., Any]) -> None:
        self.parent, self.predicate = parent, predicate

    def _cardinality(self) -> int:
        return UNKNOWN_CARDINALITY

    def _iter_arrays(self) -> Iterator[Any]:
        for element in self.parent._iter_arrays():
            verdict = apply_function(self.predicate, element, convert=False)
            if not _truth(verdict, "take_while's predicate"):
                return
            yield element


class EnumerateDataset(Dataset):
    def __init__(self, parent: Dataset, start: int) -> None:
        self.parent, self.start = parent, int(start)

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _spec(self) -> Any:
        from tensorflowish import dtypes

        return (TensorSpec((), dtypes.int64), self.parent.element_spec)

    def _iter_arrays(self) -> Iterator[Any]:
        for index, element in enumerate(self.parent._iter_arrays(), self.start):
            yield (np.asarray(index, dtype=np.int64), element)


def _check_compatible(first: Dataset, second: Dataset, what: str) -> None:
    a, b = first.element_spec, second.element_spec
    if not same_structure(a, b):
        raise TypeError(f"{what}: the datasets have different structures: {a} and {b}.")
    mismatched = [
        (x, y) for x, y in zip(flatten_specs(a), flatten_specs(b)) if x.dtype != y.dtype
    ]
    if mismatched:
        raise TypeError(
            f"{what}: the datasets have different dtypes: {mismatched[0][0]} and "
            f"{mismatched[0][1]}; cast one of them with map(lambda x: tf.cast(x, ...))."
        )


def flatten_specs(spec: Any) -> list:
    from .structure import flatten

    return flatten(spec)


class ConcatenateDataset(Dataset):
    def __init__(self, first: Dataset, second: Dataset) -> None:
        if not isinstance(second, Dataset):
            raise TypeError(f"concatenate expects a Dataset, got {type(second).__name__}.")
        _check_compatible(first, second, "concatenate")
        self.first, self.second = first, second

    def _inputs(self) -> list:
        return [self.first, self.second]

    def _cardinality(self) -> int:
        a, b = self.first._cardinality(), self.second._cardinality()
        if INFINITE_CARDINALITY in (a, b):
            return INFINITE_CARDINALITY
        if UNKNOWN_CARDINALITY in (a, b):
            return UNKNOWN_CARDINALITY
        return a + b

    def _spec(self) -> Any:
        a, b = self.first.element_spec, self.second.element_spec
        return _map_pairs(lambda x, y: x.most_specific_common_supertype([y]) or x, a, b)

    def _iter_arrays(self) -> Iterator[Any]:
        yield from self.first._iter_arrays()
        yield from self.second._iter_arrays()


def _map_pairs(fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        return {key: _map_pairs(fn, a[key], b[key]) for key in a}
    if isinstance(a, tuple):
        return tuple(_map_pairs(fn, x, y) for x, y in zip(a, b))
    return fn(a, b)


def as_dataset(value: Any, what: str) -> Dataset:
    if not isinstance(value, Dataset):
        raise TypeError(
            f"{what}'s function must return a tf.data.Dataset, got {type(value).__name__}; "
            "wrap tensors with tf.data.Dataset.from_tensor_slices(...)."
        )
    return value


class FlatMapDataset(Dataset):
    def __init__(self, parent: Dataset, fn: Callable[..., Any]) -> None:
        self.parent, self.fn = parent, fn

    def _iter_arrays(self) -> Iterator[Any]:
        for element in self.parent._iter_arrays():
            inner = as_dataset(apply_function(self.fn, element, convert=False), "flat_map")
            yield from inner._iter_arrays()


class ScanDataset(Dataset):
    def __init__(self, parent: Dataset, initial_state: Any, fn: Callable[..., Any]) -> None:
        self.parent, self.fn = parent, fn
        self.initial_state = _map_structure(_to_array, _tuple_lists(initial_state))

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _iter_arrays(self) -> Iterator[Any]:
        state = self.initial_state
        for element in self.parent._iter_arrays():
            result = _scan_step(self.fn, state, element, "scan")
            if not (isinstance(result, tuple) and len(result) == 2):
                raise TypeError(
                    "scan's function must return a pair (new_state, output_element), got "
                    f"{type(result).__name__}."
                )
            new_state, output = result
            state = _checked_state(self.initial_state, new_state, "scan")
            yield _map_structure(_to_array, _tuple_lists(output))


def _scan_step(fn: Callable[..., Any], state: Any, element: Any, what: str) -> Any:
    from .structure import to_tensor

    state_tensors = _map_structure(to_tensor, state)
    element_tensors = _map_structure(to_tensor, element)
    if isinstance(element_tensors, tuple):
        result = fn(state_tensors, *element_tensors)
    else:
        result = fn(state_tensors, element_tensors)
    return _tuple_lists(result)


def _checked_state(initial: Any, new_state: Any, what: str) -> Any:
    new_state = _map_structure(_to_array, _tuple_lists(new_state))
    if not same_structure(initial, new_state):
        raise TypeError(
            f"{what}: the function returned a state of another structure than the initial "
            f"state ({spec_of(new_state)} vs {spec_of(initial)}); keep the state's structure."
        )

    def same_dtype(a: Any, b: Any) -> Any:
        if a.dtype != b.dtype:
            raise TypeError(
                f"{what}: the state changed dtype from {a.dtype} to {b.dtype}; give the initial "
                f"state the dtype the function returns (e.g. tf.constant(0, tf.int64))."
            )
        return b

    return _map_pairs(same_dtype, initial, new_state)


def reduce(dataset: Dataset, initial_state: Any, fn: Callable[..., Any]) -> Any:
    """``Dataset.reduce``: the final state, as Tensors."""
    from .structure import to_tensor

    state = _map_structure(_to_array, _tuple_lists(initial_state))
    initial = state
    for element in dataset._iter_arrays():
        state = _checked_state(initial, _scan_step(fn, state, element, "reduce"), "reduce")
    return _map_structure(to_tensor, state)


class IgnoreErrorsDataset(Dataset):
    def __init__(self, parent: Dataset, log_warning: bool) -> None:
        self.parent, self.log_warning = parent, log_warning

    def _spec(self) -> Any:
        return self.parent._spec()

    def _iter_arrays(self) -> Iterator[Any]:
        source = iter(self.parent._iter_arrays())
        while True:
            try:
                element = next(source)
            except StopIteration:
                return
            except Exception as error:  # noqa: BLE001 - that is what ignore_errors is for
                if self.log_warning:
                    import warnings

                    warnings.warn(
                        f"ignore_errors: dropped an element: {type(error).__name__}: {error}",
                        stacklevel=2,
                    )
                continue
            yield element


class CacheDataset(_PassThrough):
    """Records the first complete pass, then replays it (a partial pass records nothing)."""

    def __init__(self, parent: Dataset) -> None:
        self.parent = parent
        self._elements: list | None = None

    def _iter_arrays(self) -> Iterator[Any]:
        if self._elements is not None:
            yield from self._elements
            return
        recorded = []
        for element in self.parent._iter_arrays():
            recorded.append(element)
            yield element
        self._elements = recorded
