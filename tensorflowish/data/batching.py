"""Transformations that group or split elements: batch, unbatch, padded_batch, rebatch,
bucket_by_sequence_length and window."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from .sources import _ElementsDataset, _SliceDataset
from .structure import TensorSpec, apply_function, spec_of
from .structure import array_module as _array_module
from .structure import flatten as _flatten
from .structure import map_structure as _map_structure
from .structure import pack_like as _pack_like
from .structure import zip_structures as _zip_structures
from .transformations import Resumable, _ShuffleDataset


def _stack(leaves: list) -> Any:
    first = leaves[0]
    for index, leaf in enumerate(leaves):
        if leaf.shape != first.shape:
            from tensorflowish import errors

            raise errors.InvalidArgumentError(
                None, None,
                f"Cannot batch tensors with different shapes: the first element had shape "
                f"{list(first.shape)} and element {index} had shape {list(leaf.shape)}; use "
                "padded_batch (or ragged batching) for elements of different lengths.",
            )  # fmt: skip
    return _array_module(first).stack(leaves)


def _batched_spec(parent: Dataset, size: int | None) -> Any:
    spec = parent.element_spec
    return _map_structure(lambda s: TensorSpec((size, *s.shape), s.dtype), spec)


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

    def _spec(self) -> Any:
        return _batched_spec(self.parent, self.batch_size if self.drop_remainder else None)

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
            return self._slices(source, order)
        return _grouped(self.parent, self.batch_size, self.drop_remainder, _stack_elements)

    def _slices(self, source: Any, order: Any) -> Iterator[Any]:
        n, size = source.length, self.batch_size
        stop = n - n % size if self.drop_remainder else n
        for start in range(0, stop, size):
            end = min(start + size, n)
            yield source._gather(slice(start, end) if order is None else order[start:end])


def _stack_elements(elements: list) -> Any:
    return _zip_structures(_stack, elements)


def _grouped(
    parent: Dataset, size: int, drop_remainder: bool, combine: Callable[[list], Any]
) -> Iterator[Any]:
    """Groups of ``size`` elements, combined. As in TensorFlow, an element that fails still
    takes its place: the group is completed, then the error is raised for the whole group, and
    the next call starts a new group (so ignore_errors() after a batch drops that batch)."""
    source = iter(parent._iter_arrays())
    finished = False

    def step() -> Any:
        nonlocal finished
        if finished:
            raise StopIteration
        pending: list = []
        failure: Exception | None = None
        taken = 0
        while taken < size:
            try:
                element = next(source)
            except StopIteration:
                finished = True
                break
            except Exception as error:  # noqa: BLE001 - raised once the group is complete
                failure = failure or error
            else:
                pending.append(element)
            taken += 1
        if failure is not None:
            raise failure
        if not pending or (drop_remainder and len(pending) < size):
            raise StopIteration
        return combine(pending)

    return Resumable(step)


class _UnbatchDataset(Dataset):
    def __init__(self, parent: Dataset) -> None:
        self.parent = parent

    def _cardinality(self) -> int:
        n = self.parent._cardinality()
        return n if n == INFINITE_CARDINALITY else UNKNOWN_CARDINALITY

    def _spec(self) -> Any:
        spec = self.parent.element_spec
        return _map_structure(lambda s: TensorSpec(s.shape[1:], s.dtype), spec)

    def _iter_arrays(self) -> Iterator[Any]:
        for element in self.parent._iter_arrays():
            leaves = _flatten(element)
            if any(leaf.ndim == 0 for leaf in leaves):
                raise ValueError(
                    "unbatch needs every component to have a first dimension, got a scalar "
                    f"(element spec {spec_of(element)})."
                )
            n = leaves[0].shape[0]
            if any(leaf.shape[0] != n for leaf in leaves):
                from tensorflowish import errors

                raise errors.InvalidArgumentError(
                    None, None,
                    "unbatch: the components of an element have different first dimensions "
                    f"({[leaf.shape[0] for leaf in leaves]}).",
                )  # fmt: skip
            for i in range(n):
                yield _map_structure(lambda a, i=i: a[i, ...], element)


# --- padded_batch --------------------------------------------------------------------------


def _pad_value(value: Any, dtype: Any) -> Any:
    if value is None:
        return b"" if np.dtype(dtype).kind == "O" else 0
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    return value.item() if value.dtype != object else value[()]


def _pad_leaves(leaves: list, target: Any, padding: Any) -> Any:
    """Stack arrays of one rank, padded to ``target`` (None/-1 dims: the batch's longest)."""
    from tensorflowish import errors

    ranks = {leaf.ndim for leaf in leaves}
    if len(ranks) > 1:
        raise errors.InvalidArgumentError(
            None, None, f"padded_batch: the elements have different ranks {sorted(ranks)}."
        )
    rank = ranks.pop()
    target = [None] * rank if target is None else [None if d in (None, -1) else int(d)
                                                   for d in target]
    if len(target) != rank:
        raise ValueError(
            f"padded_batch: padded shape {target} has rank {len(target)}, but the elements have "
            f"rank {rank}."
        )
    longest = [max(leaf.shape[d] for leaf in leaves) for d in range(rank)]
    shape = [longest[d] if target[d] is None else target[d] for d in range(rank)]
    for leaf in leaves:
        if any(size > limit for size, limit in zip(leaf.shape, shape)):
            raise errors.InvalidArgumentError(
                None, None,
                f"padded_batch: an element of shape {list(leaf.shape)} does not fit the padded "
                f"shape {shape}; Attempted to pad to a smaller size than the input element.",
            )  # fmt: skip
    xp = _array_module(leaves[0])
    out = xp.full((len(leaves), *shape), _pad_value(padding, leaves[0].dtype),
                  dtype=leaves[0].dtype)  # fmt: skip
    for index, leaf in enumerate(leaves):
        out[(index, *(slice(0, size) for size in leaf.shape))] = leaf
    return out


def _structure_like(spec: Any, value: Any) -> Any:
    """A per-leaf setting given once for all leaves (a shape or a scalar) spread over ``spec``."""
    if isinstance(spec, (tuple, dict)) and not isinstance(value, (tuple, dict)):
        return _map_structure(lambda _: value, spec)
    if isinstance(spec, tuple) and isinstance(value, tuple) and not isinstance(value[0], tuple) \
            and len(spec) != len(value):  # a shape given for a tuple structure
        return _map_structure(lambda _: value, spec)
    return value


def padded_combine(padded_shapes: Any, padding_values: Any) -> Callable[[list], Any]:
    def combine(elements: list) -> Any:
        first = elements[0]
        shapes = _leaves_of(first, padded_shapes, is_shape=True)
        values = _leaves_of(first, padding_values, is_shape=False)
        columns = [_flatten(e) for e in elements]
        stacked = [
            _pad_leaves([column[k] for column in columns], shapes[k], values[k])
            for k in range(len(columns[0]))
        ]
        return _pack_like(first, stacked)

    return combine


def _leaves_of(element: Any, setting: Any, is_shape: bool) -> list:
    """One setting per leaf of ``element``: None, one value for all, or a matching structure."""
    count = len(_flatten(element))
    if setting is None:
        return [None] * count
    if is_shape:
        if not isinstance(element, (tuple, dict)):
            return [tuple(setting)]
        return [
            None if shape is None else tuple(shape)
            for shape in _flatten_shapes(setting)
        ]
    if not isinstance(setting, (tuple, dict)):
        return [setting] * count
    return _flatten(setting)


def _flatten_shapes(setting: Any) -> list:
    """Leaves of a structure of shapes, where a shape is a list/TensorShape (not structure)."""
    if isinstance(setting, dict):
        return [leaf for value in setting.values() for leaf in _flatten_shapes(value)]
    if isinstance(setting, tuple) and (not setting or not _is_shape(setting)):
        return [leaf for value in setting for leaf in _flatten_shapes(value)]
    return [setting]


def _is_shape(value: Any) -> bool:
    from tensorflowish.tensor import TensorShape

    if isinstance(value, TensorShape):
        return True
    return all(d is None or isinstance(d, (int, np.integer)) for d in value)


class PaddedBatchDataset(Dataset):
    def __init__(
        self, parent: Dataset, batch_size: int, padded_shapes: Any, padding_values: Any,
        drop_remainder: bool,
    ) -> None:
        self.parent, self.batch_size, self.drop_remainder = parent, batch_size, drop_remainder
        self.padded_shapes = padded_shapes
        self.padding_values = padding_values

    def _cardinality(self) -> int:
        return _BatchDataset._cardinality(self)  # type: ignore[arg-type]

    def _spec(self) -> Any:
        spec = self.parent.element_spec
        size = self.batch_size if self.drop_remainder else None
        shapes = _leaves_of(spec, self.padded_shapes, is_shape=True)
        leaves = [
            TensorSpec((size, *([None] * len(s.shape) if shape is None else
                                [None if d in (None, -1) else int(d) for d in shape])), s.dtype)
            for s, shape in zip(_flatten(spec), shapes)
        ]
        return _pack_like(spec, leaves)

    def _iter_arrays(self) -> Iterator[Any]:
        combine = padded_combine(self.padded_shapes, self.padding_values)
        return _grouped(self.parent, self.batch_size, self.drop_remainder, combine)


# --- rebatch, window, buckets --------------------------------------------------------------


class RebatchDataset(Dataset):
    def __init__(self, parent: Dataset, batch_size: Any, drop_remainder: bool) -> None:
        sizes = batch_size.numpy() if hasattr(batch_size, "numpy") else batch_size
        sizes = [int(s) for s in np.atleast_1d(np.asarray(sizes))]
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"rebatch: batch_size must be positive sizes, got {batch_size}.")
        self.parent, self.sizes, self.drop_remainder = parent, sizes, drop_remainder

    def _spec(self) -> Any:
        fixed = self.drop_remainder and len(set(self.sizes)) == 1
        spec = self.parent.element_spec
        return _map_structure(
            lambda s: TensorSpec((self.sizes[0] if fixed else None, *s.shape[1:]), s.dtype), spec
        )

    def _iter_arrays(self) -> Iterator[Any]:
        import itertools

        rows = iter(_UnbatchDataset(self.parent)._iter_arrays())
        for size in itertools.cycle(self.sizes):
            pending = list(itertools.islice(rows, size))
            if not pending or (self.drop_remainder and len(pending) < size):
                return
            yield _stack_elements(pending)
            if len(pending) < size:
                return


