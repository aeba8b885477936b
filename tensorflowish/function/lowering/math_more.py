"""Lowering rules of more reductions and contractions: reduce_logsumexp, reduce_prod,
math.reduce_variance, math.reduce_std, nn.l2_loss, linalg.matvec, roll and repeat (their
eager ops: `ops/reductions.py`, `ops/nn.py`, `ops/contractions.py`, `ops/indexing.py`).

Most are composed ops: one graph line, several records on eager's tape. Each rule repeats
their forwards on arrays and their VJPs in the tape's order; an input the tape gives several
gradient shares is listed once per share (as in more.py), so a plan adds them one by one as
eager does. float32/float64 only (eager accumulates half precision in float32 here).
repeat (on an axis after the first) and reduce_prod (over axes before kept ones) lower only
where NumPy lays their results out in C order, as pad's REFLECT mode (shapes_more.py).
"""

from __future__ import annotations

import math

import numpy as np

from ...ops.indexing import _int_list
from . import Backward, Line, Lowered, NotLowered, lowering, unbroadcaster
from .shapes import _SPREAD_AS_VIEW, _axes, _spread

_add_reduce = np.add.reduce


def _reduction(line: Line, argument: str = "input_tensor"):
    """(operand, shape, axes (None: all), keepdims, kept shape) of a float reduction."""
    x = line.tensor(argument, float_only=True)
    shape = tuple(line.shape(x))
    if not shape or not math.prod(shape):
        raise NotLowered("a scalar or empty input")
    axes = _axes(line, len(shape))
    keepdims = bool(line.literal("keepdims"))
    kept = (1,) * len(shape) if axes is None else \
        tuple(1 if i in axes else size for i, size in enumerate(shape))
    return x, shape, axes, keepdims, kept


def _mean_backward(g, kept, shape, count):
    """eager's _sum VJP: g with the reduced axes back as 1s, divided, spread over x."""
    g_kept = g.reshape(kept)
    return _spread(g_kept if count == 1 else g_kept / count, shape)


# --- variance and standard deviation ---------------------------------------------------------
def _variance_rule(line: Line, std: bool) -> Lowered:
    x, shape, axes, keepdims, kept = _reduction(line)
    count = math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)
    reduce_mean_back = unbroadcaster(shape, kept)
    half = line.dtype(x).type(0.5)

    def variance(a):  # reduce_mean(square(x - reduce_mean(x, keepdims=True)), keepdims)
        mean = _add_reduce(a, axes, None, None, True) / count
        d = a - mean
        return d, _add_reduce(d * d, axes, None, None, keepdims) / count

    def forward(a):
        v = variance(a)[1]
        return np.sqrt(v) if std else v

    def shares(g, a, out):
        if std:  # sqrt's VJP
            g = g * half / out
        d = variance(a)[0]
        g_d = _mean_backward(g, kept, shape, count) * (d * 2)  # reduce_mean, then square
        g_mean = reduce_mean_back(np.negative(g_d))  # subtract's y share, unbroadcast
        return g_d, _mean_backward(g_mean, kept, shape, count)
    # the second share is spread over x as a read-only view at and above eager's size for it
    fresh = math.prod(shape) < _SPREAD_AS_VIEW
    return Lowered(lambda a, _: forward(a), [x, x],
                   lambda needs, overwrite: Backward(shares, ("in0", "out"), fresh=fresh))


@lowering("math.reduce_variance")
def reduce_variance(line: Line) -> Lowered:
    return _variance_rule(line, std=False)


@lowering("math.reduce_std")
def reduce_std(line: Line) -> Lowered:
    return _variance_rule(line, std=True)


# --- logsumexp and prod ----------------------------------------------------------------------
@lowering("reduce_logsumexp")
def reduce_logsumexp(line: Line) -> Lowered:
    x, shape, axes, keepdims, kept = _reduction(line)
    output_shape = tuple(line.output_shape)

    def parts(a):
        shift = np.max(a, axis=axes, keepdims=True)
        shift[~np.isfinite(shift)] = 0
        e = np.exp(a - shift)
        total = _add_reduce(e, axes, None, None, True)
        return shift, e, total

    def forward(a):
        shift, _, total = parts(a)
        with np.errstate(divide="ignore"):
            result = np.log(total) + shift
        return result if keepdims else result.reshape(output_shape)

    def backward(g, a):  # reshape, add (to log), log, reduce_sum, exp, subtract (to x)
        _, e, total = parts(a)
        g_total = g.reshape(kept) / total
        return (_mean_backward(g_total, kept, shape, 1) * e,)
    return Lowered(forward, [x], lambda needs, overwrite: Backward(backward, ("in0",)))


@lowering("reduce_prod")
def reduce_prod(line: Line) -> Lowered:
    x, shape, axes, keepdims, kept = _reduction(line)
    rank = len(shape)
    axes_list = list(range(rank)) if axes is None else list(axes)
    others = [i for i in range(rank) if i not in axes_list]
    inverse = np.argsort(others + axes_list)

    def backward(g, a):  # eager's _prod_vjp on g spread over x
        g_kept = g if axes is None or np.shape(g) == kept else g.reshape(kept)
        spread = g_kept if np.shape(g_kept) == shape else np.broadcast_to(g_kept, shape)
        moved = np.transpose(a, others + axes_list)
        flat = moved.reshape(moved.shape[:len(others)] + (-1,))
        ones = np.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], -1), -1),
                        -1)
        exclusive = (before * after).reshape(moved.shape)
        return (spread * np.transpose(exclusive, inverse),)
    probe = np.ones(shape, line.dtype(x))
    if not backward(probe.prod(axis=axes, keepdims=keepdims), probe)[0].flags.c_contiguous:
        # reduced axes before kept ones: NumPy lays the gradient out transposed (as eager's),
        # and a plan computing what follows into its own buffers would sum in another order
        raise NotLowered("a gradient NumPy does not lay out in C order")
    return Lowered(lambda a: a.prod(axis=axes, keepdims=keepdims), [x],
                   lambda needs, overwrite: Backward(backward, ("in0",)))


