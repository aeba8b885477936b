"""Indexing with TensorFlow's signatures: gather_nd, scatter_nd and tensor_scatter_nd_*, slice,
strided_slice, boolean_mask, reverse, roll, repeat, pad, meshgrid, shape/rank/size.

Most of these are compositions of `getitem` (Python indexing), whose VJP scatters the gradient
back with one `add.at`: they need no gradient code of their own. The scatters carry their own
VJPs, written with ops (TensorFlow's rules).
"""

from __future__ import annotations

import builtins

import numpy as np

from ..errors import IndexOutOfRangeError, InvalidArgumentError
from .math import cast, divide, equal, multiply, negative
from .registry import (
    Tensor,
    array_module,
    as_tensor,
    binary_operands,
    check_axes,
    check_axis,
    format_shape,
    record,
    register,
    should_record,
)
from .shapes import _scatter_into, _shape_tuple, broadcast_to, gather, getitem, reshape


def integer_indices(op: str, indices, what: str = "indices"):
    """The backend array of integer indices, or a TypeError naming the dtype that came."""
    indices = as_tensor(indices)
    if indices.array.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be int32 or int64, got {indices.dtype.name} "
                        f"(shape {format_shape(indices.shape)}); cast with tf.cast(x, tf.int32).")
    return indices.array


def _nd_index(op: str, indices, shape: tuple, first: int = 0) -> tuple:
    """The advanced-index tuple of `indices[..., K]` into dims first..first+K of `shape`, with
    TensorFlow's CPU check: every index in range (no negative wrapping)."""
    depth = indices.shape[-1] if indices.ndim else 0
    if indices.ndim == 0 or depth > len(shape) - first:
        raise InvalidArgumentError(
            f"{op}: the last dimension of indices (shape {format_shape(indices.shape)}) must be "
            f"at most the rank {len(shape) - first} of the indexed tensor "
            f"(shape {format_shape(shape[first:])}).")
    columns = []
    for k in range(depth):
        column = indices[..., k]
        size = shape[first + k]
        if column.size and (int(column.min()) < 0 or int(column.max()) >= size):
            bad = column[(column < 0) | (column >= size)].ravel()
            raise IndexOutOfRangeError(
                f"{op}: index {int(bad[0])} in indices[..., {k}] is out of range: dimension "
                f"{first + k} of shape {format_shape(shape)} has size {size} (expected indices "
                f"in [0, {size})).")
        columns.append(column)
    return tuple(columns)


def _batch_prefix(xp, indices, batch_dims: int) -> tuple:
    """arange index arrays for the leading batch dims, broadcasting against `indices[..., 0]`."""
    shape = indices.shape[:-1]
    prefix = []
    for d in range(batch_dims):
        view = [1] * len(shape)
        view[d] = shape[d]
        prefix.append(xp.arange(shape[d]).reshape(view))
    return tuple(prefix)


# --- gather_nd / scatter_nd -----------------------------------------------------------------
def _gather_nd_samples(rng):
    return [((rng.uniform(-1, 1, (4, 3)), np.array([[3, 1], [0, 2], [3, 1]])), {}),
            ((rng.uniform(-1, 1, (4, 3, 2)), np.array([[1], [0]])), {}),
            ((rng.uniform(-1, 1, (2, 3, 2)), np.array([[1], [2]])), {"batch_dims": 1})]