class WindowDataset(Dataset):
    def __init__(
        self, parent: Dataset, size: int, shift: int, stride: int, drop_remainder: bool
    ) -> None:
        self.parent, self.size, self.shift = parent, size, shift
        self.stride, self.drop_remainder = stride, drop_remainder

    def _cardinality(self) -> int:
        n = self.parent._cardinality()
        if n < 0:
            return n
        span = (self.size - 1) * self.stride + 1
        if self.drop_remainder:
            return 0 if n < span else (n - span) // self.shift + 1
        return math.ceil(n / self.shift)

    def _iter_arrays(self) -> Iterator[Any]:
        source = iter(self.parent._iter_arrays())
        buffer: list = []  # elements from index `base` on
        base, start, exhausted = 0, 0, False
        span = (self.size - 1) * self.stride + 1
        while True:
            while not exhausted and len(buffer) < start - base + span:
                try:
                    buffer.append(next(source))
                except StopIteration:
                    exhausted = True
            offset = start - base
            members = buffer[offset:offset + span:self.stride]
            if not members or (self.drop_remainder and len(members) < self.size):
                return
            yield _zip_structures(lambda leaves: _ElementsDataset(list(leaves)), members)
            start += self.shift
            drop = min(start - base, len(buffer))
            del buffer[:drop]
            base += drop
            if exhausted and start - base >= len(buffer):
                return