# --- l2_loss -------------------------------------------------------------------------------
@lowering("nn.l2_loss")
def l2_loss(line: Line) -> Lowered:
    t = line.tensor("t", float_only=True)
    shape = tuple(line.shape(t))
    half = line.dtype(t).type(0.5)
    kept = (1,) * len(shape)

    def forward(a, _):  # reduce_sum(t * t) * 0.5
        return _add_reduce(a * a, None, None, None, False) * half

    def shares(g, a):  # multiply by 0.5, reduce_sum, then t * t: one share per operand
        g_square = _mean_backward(g * half, kept, shape, 1)
        return g_square * a, g_square * a
    return Lowered(forward, [t, t], lambda needs, overwrite: Backward(shares, ("in0",)))


# --- matvec --------------------------------------------------------------------------------
@lowering("linalg.matvec")
def matvec(line: Line) -> Lowered:
    a, b = line.binary("a", "b")
    for flag in ("adjoint_a", "a_is_sparse", "b_is_sparse"):
        if line.literal(flag):
            raise NotLowered(flag)
    if line.dtype(a).kind != "f" or line.dtype(a).itemsize < 4:
        raise NotLowered("not float32/float64")
    transpose_a = bool(line.literal("transpose_a"))
    shape_a, shape_b = tuple(line.shape(a)), tuple(line.shape(b))
    if len(shape_a) < 2 or len(shape_b) < 1:
        raise NotLowered("rank")
    column = shape_b + (1,)
    output_shape = tuple(line.output_shape)

    def swap(m):
        return m.swapaxes(-1, -2)

    def forward(x, y):  # squeeze(matmul(a, expand_dims(b, -1), transpose_a), -1)
        return np.matmul(swap(x) if transpose_a else x, y.reshape(column)).reshape(output_shape)

    def vjp(needs, overwrite):
        def backward(g, x, y):  # squeeze's VJP, matmul's (as nn.py's rule), expand_dims'
            y1 = y.reshape(column)
            g1 = g.reshape(output_shape + (1,))
            ga = gb = None
            if needs[0]:
                ga = np.matmul(g1, swap(y1)) if not transpose_a else np.matmul(y1, swap(g1))
                reduce = unbroadcaster(ga.shape, shape_a)
                ga = ga if reduce is None else reduce(ga)
            if needs[1]:
                gb = np.matmul(swap(x) if not transpose_a else x, g1)
                reduce = unbroadcaster(gb.shape, column)
                gb = (gb if reduce is None else reduce(gb)).reshape(shape_b)
            return ga, gb
        return Backward(backward, ("in0", "in1"))
    return Lowered(forward, [a, b], vjp)


# --- roll and repeat -----------------------------------------------------------------------
def _ints(line: Line, name: str) -> list:
    try:
        return _int_list(line.literal(name))
    except (TypeError, ValueError):
        raise NotLowered(f"argument {name}") from None


@lowering("roll", half=True)
def roll(line: Line) -> Lowered:
    x = line.tensor("input")
    rank = len(line.shape(x))
    shifts, axes = _ints(line, "shift"), _ints(line, "axis")
    if len(shifts) != len(axes) or any(not -rank <= a < rank for a in axes):
        raise NotLowered("shift or axis")  # the op raises its error
    axes = [a % rank for a in axes]
    back = [-s for s in shifts]
    return Lowered(lambda a: np.roll(a, shifts, axes), [x],
                   lambda needs, overwrite: Backward(lambda g: (np.roll(g, back, axes),)))


@lowering("repeat", half=True)
def repeat(line: Line) -> Lowered:
    """As eager: flattened when axis is None, then a gather of the repeated positions (getitem
    with an integer array; its VJP adds the gradient into zeros)."""
    x = line.tensor("input")
    shape, dtype = tuple(line.shape(x)), line.dtype(x)
    axis = line.literal("axis")
    flat_shape = (math.prod(shape),) if axis is None else shape
    axis = 0 if axis is None else axis
    if not isinstance(axis, (int, np.integer)) or not -len(flat_shape) <= axis < len(flat_shape):
        raise NotLowered("axis")
    axis = int(axis) % len(flat_shape)
    counts = _ints(line, "repeats")
    size = flat_shape[axis]
    if len(counts) not in (1, size) or min(counts, default=0) < 0:
        raise NotLowered("repeats")  # the op raises its error
    positions = np.repeat(np.arange(size), counts if len(counts) == size else counts[0]) \
        .astype(np.int64)
    index = (slice(None),) * axis + (positions,)
    if not np.zeros(flat_shape, dtype)[index].flags.c_contiguous:
        raise NotLowered("a result NumPy does not lay out in C order")
    add_at = np.add.at

    def backward(g):
        result = np.zeros(flat_shape, dtype=dtype)
        add_at(result, index, g)
        return (result.reshape(shape),)
    return Lowered(lambda a: a.reshape(flat_shape)[index], [x],
                   lambda needs, overwrite: Backward(backward))
