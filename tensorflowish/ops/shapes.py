"""Ops that move values around without arithmetic: reshape, transpose, slicing, concat, gather,
device moves, identity and stop_gradient."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import IndexOutOfRangeError
from ..tensor import Variable
from ..tensor import shape_tuple as _shape_tuple
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    check_axes,
    check_axis,
    check_same_device,
    format_shape,
    record,
    register,
    should_record,
    unbroadcast,
)


@register("reshape", samples=lambda rng: [((rng.uniform(-1, 1, (3, 4)), (2, 6)), {}),
                                           ((rng.uniform(-1, 1, (3, 4)), [-1]), {})],
          grad_arguments=(0,))
def reshape(tensor, shape, name=None) -> Tensor:
    """Same values, new shape; one dimension may be -1."""
    tensor = as_tensor(tensor)
    shape = _shape_tuple(shape)
    try:
        out = Tensor(tensor.array.reshape(shape))
    except ValueError:
        raise InvalidArgumentError(f"reshape: cannot reshape a tensor of shape "
                         f"{format_shape(tensor.array.shape)} ({tensor.array.size} elements) "
                         f"into {format_shape(shape)}.") from None
    if should_record((tensor,)):
        original = tensor.array.shape
        record((tensor,), out, (lambda g: reshape(g, original),))
    return out


@register("transpose", "linalg.transpose",
          samples=lambda rng: [((rng.uniform(-1, 1, (3, 4)),), {}),
                               ((rng.uniform(-1, 1, (2, 3, 4)), (1, 2, 0)), {})],
          grad_arguments=(0,))
def transpose(a, perm=None, conjugate=False, name=None) -> Tensor:
    """Permute axes (reverse them when perm is None)."""
    a = as_tensor(a)
    if perm is None:
        perm = tuple(reversed(range(a.array.ndim)))
    perm = tuple(int(p) for p in perm)
    if sorted(p % max(a.array.ndim, 1) for p in perm) != list(range(a.array.ndim)):
        raise InvalidArgumentError(f"transpose: perm {list(perm)} is not a permutation of the "
                         f"{a.array.ndim} axes of shape {format_shape(a.array.shape)}.")
    out = Tensor(a.array.transpose(perm))
    if should_record((a,)):
        inverse = tuple(np.argsort(perm))
        record((a,), out, (lambda g: transpose(g, inverse),))
    return out


@register("expand_dims", samples=lambda rng: [((rng.uniform(-1, 1, (3, 4)), 1), {})],
          grad_arguments=(0,))
def expand_dims(input, axis, name=None) -> Tensor:  # noqa: A002
    """Insert a dimension of size 1 at `axis`."""
    x = as_tensor(input)
    axis = check_axis("expand_dims", axis, x.array.ndim + 1)  # an axis of the result
    return reshape(x, x.array.shape[:axis] + (1,) + x.array.shape[axis:])


@register("squeeze", samples=lambda rng: [((rng.uniform(-1, 1, (3, 1, 4, 1)),), {}),
                                           ((rng.uniform(-1, 1, (3, 1, 4, 1)), [1]), {})],
          grad_arguments=(0,))
def squeeze(input, axis=None, name=None) -> Tensor:  # noqa: A002
    """Remove dimensions of size 1 (all of them, or those in `axis`)."""
    x = as_tensor(input)
    shape = x.array.shape
    if axis is None:
        new_shape = tuple(s for s in shape if s != 1)
    else:
        axes = set(check_axes("squeeze", axis, len(shape)))
        for a in axes:
            if shape[a] != 1:
                raise InvalidArgumentError(f"squeeze: cannot squeeze axis {a} of shape "
                                 f"{format_shape(shape)}: its size is {shape[a]}, not 1.")
        new_shape = tuple(s for i, s in enumerate(shape) if i not in axes)
    return reshape(x, new_shape)


@register("broadcast_to", samples=lambda rng: [((rng.uniform(-1, 1, (3, 1)), (2, 3, 4)), {})],
          grad_arguments=(0,))
def broadcast_to(input, shape, name=None) -> Tensor:  # noqa: A002
    """Repeat along dimensions of size 1 (and new leading ones) to reach `shape`."""
    x = as_tensor(input)
    shape = _shape_tuple(shape)
    if x.array.shape == shape:
        return snapshot(x)
    try:
        out = Tensor(array_module(x.array).broadcast_to(x.array, shape))
    except ValueError:
        raise InvalidArgumentError(
            f"broadcast_to: cannot broadcast {format_shape(x.array.shape)} to "
                         f"{format_shape(shape)}.") from None
    if should_record((x,)):
        original = x.array.shape
        record((x,), out, (lambda g: unbroadcast(g, original),))
    return out


@register("concat", samples=lambda rng: [(([rng.uniform(-1, 1, (2, 3)),
                                            rng.uniform(-1, 1, (4, 3))], 0), {}),
                                          (([rng.uniform(-1, 1, (2, 3)),
                                             rng.uniform(-1, 1, (2, 1))], -1), {})],
          grad_arguments=(0,))
def concat(values, axis, name=None) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = [as_tensor(v) for v in values]
    if not tensors:
        raise InvalidArgumentError("concat: needs at least one tensor.")
    first = tensors[0]
    check_same_device("concat", *tensors)
    ndim = first.array.ndim
    axis = check_axis("concat", axis, ndim)
    for t in tensors[1:]:
        if t.array.dtype != first.array.dtype:
            raise TypeError(f"concat: dtypes differ: {first.dtype.name} and {t.dtype.name}.")
        if t.array.ndim != ndim or any(
                a != b for i, (a, b) in enumerate(zip(t.array.shape, first.array.shape))
                if i != axis):
            raise InvalidArgumentError(f"concat: shapes {format_shape(first.array.shape)} and "
                             f"{format_shape(t.array.shape)} differ outside axis {axis}.")
    out = Tensor(array_module(first.array).concatenate([t.array for t in tensors], axis=axis))
    if should_record(tensors):
        bounds = np.cumsum([0] + [t.array.shape[axis] for t in tensors])

        def slicer(start, stop):
            index = (slice(None),) * axis + (slice(int(start), int(stop)),)
            return lambda g: g[index]
        record(tuple(tensors), out, tuple(slicer(bounds[i], bounds[i + 1])
                                          for i in range(len(tensors))))
    return out


@register("stack", samples=lambda rng: [(([rng.uniform(-1, 1, (2, 3)),
                                           rng.uniform(-1, 1, (2, 3))],), {"axis": 1})],
          grad_arguments=(0,))
def stack(values, axis=0, name=None) -> Tensor:
    """Join tensors of one shape along a new axis (composed: expand_dims + concat)."""
    tensors = [as_tensor(v) for v in values]
    if not tensors:
        raise InvalidArgumentError("stack: needs at least one tensor.")
    for t in tensors[1:]:
        if t.array.shape != tensors[0].array.shape:
            raise InvalidArgumentError(f"stack: all shapes must match, got "
                             f"{format_shape(tensors[0].array.shape)} and "
                             f"{format_shape(t.array.shape)}.")
    axis = check_axis("stack", axis, tensors[0].array.ndim + 1)  # an axis of the result
    return concat([expand_dims(t, axis) for t in tensors], axis)


@register("unstack", samples=lambda rng: [((rng.uniform(-1, 1, (3, 2)),), {}),
                                           ((rng.uniform(-1, 1, (2, 3, 2)),), {"axis": -2})],
          grad_arguments=(0,))
def unstack(value, num=None, axis=0, name=None) -> list:
    """Split along `axis` into a list of tensors with that axis removed."""
    from ..errors import InvalidArgumentError, check_axis

    x = as_tensor(value)
    axis = check_axis("unstack", axis, x.array.ndim)
    if num is not None and int(num) != x.array.shape[axis]:
        raise InvalidArgumentError(f"unstack: num={num} but axis {axis} of shape "
                                   f"{format_shape(x.shape)} has size {x.array.shape[axis]}.")
    return [x[(slice(None),) * axis + (i,)] for i in range(x.array.shape[axis])]


@register("split", samples=lambda rng: [((rng.uniform(-1, 1, (4, 3)), 2), {}),
                                         ((rng.uniform(-1, 1, (2, 6)), [1, -1, 2]), {"axis": 1})],
          grad_arguments=(0,))
def split(value, num_or_size_splits, axis=0, num=None, name=None) -> list:
    """Split along `axis` into equal parts, or parts of the given sizes (one may be -1: the
    rest)."""
    from ..errors import InvalidArgumentError, check_axis

    x = as_tensor(value)
    axis = check_axis("split", axis, x.array.ndim)
    size = x.array.shape[axis]
    if isinstance(num_or_size_splits, Tensor):
        num_or_size_splits = num_or_size_splits.numpy().tolist()
    if isinstance(num_or_size_splits, (int, np.integer)):
        parts = int(num_or_size_splits)
        if parts <= 0 or size % parts:
            raise InvalidArgumentError(f"split: dimension {axis} of size {size} does not divide "
                                       f"into {parts} equal parts.")
        sizes = [size // parts] * parts
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise InvalidArgumentError(f"split: sizes {sizes} may hold at most one -1 and no "
                                       "other negative size.")
        if -1 in sizes:
            sizes[sizes.index(-1)] = size - (sum(sizes) + 1)
        if sum(sizes) != size or min(sizes, default=0) < 0:
            raise InvalidArgumentError(f"split: sizes {sizes} do not add up to dimension {axis} "
                                       f"of shape {format_shape(x.shape)} ({size}).")
    bounds = np.cumsum([0] + sizes)
    return [x[(slice(None),) * axis + (slice(int(bounds[i]), int(bounds[i + 1])),)]
            for i in range(len(sizes))]


def _normalize_index(index):
    """Tensors inside an index become backend arrays (bool masks and integer arrays)."""
    if isinstance(index, tuple):
        return tuple(_normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


@register("Tensor.__getitem__", samples=lambda rng: [((rng.uniform(-1, 1, (4, 5)),
                                                  (slice(1, 3), slice(None, None, 2))), {}),
                                                 ((rng.uniform(-1, 1, (4, 5)), ([0, 2, 0],)), {})],
          grad_arguments=(0,))
def getitem(tensor, index) -> Tensor:
    """`tensor[index]`: slices, integers, None/Ellipsis, integer arrays and bool masks."""
    tensor = as_tensor(tensor)
    index = _normalize_index(index)
    try:
        out = Tensor(tensor.array[index])
    except IndexError as error:
        raise IndexOutOfRangeError(f"Index {index!r} is out of range for a tensor of shape "
                         f"{format_shape(tensor.array.shape)}: {error}") from None
    if should_record((tensor,)):
        record((tensor,), out, (lambda g: _scatter_into_zeros(g, index, tensor.array.shape,
                                                              tensor.array.dtype),))
    return out


def _scatter_into(kind: str, target, index: tuple, updates) -> None:
    """target[index] (op)= updates in place, repeated indices accumulating (numpy or cupy)."""
    xp = array_module(target)
    if kind == "update":
        target[index] = updates
    elif xp is np:
        {"add": np.add, "min": np.minimum, "max": np.maximum,
         "prod": np.multiply}[kind].at(target, index, updates)
    else:
        import cupyx

        if kind == "prod":  # CuPy has no scatter-multiply: done on the host
            host = backend.to_numpy(target)
            np.multiply.at(host, tuple(backend.to_numpy(i) for i in index),
                           backend.to_numpy(updates))
            target[...] = xp.asarray(host)
        else:
            {"add": cupyx.scatter_add, "min": cupyx.scatter_min,
             "max": cupyx.scatter_max}[kind](target, index, updates)


def _scatter_into_zeros(g: Tensor, index, shape, dtype) -> Tensor:
    """The VJP of getitem: g placed at `index` in zeros (added where indices repeat)."""
    result = array_module(g.array).zeros(shape, dtype=dtype)
    _scatter_into("update" if _is_basic(index) else "add", result, index, g.array)
    out = Tensor(result)
    if should_record((g,)):
        record((g,), out, (lambda gg: getitem(gg, index),))
    return out


def _gather_samples(rng):
    return [((rng.uniform(-1, 1, (5, 3)), np.array([4, 0, 2, 0])), {}),
            ((rng.uniform(-1, 1, (3, 5)), np.array([[1, 1], [4, 0]])), {"axis": 1}),
            ((rng.uniform(-1, 1, (2, 3, 4)), np.array([[2, 0], [1, 1]])),
             {"axis": 2, "batch_dims": 1})]


def check_gather_indices(indices, shape: tuple, axis: int) -> None:
    """Every index of the integer array `indices` in [0, shape[axis]) (gather's, and a replay
    plan's check at each call)."""
    from ..errors import IndexOutOfRangeError

    size = shape[axis]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= size):
        raise IndexOutOfRangeError(
            f"gather: indices must be in [0, {size}) for axis {axis} of shape "
            f"{format_shape(shape)}; got values from {int(indices.min())} "
            f"to {int(indices.max())}.")


