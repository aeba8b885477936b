"""`tf.nn.embedding_lookup`: rows of a table by integer id, with a sparse gradient.

The gradient of the table is a `tf.IndexedSlices` (the looked-up rows' gradients and their ids),
so a training step over a 50,000-word vocabulary touches only the rows the batch used; the
optimisers apply it row by row. Under an outer tape (higher-order gradients) the VJP is
composed from ops instead and is dense.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError, UnimplementedError
from ..tensor import Variable
from .indexed_slices import IndexedSlices
from .registry import (
    Tensor,
    array_module,
    as_tensor,
    format_shape,
    record,
    recording,
    register,
    should_record,
)

__all__ = ["embedding_lookup"]


def _check_ids(op: str, ids: Tensor, rows: int) -> None:
    if ids.array.dtype.kind not in "iu":
        raise TypeError(f"{op}: ids must be integers, got {ids.dtype.name} "
                        f"(shape {format_shape(ids.array.shape)}); use tf.cast(ids, tf.int32).")
    check_id_range(op, ids.array, rows)


def check_id_range(op: str, ids, rows: int) -> None:
    """Every id of the integer array `ids` in [0, rows) (the op's, and a replay plan's check
    at each call)."""
    if ids.size:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= rows:
            bad = low if low < 0 else high
            raise InvalidArgumentError(f"{op}: id {bad} is not in [0, {rows}): the table has "
                                       f"{rows} rows. Check the vocabulary size (input_dim).")


@register("nn.embedding_lookup", grad_arguments=(0,),
          samples=lambda rng: [((rng.uniform(-1, 1, (5, 3)), np.array([[4, 0], [4, 2]])), {}),
                               ((rng.uniform(-1, 1, (4, 2, 2)), np.array([3, 3, 1])), {})])
def embedding_lookup(params, ids, max_norm=None, name=None) -> Tensor:
    """The rows `params[ids]`: shape ids.shape + params.shape[1:].

    The table's gradient is an `IndexedSlices` when the table is a Variable (dense otherwise),
    so optimisers update only the rows that were looked up.

    >>> import tensorflowish as tf
    >>> table = tf.constant([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> tf.nn.embedding_lookup(table, [[2, 1]]).numpy().tolist()
    [[[2.0, 2.0], [1.0, 1.0]]]
    """
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise UnimplementedError("embedding_lookup: sharded tables (a list of several "
                                     "tensors) are not supported; concatenate them first.")
        params = params[0]
    if max_norm is not None:
        raise UnimplementedError("embedding_lookup: max_norm is not supported; clip the table "
                                 "with tf.clip_by_norm instead.")
    params = as_tensor(params)
    ids = as_tensor(ids)
    if params.array.ndim < 1:
        raise InvalidArgumentError("embedding_lookup: params must have rank >= 1 (a table of "
                                   "rows), got a scalar.")
    rows = params.array.shape[0]
    _check_ids("embedding_lookup", ids, rows)
    xp = array_module(params.array)
    id_array = ids.array if xp is np or ids.array.__class__ is not np.ndarray else \
        xp.asarray(ids.array)
    out = Tensor(xp.take(params.array, id_array, axis=0))
    if should_record((params,)):
        def vjp(upstream: Tensor):
            flat_ids = id_array.reshape(-1)
            values = upstream.array.reshape((flat_ids.shape[0],) + params.array.shape[1:])
            if recording():  # composed, so an outer tape can differentiate it
                from .creation import one_hot
                from .linalg import matmul
                from .shapes import reshape

                hot = one_hot(Tensor(flat_ids), rows, dtype=params.dtype)
                flat = reshape(upstream, (flat_ids.shape[0], -1))
                return reshape(matmul(hot, flat, transpose_a=True), params.array.shape)
            slices = IndexedSlices(Tensor(values), Tensor(flat_ids), params.array.shape)
            if isinstance(params, Variable):
                return slices
            return slices.to_dense()
        record((params,), out, (vjp,))
    return out