@register("gather_nd", samples=_gather_nd_samples, grad_arguments=(0,))
def gather_nd(params, indices, batch_dims=0, name=None) -> Tensor:
    """Slices of `params` at the index vectors in the last dimension of `indices`.

    >>> import tensorflowish as tf
    >>> tf.gather_nd([[1, 2], [3, 4]], [[1, 0], [0, 1]]).numpy().tolist()
    [3, 2]
    """
    params = as_tensor(params)
    indices = integer_indices("gather_nd", indices)
    batch_dims = int(batch_dims)
    if batch_dims < 0 or batch_dims >= indices.ndim or batch_dims > params.array.ndim:
        raise InvalidArgumentError(f"gather_nd: batch_dims={batch_dims} must be in [0, rank of "
                                   f"indices ({indices.ndim})).")
    if indices.shape[:batch_dims] != params.array.shape[:batch_dims]:
        raise InvalidArgumentError(f"gather_nd: the first {batch_dims} dimensions of params "
                                   f"{format_shape(params.shape)} and indices "
                                   f"{format_shape(indices.shape)} must match (batch_dims).")
    columns = _nd_index("gather_nd", indices, params.array.shape, batch_dims)
    xp = array_module(indices)
    return getitem(params, _batch_prefix(xp, indices, batch_dims) + columns)


def _check_updates(op: str, indices, updates: Tensor, shape: tuple) -> None:
    expected = tuple(indices.shape[:-1]) + tuple(shape[indices.shape[-1]:])
    if tuple(updates.array.shape) != expected:
        raise InvalidArgumentError(
            f"{op}: updates must have shape indices.shape[:-1] + shape[indices.shape[-1]:] = "
            f"{format_shape(expected)}, got {format_shape(updates.shape)} (indices "
            f"{format_shape(indices.shape)}, shape {format_shape(shape)}).")


@register("scatter_nd", samples=lambda rng: [
    ((np.array([[4], [3], [1], [4]]), rng.uniform(-1, 1, (4, 3)), [6, 3]), {}),
    ((np.array([[0, 1], [2, 2]]), rng.uniform(-1, 1, (2,)), [3, 3]), {})], grad_arguments=(1,))
def scatter_nd(indices, updates, shape, name=None) -> Tensor:
    """Zeros of `shape` with `updates` added at `indices` (repeated indices sum).

    >>> import tensorflowish as tf
    >>> tf.scatter_nd([[1], [3]], [9, 10], [5]).numpy().tolist()
    [0, 9, 0, 10, 0]
    """
    updates = as_tensor(updates)
    indices_array = integer_indices("scatter_nd", indices)
    shape = _shape_tuple(shape)
    index = _nd_index("scatter_nd", indices_array, shape)
    _check_updates("scatter_nd", indices_array, updates, shape)
    result = array_module(updates.array).zeros(shape, dtype=updates.array.dtype)
    _scatter_into("add", result, index, updates.array)
    out = Tensor(result)
    if should_record((updates,)):
        record((updates,), out, (lambda g: gather_nd(g, indices_array),))
    return out


def _scatter_samples(rng):
    indices = np.array([[2], [0], [3]])
    return [((rng.uniform(-1, 1, (4, 3)), indices, rng.uniform(-1, 1, (3, 3))), {}),
            ((rng.uniform(-1, 1, (3, 3)), np.array([[0, 1], [2, 0]]), rng.uniform(-1, 1, (2,))),
             {})]


def _tensor_scatter(kind: str, tensor, indices, updates) -> Tensor:
    op = f"tensor_scatter_nd_{kind}"
    tensor, updates = binary_operands(tensor, updates, op)
    indices_array = integer_indices(op, indices)
    shape = tuple(tensor.array.shape)
    index = _nd_index(op, indices_array, shape)
    _check_updates(op, indices_array, updates, shape)
    result = tensor.array.copy()
    _scatter_into({"sub": "add"}.get(kind, kind), result, index,
                  -updates.array if kind == "sub" else updates.array)
    out = Tensor(result)
    if should_record((tensor, updates)):
        record((tensor, updates), out, _scatter_vjps(kind, tensor, indices_array, updates, out))
    return out


