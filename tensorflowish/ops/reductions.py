"""Reductions over axes: sum, mean, max, min, prod, logsumexp; argmax/argmin (no gradient)."""

from __future__ import annotations

import math

import numpy as np

from ..tape import _recording_tapes
from .math import cast, equal, exp, log, sqrt, square
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    check_axis,
    format_shape,
    record,
    register,
    require_float,
    should_record,
)
from .shapes import broadcast_to, reshape

_add_reduce = np.add.reduce


def _normalize_axes(op: str, axis, ndim: int):
    """None or a tuple of non-negative axes; a clear error for an axis out of range."""
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        axis = axis.numpy().tolist()
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if ndim == 0:  # TensorFlow accepts axis 0 / -1 for a scalar: nothing to reduce
        for a in axes:
            if int(a) not in (0, -1):
                check_axis(op, a, 1)
        return ()
    return tuple(sorted(set(check_axis(op, a, ndim) for a in axes)))


def _kept_shape(shape: tuple, axes) -> tuple:
    """The shape with reduced axes kept as 1 (for broadcasting the gradient back)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


def _reduce_samples(rng):
    return [((rng.uniform(-2, 2, (3, 4)),), {}),
            ((rng.uniform(-2, 2, (3, 4)),), {"axis": 0}),
            ((rng.uniform(-2, 2, (2, 3, 4)),), {"axis": [0, 2], "keepdims": True}),
            ((rng.uniform(-2, 2, (2, 3, 4)),), {"axis": -1})]


def _reduce(op, x, axis, keepdims, forward, vjp):
    # forwards call the array's own methods (a.sum(...)): NumPy's np.sum wrapper costs a
    # microsecond more per call, which small models notice
    x = as_tensor(x)
    axes = _normalize_axes(op, axis, x.array.ndim)
    out = Tensor(forward(x.array, axes, keepdims))
    if should_record((x,)):
        kept = _kept_shape(x.array.shape, axes)

        def backward(g):
            # a full reduction's scalar gradient broadcasts as it is; otherwise put the reduced
            # axes back as 1s first, so the gradient lines up with x
            g_kept = g if axes is None or g.array.shape == kept else reshape(g, kept)
            return vjp(broadcast_to(g_kept, x.array.shape), x, out, kept, axes)
        record((x,), out, (backward,))
    return out


def _sum(x: Tensor, axes, keepdims: bool, count: int) -> Tensor:
    """The sum over `axes` divided by `count`: 1 for reduce_sum, the number of elements summed
    for reduce_mean. Its gradient is the upstream divided by `count`, spread back over x."""
    a = x.array
    if a.dtype.itemsize == 2 and a.dtype.kind in "fV":  # float16/bfloat16: accumulate in float32
        total = a.sum(axis=axes, keepdims=keepdims, dtype="float32")
        out = Tensor(xp_asarray(total if count == 1 else total / count, a.dtype))
    else:
        # what ndarray.sum calls, without its Python layer (a good part of a small model's step);
        # integers keep their dtype, as TensorFlow (NumPy would widen int32 to int64)
        dtype = a.dtype if a.dtype.kind in "iu" else None
        total = _add_reduce(a, axes, dtype, None, keepdims) if a.__class__ is np.ndarray else \
            a.sum(axis=axes, keepdims=keepdims, dtype=dtype)
        out = Tensor(total if count == 1 else total / count)
    if should_record((x,)):
        def backward(g: Tensor) -> Tensor:
            shape = a.shape
            kept = _kept_shape(shape, axes)
            if _recording_tapes:  # an outer tape differentiates this backward pass: compose ops
                g_kept = g if axes is None or g.array.shape == kept else reshape(g, kept)
                return broadcast_to(g_kept if count == 1 else g_kept / count, shape)
            g_kept = g.array.reshape(kept)
            return Tensor(_spread(g_kept if count == 1 else g_kept / count, shape))
        record((x,), out, (backward,))
    return out


_SPREAD_AS_VIEW = 1 << 14  # elements; see _spread


def xp_asarray(value, dtype):
    """A reduction's float32 result back in the half-precision dtype (a 0-d array stays one)."""
    return array_module(value).asarray(value).astype(dtype)


