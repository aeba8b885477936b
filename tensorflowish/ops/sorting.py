"""Sorting and sets: sort, argsort, top_k, in_top_k, unique, unique_with_counts, bincount,
count_nonzero, searchsorted.

The differentiable ones (sort, top_k) find an order on the arrays and take the values along it;
the VJP puts the gradient back where each value came from. Ties keep the lower index first, as
TensorFlow does.
"""

from __future__ import annotations

import collections

import numpy as np

from .. import dtypes as _dtypes
from ..errors import InvalidArgumentError, check_axes, check_axis
from .registry import (
    Tensor,
    array_module,
    as_tensor,
    format_shape,
    record,
    register,
    should_record,
)
from .shapes import transpose

TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])
UniqueOutput = collections.namedtuple("Unique", ["y", "idx"])
UniqueWithCountsOutput = collections.namedtuple("UniqueWithCounts", ["y", "idx", "count"])


def _direction(op: str, direction: str) -> bool:
    """True for DESCENDING."""
    if direction not in ("ASCENDING", "DESCENDING"):
        raise InvalidArgumentError(f"{op}: direction must be 'ASCENDING' or 'DESCENDING', got "
                                   f"{direction!r}.")
    return direction == "DESCENDING"


def _stable_order(xp, array, descending: bool):
    """Stable argsort along the last axis; descending keeps the lower index first among ties."""
    if not descending:
        return xp.argsort(array, axis=-1, kind="stable")
    n = array.shape[-1]
    reversed_order = xp.argsort(array[..., ::-1], axis=-1, kind="stable")[..., ::-1]
    return n - 1 - reversed_order


def _last_axis(x: Tensor, axis: int) -> tuple[Tensor, tuple | None]:
    """x with `axis` moved last, and the permutation that moves it back (None if unmoved)."""
    rank = x.array.ndim
    if axis == rank - 1:
        return x, None
    perm = tuple(d for d in range(rank) if d != axis) + (axis,)
    return transpose(x, perm), tuple(int(i) for i in np.argsort(perm))


def _along_last_index(xp, order) -> tuple:
    """The advanced index that pairs each row of `order` with its own row of the data."""
    lead = order.shape[:-1]
    index = []
    for d, size in enumerate(lead):
        view = [1] * order.ndim
        view[d] = size
        index.append(xp.arange(size).reshape(view))
    return tuple(index) + (order,)


def take_along_last(x: Tensor, order) -> Tensor:
    """x[..., order] row by row (`order` distinct per row: a permutation or a top-k subset).
    Its VJP puts the gradient back where each entry came from."""
    xp = array_module(x.array)
    out = Tensor(xp.take_along_axis(x.array, order, axis=-1))
    if should_record((x,)):
        size = x.array.shape[-1]
        record((x,), out, (lambda g: put_along_last(g, order, size),))
    return out


def put_along_last(values: Tensor, order, size: int) -> Tensor:
    """Zeros of last dimension `size` with `values[..., j]` at `order[..., j]` (the adjoint of
    take_along_last)."""
    xp = array_module(values.array)
    result = xp.zeros(values.array.shape[:-1] + (size,), dtype=values.array.dtype)
    result[_along_last_index(xp, order)] = values.array
    out = Tensor(result)
    if should_record((values,)):
        record((values,), out, (lambda g: take_along_last(g, order),))
    return out


def _top_k_order(xp, array, k: int):
    """Indices of the k largest along the last axis, largest first, ties by lower index: a
    partition finds the k-th value, so only k entries are sorted."""
    n = array.shape[-1]
    if 4 * k >= n or (array.dtype.kind == "f" and bool(xp.isnan(array).any())):
        return _stable_order(xp, array, descending=True)[..., :k]
    kth = xp.partition(array, n - k, axis=-1)[..., n - k:n - k + 1]
    greater = array > kth
    tied = array == kth
    needed = k - greater.sum(axis=-1, keepdims=True)
    chosen = greater | (tied & (xp.cumsum(tied, axis=-1) <= needed))
    picked = xp.nonzero(chosen.reshape(-1, n))[1].reshape(array.shape[:-1] + (k,))
    values = xp.take_along_axis(array, picked, axis=-1)
    return xp.take_along_axis(picked, _stable_order(xp, values, descending=True), axis=-1)


def _sort_arguments(op: str, values, axis, direction: str) -> tuple[Tensor, int, bool]:
    """sort's and argsort's checked arguments: the tensor (rank >= 1), the axis, descending."""
    x = as_tensor(values)
    descending = _direction(op, direction)
    if x.array.ndim == 0:
        raise InvalidArgumentError(f"{op}: expects a tensor of rank >= 1, got a scalar.")
    return x, check_axis(op, axis, x.array.ndim), descending


