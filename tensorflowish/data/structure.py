"""Element structures and their specs: a leaf, or a tuple/dict of structures; ``tf.TensorSpec``.

Inside a pipeline every leaf is a raw backend array (NumPy/CuPy; strings are NumPy object arrays
of bytes, as tensorflowish's string tensors hold them); Tensors appear only at the edges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tensorflowish.tensor import TensorShape

__all__ = ["DatasetSpec", "TensorSpec"]


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    """``fn`` applied to every leaf, keeping tuples and dicts."""
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, value) for value in structure)
    return fn(structure)


def flatten(structure: Any) -> list:
    """The leaves, depth first."""
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in flatten(value)]
    if isinstance(structure, tuple):
        return [leaf for value in structure for leaf in flatten(value)]
    return [structure]


def pack_like(structure: Any, leaves: list) -> Any:
    """``leaves`` (as ``flatten`` orders them) put back into the shape of ``structure``."""
    iterator = iter(leaves)
    return map_structure(lambda _: next(iterator), structure)


def zip_structures(fn: Callable[[list], Any], structures: list) -> Any:
    """Apply ``fn`` to the list of matching leaves of several structures of the same shape."""
    first = structures[0]
    if isinstance(first, dict):
        return {key: zip_structures(fn, [s[key] for s in structures]) for key in first}
    if isinstance(first, tuple):
        return tuple(
            zip_structures(fn, [s[index] for s in structures]) for index in range(len(first))
        )
    return fn(structures)


def same_structure(a: Any, b: Any) -> bool:
    """Whether two structures have the same nesting (leaves are not compared)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
            and all(same_structure(a[k], b[k]) for k in a)
        )  # fmt: skip
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (
            isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
            and all(same_structure(x, y) for x, y in zip(a, b))
        )  # fmt: skip
    return True


def to_array(value: Any, dtype: Any = None) -> Any:
    """A leaf as a raw backend array (Tensors are unwrapped, everything else converted)."""
    import tensorflowish as tf

    if isinstance(value, tf.Tensor):
        return value.array if dtype is None else tf.cast(value, dtype).array
    if is_dataset(value):  # window() elements are datasets
        return value
    return tf.convert_to_tensor(value, dtype=dtype).array


def normalise_input(structure: Any) -> Any:
    """Tuples and dicts are structure; a list is data (as in TensorFlow), unless it holds arrays."""
    if isinstance(structure, dict):
        return {key: normalise_input(value) for key, value in structure.items()}
    if isinstance(structure, tuple):
        return tuple(normalise_input(value) for value in structure)
    return to_array(structure)


def callable_or_error(function: Any, what: str) -> Callable[..., Any]:
    if not callable(function):
        raise TypeError(f"{what} expects a function, got {type(function).__name__}.")
    return function


def count_or_error(value: Any, what: str, minimum: int) -> int:
    number = int(value.numpy() if hasattr(value, "numpy") else value)
    if number < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {number}.")
    return number


def is_dataset(value: Any) -> bool:
    return hasattr(value, "_iter_arrays")


def to_tensor(array: Any) -> Any:
    """A raw array as a Tensor (a Tensor stays itself)."""
    import tensorflowish as tf

    if isinstance(array, tf.Tensor) or is_dataset(array):
        return array
    return tf.convert_to_tensor(array)


def lists_to_tuples(value: Any) -> Any:
    """TensorFlow treats a list returned by a dataset function as a tuple."""
    if isinstance(value, (list, tuple)):
        return tuple(lists_to_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: lists_to_tuples(v) for k, v in value.items()}
    return value


def apply_function(fn: Callable[..., Any], element: Any, convert: bool = True) -> Any:
    """Call a dataset function on one element (a tuple is spread over the arguments) and,
    with ``convert``, turn its result back into raw arrays."""
    tensors = map_structure(to_tensor, element)
    result = fn(*tensors) if isinstance(tensors, tuple) else fn(tensors)
    if not convert:
        return result
    return map_structure(to_array, lists_to_tuples(result))


