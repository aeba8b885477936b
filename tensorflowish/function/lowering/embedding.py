"""Lowering rule of `nn.embedding_lookup` (its eager op: `ops/embedding.py`): `np.take` of the
table's rows, the ids checked at each call as the op checks them; the table's gradient is the
op's `IndexedSlices` (the upstream gradient's rows and the flat ids), which the plan keeps
sparse for a Variable and scatters into zeros otherwise, as the eager VJP does
(`plan_backward.py`, `Backward.sparse`)."""

from __future__ import annotations

import numpy as np

from ...ops import embedding
from . import Backward, Line, Lowered, NotLowered, lowering


@lowering("nn.embedding_lookup", half=True)
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