def _scatter_vjps(kind, tensor, indices, updates, out):
    if kind == "add":
        return (lambda g: g, lambda g: gather_nd(g, indices))
    if kind == "sub":
        return (lambda g: g, lambda g: negative(gather_nd(g, indices)))
    if kind == "update":
        def tensor_vjp(g):
            return tensor_scatter_nd_update(g, indices, Tensor(
                array_module(g.array).zeros(updates.array.shape, dtype=g.array.dtype)))
        return (tensor_vjp, lambda g: gather_nd(g, indices))

    def min_or_max(g):  # TensorFlow's _TensorScatterMinOrMaxGrad: ties share the gradient
        tensor_chosen = cast(equal(tensor, out), g.dtype)
        updates_chosen = cast(equal(updates, gather_nd(out, indices)), g.dtype)
        chosen = tensor_chosen + scatter_nd(indices, updates_chosen, tensor.array.shape)
        share = divide(g, chosen)
        return multiply(share, tensor_chosen), multiply(gather_nd(share, indices), updates_chosen)
    return (lambda g: min_or_max(g)[0], lambda g: min_or_max(g)[1])


def _make_tensor_scatter(kind: str, doc: str):
    def op(tensor, indices, updates, name=None) -> Tensor:
        return _tensor_scatter(kind, tensor, indices, updates)
    op.__name__ = op.__qualname__ = f"tensor_scatter_nd_{kind}"
    op.__doc__ = doc
    return register(op.__name__, samples=_scatter_samples, grad_arguments=(0, 2))(op)


tensor_scatter_nd_update = _make_tensor_scatter(
    "update", "A copy of `tensor` with `updates` written at `indices` (a new tensor).")
tensor_scatter_nd_add = _make_tensor_scatter(
    "add", "A copy of `tensor` with `updates` added at `indices` (repeats accumulate).")
tensor_scatter_nd_sub = _make_tensor_scatter(
    "sub", "A copy of `tensor` with `updates` subtracted at `indices`.")
tensor_scatter_nd_min = _make_tensor_scatter(
    "min", "A copy of `tensor` with the minimum of it and `updates` at `indices`.")
tensor_scatter_nd_max = _make_tensor_scatter(
    "max", "A copy of `tensor` with the maximum of it and `updates` at `indices`.")


# --- slicing ---------------------------------------------------------------------------------
_python_slice = builtins.slice  # `slice` below is TensorFlow's op


def _int_list(value) -> list:
    if isinstance(value, Tensor):
        value = value.numpy()
    return [int(v) for v in np.asarray(value).reshape(-1)]


@register("slice", samples=lambda rng: [((rng.uniform(-1, 1, (4, 5)), [1, 0], [2, -1]), {})],
          grad_arguments=(0,))
def slice(input_, begin, size, name=None) -> Tensor:  # noqa: A001
    """The block of `size` starting at `begin` (a size of -1 takes the rest of that dimension)."""
    x = as_tensor(input_)
    begin, size = _int_list(begin), _int_list(size)
    shape = x.array.shape
    if len(begin) != len(shape) or len(size) != len(shape):
        raise InvalidArgumentError(f"slice: begin {begin} and size {size} need one entry per "
                                   f"dimension of shape {format_shape(shape)}.")
    index = []
    for d, (b, s, n) in enumerate(zip(begin, size, shape)):
        stop = n if s == -1 else b + s
        if b < 0 or s < -1 or stop > n:
            raise InvalidArgumentError(
                f"slice: dimension {d} of shape {format_shape(shape)}: begin {b} and size {s} "
                f"must satisfy 0 <= begin <= begin + size <= {n} (size -1 for the rest).")
        index.append(_python_slice(b, stop))
    return getitem(x, tuple(index))


def _strided_samples(rng):
    x = rng.uniform(-1, 1, (4, 5, 3))
    return [((x, [1, -1, 0], [3, 0, 2], [1, -2, 1]), {}),
            ((x, [0, 2], [0, 4]), {"begin_mask": 1, "end_mask": 1, "shrink_axis_mask": 0}),
            ((x, [1, 0], [2, 0]), {"shrink_axis_mask": 1, "new_axis_mask": 2}),
            ((x, [0, 1], [0, 3]), {"ellipsis_mask": 1})]


