"""Lowering rules of the reductions and shape ops: reduce_sum/mean, reshape, identity,
transpose, expand_dims, squeeze, stop_gradient (their eager ops: `ops/reductions.py`,
`ops/shapes.py`)."""

from __future__ import annotations

import math

import numpy as np

from . import PASS, Backward, Line, Lowered, NotLowered, is_half, lowering

_add_reduce = np.add.reduce
_SPREAD_AS_VIEW = 1 << 14  # elements: as eager's reductions (ops/reductions.py, _spread)


def _axes(line: Line, rank: int):
    """None or the sorted tuple of non-negative axes, as eager normalises them."""
    axis = line.literal("axis")
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if rank == 0:
        return ()
    if any(not -rank <= int(a) < rank for a in axes):
        raise NotLowered("axis out of range")
    return tuple(sorted({int(a) % rank for a in axes}))


def _spread(g_kept, shape: tuple):
    if math.prod(shape) >= _SPREAD_AS_VIEW:
        return np.broadcast_to(g_kept, shape)
    spread = np.empty(shape, g_kept.dtype)
    spread[...] = g_kept
    return spread


def _sum_rule(line: Line, mean: bool) -> Lowered:
    x = line.tensor("input_tensor")
    dtype = line.dtype(x)
    if dtype.kind not in "fcV":
        raise NotLowered("integer sums")
    shape = line.shape(x)
    axes = _axes(line, len(shape))
    keepdims = bool(line.literal("keepdims"))
    count = 1
    if mean:
        count = math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)
    kept = (1,) * len(shape) if axes is None else \
        tuple(1 if i in axes else size for i, size in enumerate(shape))

    if is_half(dtype):  # as eager: accumulated in float32, rounded once
        def forward(a):
            total = _add_reduce(a, axes, np.float32, None, keepdims)
            return np.asarray(total if count == 1 else total / count, dtype)
    elif count == 1:
        def forward(a, out=None):
            return _add_reduce(a, axes, None, None if out is None else out[0], keepdims)
    else:
        def forward(a, out=None):
            if out is None:
                return _add_reduce(a, axes, None, None, keepdims) / count
            total = _add_reduce(a, axes, None, out[0], keepdims)
            return np.true_divide(total, count, out=total)  # the same division, in place

    fresh = math.prod(shape) < _SPREAD_AS_VIEW  # a small gradient is a new array, else a view

    def vjp(needs, overwrite):
        def backward(g, out=None):
            g_kept = g.reshape(kept)
            g_kept = g_kept if count == 1 else g_kept / count
            if out is not None and out[0] is not None:
                out[0][...] = g_kept
                return (out[0],)
            return (_spread(g_kept, shape),)
        return Backward(backward, fresh=fresh, buffers=((shape, dtype),) if fresh else ())
    # buffers for results of at least one dimension (a 0-d sum is a NumPy scalar, as eager's)
    output_shape = line.output_shape
    buffers = ((output_shape, dtype),) if output_shape and not is_half(dtype) else ()
    return Lowered(forward, [x], vjp, buffers=buffers)


@lowering("reduce_sum", half=True)
def reduce_sum(line: Line) -> Lowered:
    return _sum_rule(line, mean=False)


@lowering("reduce_mean", half=True)
def reduce_mean(line: Line) -> Lowered:
    return _sum_rule(line, mean=True)


def _reshape_to(line: Line, argument: str) -> Lowered:
    x = line.tensor(argument)
    original, target = line.shape(x), line.output_shape

    def vjp(needs, overwrite):
        return Backward(lambda g: (g.reshape(original),), fresh=False)
    return Lowered(lambda a: a.reshape(target), [x], vjp, fresh=False)


@lowering("reshape", half=True)
def reshape(line: Line) -> Lowered:
    return _reshape_to(line, "tensor")


@lowering("expand_dims", "squeeze", half=True)
def expand_or_squeeze(line: Line) -> Lowered:
    return _reshape_to(line, "input")


@lowering("identity", half=True)
def identity(line: Line) -> Lowered:
    x = line.tensor("input")

    def vjp(needs, overwrite):
        return PASS
    return Lowered(lambda a: a, [x], vjp, fresh=False)


@lowering("stop_gradient")
def stop_gradient(line: Line) -> Lowered:
    return Lowered(lambda a: a, [line.tensor("input")], None, fresh=False)


@lowering("transpose", half=True)
def transpose(line: Line) -> Lowered:
    x = line.tensor("a")
    if line.literal("conjugate"):
        raise NotLowered("conjugate")
    rank = len(line.shape(x))
    perm = line.literal("perm")
    perm = tuple(reversed(range(rank))) if perm is None else tuple(int(p) for p in perm)
    inverse = tuple(np.argsort(perm))

    def vjp(needs, overwrite):
        return Backward(lambda g: (g.transpose(inverse),), fresh=False)
    return Lowered(lambda a: a.transpose(perm), [x], vjp, fresh=False)


def _extremum_rule(line: Line, forward) -> Lowered:
    x = line.tensor("input_tensor", float_only=True)
    shape = line.shape(x)
    if not math.prod(shape):
        raise NotLowered("an empty input")
    axes = _axes(line, len(shape))
    keepdims = bool(line.literal("keepdims"))
    kept = (1,) * len(shape) if axes is None else \
        tuple(1 if i in axes else size for i, size in enumerate(shape))

    def backward(g, a, out):  # eager's _extremum_vjp: shared equally among the ties
        g_kept = g if axes is None or np.shape(g) == kept else g.reshape(kept)
        spread = g_kept if np.shape(g_kept) == shape else np.broadcast_to(g_kept, shape)
        out_kept = out.reshape(kept) if np.shape(out) != kept else out
        mask = np.equal(a, out_kept).astype(g.dtype)
        count = _add_reduce(mask, axes, None, None, True)
        return (spread * mask / count,)
    return Lowered(lambda a: forward(a, axis=axes, keepdims=keepdims), [x],
                   lambda needs, overwrite: Backward(backward, ("in0", "out")))


@lowering("reduce_max")
def reduce_max(line: Line) -> Lowered:
    return _extremum_rule(line, np.ndarray.max)


@lowering("reduce_min")
def reduce_min(line: Line) -> Lowered:
    return _extremum_rule(line, np.ndarray.min)