def _sort_samples(rng):
    return [((rng.permutation(12).reshape(3, 4) + rng.uniform(0, 0.5, (3, 4)),), {}),
            ((rng.permutation(12).reshape(3, 4) * 1.0,), {"axis": 0, "direction": "DESCENDING"})]


@register("sort", samples=_sort_samples)
def sort(values, axis=-1, direction="ASCENDING", name=None) -> Tensor:
    """The values sorted along `axis` (stable).

    >>> import tensorflowish as tf
    >>> tf.sort([3, 1, 2], direction="DESCENDING").numpy().tolist()
    [3, 2, 1]
    """
    x, axis, descending = _sort_arguments("sort", values, axis, direction)
    moved, back = _last_axis(x, axis)
    xp = array_module(moved.array)
    if should_record((moved,)):
        result = take_along_last(moved, _stable_order(xp, moved.array, descending))
    else:  # the values alone do not depend on the order of ties
        values = xp.sort(moved.array, axis=-1)
        result = Tensor(xp.ascontiguousarray(values[..., ::-1]) if descending else values)
    return result if back is None else transpose(result, back)


@register("argsort", differentiable=False)
def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None) -> Tensor:
    """int32 indices that sort `values` along `axis` (always stable: ties keep their order)."""
    x, axis, descending = _sort_arguments("argsort", values, axis, direction)
    xp = array_module(x.array)
    moved = xp.moveaxis(x.array, axis, -1)
    order = _stable_order(xp, moved, descending)
    return Tensor(xp.ascontiguousarray(xp.moveaxis(order, -1, axis)).astype(np.int32))


@register("math.top_k", "nn.top_k", samples=lambda rng: [
    ((rng.permutation(15).reshape(3, 5) + rng.uniform(0, 0.5, (3, 5)),), {"k": 2}),
    ((rng.permutation(6) * 1.0,), {"k": 3, "sorted": False})])
def top_k(input, k=1, sorted=True, index_type="int32", name=None) -> TopKV2:  # noqa: A002
    """The `k` largest entries along the last axis and their indices (ties: lower index first).

    >>> import tensorflowish as tf
    >>> tf.math.top_k([1.0, 5.0, 3.0, 5.0], k=2).indices.numpy().tolist()
    [1, 3]
    """
    x = as_tensor(input)
    k = int(k)
    if x.array.ndim == 0:
        raise InvalidArgumentError("top_k: expects a tensor of rank >= 1, got a scalar.")
    n = x.array.shape[-1]
    if not 0 <= k <= n:
        raise InvalidArgumentError(f"top_k: k={k} must be in [0, {n}], the size of the last "
                                   f"dimension of shape {format_shape(x.shape)}.")
    xp = array_module(x.array)
    order = _top_k_order(xp, x.array, k)
    if not sorted:  # TensorFlow leaves them in an unspecified order: ours is index order
        order = xp.sort(order, axis=-1)
    indices = Tensor(xp.ascontiguousarray(order).astype(_dtypes.numpy_dtype(index_type)))
    return TopKV2(take_along_last(x, order), indices)


@register("math.in_top_k", "nn.in_top_k", differentiable=False)
def in_top_k(targets, predictions, k, name=None) -> Tensor:
    """Whether each target's prediction is among the `k` largest of its row; a tie at the
    boundary counts as in (TensorFlow's rule), a non-finite prediction as out."""
    targets, predictions = as_tensor(targets), as_tensor(predictions)
    if predictions.array.ndim != 2 or targets.array.shape != predictions.array.shape[:1]:
        raise InvalidArgumentError(
            f"in_top_k: expects predictions of shape [batch, classes] and targets of shape "
            f"[batch], got {format_shape(predictions.shape)} and {format_shape(targets.shape)}.")
    xp = array_module(predictions.array)
    classes = predictions.array.shape[1]
    target = targets.array.astype(np.int64)
    valid = (target >= 0) & (target < classes)
    chosen = predictions.array[xp.arange(len(target)), xp.clip(target, 0, classes - 1)]
    larger = (predictions.array > chosen[:, None]).sum(axis=1)
    return Tensor(valid & xp.isfinite(chosen) & (larger < int(k)))


@register("unique", differentiable=False)
def unique(x, out_idx="int32", name=None) -> UniqueOutput:
    """The distinct values of a 1-D tensor in order of first appearance, and for each input
    entry the index of its value in that list."""
    y, idx, _ = _unique("unique", x, out_idx)
    return UniqueOutput(y, idx)


@register("unique_with_counts", differentiable=False)
def unique_with_counts(x, out_idx="int32", name=None) -> UniqueWithCountsOutput:
    """`unique` plus how often each distinct value occurs."""
    return UniqueWithCountsOutput(*_unique("unique_with_counts", x, out_idx))