@register("strided_slice", samples=_strided_samples, grad_arguments=(0,))
def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None) -> Tensor:
    """TensorFlow's strided slice: `begin`, `end`, `strides` and the five bit masks (bit i
    applies to entry i of the specification), as `x[b0:e0:s0, ...]` would be written in Python.

    >>> import tensorflowish as tf
    >>> x = tf.reshape(tf.range(12), [3, 4])
    >>> tf.strided_slice(x, [0, 3], [2, 0], [1, -1]).numpy().tolist()
    [[3, 2, 1], [7, 6, 5]]
    """
    x = as_tensor(input_)
    begin, end = _int_list(begin), _int_list(end)
    strides = [1] * len(begin) if strides is None else _int_list(strides)
    index = strided_slice_index(begin, end, strides, begin_mask, end_mask, ellipsis_mask,
                                new_axis_mask, shrink_axis_mask)
    return getitem(x, index)


def strided_slice_index(begin: list, end: list, strides: list, begin_mask=0, end_mask=0,
                        ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0) -> tuple:
    """The Python index `x[b0:e0:s0, ...]` a strided slice's specification and bit masks stand
    for (bit i applies to entry i); InvalidArgumentError for a specification TensorFlow
    refuses."""
    if not len(begin) == len(end) == len(strides):
        raise InvalidArgumentError(f"strided_slice: begin {begin}, end {end} and strides "
                                   f"{strides} must have the same length.")
    if bin(int(ellipsis_mask)).count("1") > 1:
        raise InvalidArgumentError("strided_slice: at most one ellipsis is allowed "
                                   f"(ellipsis_mask={ellipsis_mask}).")
    index = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ellipsis_mask & bit:
            index.append(Ellipsis)
        elif new_axis_mask & bit:
            index.append(None)
        elif shrink_axis_mask & bit:
            index.append(b)
        else:
            if s == 0:
                raise InvalidArgumentError(f"strided_slice: stride {i} is 0; strides must be "
                                           "non-zero.")
            index.append(_python_slice(None if begin_mask & bit else b,
                                       None if end_mask & bit else e, s))
    return tuple(index)


# --- masks and reordering ----------------------------------------------------------------------
@register("boolean_mask", samples=lambda rng: [
    ((rng.uniform(-1, 1, (4, 3)), np.array([True, False, True, True])), {}),
    ((rng.uniform(-1, 1, (2, 3, 2)), np.array([[True, False, True], [False, True, True]])), {}),
    ((rng.uniform(-1, 1, (2, 3)), np.array([False, True, True])), {"axis": 1})],
    grad_arguments=(0,))
def boolean_mask(tensor, mask, axis=None, name=None) -> Tensor:
    """The entries of `tensor` where `mask` is True; `mask` covers dims axis..axis+mask.ndim.

    >>> import tensorflowish as tf
    >>> tf.boolean_mask([1, 2, 3, 4], [True, False, True, False]).numpy().tolist()
    [1, 3]
    """
    tensor, mask = as_tensor(tensor), as_tensor(mask)
    if mask.array.dtype != np.bool_:
        raise TypeError(f"boolean_mask: mask must be bool, got {mask.dtype.name}.")
    shape, depth = tensor.array.shape, mask.array.ndim
    if depth == 0:
        raise InvalidArgumentError("boolean_mask: mask cannot be a scalar.")
    axis = 0 if axis is None else check_axis("boolean_mask", axis, len(shape))
    if shape[axis:axis + depth] != mask.array.shape:
        raise InvalidArgumentError(
            f"boolean_mask: mask shape {format_shape(mask.shape)} must match dimensions "
            f"{axis}..{axis + depth - 1} of the tensor's shape {format_shape(shape)}.")
    flat = reshape(tensor, shape[:axis] + (-1,) + shape[axis + depth:]) if depth > 1 else tensor
    positions = array_module(mask.array).flatnonzero(mask.array)
    return getitem(flat, (_python_slice(None),) * axis + (positions,))


