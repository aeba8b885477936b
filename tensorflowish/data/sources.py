"""Where elements come from: arrays in memory, Python generators, text files, file lists."""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .dataset import Dataset
from .structure import TensorSpec, lists_to_tuples, to_array
from .structure import array_module as _array_module
from .structure import flatten as _flatten
from .structure import map_structure as _map_structure


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

    def _spec(self) -> Any:
        from .structure import dtype_of

        return _map_structure(lambda a: TensorSpec(a.shape[1:], dtype_of(a)), self.arrays)

    def _iter_arrays(self) -> Iterator[Any]:
        for i in range(self.length):
            yield _map_structure(lambda a, i=i: a[i, ...], self.arrays)  # 0-d arrays, not scalars

    def _shard(self, num_shards: int, index: int, drop_remainder: bool) -> Dataset:
        from .transformations import check_shard

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


class _ElementsDataset(Dataset):
    def __init__(self, elements: list) -> None:
        self.elements = elements

    def _cardinality(self) -> int:
        return len(self.elements)

    def _iter_arrays(self) -> Iterator[Any]:
        yield from self.elements


class RangeDataset(Dataset):
    """A range too long to hold as one array, produced one number at a time."""

    def __init__(self, steps: range, dtype: Any) -> None:
        from tensorflowish import dtypes

        self.steps = steps
        self.dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)

    def _cardinality(self) -> int:
        return len(self.steps)

    def _spec(self) -> Any:
        return TensorSpec((), self.dtype)

    def _iter_arrays(self) -> Iterator[Any]:
        numpy_dtype = self.dtype.as_numpy_dtype
        for value in self.steps:
            yield to_array(np.asarray(value, dtype=numpy_dtype))


class CounterDataset(Dataset):
    def __init__(self, start: int, step: int, dtype: Any) -> None:
        from tensorflowish import dtypes

        self.start, self.step = int(start), int(step)
        self.dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)

    def _cardinality(self) -> int:
        from .dataset import INFINITE_CARDINALITY

        return INFINITE_CARDINALITY

    def _spec(self) -> Any:
        return TensorSpec((), self.dtype)

    def _iter_arrays(self) -> Iterator[Any]:
        value, numpy_dtype = self.start, self.dtype.as_numpy_dtype
        while True:
            yield to_array(np.asarray(value, dtype=numpy_dtype))
            value += self.step


# --- Python generators ---------------------------------------------------------------------


def _signature(output_types: Any, output_shapes: Any, output_signature: Any) -> Any:
    from tensorflowish import dtypes

    if output_signature is not None:
        if output_types is not None or output_shapes is not None:
            raise TypeError(
                "from_generator: give output_signature, or the deprecated output_types and "
                "output_shapes, not both."
            )
        signature = lists_to_tuples(output_signature)
        for leaf in _flatten(signature):
            if not isinstance(leaf, TensorSpec):
                raise TypeError(
                    "from_generator: output_signature must be a structure of tf.TensorSpec, "
                    f"got {type(leaf).__name__}."
                )
        return signature
    if output_types is None:
        raise TypeError(
            "from_generator needs output_signature (a structure of tf.TensorSpec), e.g. "
            "output_signature=tf.TensorSpec(shape=(None,), dtype=tf.float32)."
        )
    types = lists_to_tuples(output_types)
    if output_shapes is None:
        return _unknown_shapes(types)
    shapes = output_shapes

    def pair(t: Any, shape: Any) -> Any:
        return TensorSpec(tuple(shape), dtypes.as_dtype(t))

    from .transformations import _map_pairs

    return _map_pairs(pair, types, _shape_structure(types, shapes))


def _unknown_shapes(types: Any) -> Any:
    from tensorflowish import dtypes

    return _map_structure(lambda t: _AnyShapeSpec(dtypes.as_dtype(t)), types)