def _spread(g_kept, shape: tuple):
    """`g_kept` repeated along its size-1 axes to `shape` (raw arrays)."""
    xp = array_module(g_kept)
    if math.prod(shape) >= _SPREAD_AS_VIEW:  # a read-only view costs no memory at any size
        return xp.broadcast_to(g_kept, shape)
    # filling a small array is cheaper than broadcast_to, a Python function of some length:
    # 1 microsecond against 3, on a training step that takes 40
    spread = xp.empty(shape, g_kept.dtype)
    spread[...] = g_kept
    return spread


@register("reduce_sum", "math.reduce_sum", samples=_reduce_samples)
def reduce_sum(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Sum over `axis` (all axes when None)."""
    x = as_tensor(input_tensor)
    return _sum(x, _normalize_axes("reduce_sum", axis, x.array.ndim), keepdims, 1)


@register("reduce_mean", "math.reduce_mean", samples=_reduce_samples)
def reduce_mean(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Mean over `axis` (all axes when None); integers stay integers, as in TensorFlow."""
    x = as_tensor(input_tensor)
    axes = None if axis is None else _normalize_axes("reduce_mean", axis, x.array.ndim)
    count = x.array.size if axes is None else math.prod(x.array.shape[a] for a in axes)
    if x.array.dtype.kind in "iu":
        total = reduce_sum(x, axis, keepdims)
        return Tensor((total.array // max(count, 1)).astype(x.array.dtype))
    # a sum and one division are what np.mean computes, without its Python overhead
    return _sum(x, axes, keepdims, count)


def _extremum_vjp(g, x, out, kept, axes):
    """The gradient is shared equally among the elements that attain the max (or min)."""
    out_kept = reshape(out, kept) if out.array.shape != kept else out
    mask = cast(equal(x, out_kept), g.dtype)
    count = reduce_sum(mask, axis=axes, keepdims=True)
    return g * mask / count


@register("reduce_max", "math.reduce_max", samples=_reduce_samples)
def reduce_max(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Max over `axis`; ties share the gradient equally."""
    x = as_tensor(input_tensor)
    if x.array.size == 0:
        raise InvalidArgumentError("reduce_max: the input is empty.")
    return _reduce("reduce_max", x, axis, keepdims,
                   lambda a, axes, k: a.max(axis=axes, keepdims=k), _extremum_vjp)


@register("reduce_min", "math.reduce_min", samples=_reduce_samples)
def reduce_min(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Min over `axis`; ties share the gradient equally."""
    x = as_tensor(input_tensor)
    if x.array.size == 0:
        raise InvalidArgumentError("reduce_min: the input is empty.")
    return _reduce("reduce_min", x, axis, keepdims,
                   lambda a, axes, k: a.min(axis=axes, keepdims=k), _extremum_vjp)


def _prod_vjp(g, x, out, kept, axes):
    """d prod / d x_i = product of the others, computed without dividing (zeros are fine)."""
    xp = array_module(x.array)
    a = x.array
    axes_list = list(range(a.ndim)) if axes is None else list(axes)
    others = [i for i in range(a.ndim) if i not in axes_list]
    moved = xp.transpose(a, others + axes_list)
    flat = moved.reshape(moved.shape[:len(others)] + (-1,))
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
    before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], -1), -1), -1)
    exclusive = (before * after).reshape(moved.shape)
    inverse = np.argsort(others + axes_list)
    return g * Tensor(xp.transpose(exclusive, inverse))


