"""Scans and segments: cumsum, cumprod, cumulative_logsumexp (with `exclusive` and `reverse`),
segment_* and unsorted_segment_* reductions, confusion_matrix.

Each scan's VJP is the scan run the other way (TensorFlow's rules); each segment reduction's VJP
gathers the gradient back to the rows of its segment.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .. import dtypes as _dtypes
from ..errors import InvalidArgumentError
from .indexing import _scatter_into, integer_indices
from .math import (
    cast,
    divide,
    equal,
    exp,
    greater,
    less,
    log,
    logical_and,
    maximum,
    multiply,
    negative,
    where,
)
from .registry import (
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
from .shapes import gather


# --- scans -------------------------------------------------------------------------------------
def _scan(xp, array, axis: int, exclusive: bool, reverse: bool, accumulate, identity):
    """`accumulate` along `axis`, run back to front when `reverse`, shifted by one (starting
    from `identity`) when `exclusive`."""
    if reverse:
        array = xp.flip(array, axis)
    result = accumulate(array, axis)
    if exclusive:
        start = xp.full_like(result[(slice(None),) * axis + (slice(0, 1),)], identity)
        result = xp.concatenate([start, result[(slice(None),) * axis + (slice(0, -1),)]], axis)
    if reverse:
        result = xp.flip(result, axis)
    return xp.ascontiguousarray(result)


def _scan_samples(rng):
    x = rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    return [((x,), {}), ((x,), {"axis": 1, "exclusive": True}),
            ((x,), {"axis": -1, "reverse": True}),
            ((x,), {"axis": 0, "exclusive": True, "reverse": True})]


def _scan_axis(op: str, x: Tensor, axis) -> int:
    if x.array.ndim == 0:
        raise InvalidArgumentError(f"{op}: expects a tensor of rank >= 1, got a scalar.")
    return check_axis(op, axis, x.array.ndim)


@register("math.cumsum", "cumsum", samples=_scan_samples)
def cumsum(x, axis=0, exclusive=False, reverse=False, name=None) -> Tensor:
    """Running sums along `axis`.

    >>> import tensorflowish as tf
    >>> tf.cumsum([1, 2, 3], exclusive=True).numpy().tolist()
    [0, 1, 3]
    """
    x = as_tensor(x)
    axis = _scan_axis("cumsum", x, axis)
    xp = array_module(x.array)
    out = Tensor(_scan(xp, x.array, axis, exclusive, reverse,
                       lambda a, d: xp.cumsum(a, axis=d, dtype=a.dtype), 0))
    if should_record((x,)):
        record((x,), out, (lambda g: cumsum(g, axis, exclusive, not reverse),))
    return out


@register("math.cumprod", samples=_scan_samples)
def cumprod(x, axis=0, exclusive=False, reverse=False, name=None) -> Tensor:
    """Running products along `axis` (the gradient divides by x, as TensorFlow's does)."""
    x = as_tensor(x)
    axis = _scan_axis("cumprod", x, axis)
    xp = array_module(x.array)
    out = Tensor(_scan(xp, x.array, axis, exclusive, reverse,
                       lambda a, d: xp.cumprod(a, axis=d, dtype=a.dtype), 1))
    if should_record((x,)):
        def vjp(g):
            return divide(cumsum(multiply(out, g), axis, exclusive, not reverse), x)
        record((x,), out, (vjp,))
    return out


def _logsumexp_samples(rng):
    # an exclusive scan starts at -inf, which finite differences cannot difference: forward only
    x = rng.uniform(-2, 2, (3, 4))
    return [((x,), {}), ((x,), {"axis": 1, "reverse": True})]


@register("math.cumulative_logsumexp", samples=_logsumexp_samples,
          backends="NumPy, CuPy (the scan runs on the host)")
def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None) -> Tensor:
    """Running log(sum(exp(x))) along `axis`, without overflow (-inf where nothing is summed)."""
    x = as_tensor(x)
    require_float("cumulative_logsumexp", x)
    axis = _scan_axis("cumulative_logsumexp", x, axis)
    xp = array_module(x.array)
    with np.errstate(divide="ignore", invalid="ignore"):
        # CuPy's ufuncs accumulate only add and multiply: its scan runs on the host
        host = backend.to_numpy(x.array) if xp is not np else x.array
        result = _scan(np, host, axis, exclusive, reverse,
                       lambda a, d: np.logaddexp.accumulate(a, axis=d), -np.inf)
        out = Tensor(result if xp is np else xp.asarray(result))
    if should_record((x,)):
        def vjp(g):
            # TensorFlow's rule: the positive and negative parts of g, each as a log-space scan;
            # an empty part is the dtype's lowest finite value, not -inf, so that nothing
            # computes -inf - -inf (and the VJP stays differentiable)
            lowest = Tensor(xp.asarray(np.finfo(g.array.dtype).min, dtype=g.array.dtype))
            one = Tensor(xp.ones((), dtype=g.array.dtype))
            positive_part = where(greater(g, 0.0), log(where(greater(g, 0.0), g, one)), lowest)
            negative_part = where(less(g, 0.0), log(where(less(g, 0.0), negative(g), one)),
                                  lowest)
            positive = exp(cumulative_logsumexp(positive_part - out, axis, exclusive,
                                                not reverse) + x)
            negative_sum = exp(cumulative_logsumexp(negative_part - out, axis, exclusive,
                                                    not reverse) + x)
            return positive - negative_sum
        record((x,), out, (vjp,))
    return out