def _shape_structure(types: Any, shapes: Any) -> Any:
    """``output_shapes`` in the structure of ``output_types`` (a shape is itself a tuple)."""
    if isinstance(types, dict):
        return {key: _shape_structure(types[key], shapes[key]) for key in types}
    if isinstance(types, tuple):
        return tuple(_shape_structure(t, s) for t, s in zip(types, shapes))
    return tuple(shapes)


class _AnyShapeSpec(TensorSpec):
    """output_types without output_shapes: any shape (TensorFlow's unknown rank)."""

    def __init__(self, dtype: Any) -> None:
        super().__init__((), dtype)
        self.shape = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TensorSpec(shape=<unknown>, dtype=tf.{self.dtype.name}, name=None)"


def _conform(value: Any, spec: Any, count: int) -> Any:
    """One yielded value as arrays of the signature's dtypes, or an error saying what differs.

    The signature leads: where it has a tuple the value may be a tuple or list, where it has a
    TensorSpec the value (a list included) is one tensor."""
    from tensorflowish import errors

    def mismatch() -> Exception:
        return errors.InvalidArgumentError(
            None, None,
            f"from_generator: element {count} does not match the structure of output_signature:"
            f" expected {spec}, got {type(value).__name__} {value!r:.200}.",
        )  # fmt: skip

    def walk(part_spec: Any, part: Any) -> Any:
        if isinstance(part_spec, dict):
            if not isinstance(part, dict) or part.keys() != part_spec.keys():
                raise mismatch()
            return {key: walk(part_spec[key], part[key]) for key in part_spec}
        if isinstance(part_spec, tuple):
            if not isinstance(part, (tuple, list)) or len(part) != len(part_spec):
                raise mismatch()
            return tuple(walk(s, p) for s, p in zip(part_spec, part))
        return leaf(part_spec, part)

    def leaf(spec_leaf: Any, item: Any) -> Any:
        try:
            array = to_array(item, spec_leaf.dtype)
        except (TypeError, ValueError) as error:
            raise errors.InvalidArgumentError(
                None, None,
                f"from_generator: element {count} cannot be converted to {spec_leaf.dtype.name} "
                f"as output_signature says: {error}",
            ) from None  # fmt: skip
        if spec_leaf.shape is not None and not spec_leaf.shape.is_compatible_with(array.shape):
            raise errors.InvalidArgumentError(
                None, None,
                f"from_generator: `generator` yielded an element of shape {tuple(array.shape)} "
                f"where an element of shape {tuple(spec_leaf.shape)} was expected (element "
                f"{count}).",
            )  # fmt: skip
        return array

    return walk(spec, value)


class GeneratorDataset(Dataset):
    def __init__(
        self, generator: Callable[..., Any], output_types: Any, output_shapes: Any,
        args: Any, output_signature: Any,
    ) -> None:
        if not callable(generator):
            raise TypeError(
                f"from_generator expects a generator function (called once per pass), got "
                f"{type(generator).__name__}; pass the function, not generator()."
            )
        self.generator = generator
        self.args = tuple(args) if args is not None else ()
        self.signature = _signature(output_types, output_shapes, output_signature)

    def _spec(self) -> Any:
        return self.signature

    def _iter_arrays(self) -> Iterator[Any]:
        from .structure import to_tensor

        args = [to_tensor(to_array(a)).numpy() for a in self.args]
        for count, value in enumerate(self.generator(*args)):
            yield _conform(value, self.signature, count)


# --- files ---------------------------------------------------------------------------------


def _strings(value: Any, what: str) -> list[str]:
    """File names from a string, a list of them, a string Tensor or a dataset of names."""
    if isinstance(value, Dataset):
        return [name for element in value.as_numpy_iterator() for name in _strings(element, what)]
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, (str, bytes, os.PathLike)):
        value = [value]
    array = np.asarray(value, dtype=object).ravel()
    names = []
    for item in array:
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"{what} expects file names (strings), got {type(item).__name__}.")
        names.append(os.fspath(item))
    return names