@register("reduce_prod", "math.reduce_prod", samples=_reduce_samples)
def reduce_prod(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Product over `axis` (the gradient handles zeros; it is first-order only)."""
    return _reduce("reduce_prod", input_tensor, axis, keepdims,
                   lambda a, axes, k: a.prod(axis=axes, keepdims=k,
                                             dtype=a.dtype if a.dtype.kind in "iu" else None),
                   _prod_vjp)


@register("reduce_logsumexp", "math.reduce_logsumexp", samples=_reduce_samples)
def reduce_logsumexp(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """log(sum(exp(x))) computed stably (composed from primitives)."""
    x = as_tensor(input_tensor)
    require_float("reduce_logsumexp", x)
    xp = array_module(x.array)
    shift_array = xp.max(x.array, axis=_normalize_axes("reduce_logsumexp", axis, x.array.ndim),
                         keepdims=True)
    # a row of all -inf (a fully masked row) shifts by 0, so its result is log(0) = -inf as in
    # TensorFlow, not (-inf) - (-inf) = nan
    shift_array[~xp.isfinite(shift_array)] = 0
    shift = Tensor(shift_array)
    with np.errstate(divide="ignore"):  # log(0) = -inf for a fully masked row is intended
        total = log(reduce_sum(exp(x - shift), axis, keepdims=True)) + shift
    if keepdims:
        return total
    axes = _normalize_axes("reduce_logsumexp", axis, x.array.ndim)
    shape = () if axes is None else tuple(s for i, s in enumerate(x.array.shape) if i not in axes)
    return reshape(total, shape)


@register("math.reduce_variance", samples=_reduce_samples)
def reduce_variance(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Population variance over `axis` (composed)."""
    x = as_tensor(input_tensor)
    require_float("reduce_variance", x)
    mean = reduce_mean(x, axis, keepdims=True)
    return reduce_mean(square(x - mean), axis, keepdims)


@register("math.reduce_std", samples=lambda rng: [((rng.uniform(-2, 2, (3, 4)),), {"axis": 1})])
def reduce_std(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Population standard deviation over `axis` (composed)."""
    return sqrt(reduce_variance(input_tensor, axis, keepdims))


@register("reduce_any", "math.reduce_any", differentiable=False)
def reduce_any(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Logical or over `axis`."""
    x = as_tensor(input_tensor)
    if x.array.dtype.kind != "b":
        raise TypeError(f"reduce_any: expects a bool tensor, got {x.dtype.name} (shape "
                        f"{format_shape(x.shape)}); compare first, e.g. tf.not_equal(x, 0).")
    axes = _normalize_axes("reduce_any", axis, x.array.ndim)
    return Tensor(array_module(x.array).any(x.array, axis=axes, keepdims=keepdims))


@register("reduce_all", "math.reduce_all", differentiable=False)
def reduce_all(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """Logical and over `axis`."""
    x = as_tensor(input_tensor)
    if x.array.dtype.kind != "b":
        raise TypeError(f"reduce_all: expects a bool tensor, got {x.dtype.name} (shape "
                        f"{format_shape(x.shape)}); compare first, e.g. tf.not_equal(x, 0).")
    axes = _normalize_axes("reduce_all", axis, x.array.ndim)
    return Tensor(array_module(x.array).all(x.array, axis=axes, keepdims=keepdims))


def _arg(op, x, axis, output_type, function):
    from .. import dtypes

    x = as_tensor(x)
    if x.array.ndim == 0:
        raise InvalidArgumentError(f"{op}: expects a tensor of rank >= 1, got a scalar.")
    if axis is None:
        axis = 0  # TensorFlow's default
    if isinstance(axis, Tensor):
        axis = int(axis.array)
    axis = check_axis(op, axis, x.array.ndim)
    return Tensor(function(x.array, axis=axis).astype(dtypes.numpy_dtype(output_type)))


@register("argmax", "math.argmax", differentiable=False)
def argmax(input, axis=None, output_type="int64", name=None) -> Tensor:  # noqa: A002
    """Index of the largest value along `axis` (default 0, as in TensorFlow); int64."""
    return _arg("argmax", input, axis, output_type, lambda a, axis: array_module(a).argmax(a, axis))


@register("argmin", "math.argmin", differentiable=False)
def argmin(input, axis=None, output_type="int64", name=None) -> Tensor:  # noqa: A002
    """Index of the smallest value along `axis` (default 0); int64."""
    return _arg("argmin", input, axis, output_type, lambda a, axis: array_module(a).argmin(a, axis))
