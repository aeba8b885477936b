"""`tf.IndexedSlices`: a gradient that touches only some rows of a large tensor.

`tf.nn.embedding_lookup` (and `tf.keras.layers.Embedding`) give their table this gradient:
the looked-up rows' gradients and their indices, never a dense vocabulary x dimension array.
Optimisers update only those rows (`Optimizer.apply_gradients`). Added to a dense gradient
(the same variable used elsewhere too) it becomes dense, as in TensorFlow; added to another
IndexedSlices the rows are concatenated.

>>> import tensorflowish as tf
>>> table = tf.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> with tf.GradientTape() as tape:
...     loss = tf.reduce_sum(tf.nn.embedding_lookup(table, [2, 0, 2]))
>>> grad = tape.gradient(loss, table)
>>> type(grad).__name__, grad.indices.numpy().tolist(), grad.values.shape
('IndexedSlices', [2, 0, 2], TensorShape([3, 2]))
>>> tf.convert_to_tensor(grad).numpy().tolist()
[[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor, TensorShape


class IndexedSlices:
    """Rows `values[k]` of a tensor of shape `dense_shape` at row `indices[k]` (repeats add)."""

    __slots__ = ("values", "indices", "dense_shape")
    __array_priority__ = 200  # NumPy defers to __radd__

    def __init__(self, values: Any, indices: Any, dense_shape: Any = None) -> None:
        from .registry import as_tensor

        self.values = as_tensor(values)
        self.indices = as_tensor(indices)
        if self.indices.array.ndim != 1 or self.indices.array.dtype.kind not in "iu":
            raise ValueError(f"IndexedSlices: indices must be a 1-D integer tensor, got "
                             f"shape {tuple(self.indices.shape)} dtype {self.indices.dtype.name}.")
        if self.values.array.shape[:1] != self.indices.array.shape:
            raise ValueError(f"IndexedSlices: values need one row per index: "
                             f"{tuple(self.values.shape)} values for "
                             f"{self.indices.array.shape[0]} indices.")
        self.dense_shape = None if dense_shape is None else TensorShape(tuple(
            int(d) for d in (dense_shape.numpy() if isinstance(dense_shape, Tensor)
                             else dense_shape)))

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self) -> TensorShape:
        return self.dense_shape

    @property
    def device(self) -> str:
        return self.values.device

    def to_dense_array(self) -> Any:
        """The dense array (repeated indices summed)."""
        if self.dense_shape is None:
            raise ValueError("IndexedSlices without dense_shape cannot be made dense.")
        xp = backend.get_array_module(self.values.array)
        dense = xp.zeros(tuple(self.dense_shape), dtype=self.values.array.dtype)
        if xp.__name__ == "numpy":
            xp.add.at(dense, self.indices.array, self.values.array)
        else:  # cupy's scatter_add
            import cupyx

            cupyx.scatter_add(dense, self.indices.array, self.values.array)
        return dense

    def to_dense(self) -> Tensor:
        return Tensor(self.to_dense_array())

    def unique_rows(self) -> tuple[Any, Any]:
        """(rows, summed values): each touched row once, its gradients summed (sorted rows)."""
        xp = backend.get_array_module(self.values.array)
        indices, values = self.indices.array, self.values.array
        if indices.shape[0] == 0:
            return indices, values
        order = xp.argsort(indices, kind="stable")
        sorted_indices = indices[order]
        starts = xp.flatnonzero(xp.concatenate([xp.ones(1, bool),
                                                sorted_indices[1:] != sorted_indices[:-1]]))
        rows = sorted_indices[starts]
        if rows.shape[0] == indices.shape[0]:
            return rows, values[order]
        if xp.__name__ == "numpy":
            return rows, xp.add.reduceat(values[order], starts, axis=0)
        inverse = xp.cumsum(xp.concatenate([xp.zeros(1, xp.int64),
                                            (sorted_indices[1:] != sorted_indices[:-1])]))
        summed = xp.zeros((rows.shape[0],) + values.shape[1:], dtype=values.dtype)
        import cupyx

        cupyx.scatter_add(summed, inverse, values[order])
        return rows, summed

    def __array__(self, dtype=None, copy=None):
        return backend.to_numpy(self.to_dense_array()).astype(dtype or self.values.array.dtype,
                                                              copy=False)

    def __add__(self, other: Any):
        if isinstance(other, IndexedSlices):
            from .shapes import concat

            return IndexedSlices(concat([self.values, other.values], 0),
                                 concat([self.indices, other.indices], 0), self.dense_shape)
        return self.to_dense() + other

    __radd__ = __add__

    def __neg__(self) -> IndexedSlices:
        return IndexedSlices(-self.values, self.indices, self.dense_shape)

    def __mul__(self, scale: Any) -> IndexedSlices:
        return IndexedSlices(self.values * scale, self.indices, self.dense_shape)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return (f"IndexedSlices(indices={self.indices!r}, values={self.values!r}, "
                f"dense_shape={self.dense_shape})")