def _string_scalar(text: bytes) -> np.ndarray:
    array = np.empty((), dtype=object)
    array[()] = text
    return array


class _FileNamesDataset(Dataset):
    def __init__(self, names: list[str], shuffle: bool, seed: int | None) -> None:
        self.names = names
        self.shuffle = shuffle
        if seed is None:
            from tensorflowish import random as tf_random

            seed = int(tf_random.numpy_generator().integers(0, 1 << 62))
        self._rng = np.random.default_rng(seed)

    def _cardinality(self) -> int:
        return len(self.names)

    def _spec(self) -> Any:
        from tensorflowish import dtypes

        return TensorSpec((), dtypes.as_dtype("string"))

    def _iter_arrays(self) -> Iterator[Any]:
        order = self._rng.permutation(len(self.names)) if self.shuffle else range(len(self.names))
        for index in order:
            yield _string_scalar(self.names[index].encode("utf-8"))


def list_files(file_pattern: Any, shuffle: bool | None, seed: int | None) -> Dataset:
    from tensorflowish import errors

    patterns = _strings(file_pattern, "list_files")
    names = sorted({name for pattern in patterns for name in glob.glob(pattern)})
    if not names:
        raise errors.InvalidArgumentError(
            None, None, f"No files matched pattern: {', '.join(patterns)}"
        )
    return _FileNamesDataset(names, True if shuffle is None else bool(shuffle), seed)


def open_file(path: str, compression_type: str | None) -> Any:
    """A binary file object, decompressing GZIP or ZLIB as TensorFlow's readers do."""
    from tensorflowish import errors

    kind = (compression_type or "").upper()
    if kind not in ("", "GZIP", "ZLIB"):
        raise ValueError(
            f"compression_type must be '', 'GZIP' or 'ZLIB', got {compression_type!r}."
        )
    try:
        if kind == "GZIP":
            return gzip.open(path, "rb")
        stream = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
    if kind == "ZLIB":
        with stream:
            import io

            return io.BytesIO(zlib.decompress(stream.read()))
    return stream


def read_lines(path: str, compression_type: str | None) -> Iterator[bytes]:
    """The lines of a file without their line endings (\n or \r\n), as TensorFlow splits them."""
    with open_file(path, compression_type) as stream:
        for line in stream:
            if line.endswith(b"\n"):
                line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            yield line


class TextLineDataset(Dataset):
    """The lines of one or more text files, as string scalars (``tf.data.TextLineDataset``).

    Line endings are removed; files are read one after the other (or ``num_parallel_reads``
    at a time, interleaved line by line); GZIP and ZLIB files are decompressed.

    >>> import tensorflowish as tf
    >>> lines = tf.data.TextLineDataset(["a.txt", "b.txt"])  # doctest: +SKIP
    """

    def __init__(
        self,
        filenames: Any,
        compression_type: str | None = None,
        buffer_size: int | None = None,
        num_parallel_reads: int | None = None,
        name: str | None = None,
    ) -> None:
        self.filenames = _strings(filenames, "TextLineDataset")
        self.compression_type = compression_type
        self.num_parallel_reads = num_parallel_reads

    def _spec(self) -> Any:
        from tensorflowish import dtypes

        return TensorSpec((), dtypes.as_dtype("string"))

    def _one_file(self, path: str) -> Iterator[Any]:
        for line in read_lines(path, self.compression_type):
            yield _string_scalar(line)

    def _iter_arrays(self) -> Iterator[Any]:
        if self.num_parallel_reads is None or self.num_parallel_reads == 1:
            for path in self.filenames:
                yield from self._one_file(path)
            return
        from .parallel import interleave_iterators

        yield from interleave_iterators(
            [lambda path=path: self._one_file(path) for path in self.filenames],
            self.num_parallel_reads, 1, self.num_parallel_reads, deterministic=True,
        )  # fmt: skip
