"""Lowering rules of `nn.embedding_lookup` (its eager op: `ops/embedding.py`) and `gather`
(below). The lookup: `np.take` of the
table's rows, the ids checked at each call as the op checks them; the table's gradient is the
op's `IndexedSlices` (the upstream gradient's rows and the flat ids), which the plan keeps
sparse for a Variable and scatters into zeros otherwise, as the eager VJP does
(`plan_backward.py`, `Backward.sparse`)."""

from __future__ import annotations

import numpy as np

from ...ops import embedding, shapes
from . import Backward, Line, Lowered, NotLowered, lowering


@lowering("nn.embedding_lookup")
def embedding_lookup(line: Line) -> Lowered:
    if line.literal("max_norm") is not None:
        raise NotLowered("max_norm")  # the op raises its error
    params, ids = line.tensor("params"), line.tensor("ids")
    shape = tuple(line.shape(params))
    if not shape or line.dtype(ids).kind not in "iu":
        raise NotLowered("a scalar table or ids that are not integers")  # the op's errors
    rows, row_shape = shape[0], shape[1:]
    check, take = embedding.check_id_range, np.take

    def forward(table, id_array):
        check("embedding_lookup", id_array, rows)
        return take(table, id_array, axis=0)

    def backward(g, id_array):  # the eager VJP's IndexedSlices, as (values, indices)
        flat_ids = id_array.reshape(-1)
        return g.reshape((flat_ids.shape[0],) + row_shape), flat_ids

    def vjp(needs, overwrite):
        return Backward(backward, ("in1",), fresh=False, sparse=shape)
    return Lowered(forward, [params, ids], vjp)


@lowering("gather")
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