@register("reverse", samples=lambda rng: [((rng.uniform(-1, 1, (3, 4)), [1]), {}),
                                           ((rng.uniform(-1, 1, (2, 3, 4)), [0, -1]), {})],
          grad_arguments=(0,))
def reverse(tensor, axis, name=None) -> Tensor:
    """The tensor with the order of entries along each of `axis` reversed."""
    x = as_tensor(tensor)
    axes = check_axes("reverse", _int_list(axis), x.array.ndim)
    flipped = _python_slice(None, None, -1)
    return getitem(x, tuple(flipped if d in axes else _python_slice(None)
                            for d in range(x.array.ndim)))


@register("roll", samples=lambda rng: [
    ((rng.uniform(-1, 1, (3, 4)), 1, 0), {}),
    ((rng.uniform(-1, 1, (3, 4)), [2, -1], [1, 0]), {})], grad_arguments=(0,))
def roll(input, shift, axis, name=None) -> Tensor:  # noqa: A002
    """Entries shifted cyclically by `shift` along `axis` (both may be lists)."""
    x = as_tensor(input)
    shifts, axes = _int_list(shift), _int_list(axis)
    if len(shifts) != len(axes):
        raise InvalidArgumentError(f"roll: shift {shifts} and axis {axes} must have the same "
                                   "length.")
    axes = [check_axis("roll", a, x.array.ndim) for a in axes]
    out = Tensor(array_module(x.array).roll(x.array, shifts, axes))
    if should_record((x,)):
        record((x,), out, (lambda g: roll(g, [-s for s in shifts], axes),))
    return out


@register("repeat", samples=lambda rng: [((rng.uniform(-1, 1, (3, 2)), [2, 0, 1]), {"axis": 0}),
                                          ((rng.uniform(-1, 1, (2, 2)), 2), {})],
          grad_arguments=(0,))
def repeat(input, repeats, axis=None, name=None) -> Tensor:  # noqa: A002
    """Each entry repeated `repeats` times along `axis` (flattened first when axis is None)."""
    x = as_tensor(input)
    if axis is None:
        x, axis = reshape(x, [-1]), 0
    axis = check_axis("repeat", axis, x.array.ndim)
    counts = _int_list(repeats)
    size = x.array.shape[axis]
    if len(counts) not in (1, size) or min(counts, default=0) < 0:
        raise InvalidArgumentError(f"repeat: repeats {counts} must be one non-negative count or "
                                   f"one per entry of axis {axis} (size {size}).")
    positions = np.repeat(np.arange(size), counts if len(counts) == size else counts[0])
    xp = array_module(x.array)
    return gather(x, Tensor(xp.asarray(positions.astype(np.int64))), axis=axis)


# --- pad ---------------------------------------------------------------------------------------
def _pad_samples(rng):
    x = rng.uniform(-1, 1, (3, 4))
    return [((x, [[1, 2], [0, 1]]), {}),
            ((x, [[2, 1], [3, 0]]), {"mode": "REFLECT"}),
            ((x, [[3, 1], [4, 2]]), {"mode": "symmetric"})]


def _pad_positions(mode: str, size: int, before: int, after: int) -> np.ndarray:
    """Source positions of every padded entry along one axis (REFLECT and SYMMETRIC)."""
    positions = np.arange(-before, size + after)
    if mode == "REFLECT":
        period = 2 * (size - 1) if size > 1 else 1
        positions = np.abs(positions) % period
        return np.where(positions >= size, period - positions, positions)
    period = 2 * size
    positions = positions % period
    return np.where(positions >= size, period - 1 - positions, positions)


