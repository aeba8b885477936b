"""The ops under `tf.TensorArray`: its elements live in one tensor of shape [size, *element].

Each op takes that tensor (`values`) and returns a new one, so a TensorArray carried through a
`tf.while_loop` is one loop variable, and its gradients are those of the ops composed here
(`tensor_scatter_nd_update`, `gather`, `reshape`). The checks read the index's value inside the
op, so a traced function checks it again at every call.

Before anything is written, an array whose element shape is unknown holds a placeholder of
shape [size]; the first write of a non-scalar element replaces it by zeros of [size, *element].
Unwritten elements read as zeros, as in TensorFlow 2.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError, OutOfRangeError
from .creation import zeros
from .indexing import tensor_scatter_nd_update
from .registry import Tensor, as_tensor, format_shape, register
from .shapes import concat, gather, identity, reshape


def _index(value, what: str) -> int:
    array = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "iu" or array.ndim:
        raise InvalidArgumentError(f"TensorArray.{what}: the index must be a scalar integer, got "
                                   f"{array.dtype.name} of shape {format_shape(array.shape)}.")
    return int(array)


def _indices(value, what: str) -> list[int]:
    array = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
    if array.ndim > 1:
        raise InvalidArgumentError(f"TensorArray.{what}: indices must be a vector, got shape "
                                   f"{format_shape(array.shape)}.")
    if array.size and array.dtype.kind not in "iu":
        raise InvalidArgumentError(f"TensorArray.{what}: indices must be integers, got "
                                   f"{array.dtype.name}.")
    return [int(i) for i in array.reshape(-1)]


def _make_room(values, rows: int, element_shape: tuple, dynamic_size: bool, what: str):
    """`values` with at least `rows` rows and elements of `element_shape` (allocating or
    growing when allowed)."""
    size = values.array.shape[0]
    if rows > size and not dynamic_size:
        raise OutOfRangeError(f"Tried to write to index {rows - 1} but array is not resizeable "
                              f"and size is: {size}. Create the TensorArray with a larger size "
                              "or dynamic_size=True.")
    if values.array.ndim == 1 and element_shape:
        return zeros((max(rows, size), *element_shape), values.dtype)
    if tuple(values.array.shape[1:]) != tuple(element_shape):
        raise InvalidArgumentError(
            f"TensorArray.{what}: Incompatible shape for value ({format_shape(element_shape)}), "
            f"expected ({format_shape(values.array.shape[1:])}). Every element of a TensorArray "
            "has the same shape.")
    if rows > size:
        grown = zeros((rows - size, *element_shape), values.dtype)
        return concat([values, grown], 0)
    return values


def _check_negative(indices: list[int]) -> None:
    for index in indices:
        if index < 0:
            raise OutOfRangeError(f"Writing to negative indices (index {index}) is not allowed.")


def _write_samples(rng):
    return [((rng.uniform(-1, 1, (3, 2)), 1, rng.uniform(-1, 1, (2,))), {}),
            ((rng.uniform(-1, 1, (2, 2)), 3, rng.uniform(-1, 1, (2,))), {"dynamic_size": True})]


@register("tensor_array.write", samples=_write_samples, grad_arguments=(0, 2))
def write(values, index, value, dynamic_size=False) -> object:
    """`values` with row `index` replaced by `value` (growing it when `dynamic_size`)."""
    values, value = as_tensor(values), as_tensor(value)
    position = _index(index, "write")
    _check_negative([position])
    element_shape = tuple(value.array.shape)
    values = _make_room(values, position + 1, element_shape, dynamic_size, "write")
    return tensor_scatter_nd_update(values, [[position]], reshape(value, (1, *element_shape)))


def _read_check(values, indices: list[int]) -> None:
    size = values.array.shape[0]
    for index in indices:
        if index < 0 or index >= size:
            raise OutOfRangeError(f"Tried to read from index {index} but array size is: {size}.")


@register("tensor_array.read", samples=lambda rng: [((rng.uniform(-1, 1, (3, 2)), 2), {})],
          grad_arguments=(0,))
def read(values, index) -> object:
    """Row `index` of `values` (zeros where nothing was written)."""
    values = as_tensor(values)
    position = _index(index, "read")
    _read_check(values, [position])
    return gather(values, position)


@register("tensor_array.gather",
          samples=lambda rng: [((rng.uniform(-1, 1, (3, 2)), [2, 0, 2]), {})],
          grad_arguments=(0,))
def gather_rows(values, indices) -> object:
    """The rows `indices` of `values`, stacked."""
    values = as_tensor(values)
    positions = _indices(indices, "gather")
    _read_check(values, positions)
    return gather(values, np.asarray(positions, np.int64))


def _scatter_samples(rng):
    return [((rng.uniform(-1, 1, (3, 2)), [2, 0], rng.uniform(-1, 1, (2, 2))), {}),
            ((rng.uniform(-1, 1, (1, 2)), [3], rng.uniform(-1, 1, (1, 2))),
             {"dynamic_size": True})]


@register("tensor_array.scatter", samples=_scatter_samples, grad_arguments=(0, 2))
def scatter(values, indices, value, dynamic_size=False) -> object:
    """`values` with rows `indices` replaced by the rows of `value`."""
    values, value = as_tensor(values), as_tensor(value)
    positions = _indices(indices, "scatter")
    if value.array.ndim == 0 or value.array.shape[0] != len(positions):
        raise InvalidArgumentError(
            f"TensorArray.scatter: {len(positions)} indices but the value has shape "
            f"{format_shape(value.array.shape)}; its first dimension must match the indices.")
    _check_negative(positions)
    element_shape = tuple(value.array.shape[1:])
    rows = max(positions, default=-1) + 1
    values = _make_room(values, rows, element_shape, dynamic_size, "scatter")
    return tensor_scatter_nd_update(values, [[p] for p in positions], value)


@register("tensor_array.unstack",
          samples=lambda rng: [((rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, (2, 4))), {})],
          grad_arguments=(1,))
def unstack(values, value, dynamic_size=False) -> object:
    """`value` as the new contents (its rows are the elements); the size becomes its length."""
    values, value = as_tensor(values), as_tensor(value)
    if value.array.ndim == 0:
        raise InvalidArgumentError("TensorArray.unstack: the value must have at least one "
                                   "dimension (its rows become the elements), got a scalar.")
    count, size = value.array.shape[0], values.array.shape[0]
    if count > size and not dynamic_size:
        raise InvalidArgumentError(f"Cannot unstack {count} tensors into a TensorArray of static "
                                   f"size {size}. Create it with size={count} or "
                                   "dynamic_size=True.")
    return identity(value)


@register("tensor_array.concat",
          samples=lambda rng: [((rng.uniform(-1, 1, (3, 2, 2)),), {})])
def concat_rows(values) -> object:
    """The elements joined along their first dimension."""
    values = as_tensor(values)
    if values.array.ndim < 2:
        raise InvalidArgumentError("Concat saw a scalar shape at index 0 but requires at least "
                                   "vectors: TensorArray.concat joins elements along their first "
                                   "dimension; use stack() for scalar elements.")
    return reshape(values, (-1, *values.array.shape[2:]))
