"""``tf.data.experimental``: CSV files (``CsvDataset``, ``make_csv_dataset``) and the
experimental names TensorFlow keeps there (``AUTOTUNE``, ``cardinality``, ``save``/``load``...).

    >>> import tensorflowish as tf
    >>> ds = tf.data.experimental.CsvDataset(
    ...     "data.csv", [tf.float32, 0], header=True)   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import numpy as np

from tensorflowish import errors

from .dataset import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from .options import AutoShardPolicy
from .sources import _strings, list_files, read_lines
from .structure import TensorSpec
from .transformations import Resumable

__all__ = [
    "AUTOTUNE", "AutoShardPolicy", "Counter", "CsvDataset", "INFINITE_CARDINALITY",
    "UNKNOWN_CARDINALITY", "cardinality", "choose_from_datasets", "load", "make_csv_dataset",
    "sample_from_datasets", "save",
]  # fmt: skip

_CSV_DTYPES = ("float32", "float64", "int32", "int64", "string")


def _column(default: Any, index: int) -> tuple[Any, Any]:
    """(dtype, default value or None when the column is required) for one record default."""
    from tensorflowish import dtypes
    from tensorflowish.tensor import Tensor

    # a dtype means a required column; anything else (a string included) is a default value
    if isinstance(default, dtypes.DType) or (isinstance(default, type) and default in (
            float, int, str, bytes)):
        dtype = dtypes.as_dtype(default)
        value = None
    else:
        if isinstance(default, Tensor):
            array = default.numpy()
        elif isinstance(default, (str, bytes)) or (
                isinstance(default, (list, tuple)) and default
                and isinstance(default[0], (str, bytes))):
            array = np.asarray(default, dtype=object)
        else:  # Python numbers as TensorFlow takes them: float -> float32, int -> int32
            import tensorflowish as tf

            array = tf.convert_to_tensor(default).numpy()
        dtype = dtypes.as_dtype(array.dtype) if array.dtype != object else dtypes.as_dtype("string")
        if array.size == 0:
            value = None
        elif array.size == 1:
            value = array.reshape(()).item() if array.dtype != object else array.reshape(())[()]
        else:
            raise ValueError(
                f"CsvDataset: record_defaults[{index}] must be a dtype or a scalar default, got "
                f"shape {array.shape}."
            )
    if dtype.name not in _CSV_DTYPES:
        raise TypeError(
            f"CsvDataset: column {index} has dtype {dtype.name}; CSV columns are one of "
            f"{', '.join(_CSV_DTYPES)}."
        )
    return dtype, value


def _parse(text: str, dtype: Any, default: Any, na_value: str, field: int, record: int) -> Any:
    if text == "" or text == na_value:
        if default is None:
            raise errors.InvalidArgumentError(
                None, None, f"Field {field} is required but missing in record {record}!"
            )
        value = default
    elif dtype.name == "string":
        value = text.encode("utf-8")
    else:
        try:
            value = float(text) if dtype.is_floating else int(text)
        except ValueError:
            kind = "float" if dtype.is_floating else "int"
            raise errors.InvalidArgumentError(
                None, None, f"Field {field} in record {record} is not a valid {kind}: {text}"
            ) from None
    if dtype.name == "string":
        array = np.empty((), dtype=object)
        array[()] = value if isinstance(value, bytes) else str(value).encode("utf-8")
        return array
    return np.asarray(value, dtype=dtype.as_numpy_dtype)


class CsvDataset(Dataset):
    """Records of CSV files as tuples of scalars, one per (selected) column.

    ``record_defaults`` has one entry per selected column: a dtype (the column is required) or
    a default value used when the field is empty or equals ``na_value``. A malformed record
    raises InvalidArgumentError naming the field and record; ``ignore_errors()`` skips it.
    """

    def __init__(
        self,
        filenames: Any,
        record_defaults: list,
        compression_type: str | None = None,
        buffer_size: int | None = None,
        header: bool = False,
        field_delim: str = ",",
        use_quote_delim: bool = True,
        na_value: str = "",
        select_cols: list | None = None,
        exclude_cols: list | None = None,
        name: str | None = None,
    ) -> None:
        if select_cols is not None and exclude_cols is not None:
            raise errors.InvalidArgumentError(
                None, None, "CsvDataset: give select_cols or exclude_cols, not both."
            )
        self.filenames = _strings(filenames, "CsvDataset")
        self.columns = [_column(default, i) for i, default in enumerate(record_defaults)]
        if select_cols is not None:
            select_cols = [int(c) for c in select_cols]
            if select_cols != sorted(set(select_cols)):
                raise errors.InvalidArgumentError(
                    None, None, f"select_cols must be increasing column indices, got {select_cols}."
                )
            if len(select_cols) != len(self.columns):
                raise errors.InvalidArgumentError(
                    None, None,
                    f"Expected len(select_cols) == len(record_defaults), got {len(select_cols)} "
                    f"and {len(self.columns)}.",
                )  # fmt: skip
        self.select_cols = select_cols
        self.exclude_cols = None if exclude_cols is None else {int(c) for c in exclude_cols}
        self.compression_type, self.header = compression_type, bool(header)
        self.field_delim, self.use_quote_delim = field_delim, bool(use_quote_delim)
        self.na_value = na_value

    def _spec(self) -> Any:
        return tuple(TensorSpec((), dtype) for dtype, _ in self.columns)

    def _fields(self, line: bytes) -> list[str]:
        text = line.decode("utf-8")
        quoting = csv.QUOTE_MINIMAL if self.use_quote_delim else csv.QUOTE_NONE
        rows = list(csv.reader(io.StringIO(text), delimiter=self.field_delim, quoting=quoting))
        return rows[0] if rows else [""]

    def _records(self) -> Iterator[tuple[int, bytes]]:
        record = 0
        for path in self.filenames:
            lines = read_lines(path, self.compression_type)
            if self.header:
                next(lines, None)
            for line in lines:
                yield record, line
                record += 1

    def _iter_arrays(self) -> Iterator[Any]:
        records = self._records()

        def step() -> Any:
            record, line = next(records)
            fields = self._fields(line)
            if self.select_cols is not None:
                if self.select_cols and self.select_cols[-1] >= len(fields):
                    raise errors.InvalidArgumentError(
                        None, None, f"Expect {self.select_cols[-1] + 1} fields but have "
                        f"{len(fields)} in record {record}",
                    )  # fmt: skip
                fields = [fields[c] for c in self.select_cols]
            elif self.exclude_cols is not None:
                fields = [f for c, f in enumerate(fields) if c not in self.exclude_cols]
            if len(fields) != len(self.columns):
                raise errors.InvalidArgumentError(
                    None, None, f"Expect {len(self.columns)} fields but have {len(fields)} in "
                    f"record {record}",
                )  # fmt: skip
            return tuple(
                _parse(text, dtype, default, self.na_value, index, record)
                for index, (text, (dtype, default)) in enumerate(zip(fields, self.columns))
            )

        return Resumable(step)


_INFERENCE_ORDER = ("int32", "int64", "float32", "float64", "string")


def _infer(text: str, na_value: str, previous: int) -> int:
    """The first type in TensorFlow's order (int32 → int64 → float32 → float64 → string), not
    before ``previous``, that can hold ``text``."""
    if text == "" or text == na_value:
        return previous
    for index in range(previous, len(_INFERENCE_ORDER)):
        kind = _INFERENCE_ORDER[index]
        try:
            if kind == "int32" and -(2**31) <= int(text) < 2**31:
                return index
            if kind == "int64" and -(2**63) <= int(text) < 2**63:
                return index
            if kind in ("float32", "float64"):
                float(text)
                return index
        except ValueError:
            continue
        if kind == "string":
            return index
    return len(_INFERENCE_ORDER) - 1


def make_csv_dataset(
    file_pattern: Any,
    batch_size: int,
    column_names: list | None = None,
    column_defaults: list | None = None,
    label_name: str | None = None,
    select_columns: list | None = None,
    field_delim: str = ",",
    use_quote_delim: bool = True,
    na_value: str = "",
    header: bool = True,
    num_epochs: int | None = None,
    shuffle: bool = True,
    shuffle_buffer_size: int = 10000,
    shuffle_seed: int | None = None,
    prefetch_buffer_size: int | None = None,
    num_parallel_reads: int | None = None,
    sloppy: bool = False,
    num_rows_for_inference: int = 100,
    compression_type: str | None = None,
    ignore_errors: bool = False,
    encoding: str = "utf-8",
) -> Dataset:
    """Batches of ``(features, label)`` from CSV files: ``features`` is a dict of column name to
    a batch of values, ``label`` the ``label_name`` column (or only the dict without a label).

    Column names come from the header (or ``column_names``), types from the first
    ``num_rows_for_inference`` rows (or ``column_defaults``). ``num_epochs=None`` repeats
    forever (and then batches drop their remainder, as TensorFlow's do).
    """
    if encoding.lower().replace("-", "") != "utf8":
        raise errors.UnimplementedError(None, None, "make_csv_dataset reads UTF-8 files only.")
    files = list_files(file_pattern, shuffle=shuffle, seed=shuffle_seed)
    names = sorted(_strings(files, "make_csv_dataset"))
    reader = CsvDataset(names[:1], [], compression_type, header=False, field_delim=field_delim,
                        use_quote_delim=use_quote_delim)  # fmt: skip
    lines = read_lines(names[0], compression_type)
    first = next(lines, None)
    if header:
        if first is None:
            raise ValueError(f"make_csv_dataset: {names[0]} is empty; it has no header.")
        found = reader._fields(first)
        if column_names is None:
            column_names = found
        elif len(column_names) != len(found):
            raise ValueError(
                f"make_csv_dataset: {len(column_names)} column_names for a file with "
                f"{len(found)} columns ({found})."
            )
    elif column_names is None:
        raise ValueError("make_csv_dataset: column_names are needed when header=False.")
    column_names = list(column_names)
    if len(set(column_names)) != len(column_names):
        raise ValueError(f"make_csv_dataset: column names must be unique, got {column_names}.")
    selected = list(range(len(column_names)))
    if select_columns is not None:
        selected = sorted(
            column_names.index(c) if isinstance(c, str) else int(c) for c in select_columns
        )
    if label_name is not None and label_name not in [column_names[i] for i in selected]:
        raise ValueError(
            f"make_csv_dataset: label_name {label_name!r} is not one of the columns "
            f"{[column_names[i] for i in selected]}."
        )
    if column_defaults is None:
        kinds = [0] * len(column_names)
        rows = lines if header else read_lines(names[0], compression_type)
        for count, line in enumerate(rows):
            if count >= num_rows_for_inference:
                break
            for index, text in enumerate(reader._fields(line)[: len(kinds)]):
                kinds[index] = _infer(text, na_value, kinds[index])
        defaults = [
            "" if _INFERENCE_ORDER[kinds[i]] == "string" else np.zeros(
                (), _INFERENCE_ORDER[kinds[i]]) for i in selected
        ]
    else:
        defaults = list(column_defaults)
        if len(defaults) == len(column_names) and len(selected) != len(column_names):
            defaults = [defaults[i] for i in selected]
    lines.close()

    keys = [column_names[i] for i in selected]

    def records(name: Any) -> Dataset:
        return CsvDataset(
            name, defaults, compression_type, header=header, field_delim=field_delim,
            use_quote_delim=use_quote_delim, na_value=na_value, select_cols=selected,
        )  # fmt: skip

    dataset: Dataset = _CsvFilesDataset(files, records, num_parallel_reads)
    if ignore_errors:
        dataset = dataset.ignore_errors()
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=shuffle_seed)
    dataset = dataset.repeat(num_epochs)
    dataset = dataset.batch(batch_size, drop_remainder=num_epochs is None)

    def to_dict(*columns: Any) -> Any:
        features = dict(zip(keys, columns))
        if label_name is None:
            return features
        label = features.pop(label_name)
        return features, label

    dataset = dataset.map(to_dict)
    return dataset.prefetch(AUTOTUNE if prefetch_buffer_size is None else prefetch_buffer_size)


class _CsvFilesDataset(Dataset):
    """The records of each file of ``files`` (read ``parallel`` files at a time, interleaved)."""

    def __init__(self, files: Dataset, records: Any, parallel: int | None) -> None:
        self.parent, self.records, self.parallel = files, records, parallel

    def _iter_arrays(self) -> Iterator[Any]:
        from .parallel import interleave_iterators

        def factories() -> Iterator[Any]:
            for name in self.parent._iter_arrays():
                path = bytes(name[()]).decode("utf-8")
                yield lambda path=path: self.records(path)._iter_arrays()

        cycle = self.parallel or 1
        return interleave_iterators(factories(), cycle, 1, self.parallel)


def Counter(start: int = 0, step: int = 1, dtype: Any = None) -> Dataset:  # noqa: N802
    """``tf.data.experimental.Counter``: ``Dataset.counter``."""
    return Dataset.counter(start, step, dtype)


def sample_from_datasets(datasets: list, weights: Any = None, seed: int | None = None,
                         stop_on_empty_dataset: bool = False) -> Dataset:
    """``tf.data.experimental.sample_from_datasets``: ``Dataset.sample_from_datasets``."""
    return Dataset.sample_from_datasets(datasets, weights, seed, stop_on_empty_dataset)


def choose_from_datasets(datasets: list, choice_dataset: Dataset,
                         stop_on_empty_dataset: bool = True) -> Dataset:
    """``tf.data.experimental.choose_from_datasets``: ``Dataset.choose_from_datasets``."""
    return Dataset.choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset)


def cardinality(dataset: Dataset) -> Any:
    """``tf.data.experimental.cardinality(ds)``: the same as ``ds.cardinality()``."""
    return dataset.cardinality()


def save(dataset: Dataset, path: str, compression: str | None = None, shard_func: Any = None,
         checkpoint_args: Any = None) -> None:
    """``tf.data.experimental.save``: the same as ``dataset.save(path)``."""
    dataset.save(path, compression, shard_func, checkpoint_args)


def load(path: str, element_spec: Any = None, compression: str | None = None,
         reader_func: Any = None) -> Dataset:
    """``tf.data.experimental.load``: the same as ``tf.data.Dataset.load(path)``."""
    return Dataset.load(path, element_spec, compression, reader_func)
