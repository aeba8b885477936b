"""Lowering rules of `gather` (without batch dimensions) and `reverse` (their eager ops:
`ops/shapes.py`, `ops/indexing.py`), both an index of `params`/`tensor` as the eager ops
compose them through getitem, with getitem's VJP: the gradient placed into zeros at the index
(added where an integer array repeats entries, assigned for slices)."""

from __future__ import annotations

import numpy as np

from ...errors import check_axes
from ...ops import shapes
from . import Backward, Line, Lowered, NotLowered, lowering


@lowering("gather", half=True)
def gather(line: Line) -> Lowered:
    """`tf.gather` without batch dimensions: eager's `params[:, ..., indices]` (getitem with
    an integer array) and its VJP, the gradient added into zeros at the indices (dense, as the
    eager op's)."""
    params, indices = line.tensor("params"), line.tensor("indices")
    shape, rank = tuple(line.shape(params)), len(line.shape(params))
    axis, batch_dims = line.literal("axis"), line.literal("batch_dims")
    if batch_dims != 0 or line.dtype(indices).kind not in "iu":
        raise NotLowered("batch dimensions, or indices that are not integers")
    axis = 0 if axis is None else axis
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise NotLowered("axis")  # the op raises its error
    axis = int(axis) % rank
    check, dtype, add_at = shapes.check_gather_indices, line.dtype(params), np.add.at
    head = (slice(None),) * axis
    probe = np.zeros(shape, dtype)[head + (np.zeros(line.shape(indices), np.intp),)]
    if not probe.flags.c_contiguous:
        # NumPy lays such a result out with the indexed axes first; arithmetic on it keeps that
        # order (and sums in it), which a plan writing into its own buffers would not
        raise NotLowered("a gather whose result NumPy does not lay out in C order")

    def forward(table, index_array):
        check(index_array, shape, axis)
        return table[head + (index_array,)]

    def backward(g, index_array):  # getitem's VJP for an advanced index
        result = np.zeros(shape, dtype=dtype)
        add_at(result, head + (index_array,), g)
        return result, None

    def vjp(needs, overwrite):
        return Backward(backward, ("in1",))
    return Lowered(forward, [params, indices], vjp)


@lowering("reverse", half=True)
def reverse(line: Line) -> Lowered:
    x = line.tensor("tensor")
    shape, dtype = tuple(line.shape(x)), line.dtype(x)
    axis = line.literal("axis")
    try:
        axes = check_axes("reverse", [int(a) for a in np.ravel(axis)], len(shape))
    except (TypeError, ValueError):
        raise NotLowered("axis") from None  # the op raises its error
    index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(len(shape)))

    def backward(g):  # eager's _scatter_into_zeros for a basic index
        result = np.zeros(shape, dtype=dtype)
        result[index] = g
        return (result,)
    return Lowered(lambda a: a[index], [x], lambda needs, overwrite: Backward(backward),
                   fresh=False)