def bucket_by_sequence_length(
    dataset: Dataset, length_func: Callable[..., Any], boundaries: list, batch_sizes: list,
    padded_shapes: Any, padding_values: Any, pad_to_bucket_boundary: bool, no_padding: bool,
    drop_remainder: bool,
) -> Dataset:
    boundaries = [int(b) for b in boundaries]
    batch_sizes = [int(b) for b in batch_sizes]
    if len(batch_sizes) != len(boundaries) + 1:
        raise ValueError(
            f"bucket_by_sequence_length: len(bucket_batch_sizes) must equal "
            f"len(bucket_boundaries) + 1, got {len(batch_sizes)} and {len(boundaries)}."
        )
    if boundaries != sorted(set(boundaries)):
        raise ValueError(f"bucket_boundaries must be strictly increasing, got {boundaries}.")
    return _BucketDataset(dataset, length_func, boundaries, batch_sizes, padded_shapes,
                          padding_values, pad_to_bucket_boundary, no_padding, drop_remainder)


def _map_shapes(fn: Callable[[Any], Any], shapes: Any) -> Any:
    if isinstance(shapes, dict):
        return {key: _map_shapes(fn, value) for key, value in shapes.items()}
    if isinstance(shapes, tuple) and shapes and not _is_shape(shapes):
        return tuple(_map_shapes(fn, value) for value in shapes)
    return fn(shapes)


