"""`tf.RaggedTensor`, the part string ops need: rows of different lengths, one ragged dimension.

A RaggedTensor is its `flat_values` (every row's items, one after another) and `row_splits`
(where each row starts and ends), as in TensorFlow. `tf.strings.split` of a batch returns one;
`to_tensor()` pads the rows into a dense tensor.

>>> import tensorflowish as tf
>>> words = tf.strings.split(["a b c", "d"])
>>> words.row_lengths().numpy().tolist(), words.to_list()
([3, 1], [[b'a', b'b', b'c'], [b'd']])
>>> words.to_tensor().numpy().tolist()
[[b'a', b'b', b'c'], [b'd', b'', b'']]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor


class RaggedTensor:
    """Rows of different lengths: row i is flat_values[row_splits[i]:row_splits[i + 1]]."""

    __slots__ = ("flat_values", "row_splits", "_outer_shape")

    def __init__(self, flat_values: Tensor, row_splits: Tensor, outer_shape: tuple = None):
        self.flat_values = flat_values
        self.row_splits = row_splits
        rows = int(row_splits.array.shape[0]) - 1
        self._outer_shape = tuple(outer_shape) if outer_shape is not None else (rows,)

    @classmethod
    def from_row_splits(cls, values: Any, row_splits: Any) -> RaggedTensor:
        values = values if isinstance(values, Tensor) else Tensor(np.asarray(values))
        splits = np.asarray(row_splits.numpy() if isinstance(row_splits, Tensor) else row_splits,
                            dtype=np.int64)
        if splits.ndim != 1 or splits.size == 0 or splits[0] != 0 or \
                np.any(np.diff(splits) < 0) or splits[-1] != values.array.shape[0]:
            raise ValueError("RaggedTensor.from_row_splits: row_splits must start at 0, never "
                             "decrease and end at the number of values.")
        return cls(values, Tensor(splits))

    @classmethod
    def from_row_lists(cls, rows: list, outer_shape: tuple, dtype: Any) -> RaggedTensor:
        """From Python lists, one per row (outer_shape: the shape the rows fill, row-major)."""
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.empty(int(splits[-1]), dtype=dtype)
        position = 0
        for row in rows:
            flat[position: position + len(row)] = row
            position += len(row)
        return cls(Tensor(flat), Tensor(splits), outer_shape)

    @property
    def dtype(self):
        return self.flat_values.dtype

    @property
    def shape(self) -> tuple:
        return (*self._outer_shape, None)

    @property
    def ragged_rank(self) -> int:
        return 1

    def row_lengths(self) -> Tensor:
        lengths = np.diff(self.row_splits.array).astype(np.int64)
        return Tensor(lengths.reshape(self._outer_shape))

    def _rows(self) -> list:
        splits, flat = self.row_splits.array, self.flat_values.array
        return [flat[splits[i]: splits[i + 1]] for i in range(len(splits) - 1)]

    def to_list(self) -> list:
        rows = [row.tolist() for row in self._rows()]
        if len(self._outer_shape) == 1:
            return rows
        return np.array(rows + [None], dtype=object)[:-1].reshape(self._outer_shape).tolist()

    def to_tensor(self, default_value: Any = None, shape: Any = None) -> Tensor:
        """Pad the rows to the longest (or to shape[-1]) with default_value ('' or 0)."""
        rows = self._rows()
        width = max((len(r) for r in rows), default=0)
        if shape is not None and shape[-1] is not None:
            width = int(shape[-1])
        flat = self.flat_values.array
        if default_value is None:
            default_value = b"" if flat.dtype.kind == "O" else 0
        out = np.empty((len(rows), width), dtype=flat.dtype)
        out[...] = default_value
        for i, row in enumerate(rows):
            out[i, : min(len(row), width)] = row[:width]
        return Tensor(out.reshape((*self._outer_shape, width)))

    def numpy(self) -> np.ndarray:
        """The rows as a NumPy object array of arrays (as TensorFlow's RaggedTensor.numpy)."""
        rows = self._rows()
        out = np.empty(len(rows), dtype=object)
        out[:] = rows + [] if rows else []
        return out.reshape(self._outer_shape)

    def __getitem__(self, index: int) -> Tensor:
        if len(self._outer_shape) != 1:
            raise NotImplementedError("RaggedTensor: indexing is supported for one outer axis.")
        return Tensor(self._rows()[index])

    def __len__(self) -> int:
        return self._outer_shape[0]

    def __repr__(self) -> str:
        return f"<tf.RaggedTensor {self.to_list()!r}>"
