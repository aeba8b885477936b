"""Partitioning and sequence helpers: dynamic_partition, dynamic_stitch, reverse_sequence,
sequence_mask, unravel_index, invert_permutation, histograms, and shape utilities (shape_n,
ensure_shape, broadcast_static_shape, broadcast_dynamic_shape).

The differentiable ones are compositions of gather, getitem and scatter, whose VJPs carry the
gradient: no gradient code of their own.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dtypes
from ..errors import IndexOutOfRangeError, InvalidArgumentError, check_axis
from .indexing import integer_indices, tensor_scatter_nd_update
from .registry import (
    Tensor,
    array_module,
    as_tensor,
    format_shape,
    register,
)
from .shapes import concat, gather, getitem, reshape


@register("dynamic_partition", samples=lambda rng: [
    ((rng.uniform(-1, 1, (5, 2)), np.array([1, 0, 2, 1, 0]), 3), {})], grad_arguments=(0,))
def dynamic_partition(data, partitions, num_partitions, name=None) -> list:
    """`num_partitions` tensors: the entries of `data` whose partition number is 0, 1, ...
    (`partitions`' shape is a prefix of `data`'s), each in its original order."""
    data = as_tensor(data)
    parts = integer_indices("dynamic_partition", partitions, "partitions")
    num_partitions = int(num_partitions)
    if tuple(data.array.shape[:parts.ndim]) != tuple(parts.shape):
        raise InvalidArgumentError(f"dynamic_partition: partitions shape "
                                   f"{format_shape(parts.shape)} must be a prefix of data shape "
                                   f"{format_shape(data.shape)}.")
    if parts.size and (int(parts.min()) < 0 or int(parts.max()) >= num_partitions):
        raise IndexOutOfRangeError(f"dynamic_partition: partition numbers must be in [0, "
                                   f"{num_partitions}), got values from {int(parts.min())} to "
                                   f"{int(parts.max())}.")
    xp = array_module(parts)
    flat = reshape(data, (-1,) + tuple(data.array.shape[parts.ndim:]))
    flat_parts = parts.reshape(-1)
    return [gather(flat, Tensor(xp.flatnonzero(flat_parts == p))) for p in range(num_partitions)]


@register("dynamic_stitch", samples=lambda rng: [
    (([np.array([0, 3]), np.array([[1, 2]])],
      [rng.uniform(-1, 1, (2, 2)), rng.uniform(-1, 1, (1, 2, 2))]), {})], grad_arguments=(1,))
def dynamic_stitch(indices, data, name=None) -> Tensor:
    """One tensor with `data[m][i]` at row `indices[m][i]` (a later duplicate wins)."""
    if len(indices) != len(data) or not indices:
        raise InvalidArgumentError(f"dynamic_stitch: needs as many index tensors as data "
                                   f"tensors (at least one), got {len(indices)} and {len(data)}.")
    index_arrays = [integer_indices("dynamic_stitch", i) for i in indices]
    tensors = [as_tensor(d) for d in data]
    rest = tuple(tensors[0].array.shape[index_arrays[0].ndim:])
    rows = []
    for i, (index, t) in enumerate(zip(index_arrays, tensors)):
        if tuple(t.array.shape) != tuple(index.shape) + rest:
            raise InvalidArgumentError(f"dynamic_stitch: data[{i}] of shape "
                                       f"{format_shape(t.shape)} must have shape indices[{i}]."
                                       f"shape + {format_shape(rest)}.")
        rows.append(reshape(t, (-1,) + rest))
    xp = array_module(index_arrays[0])
    flat_index = xp.concatenate([i.reshape(-1) for i in index_arrays])
    size = int(flat_index.max()) + 1 if flat_index.size else 0
    if flat_index.size and int(flat_index.min()) < 0:
        raise IndexOutOfRangeError("dynamic_stitch: indices must be non-negative.")
    zeros = Tensor(xp.zeros((size,) + rest, dtype=tensors[0].array.dtype))
    return tensor_scatter_nd_update(zeros, flat_index[:, None], concat(rows, 0))


@register("reverse_sequence", samples=lambda rng: [
    ((rng.uniform(-1, 1, (3, 4, 2)), np.array([2, 4, 0])), {"seq_axis": 1, "batch_axis": 0}),
    ((rng.uniform(-1, 1, (4, 2)), np.array([3, 1])), {"seq_axis": 0, "batch_axis": 1})],
    grad_arguments=(0,))
def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None) -> Tensor:  # noqa: A002
    """Reverse the first `seq_lengths[b]` entries along `seq_axis` of each batch entry b; the
    rest stay in place."""
    x = as_tensor(input)
    lengths = integer_indices("reverse_sequence", seq_lengths, "seq_lengths").reshape(-1)
    rank = x.array.ndim
    if seq_axis is None:
        raise InvalidArgumentError("reverse_sequence: seq_axis is required.")
    seq_axis = check_axis("reverse_sequence", seq_axis, rank)
    batch_axis = check_axis("reverse_sequence", 0 if batch_axis is None else batch_axis, rank)
    if seq_axis == batch_axis:
        raise InvalidArgumentError(f"reverse_sequence: seq_axis and batch_axis are both "
                                   f"{seq_axis}.")
    batch, steps = x.array.shape[batch_axis], x.array.shape[seq_axis]
    if lengths.shape[0] != batch or (lengths.size and (int(lengths.max()) > steps or
                                                       int(lengths.min()) < 0)):
        raise InvalidArgumentError(f"reverse_sequence: seq_lengths must hold {batch} lengths "
                                   f"in [0, {steps}] (shape {format_shape(x.shape)}).")
    xp = array_module(lengths)
    position = xp.arange(steps)[None, :]
    length = lengths[:, None]
    source = xp.where(position < length, length - 1 - position, position)  # [batch, steps]
    index = []
    for d in range(rank):
        view = [1] * rank
        view[d] = x.array.shape[d]
        if d == seq_axis:
            shape = [1] * rank
            shape[batch_axis], shape[seq_axis] = batch, steps
            index.append(source.reshape(shape) if batch_axis < seq_axis else
                         source.T.reshape(shape))
        else:
            index.append(xp.arange(x.array.shape[d]).reshape(view))
    return getitem(x, tuple(index))


@register("sequence_mask", differentiable=False)
def sequence_mask(lengths, maxlen=None, dtype="bool", name=None) -> Tensor:
    """mask[..., j] = j < lengths[...], with `maxlen` columns (default: the largest length)."""
    lengths = as_tensor(lengths)
    xp = array_module(lengths.array)
    if maxlen is None:
        maxlen = int(lengths.array.max()) if lengths.array.size else 0
    positions = xp.arange(int(maxlen))
    mask = positions < lengths.array[..., None]
    return Tensor(mask.astype(_dtypes.numpy_dtype(dtype)))


@register("unravel_index", differentiable=False)
def unravel_index(indices, dims, name=None) -> Tensor:
    """Flat indices into a shape `dims` as coordinates: shape [len(dims)] + indices.shape."""
    flat = integer_indices("unravel_index", indices)
    dims_array = integer_indices("unravel_index", dims, "dims")
    shape = tuple(int(d) for d in dims_array.reshape(-1).tolist())
    total = int(np.prod(shape, dtype=np.int64))
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= total):
        raise IndexOutOfRangeError(f"unravel_index: indices must be in [0, {total}) for dims "
                                   f"{list(shape)}.")
    xp = array_module(flat)
    return Tensor(xp.stack(xp.unravel_index(flat, shape)).astype(flat.dtype))


@register("math.invert_permutation", "invert_permutation", differentiable=False)
def invert_permutation(x, name=None) -> Tensor:
    """y with y[x[i]] = i for a permutation x of 0..n-1."""
    x = integer_indices("invert_permutation", x, "x")
    xp = array_module(x)
    if x.ndim != 1 or not bool((xp.sort(x) == xp.arange(x.size)).all()):
        raise InvalidArgumentError(f"invert_permutation: x must be a 1-D permutation of 0.."
                                   f"{x.size - 1}, got {x.tolist() if x.size < 20 else x.shape}.")
    inverse = xp.empty_like(x)
    inverse[x] = xp.arange(x.size, dtype=x.dtype)
    return Tensor(inverse)


@register("math.is_non_decreasing", differentiable=False)
def is_non_decreasing(x, name=None) -> Tensor:
    """True when x (read in row-major order) never decreases."""
    flat = as_tensor(x).array.reshape(-1)
    return Tensor(array_module(flat).asarray(bool((flat[1:] >= flat[:-1]).all())))


@register("math.is_strictly_increasing", differentiable=False)
def is_strictly_increasing(x, name=None) -> Tensor:
    """True when x (read in row-major order) always increases."""
    flat = as_tensor(x).array.reshape(-1)
    return Tensor(array_module(flat).asarray(bool((flat[1:] > flat[:-1]).all())))


def _histogram_bins(op: str, values, value_range, nbins: int):
    values, value_range = as_tensor(values), as_tensor(value_range)
    low, high = (float(v) for v in value_range.numpy().reshape(-1)[:2])
    if int(nbins) <= 0 or not high > low:
        raise InvalidArgumentError(f"{op}: needs nbins > 0 and value_range[0] < value_range[1], "
                                   f"got nbins={nbins} and range [{low}, {high}].")
    xp = array_module(values.array)
    scaled = (values.array.astype(np.float64) - low) / (high - low) * int(nbins)
    return xp, xp.clip(xp.floor(scaled), 0, int(nbins) - 1).astype(np.int64)


@register("histogram_fixed_width", differentiable=False)
def histogram_fixed_width(values, value_range, nbins=100, dtype="int32", name=None) -> Tensor:
    """Counts of `values` in `nbins` equal bins over `value_range` (outside: the end bins)."""
    xp, bins = _histogram_bins("histogram_fixed_width", values, value_range, nbins)
    counts = xp.bincount(bins.reshape(-1), minlength=int(nbins))
    return Tensor(counts.astype(_dtypes.numpy_dtype(dtype)))


@register("histogram_fixed_width_bins", differentiable=False)
def histogram_fixed_width_bins(values, value_range, nbins=100, dtype="int32",
                               name=None) -> Tensor:
    """The bin of each of `values` (as histogram_fixed_width counts them), in their shape."""
    _, bins = _histogram_bins("histogram_fixed_width_bins", values, value_range, nbins)
    return Tensor(bins.astype(_dtypes.numpy_dtype(dtype)))


# --- shapes --------------------------------------------------------------------------------------
@register("shape_n", differentiable=False)
def shape_n(input, out_type="int32", name=None) -> list:  # noqa: A002
    """The shapes of several tensors, each a 1-D integer tensor."""
    from .indexing import shape

    return [shape(t, out_type) for t in input]


@register("ensure_shape", samples=lambda rng: [((rng.uniform(-1, 1, (2, 3)), [None, 3]), {})],
          grad_arguments=(0,))
def ensure_shape(x, shape, name=None) -> Tensor:
    """`x` itself when its shape is compatible with `shape` (None matches any size), else
    InvalidArgumentError."""
    x = as_tensor(x)
    expected = None if shape is None else list(shape)
    if expected is not None and (len(expected) != x.array.ndim or any(
            e is not None and int(e) != -1 and int(e) != s
            for e, s in zip(expected, x.array.shape))):
        raise InvalidArgumentError(f"Shape of tensor x {format_shape(x.shape)} is not "
                                   f"compatible with expected shape {expected}.")
    return x


def broadcast_static_shape(shape_x, shape_y):
    """The broadcast of two shapes as a TensorShape (ValueError if they do not broadcast)."""
    from ..tensor import TensorShape

    try:
        return TensorShape(np.broadcast_shapes(tuple(shape_x), tuple(shape_y)))
    except ValueError:
        raise InvalidArgumentError(f"Incompatible shapes: {list(shape_x)} vs. "
                                   f"{list(shape_y)}.") from None


@register("broadcast_dynamic_shape", differentiable=False)
def broadcast_dynamic_shape(shape_x, shape_y) -> Tensor:
    """The broadcast of two shapes given as 1-D integer tensors, as an int32 tensor."""
    from ..tensor import constant

    def values(s):
        return s.numpy().tolist() if isinstance(s, Tensor) else list(s)
    return constant(list(broadcast_static_shape(values(shape_x), values(shape_y))),
                    dtype="int32")


register("broadcast_static_shape", differentiable=False)(broadcast_static_shape)