def array_module(array: Any) -> Any:
    from tensorflowish import backend

    return backend.get_array_module(array)


def dtype_of(array: Any) -> Any:
    """The tf.DType of a raw array."""
    from tensorflowish import dtypes

    return dtypes.as_dtype(np.dtype(array.dtype))


class _UnknownRank(TensorShape):
    """TensorShape(None): nothing known, not even the rank; compatible with every shape."""

    __slots__ = ()

    @property
    def rank(self) -> None:
        return None

    ndims = rank

    def as_list(self):
        raise ValueError("as_list() is not defined on an unknown TensorShape.")

    def is_compatible_with(self, other) -> bool:
        return True

    def __repr__(self) -> str:
        return "TensorShape(None)"

    def __str__(self) -> str:
        return "<unknown>"


class TensorSpec:
    """The type of a tensor: a shape (``None`` for an unknown dimension) and a dtype.

    >>> import tensorflowish as tf
    >>> tf.TensorSpec(shape=(None, 3), dtype=tf.float32)
    TensorSpec(shape=(None, 3), dtype=tf.float32, name=None)
    """

    def __init__(self, shape: Any, dtype: Any = "float32", name: str | None = None) -> None:
        from tensorflowish import dtypes
        from tensorflowish.tensor import TensorShape

        if shape is None:  # TensorFlow's unknown rank
            self.shape = _UnknownRank()
        else:
            self.shape = TensorShape(None if d is None else int(d) for d in shape)
        self.dtype = dtypes.as_dtype(dtype)
        self.name = name

    @classmethod
    def from_tensor(cls, tensor: Any, name: str | None = None) -> TensorSpec:
        """The spec of a Tensor or array."""
        array = to_array(tensor)
        return cls(array.shape, dtype_of(array), name)

    def is_compatible_with(self, spec_or_tensor: Any) -> bool:
        """Same dtype and a shape that matches where both are known."""
        other = spec_or_tensor
        if not isinstance(other, TensorSpec):
            other = TensorSpec.from_tensor(other)
        return self.dtype == other.dtype and self.shape.is_compatible_with(other.shape)

    def most_specific_common_supertype(self, others: list) -> TensorSpec | None:
        """The spec every one of ``self`` and ``others`` fits (None if ranks or dtypes differ)."""
        shape = list(self.shape)
        for other in others:
            if other.dtype != self.dtype or len(other.shape) != len(shape):
                return None
            shape = [a if a == b else None for a, b in zip(shape, other.shape)]
        return TensorSpec(shape, self.dtype, self.name)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TensorSpec) and tuple(self.shape) == tuple(other.shape)
            and type(self.shape) is type(other.shape)
            and self.dtype == other.dtype and self.name == other.name
        )  # fmt: skip

    def __hash__(self) -> int:
        return hash((tuple(self.shape), self.dtype.name, self.name))

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype=tf.{self.dtype.name}, name={self.name!r})"


class DatasetSpec:
    """The type of an element that is itself a dataset (``window`` makes them)."""

    def __init__(self, element_spec: Any) -> None:
        self.element_spec = element_spec

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatasetSpec) and other.element_spec == self.element_spec

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"DatasetSpec({self.element_spec!r})"


def spec_of(element: Any) -> Any:
    """The TensorSpec structure of one element of raw arrays."""

    def leaf(a: Any) -> Any:
        if is_dataset(a):
            return DatasetSpec(a.element_spec)
        return TensorSpec(a.shape, dtype_of(a))

    return map_structure(leaf, element)


def unknown_leading(spec: Any, size: int | None = None) -> Any:
    """Specs with a new leading dimension (``size``, or None when batches may be shorter)."""
    return map_structure(lambda s: TensorSpec((size, *s.shape), s.dtype, s.name), spec)