class _BucketDataset(Dataset):
    def __init__(self, parent: Dataset, length_func: Callable[..., Any], boundaries: list,
                 batch_sizes: list, padded_shapes: Any, padding_values: Any,
                 pad_to_boundary: bool, no_padding: bool, drop_remainder: bool) -> None:
        self.parent, self.length_func = parent, length_func
        self.boundaries, self.batch_sizes = boundaries, batch_sizes
        self.padded_shapes, self.padding_values = padded_shapes, padding_values
        self.pad_to_boundary, self.no_padding = pad_to_boundary, no_padding
        self.drop_remainder = drop_remainder

    def _combine(self, bucket: int, elements: list) -> Any:
        if self.no_padding:
            return _stack_elements(elements)
        shapes = self.padded_shapes
        if self.pad_to_boundary:
            if bucket == len(self.boundaries):
                from tensorflowish import errors

                raise errors.InvalidArgumentError(
                    None, None,
                    "bucket_by_sequence_length: with pad_to_bucket_boundary=True every length "
                    f"must be below the last boundary {self.boundaries[-1]}.",
                )  # fmt: skip
            # TensorFlow's rule: every unknown dimension pads to the bucket's boundary - 1
            limit = self.boundaries[bucket] - 1
            if shapes is None:
                shapes = _map_structure(lambda spec: tuple(spec.shape), self.parent.element_spec)
            shapes = _map_shapes(lambda shape: tuple(limit if d in (None, -1) else d
                                                     for d in shape), shapes)
        return padded_combine(shapes, self.padding_values)(elements)

    def _iter_arrays(self) -> Iterator[Any]:
        buckets: list[list] = [[] for _ in self.batch_sizes]
        for element in self.parent._iter_arrays():
            length = apply_function(self.length_func, element, convert=False)
            length = int(length.numpy() if hasattr(length, "numpy") else length)
            index = bisect.bisect_right(self.boundaries, length)
            buckets[index].append(element)
            if len(buckets[index]) == self.batch_sizes[index]:
                yield self._combine(index, buckets[index])
                buckets[index] = []
        for index, pending in enumerate(buckets):
            if pending and not self.drop_remainder:
                yield self._combine(index, pending)


class GroupByWindowDataset(Dataset):
    def __init__(self, parent: Dataset, key_func: Callable[..., Any],
                 reduce_func: Callable[..., Any], window_size: int | None,
                 window_size_func: Callable[..., Any] | None) -> None:
        self.parent, self.key_func, self.reduce_func = parent, key_func, reduce_func
        self.window_size, self.window_size_func = window_size, window_size_func

    def _key(self, element: Any) -> int:
        key = apply_function(self.key_func, element, convert=False)
        array = np.asarray(key.numpy() if hasattr(key, "numpy") else key)
        if array.shape != () or array.dtype != np.int64:
            raise ValueError(
                f"`key_func` must return a single tf.int64 scalar tensor, got dtype "
                f"{array.dtype} and shape {array.shape}; cast it with tf.cast(key, tf.int64)."
            )
        return int(array)

    def _size(self, key: int) -> int:
        if self.window_size is not None:
            return int(self.window_size)
        import tensorflowish as tf

        size = self.window_size_func(tf.constant(key, tf.int64))
        return int(size.numpy() if hasattr(size, "numpy") else size)

    def _reduce(self, key: int, elements: list) -> Iterator[Any]:
        import tensorflowish as tf

        from .transformations import as_dataset

        window = _ElementsDataset(elements)
        result = as_dataset(self.reduce_func(tf.constant(key, tf.int64), window),
                            "group_by_window")  # fmt: skip
        yield from result._iter_arrays()

    def _iter_arrays(self) -> Iterator[Any]:
        groups: dict[int, list] = {}
        sizes: dict[int, int] = {}
        for element in self.parent._iter_arrays():
            key = self._key(element)
            if key not in sizes:
                sizes[key] = self._size(key)
            groups.setdefault(key, []).append(element)
            if len(groups[key]) == sizes[key]:
                yield from self._reduce(key, groups.pop(key))
        for key in sorted(groups):
            yield from self._reduce(key, groups[key])
