"""The ``tf.data.Dataset`` class: every constructor and transformation, as thin methods.

The elements flow inside as raw backend arrays (NumPy/CuPy; strings are object arrays of
bytes) and become Tensors only when they leave the pipeline; the classes that do the work live
in ``sources``, ``transformations``, ``batching`` and ``parallel``. The training pipeline
``from_tensor_slices(...).shuffle(...).batch(...)`` takes a fast path: it computes the order of
the rows once per epoch and slices whole arrays per batch.

    >>> import tensorflowish as tf
    >>> ds = tf.data.Dataset.from_tensor_slices(([1., 2., 3.], [0, 1, 0])).batch(2)
    >>> [x.shape.as_list() for x, y in ds]
    [[2], [1]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .structure import callable_or_error as _callable
from .structure import count_or_error as _count
from .structure import map_structure as _map_structure
from .structure import normalise_input as _normalise_input
from .structure import spec_of as _spec_of
from .structure import to_array as _to_array
from .structure import to_tensor as _to_tensor

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Dataset"]

AUTOTUNE = -1
"""``tf.data.AUTOTUNE``: parallel map and interleave use one thread per core, prefetch two."""

INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


class Dataset:
    """A sequence of elements, built lazily from arrays, generators or files (``tf.data.Dataset``).

    Iterating yields Tensors in the structure of the input (a tuple stays a tuple, a dict a
    dict). Every method returns a new dataset; none changes the one it is called on.
    """

    def _iter_arrays(self) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cardinality(self) -> int:
        return UNKNOWN_CARDINALITY

    def _spec(self) -> Any:
        """The element spec when known without producing an element (None: look at one)."""
        return None

    def _inputs(self) -> list:
        """The datasets this one reads (for options)."""
        parent = getattr(self, "parent", None)
        return [parent] if isinstance(parent, Dataset) else []

    # construction --------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors: Any, name: str | None = None) -> Dataset:
        """Slice ``tensors`` along their first axis: element ``i`` is ``tensors[i]``.

        ``tensors`` may be one array/Tensor/list, or a tuple or dict of them; all of them must
        have the same length.

        >>> import numpy as np, tensorflowish as tf
        >>> ds = tf.data.Dataset.from_tensor_slices({"x": np.zeros((4, 2)), "y": np.arange(4)})
        >>> len(ds)
        4
        """
        return sources._SliceDataset(_normalise_input(tensors))

    @staticmethod
    def from_tensors(tensors: Any, name: str | None = None) -> Dataset:
        """A dataset of one element: ``tensors`` itself."""
        return sources._ElementsDataset([_normalise_input(tensors)])

    @staticmethod
    def range(*args: int, output_type: Any = None, name: str | None = None) -> Dataset:
        """Like Python's ``range``: ``Dataset.range(5)`` yields int64 scalars 0..4."""
        steps = range(*[int(a) for a in args])
        if len(steps) > 1 << 22:  # a huge range streams instead of filling memory
            return sources.RangeDataset(steps, output_type)
        values = np.arange(steps.start, steps.stop, steps.step, dtype=np.int64)
        return sources._SliceDataset(_to_array(values, output_type))

    @staticmethod
    def counter(start: int = 0, step: int = 1, dtype: Any = None, name: str | None = None
                ) -> Dataset:
        """``start, start + step, ...`` forever (int64 unless ``dtype``)."""
        return sources.CounterDataset(start, step, dtype)

    @staticmethod
    def sample_from_datasets(
        datasets: list, weights: Any = None, seed: int | None = None,
        stop_on_empty_dataset: bool = False, rerandomize_each_iteration: bool | None = None,
    ) -> Dataset:
        """Each element from one of ``datasets``, picked at random with ``weights``
        (uniform by default). An exhausted dataset drops out (or ends all, with
        ``stop_on_empty_dataset``)."""
        from . import selection

        return selection.SampleDataset(
            list(datasets), weights, seed, stop_on_empty_dataset, rerandomize_each_iteration
        )

    @staticmethod
    def choose_from_datasets(
        datasets: list, choice_dataset: Dataset, stop_on_empty_dataset: bool = True
    ) -> Dataset:
        """Element ``k`` comes from ``datasets[choice_k]``, ``choice`` read from the int64
        ``choice_dataset``."""
        from . import selection

        return selection.ChooseDataset(list(datasets), choice_dataset, stop_on_empty_dataset)

    @staticmethod
    def from_generator(
        generator: Callable[..., Any],
        output_types: Any = None,
        output_shapes: Any = None,
        args: tuple | None = None,
        output_signature: Any = None,
        name: str | None = None,
    ) -> Dataset:
        """Elements from a Python generator function, checked against ``output_signature``.

        ``generator`` is called (with ``args``) at the start of every pass, so the dataset can
        be iterated more than once; each value it yields must match the structure, dtypes and
        shapes of ``output_signature`` (a structure of ``tf.TensorSpec``).

        >>> import tensorflowish as tf
        >>> def count(stop):
        ...     yield from range(stop)
        >>> ds = tf.data.Dataset.from_generator(
        ...     count, args=[3], output_signature=tf.TensorSpec(shape=(), dtype=tf.int32))
        >>> [int(x) for x in ds]
        [0, 1, 2]
        """
        return sources.GeneratorDataset(
            generator, output_types, output_shapes, args, output_signature
        )

    @staticmethod
    def list_files(
        file_pattern: Any, shuffle: bool | None = None, seed: int | None = None,
        name: str | None = None,
    ) -> Dataset:
        """File names matching a glob pattern (or a list of patterns), as string tensors.

        The names are sorted, then shuffled each pass unless ``shuffle=False``. No match is an
        InvalidArgumentError, as in TensorFlow.
        """
        return sources.list_files(file_pattern, shuffle, seed)

    @staticmethod
    def zip(*datasets: Any, name: str | None = None) -> Dataset:
        """Combine datasets element-wise into tuples (or dicts); stops at the shortest.

        ``Dataset.zip(a, b)`` and ``Dataset.zip((a, b))`` are the same.
        """
        structure = datasets[0] if len(datasets) == 1 else datasets
        if isinstance(structure, Dataset):
            structure = (structure,)
        if not isinstance(structure, (tuple, dict)):
            raise TypeError(
                f"Dataset.zip expects datasets, a tuple or a dict of datasets, got "
                f"{type(structure).__name__}; write Dataset.zip((ds1, ds2))."
            )
        return transformations._ZipDataset(structure)

    @staticmethod
    def load(
        path: str, element_spec: Any = None, compression: str | None = None,
        reader_func: Any = None,
    ) -> Dataset:
        """Read a dataset written by :meth:`save` (checksums verified as it is read)."""
        from . import snapshot

        return snapshot.load(path, element_spec, compression, reader_func)

    # transformations -----------------------------------------------------------------------

    def shuffle(
        self,
        buffer_size: int,
        seed: int | None = None,
        reshuffle_each_iteration: bool = True,
        name: str | None = None,
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
        return transformations._ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def batch(
        self,
        batch_size: int,
        drop_remainder: bool = False,
        num_parallel_calls: int | None = None,
        deterministic: bool | None = None,
        name: str | None = None,
    ) -> Dataset:
        """Stack consecutive elements into batches of ``batch_size`` along a new first axis."""
        batch_size = _count(batch_size, "batch(batch_size=...)", 1)
        return batching._BatchDataset(self, batch_size, bool(drop_remainder))

    def padded_batch(
        self,
        batch_size: int,
        padded_shapes: Any = None,
        padding_values: Any = None,
        drop_remainder: bool = False,
        name: str | None = None,
    ) -> Dataset:
        """Batch elements of different shapes, padding each to ``padded_shapes``.

        A dimension of ``padded_shapes`` that is None or -1 (or all of them, by default) pads
        to the longest element of the batch. ``padding_values`` defaults to 0 (b"" for strings).

        >>> import tensorflowish as tf
        >>> ds = tf.data.Dataset.range(1, 4).map(lambda n: tf.fill([n], n)).padded_batch(3)
        >>> next(iter(ds)).numpy().tolist()
        [[1, 0, 0], [2, 2, 0], [3, 3, 3]]
        """
        batch_size = _count(batch_size, "padded_batch(batch_size=...)", 1)
        return batching.PaddedBatchDataset(
            self, batch_size, padded_shapes, padding_values, bool(drop_remainder)
        )

    def unbatch(self, name: str | None = None) -> Dataset:
        """Split each element along its first axis into separate elements."""
        return batching._UnbatchDataset(self)

    def rebatch(
        self, batch_size: Any, drop_remainder: bool = False, name: str | None = None
    ) -> Dataset:
        """Regroup the rows of batched elements into batches of ``batch_size`` (an int, or a
        list of sizes used in turn)."""
        return batching.RebatchDataset(self, batch_size, bool(drop_remainder))

    def window(
        self, size: int, shift: int | None = None, stride: int = 1,
        drop_remainder: bool = False, name: str | None = None,
    ) -> Dataset:
        """A dataset of windows: each element is a dataset (structure) of ``size`` elements.

        Window ``i`` starts at element ``i * shift`` (``shift`` defaults to ``size``) and takes
        every ``stride``-th element. Use ``flat_map(lambda w: w.batch(size))`` to get tensors.
        """
        size = _count(size, "window(size=...)", 1)
        shift = size if shift is None else _count(shift, "window(shift=...)", 1)
        stride = _count(stride, "window(stride=...)", 1)
        return batching.WindowDataset(self, size, shift, stride, bool(drop_remainder))

    def bucket_by_sequence_length(
        self,
        element_length_func: Callable[..., Any],
        bucket_boundaries: list,
        bucket_batch_sizes: list,
        padded_shapes: Any = None,
        padding_values: Any = None,
        pad_to_bucket_boundary: bool = False,
        no_padding: bool = False,
        drop_remainder: bool = False,
        name: str | None = None,
    ) -> Dataset:
        """Batch elements of similar length together, each bucket with its own batch size.

        Element lengths come from ``element_length_func``; bucket ``i`` holds lengths in
        ``[bucket_boundaries[i-1], bucket_boundaries[i])``; a bucket emits a padded batch when it
        holds ``bucket_batch_sizes[i]`` elements, and what is left is emitted at the end.
        """
        return batching.bucket_by_sequence_length(
            self, _callable(element_length_func, "bucket_by_sequence_length"),
            bucket_boundaries, bucket_batch_sizes, padded_shapes, padding_values,
            pad_to_bucket_boundary, no_padding, drop_remainder,
        )  # fmt: skip

    def group_by_window(
        self,
        key_func: Callable[..., Any],
        reduce_func: Callable[..., Any],
        window_size: int | None = None,
        window_size_func: Callable[..., Any] | None = None,
        name: str | None = None,
    ) -> Dataset:
        """Group elements by ``key_func`` (an int64 key); every ``window_size`` elements of one
        key become a dataset that ``reduce_func(key, window)`` turns into a dataset of outputs.
        What is left in each group is reduced at the end, in key order (TensorFlow's order)."""
        if (window_size is None) == (window_size_func is None):
            raise ValueError("Either the `window_size` argument or the `window_size_func` "
                             "argument must be specified.")
        return batching.GroupByWindowDataset(
            self, _callable(key_func, "group_by_window"),
            _callable(reduce_func, "group_by_window"), window_size, window_size_func,
        )  # fmt: skip

    def unique(self, name: str | None = None) -> Dataset:
        """Each distinct element once, in order of first appearance (scalars and strings)."""
        from . import selection

        return selection.UniqueDataset(self)

    def map(
        self,
        map_func: Callable[..., Any],
        num_parallel_calls: int | None = None,
        deterministic: bool | None = None,
        name: str | None = None,
    ) -> Dataset:
        """Apply ``map_func`` to every element; a tuple element is passed as separate arguments.

        With ``num_parallel_calls`` (a number, or ``tf.data.AUTOTUNE`` for one per core) the
        calls run in a pool of threads, which overlaps work that releases the GIL (NumPy,
        file reads, image decoding). The output order is the input order unless
        ``deterministic=False`` (or ``options.deterministic = False``).
        """
        _callable(map_func, "map")
        if num_parallel_calls is None:
            return transformations._MapDataset(self, map_func)
        from . import parallel

        return parallel.ParallelMapDataset(self, map_func, num_parallel_calls, deterministic)

    def filter(self, predicate: Callable[..., Any], name: str | None = None) -> Dataset:
        """The elements for which ``predicate`` returns True (a boolean scalar)."""
        return transformations.FilterDataset(self, _callable(predicate, "filter"))

    def flat_map(self, map_func: Callable[..., Any], name: str | None = None) -> Dataset:
        """Map each element to a dataset and chain those datasets one after the other."""
        return transformations.FlatMapDataset(self, _callable(map_func, "flat_map"))

    def interleave(
        self,
        map_func: Callable[..., Any],
        cycle_length: int | None = None,
        block_length: int | None = None,
        num_parallel_calls: int | None = None,
        deterministic: bool | None = None,
        name: str | None = None,
    ) -> Dataset:
        """Map each element to a dataset and take ``block_length`` elements from each of
        ``cycle_length`` of them in turn (as TensorFlow orders them). With
        ``num_parallel_calls`` the open datasets are read ahead in threads."""
        _callable(map_func, "interleave")
        from . import parallel

        return parallel.interleave(
            self, map_func, cycle_length, block_length, num_parallel_calls, deterministic
        )

    def enumerate(self, start: int = 0, name: str | None = None) -> Dataset:
        """Pairs ``(index, element)`` with an int64 index counting from ``start``."""
        return transformations.EnumerateDataset(self, start)

    def concatenate(self, dataset: Dataset, name: str | None = None) -> Dataset:
        """This dataset's elements followed by ``dataset``'s (same structure and dtypes)."""
        return transformations.ConcatenateDataset(self, dataset)

    def scan(
        self, initial_state: Any, scan_func: Callable[..., Any], name: str | None = None
    ) -> Dataset:
        """A running state: ``scan_func(state, element)`` returns ``(new_state, output)``."""
        return transformations.ScanDataset(self, initial_state, _callable(scan_func, "scan"))

    def take(self, count: int, name: str | None = None) -> Dataset:
        """The first ``count`` elements (all of them if ``count`` is -1)."""
        return transformations._TakeDataset(self, int(count))

    def take_while(self, predicate: Callable[..., Any], name: str | None = None) -> Dataset:
        """Elements up to (not including) the first for which ``predicate`` is False."""
        return transformations.TakeWhileDataset(self, _callable(predicate, "take_while"))

    def shard(self, num_shards: int, index: int, name: str | None = None) -> Dataset:
        """Every ``num_shards``-th element starting at ``index`` (one worker's part of the data).

        On a dataset of slices this stays a dataset of slices (the fast shuffle/batch path).
        """
        return self._shard(num_shards, index, drop_remainder=False)

    def _shard(self, num_shards: int, index: int, drop_remainder: bool) -> Dataset:
        """``shard``; with ``drop_remainder`` (distribute.shard's) all shards have one length."""
        num_shards, index = transformations.check_shard(num_shards, index)
        return transformations._ShardDataset(self, num_shards, index, drop_remainder)

    def skip(self, count: int, name: str | None = None) -> Dataset:
        """All but the first ``count`` elements."""
        return transformations._SkipDataset(self, int(count))

    def repeat(self, count: int | None = None, name: str | None = None) -> Dataset:
        """Repeat the dataset ``count`` times (forever if ``count`` is None or -1)."""
        if count is not None and int(count) < -1:
            raise ValueError(f"repeat(count=...) must be -1, None or >= 0, got {count}.")
        return transformations._RepeatDataset(
            self, None if count is None or int(count) == -1 else int(count)
        )

    def prefetch(self, buffer_size: int = AUTOTUNE, name: str | None = None) -> Dataset:
        """Produce up to ``buffer_size`` elements ahead in a background thread.

        While the training step computes, the thread runs the pipeline above (reads, maps,
        batches) into a bounded queue. ``tf.data.AUTOTUNE`` keeps two elements ready.
        """
        from . import parallel

        return parallel.PrefetchDataset(self, int(buffer_size))

    def cache(self, filename: str = "", name: str | None = None) -> Dataset:
        """Keep the elements of the first complete pass in memory and replay them afterwards.

        ``filename`` (a file cache) is not supported: save the dataset with :meth:`save`.
        """
        if filename:
            from tensorflowish import errors

            raise errors.UnimplementedError(
                None, None,
                f"cache(filename={filename!r}): file caches are not supported; cache in memory "
                "(cache()) or write the dataset once with dataset.save(path) and "
                "tf.data.Dataset.load(path).",
            )  # fmt: skip
        return transformations.CacheDataset(self)

    def ignore_errors(self, log_warning: bool = False, name: str | None = None) -> Dataset:
        """Drop the elements whose production raised an error, instead of stopping.

        Errors raised while a map, filter, generator, text or CSV reader produces an element
        are skipped one element at a time; an error inside a batch drops that batch.
        """
        return transformations.IgnoreErrorsDataset(self, bool(log_warning))

    def apply(self, transformation_func: Callable[[Dataset], Dataset]) -> Dataset:
        """``transformation_func(self)``: chain a function that takes and returns a dataset."""
        result = transformation_func(self)
        if not isinstance(result, Dataset):
            raise TypeError(
                f"apply: the transformation must return a Dataset, got {type(result).__name__}."
            )
        return result

    def with_options(self, options: Any, name: str | None = None) -> Dataset:
        """The same dataset with ``options`` (a ``tf.data.Options``) merged into its options."""
        from . import options as options_module

        return options_module.OptionsDataset(self, options)

    def options(self) -> Any:
        """The ``tf.data.Options`` in effect: those of the inputs, then this dataset's."""
        from . import options as options_module

        return options_module.merged(self)

    def save(
        self, path: str, compression: str | None = None, shard_func: Any = None,
        checkpoint_args: Any = None,
    ) -> None:
        """Write every element under the folder ``path`` (atomic, checksummed files);
        ``tf.data.Dataset.load(path)`` reads it back. The format is tensorflowish's own."""
        from . import snapshot

        snapshot.save(self, path, compression, shard_func, checkpoint_args)

    def reduce(self, initial_state: Any, reduce_func: Callable[..., Any]) -> Any:
        """Fold the elements into one value: ``state = reduce_func(state, element)``.

        >>> import tensorflowish as tf
        >>> start = tf.constant(0, tf.int64)  # the state keeps its dtype: int64 like the elements
        >>> int(tf.data.Dataset.range(5).reduce(start, lambda total, x: total + x))
        10
        """
        return transformations.reduce(self, initial_state, _callable(reduce_func, "reduce"))

    def get_single_element(self, name: str | None = None) -> Any:
        """The one element of a dataset that has exactly one (InvalidArgumentError otherwise)."""
        from tensorflowish import errors

        elements = iter(self)
        try:
            first = next(elements)
        except StopIteration:
            raise errors.InvalidArgumentError(
                None, None, "Dataset was empty: get_single_element needs exactly one element."
            ) from None
        for _ in elements:
            raise errors.InvalidArgumentError(
                None, None, "Dataset had more than one element: get_single_element needs "
                "exactly one; use take(1) first.",
            )  # fmt: skip
        return first

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

    def __bool__(self) -> bool:
        return True  # not len(): an infinite dataset is still a dataset

    def __iter__(self) -> Iterator[Any]:
        return _Iterator(self)

    def as_numpy_iterator(self) -> Iterator[Any]:
        """Iterate elements as NumPy arrays (host copies; strings as ``bytes``)."""
        from tensorflowish import backend

        def host(array: Any) -> Any:
            if hasattr(array, "_iter_arrays"):
                return array.as_numpy_iterator()
            value = backend.to_numpy(array)
            return value[()] if value.ndim == 0 else value  # scalars as NumPy scalars / bytes

        for element in self._iter_arrays():
            yield _map_structure(host, element)

    @property
    def element_spec(self) -> Any:
        """The type of one element: a structure of ``tf.TensorSpec`` (None for an unknown
        dimension), as TensorFlow reports it."""
        spec = self._spec()
        if spec is not None:
            return spec
        for element in self._iter_arrays():
            return _spec_of(element)
        raise ValueError(
            "The element_spec of this dataset cannot be told: it is computed from its first "
            "element, and the dataset is empty."
        )

    def __repr__(self) -> str:
        try:
            spec = self.element_spec
        except Exception:  # noqa: BLE001 - a repr must not fail
            spec = "?"
        return f"<{type(self).__name__} element_spec={spec}>"


class _Iterator:
    """``iter(dataset)``: ``next()``, ``get_next()`` and ``element_spec``, as TensorFlow's."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._arrays = iter(dataset._iter_arrays())

    def __iter__(self) -> _Iterator:
        return self

    def __next__(self) -> Any:
        return _map_structure(_to_tensor, next(self._arrays))

    def get_next(self) -> Any:
        """The next element; OutOfRangeError at the end (TensorFlow's)."""
        try:
            return next(self)
        except StopIteration:
            from tensorflowish import errors

            raise errors.OutOfRangeError(None, None, "End of sequence") from None

    @property
    def element_spec(self) -> Any:
        return self._dataset.element_spec


from . import batching, sources, transformations  # noqa: E402 - they subclass Dataset