# --- segments ----------------------------------------------------------------------------------
_EMPTY_VALUE = {"sum": 0, "mean": 0, "sqrt_n": 0, "prod": 1}


def _segment_reduce(kind: str, data: Tensor, ids, num_segments: int, sorted_ids: bool) -> Tensor:
    """out[s] = reduction of data[i] over the i with ids[i] == s; negative ids are dropped
    (unsorted ops), empty segments get 0 (sorted max/min) or the reduction's identity."""
    xp = array_module(data.array)
    depth = ids.ndim
    rest = tuple(data.array.shape[depth:])
    keep = ids >= 0
    rows = data.array[keep] if not bool(keep.all()) else data.array.reshape((-1,) + rest)
    where_ids = ids[keep] if not bool(keep.all()) else ids.reshape(-1)
    dtype = data.array.dtype
    if sorted_ids and xp is np and where_ids.size:
        return Tensor(_sorted_segment_reduce(kind, rows, where_ids, num_segments))
    if kind in ("max", "min"):
        if sorted_ids:
            fill = 0
        else:  # TensorFlow's empty max is the lowest finite value, not -inf
            info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
            fill = info.min if kind == "max" else info.max
        result = xp.full((num_segments,) + rest, fill, dtype=dtype)
        if sorted_ids:  # empty segments stay 0: reduce into a ±inf copy first
            work = xp.full((num_segments,) + rest, -np.inf if kind == "max" else np.inf,
                           dtype=np.float64 if dtype.kind != "f" else dtype)
            _scatter_into(kind, work, (where_ids,), rows)
            counts = _counts(xp, where_ids, num_segments)
            present = (counts > 0).reshape((-1,) + (1,) * len(rest))
            result = xp.where(present, work, 0).astype(dtype)
        else:
            _scatter_into(kind, result, (where_ids,), rows)
        return Tensor(result)
    result = xp.full((num_segments,) + rest, _EMPTY_VALUE[kind], dtype=dtype)
    _scatter_into("prod" if kind == "prod" else "add", result, (where_ids,), rows)
    if kind in ("mean", "sqrt_n"):
        counts = _counts(xp, where_ids, num_segments).astype(dtype)
        counts = xp.maximum(counts, 1).reshape((-1,) + (1,) * len(rest))
        result = result / (counts if kind == "mean" else xp.sqrt(counts))
    return Tensor(result.astype(dtype))


_REDUCERS = {"sum": np.add, "mean": np.add, "sqrt_n": np.add, "prod": np.multiply,
             "max": np.maximum, "min": np.minimum}


def _sorted_segment_reduce(kind: str, rows, ids, num_segments: int):
    """Sorted ids on the CPU: each segment is one contiguous run, reduced with one
    `ufunc.reduceat` (a tenth of the time of a scatter); empty segments hold 0 (1 for prod)."""
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    reduced = _REDUCERS[kind].reduceat(rows, starts, axis=0)
    if kind == "mean":
        counts = np.diff(np.r_[starts, len(ids)]).reshape((-1,) + (1,) * (rows.ndim - 1))
        reduced = reduced / counts.astype(rows.dtype)
    result = np.full((num_segments,) + rows.shape[1:], 1 if kind == "prod" else 0,
                     dtype=rows.dtype)
    result[ids[starts]] = reduced
    return result