@register("gather", samples=_gather_samples, grad_arguments=(0,))
def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None) -> Tensor:
    """Pick slices of `params` along `axis` (default `batch_dims`) by integer `indices`; the
    first `batch_dims` dimensions of both are batch dimensions, gathered pairwise.

    >>> import tensorflowish as tf
    >>> tf.gather([[1, 2], [3, 4]], [[1], [0]], axis=1, batch_dims=1).numpy().tolist()
    [[2], [3]]
    """
    from ..errors import InvalidArgumentError, check_axis

    params = as_tensor(params)
    indices = as_tensor(indices)
    if indices.array.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be integers, got {indices.dtype.name}.")
    rank, index_rank = params.array.ndim, indices.array.ndim
    batch_dims = check_axis("gather (batch_dims)", batch_dims, index_rank + 1) \
        if batch_dims < 0 else int(batch_dims)
    axis = batch_dims if axis is None else check_axis("gather", axis, rank)
    if batch_dims > index_rank or batch_dims > axis:
        raise InvalidArgumentError(f"gather: batch_dims ({batch_dims}) must be at most the rank "
                                   f"of indices ({index_rank}) and at most axis ({axis}).")
    if params.array.shape[:batch_dims] != indices.array.shape[:batch_dims]:
        raise InvalidArgumentError(f"gather: the first {batch_dims} dimensions of params "
                                   f"{format_shape(params.shape)} and indices "
                                   f"{format_shape(indices.shape)} must be equal (batch_dims).")
    check_gather_indices(indices.array, params.array.shape, axis)
    if batch_dims == 0:
        return getitem(params, (slice(None),) * axis + (indices.array,))
    # batch dimension d pairs with an arange along d; numpy puts the broadcast index dims first
    xp = array_module(indices.array)
    batch = []
    for d in range(batch_dims):
        view = [1] * index_rank
        view[d] = indices.array.shape[d]
        batch.append(xp.arange(indices.array.shape[d]).reshape(view))
    moved = transpose(params, tuple(range(batch_dims)) + (axis,) + tuple(
        d for d in range(batch_dims, rank) if d != axis))
    picked = getitem(moved, tuple(batch) + (indices.array,))
    # picked: batch + indices' own dims + params' dims batch_dims..axis-1 + after axis
    middle = axis - batch_dims
    order = (tuple(range(batch_dims)) + tuple(range(index_rank, index_rank + middle)) +
             tuple(range(batch_dims, index_rank)) +
             tuple(range(index_rank + middle, picked.array.ndim)))
    return transpose(picked, order) if order != tuple(range(len(order))) else picked