@register("pad", samples=_pad_samples, grad_arguments=(0,))
def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None) -> Tensor:
    """Pad each dimension by `paddings[d] = [before, after]` entries: CONSTANT (with
    `constant_values`), REFLECT (edge not repeated) or SYMMETRIC (edge repeated)."""
    x = as_tensor(tensor)
    pairs = np.asarray(paddings.numpy() if isinstance(paddings, Tensor) else paddings)
    rank = x.array.ndim
    if pairs.shape != (rank, 2):
        raise InvalidArgumentError(f"pad: paddings must have shape [{rank}, 2] for a tensor of "
                                   f"shape {format_shape(x.shape)}, got {list(pairs.shape)}.")
    pairs = [(int(b), int(a)) for b, a in pairs]
    if any(b < 0 or a < 0 for b, a in pairs):
        raise InvalidArgumentError(f"pad: paddings must be non-negative, got {pairs}.")
    mode = str(mode).upper()
    xp = array_module(x.array)
    if mode == "CONSTANT":
        value = binary_operands(x, constant_values, "pad")[1]
        out = Tensor(xp.pad(x.array, pairs, constant_values=value.array.reshape(()).item()))
        if should_record((x,)):
            inside = tuple(_python_slice(b, b + n) for (b, _), n in zip(pairs, x.array.shape))
            record((x,), out, (lambda g: getitem(g, inside),))
        return out
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise InvalidArgumentError(f"pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got "
                                   f"{mode!r}.")
    for d, ((b, a), n) in enumerate(zip(pairs, x.array.shape)):
        limit = n - 1 if mode == "REFLECT" else n
        if b > limit or a > limit:
            raise InvalidArgumentError(f"pad: {mode} padding of dimension {d} (size {n}) must be "
                                       f"at most {limit}, got {[b, a]}.")
    for d, ((b, a), n) in enumerate(zip(pairs, x.array.shape)):
        if b or a:
            positions = xp.asarray(_pad_positions(mode, n, b, a))
            x = getitem(x, (_python_slice(None),) * d + (positions,))
    return x


# --- grids and shapes -------------------------------------------------------------------------
@register("meshgrid", samples=lambda rng: [((rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 2)), {}),
                                            ((rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 3)),
                                             {"indexing": "ij"})])
def meshgrid(*args, **kwargs) -> list:
    """Coordinate grids from 1-D tensors; `indexing="xy"` (default) swaps the first two axes.

    >>> import tensorflowish as tf
    >>> [g.shape for g in tf.meshgrid([1, 2, 3], [4, 5])]
    [TensorShape([2, 3]), TensorShape([2, 3])]
    """
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"meshgrid: unexpected arguments {sorted(kwargs)}.")
    if indexing not in ("xy", "ij"):
        raise InvalidArgumentError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    vectors = [reshape(as_tensor(a), [-1]) for a in args]
    sizes = [v.array.shape[0] for v in vectors]
    if indexing == "xy" and len(vectors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for i, v in enumerate(vectors):
        position = 1 - i if indexing == "xy" and len(vectors) >= 2 and i < 2 else i
        view = [1] * len(vectors)
        view[position] = v.array.shape[0]
        grids.append(broadcast_to(reshape(v, view), sizes))
    return grids


@register("shape", differentiable=False)
def shape(input, out_type="int32", name=None) -> Tensor:  # noqa: A002
    """The shape of a tensor as a 1-D integer tensor (int32 by default)."""
    from ..tensor import constant

    return constant(list(as_tensor(input).shape), dtype=out_type)


@register("size", differentiable=False)
def size(input, out_type="int32", name=None) -> Tensor:  # noqa: A002
    """The number of elements as a scalar integer tensor."""
    from ..tensor import constant

    return constant(int(as_tensor(input).array.size), dtype=out_type)


@register("rank", differentiable=False)
def rank(input, name=None) -> Tensor:  # noqa: A002
    """The number of dimensions as a scalar int32 tensor."""
    from ..tensor import constant

    return constant(as_tensor(input).array.ndim, dtype="int32")