def _counts(xp, ids, num_segments: int):
    counts = xp.zeros((num_segments,), dtype=np.int64)
    _scatter_into("add", counts, (ids,), xp.ones(ids.shape, dtype=np.int64))
    return counts


def _gather_rows(values: Tensor, ids, data_shape) -> Tensor:
    """values[ids] with rows of negative ids zero (the inverse of dropping them)."""
    xp = array_module(values.array)
    clipped = Tensor(xp.maximum(ids, 0))
    rows = gather(values, clipped)
    if bool((ids < 0).any()):
        mask = (ids >= 0).reshape(ids.shape + (1,) * (len(data_shape) - ids.ndim))
        rows = multiply(rows, Tensor(mask.astype(values.array.dtype)))
    return rows


def _segment(kind: str, op: str, data, segment_ids, num_segments, sorted_ids: bool) -> Tensor:
    data = as_tensor(data)
    ids = integer_indices(op, segment_ids, "segment_ids")
    if kind in ("mean", "sqrt_n"):
        require_float(op, data)
    if sorted_ids and ids.ndim != 1:
        raise InvalidArgumentError(f"{op}: segment_ids must be 1-D, got shape "
                                   f"{format_shape(ids.shape)}.")
    if tuple(data.array.shape[:ids.ndim]) != tuple(ids.shape):
        raise InvalidArgumentError(f"{op}: segment_ids shape {format_shape(ids.shape)} must be a "
                                   f"prefix of data shape {format_shape(data.shape)}.")
    if sorted_ids:
        if ids.size and (int(ids.min()) < 0 or bool((ids[1:] < ids[:-1]).any())):
            raise InvalidArgumentError(f"{op}: segment_ids must be sorted and non-negative; "
                                       "use tf.math.unsorted_segment_* otherwise.")
        num_segments = int(ids[-1]) + 1 if ids.size else 0
    else:
        num_segments = int(num_segments.numpy() if isinstance(num_segments, Tensor)
                           else num_segments)
        if ids.size and int(ids.max()) >= num_segments:
            raise InvalidArgumentError(f"{op}: segment id {int(ids.max())} is out of range "
                                       f"[0, {num_segments}) (num_segments={num_segments}).")
    out = _segment_reduce(kind, data, ids, num_segments, sorted_ids)
    if should_record((data,)) and data.array.dtype.kind == "f":
        record((data,), out, (_segment_vjp(kind, data, ids, num_segments, out),))
    return out


def _segment_vjp(kind, data, ids, num_segments, out):
    shape = tuple(data.array.shape)
    xp = array_module(data.array)
    rest = (1,) * (len(shape) - ids.ndim)

    def scale(g, values):
        return _gather_rows(g, ids, shape) if values is None else \
            _gather_rows(divide(g, values), ids, shape)

    if kind == "sum":
        return lambda g: scale(g, None)
    if kind in ("mean", "sqrt_n"):
        counts = xp.maximum(_counts(xp, ids[ids >= 0], num_segments), 1).astype(data.array.dtype)
        counts = counts if kind == "mean" else xp.sqrt(counts)
        return lambda g: scale(g, Tensor(counts.reshape((-1,) + rest)))
    if kind in ("max", "min"):
        kept = Tensor(xp.broadcast_to((ids >= 0).reshape(ids.shape + rest), shape))

        def min_or_max(g):  # TensorFlow's rule: ties share the gradient equally
            chosen = cast(logical_and(equal(data, _gather_rows(out, ids, shape)), kept), g.dtype)
            number = _segment("sum", "segment", chosen, ids, num_segments, False)
            share = _gather_rows(divide(g, maximum(number, 1.0)), ids, shape)
            return multiply(share, chosen)
        return min_or_max

    ones = Tensor(xp.ones_like(data.array))

    def prod(g):  # TensorFlow's rule, exact where one entry of a segment is zero
        is_zero = equal(data, 0.0)
        zeros = _segment("sum", "segment", cast(is_zero, g.dtype), ids, num_segments, False)
        g = where(greater(zeros, 1.0), g * 0.0, g)  # two zeros: the product stays 0
        non_zero = where(is_zero, ones, data)
        non_zero_prod = _segment("prod", "segment", non_zero, ids, num_segments, False)
        partial = where(is_zero, _gather_rows(non_zero_prod, ids, shape),
                        divide(_gather_rows(out, ids, shape), non_zero))
        return multiply(_gather_rows(g, ids, shape), partial)
    return prod