def _unique(op: str, x, out_idx):
    x = as_tensor(x)
    if x.array.ndim != 1:
        raise InvalidArgumentError(f"{op}: expects a 1-D tensor, got shape "
                                   f"{format_shape(x.shape)}.")
    xp = array_module(x.array)
    values, first, inverse, counts = xp.unique(x.array, return_index=True, return_inverse=True,
                                               return_counts=True)
    order = xp.argsort(first, kind="stable")  # sorted distinct values -> first-appearance order
    rank = xp.empty_like(order)
    rank[order] = xp.arange(len(order))
    index_dtype = _dtypes.numpy_dtype(out_idx)
    return (Tensor(values[order]), Tensor(rank[inverse.reshape(-1)].astype(index_dtype)),
            Tensor(counts[order].astype(index_dtype)))


@register("math.bincount", differentiable=False)
def bincount(arr, weights=None, minlength=None, maxlength=None, dtype="int32", name=None,
             axis=None, binary_output=False) -> Tensor:
    """How often each value 0, 1, ... occurs in `arr` (or the sum of its `weights`); with
    axis=-1, per row of a 2-D input."""
    arr = as_tensor(arr)
    if arr.array.dtype.kind not in "iu":
        raise TypeError(f"bincount: arr must be integers, got {arr.dtype.name}.")
    xp = array_module(arr.array)
    if arr.array.size and int(arr.array.min()) < 0:
        raise InvalidArgumentError(f"bincount: arr must be non-negative, got "
                                   f"{int(arr.array.min())}.")
    if axis not in (None, 0, -1):
        raise InvalidArgumentError(f"bincount: axis must be None, 0 or -1, got {axis}.")
    length = int(arr.array.max()) + 1 if arr.array.size else 0
    if minlength is not None:
        length = max(length, int(minlength))
    if maxlength is not None:
        length = min(length, int(maxlength))
    values = arr.array if axis == -1 else arr.array.reshape(-1)
    if weights is not None:
        weights = as_tensor(weights)
        if weights.array.shape != arr.array.shape:
            raise InvalidArgumentError(f"bincount: weights shape {format_shape(weights.shape)} "
                                       f"must match arr shape {format_shape(arr.shape)}.")
        w = weights.array if axis == -1 else weights.array.reshape(-1)
        out_dtype = weights.array.dtype
    else:
        w = xp.ones(values.shape, dtype=_dtypes.numpy_dtype(dtype))
        out_dtype = w.dtype
    keep = values < length
    if binary_output:
        w = xp.ones(values.shape, dtype=out_dtype)
    if axis == -1:
        if values.ndim != 2:
            raise InvalidArgumentError("bincount: axis=-1 expects a 2-D arr, got shape "
                                       f"{format_shape(arr.shape)}.")
        out = xp.zeros((values.shape[0], length), dtype=out_dtype)
        rows = xp.broadcast_to(xp.arange(values.shape[0])[:, None], values.shape)
        _add_at(xp, out, (rows[keep], values[keep]), w[keep])
    else:
        out = xp.zeros((length,), dtype=out_dtype)
        _add_at(xp, out, (values[keep],), w[keep])
    if binary_output:
        out = (out > 0).astype(out_dtype)
    return Tensor(out)


def _add_at(xp, target, index, values) -> None:
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


@register("math.count_nonzero", differentiable=False)
def count_nonzero(input, axis=None, keepdims=None, dtype="int64", name=None) -> Tensor:  # noqa: A002
    """How many entries are non-zero (True, non-empty), over `axis` or all of them."""
    x = as_tensor(input)
    axes = None if axis is None else check_axes("count_nonzero", axis, x.array.ndim)
    counts = (x.array != 0).sum(axis=axes, keepdims=bool(keepdims))
    return Tensor(array_module(x.array).asarray(counts).astype(_dtypes.numpy_dtype(dtype)))


@register("searchsorted", differentiable=False)
def searchsorted(sorted_sequence, values, side="left", out_type="int32", name=None) -> Tensor:
    """For each of `values`, the position in `sorted_sequence` (sorted along its last axis)
    where it would be inserted; leading dimensions are batch dimensions."""
    sequence, values = as_tensor(sorted_sequence), as_tensor(values)
    if side not in ("left", "right"):
        raise InvalidArgumentError(f"searchsorted: side must be 'left' or 'right', got {side!r}.")
    if sequence.array.ndim == 0 or sequence.array.shape[:-1] != values.array.shape[:-1]:
        raise InvalidArgumentError(f"searchsorted: the leading dimensions of sorted_sequence "
                                   f"{format_shape(sequence.shape)} and values "
                                   f"{format_shape(values.shape)} must match.")
    xp = array_module(sequence.array)
    rows = sequence.array.reshape(-1, sequence.array.shape[-1])
    queries = values.array.reshape(len(rows), -1)
    result = xp.stack([xp.searchsorted(r, q, side=side) for r, q in zip(rows, queries)]) \
        if len(rows) else xp.zeros(queries.shape, dtype=np.int64)
    return Tensor(result.reshape(values.array.shape).astype(_dtypes.numpy_dtype(out_type)))
