"""Tensors made from nothing but a shape and a value: zeros, ones, fill, eye, range, linspace,
one_hot. None of them has inputs to differentiate."""

from __future__ import annotations

import numpy as np

from .. import backend
from .. import dtypes as _dtypes
from ..errors import UnimplementedError
from .registry import Tensor, array_module, as_tensor, check_axis, register
from .shapes import _shape_tuple


def _new(function, dtype, *args, **kwargs) -> Tensor:
    xp = backend.array_module_for_device(backend.current_device())
    return Tensor(getattr(xp, function)(*args, dtype=_dtypes.numpy_dtype(dtype), **kwargs))


@register("zeros", differentiable=False)
def zeros(shape, dtype="float32", name=None) -> Tensor:
    """A tensor of zeros (float32 by default) on the current device."""
    return _new("zeros", dtype, _shape_tuple(shape))


@register("ones", differentiable=False)
def ones(shape, dtype="float32", name=None) -> Tensor:
    """A tensor of ones (float32 by default) on the current device."""
    return _new("ones", dtype, _shape_tuple(shape))


@register("fill", differentiable=False)
def fill(dims, value, name=None) -> Tensor:
    """A tensor of shape `dims` filled with `value` (dtype inferred from the value)."""
    value = as_tensor(value)
    xp = backend.array_module_for_device(backend.current_device())
    return Tensor(xp.full(_shape_tuple(dims), backend.to_numpy(value.array).item(),
                          dtype=value.array.dtype))


@register("zeros_like", differentiable=False)
def zeros_like(input, dtype=None, name=None) -> Tensor:  # noqa: A002
    """Zeros with the shape (and dtype, unless given) of `input`, on its device."""
    x = as_tensor(input)
    return Tensor(array_module(x.array).zeros(x.array.shape, dtype=_dtypes.numpy_dtype(dtype)
                                              or x.array.dtype))


@register("ones_like", differentiable=False)
def ones_like(input, dtype=None, name=None) -> Tensor:  # noqa: A002
    """Ones with the shape (and dtype, unless given) of `input`, on its device."""
    x = as_tensor(input)
    return Tensor(array_module(x.array).ones(x.array.shape, dtype=_dtypes.numpy_dtype(dtype)
                                             or x.array.dtype))


@register("eye", "linalg.eye", differentiable=False)
def eye(num_rows, num_columns=None, batch_shape=None, dtype="float32", name=None) -> Tensor:
    """An identity matrix (or a batch of them)."""
    xp = backend.array_module_for_device(backend.current_device())
    matrix = xp.eye(int(num_rows), None if num_columns is None else int(num_columns),
                    dtype=_dtypes.numpy_dtype(dtype))
    if batch_shape:
        matrix = xp.broadcast_to(matrix, tuple(batch_shape) + matrix.shape).copy()
    return Tensor(matrix)


@register("range", differentiable=False)
def range(start, limit=None, delta=1, dtype=None, name="range") -> Tensor:  # noqa: A001
    """Like Python's range: int32 for ints, float32 when any bound is a float."""
    if limit is None:
        start, limit = 0, start
    values = [float(v) if isinstance(v, Tensor) and v.dtype.is_floating else v
              for v in (start, limit, delta)]
    if dtype is None:
        dtype = "float32" if any(isinstance(v, float) for v in values) else "int32"
    xp = backend.array_module_for_device(backend.current_device())
    return Tensor(xp.arange(*[backend.to_numpy(v.array) if isinstance(v, Tensor) else v
                              for v in values], dtype=_dtypes.numpy_dtype(dtype)))


@register("linspace", "lin_space", differentiable=False)
def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    """`num` evenly spaced values from start to stop inclusive (float32 for Python floats)."""
    start_t = as_tensor(float(start) if isinstance(start, int) else start)
    if start_t.array.ndim:
        raise UnimplementedError("linspace: only scalar start and stop are supported, got "
                                 f"start of shape {list(start_t.array.shape)}.")
    check_axis("linspace", axis, 1)
    dtype = start_t.array.dtype
    xp = backend.array_module_for_device(backend.current_device())
    return Tensor(xp.linspace(float(backend.to_numpy(start_t.array)),
                              float(backend.to_numpy(as_tensor(stop).array)), int(num),
                              dtype=dtype))


@register("one_hot", differentiable=False)
def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None,
            name=None) -> Tensor:
    """Rows of `depth` values with on_value at each index (out-of-range indices give all off)."""
    indices = as_tensor(indices)
    if indices.array.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {indices.dtype.name}; "
                        "use tf.cast(indices, tf.int32).")
    numpy_dtype = _dtypes.numpy_dtype(dtype) or np.float32
    xp = array_module(indices.array)
    depth = int(depth)
    result = (indices.array[..., None] == xp.arange(depth)).astype(numpy_dtype)
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    if on != 1 or off != 0:
        result = xp.where(result.astype(bool), xp.asarray(on, dtype=numpy_dtype),
                          xp.asarray(off, dtype=numpy_dtype))
    if axis is not None and axis != -1:
        result = xp.moveaxis(result, -1, check_axis("one_hot", axis, result.ndim))
    return Tensor(result)