def _sorted_samples(rng):
    ids = np.array([0, 0, 1, 3, 3])
    return [((rng.permutation(15).reshape(5, 3) * 0.1 + 0.5, ids), {})]


def _unsorted_samples(rng):
    ids = np.array([2, 0, -1, 1, 0])  # every segment non-empty: an empty max is -FLT_MAX
    return [((rng.permutation(15).reshape(5, 3) * 0.1 + 0.5, ids, 3), {}),
            ((rng.permutation(12).reshape(2, 3, 2) * 0.1 + 0.5, np.array([[1, 0, 1], [2, 1, 0]]),
              3), {})]


def _make_segment(kind: str, sorted_ids: bool):
    if sorted_ids:
        def op(data, segment_ids, name=None) -> Tensor:
            return _segment(kind, f"segment_{kind}", data, segment_ids, None, True)
        op.__name__ = f"segment_{kind}"
        op.__doc__ = (f"The {kind} of `data`'s rows per segment; `segment_ids` sorted, one per "
                      "row (empty segments give 0).")
    else:
        def op(data, segment_ids, num_segments, name=None) -> Tensor:
            return _segment(kind, f"unsorted_segment_{kind}", data, segment_ids, num_segments,
                            False)
        op.__name__ = f"unsorted_segment_{kind}"
        op.__doc__ = (f"The {kind} of `data`'s entries per segment id (any order, negative ids "
                      "dropped); `segment_ids`' shape is a prefix of `data`'s.")
    op.__qualname__ = op.__name__
    backends = "NumPy, CuPy (the scatter-multiply runs on the host)" if kind == "prod" else \
        "NumPy, CuPy"
    return register(f"math.{op.__name__}", samples=_sorted_samples if sorted_ids
                    else _unsorted_samples, grad_arguments=(0,), backends=backends)(op)


segment_sum = _make_segment("sum", True)
segment_mean = _make_segment("mean", True)
segment_max = _make_segment("max", True)
segment_min = _make_segment("min", True)
segment_prod = _make_segment("prod", True)
unsorted_segment_sum = _make_segment("sum", False)
unsorted_segment_mean = _make_segment("mean", False)
unsorted_segment_sqrt_n = _make_segment("sqrt_n", False)
unsorted_segment_max = _make_segment("max", False)
unsorted_segment_min = _make_segment("min", False)
unsorted_segment_prod = _make_segment("prod", False)


@register("math.confusion_matrix", differentiable=False)
def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype="int32",
                     name=None) -> Tensor:
    """counts[i, j]: how often label i was predicted as j (weighted by `weights`)."""
    labels = integer_indices("confusion_matrix", labels, "labels").reshape(-1)
    predictions = integer_indices("confusion_matrix", predictions, "predictions").reshape(-1)
    if labels.shape != predictions.shape:
        raise InvalidArgumentError(f"confusion_matrix: labels ({labels.size}) and predictions "
                                   f"({predictions.size}) must have the same number of entries.")
    xp = array_module(labels)
    if labels.size and (int(labels.min()) < 0 or int(predictions.min()) < 0):
        raise InvalidArgumentError("confusion_matrix: labels and predictions must be "
                                   "non-negative.")
    if num_classes is None:
        num_classes = max(int(labels.max()), int(predictions.max())) + 1 if labels.size else 0
    num_classes = int(num_classes)
    if labels.size and max(int(labels.max()), int(predictions.max())) >= num_classes:
        raise InvalidArgumentError(f"confusion_matrix: labels and predictions must be < "
                                   f"num_classes ({num_classes}).")
    out_dtype = _dtypes.numpy_dtype(dtype)
    values = xp.ones(labels.shape, dtype=out_dtype) if weights is None else \
        as_tensor(weights).array.reshape(-1).astype(out_dtype)
    result = xp.zeros((num_classes, num_classes), dtype=out_dtype)
    _scatter_into("add", result, (labels, predictions), values)
    return Tensor(result)