@register("identity", samples=lambda rng: [((rng.uniform(-1, 1, (3, 4)),), {})])
def identity(input, name=None) -> Tensor:  # noqa: A002
    """A new tensor with the same values (inside tf.device: copied to that device)."""
    x = as_tensor(input)
    if backend._device_stack and backend.device_of(x.array) != backend.current_device():
        return to_device(x, backend.current_device())
    # no copy: tensors never change, and a Variable copies its buffer on its next update while
    # this tensor holds it (copy-on-write), so the result keeps the value read here
    out = Tensor(x.array)
    if should_record((x,)):
        record((x,), out, (lambda g: g,))
    return out


def snapshot(x: Tensor) -> Tensor:
    """`x` itself for a tensor; for a Variable, its current value as a tensor (a recorded
    read that later assignments do not change)."""
    return identity(x) if isinstance(x, Variable) else x


def to_device(x, device: str) -> Tensor:
    """Copy `x` to 'CPU:0' or 'GPU:n'; the gradient is copied back."""
    x = as_tensor(x)
    source = backend.device_of(x.array)
    device = backend.normalize_device(device)
    if source == device:
        return snapshot(x)
    out = Tensor(backend.to_device(x.array, device))
    if should_record((x,)):
        record((x,), out, (lambda g: to_device(g, source),))
    return out


@register("stop_gradient", differentiable=False)
def stop_gradient(input, name=None) -> Tensor:  # noqa: A002
    """The same values, treated as a constant by every tape."""
    x = as_tensor(input)
    return Tensor(x.array)


@register("tile", samples=lambda rng: [((rng.uniform(-1, 1, (2, 3)), [2, 1]), {})],
          grad_arguments=(0,))
def tile(input, multiples, name=None) -> Tensor:  # noqa: A002
    """Repeat the whole tensor `multiples[i]` times along axis i."""
    x = as_tensor(input)
    multiples = _shape_tuple(multiples)
    if len(multiples) != x.array.ndim:
        raise InvalidArgumentError(
            f"tile: multiples {list(multiples)} must have one entry per axis of "
                         f"shape {format_shape(x.array.shape)}.")
    out = Tensor(array_module(x.array).tile(x.array, multiples))
    if should_record((x,)):
        def vjp(g):
            split_shape = []
            for m, s in zip(multiples, x.array.shape):
                split_shape += [m, s]
            from .reductions import reduce_sum

            return reduce_sum(reshape(g, split_shape), axis=tuple(range(0, 2 * x.array.ndim, 2)))
        record((x,), out, (vjp,))
    return out
