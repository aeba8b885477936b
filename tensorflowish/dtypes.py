"""Data types: `tf.float32`, `tf.int64`, ... and the rules for mixing them.

A `DType` names one NumPy dtype. Tensors carry the NumPy dtype of their backend array; `DType`
objects are what users see (`x.dtype == tf.float32`).
"""

from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type, comparable with other DTypes, NumPy dtypes and names.

    >>> import tensorflowish as tf
    >>> tf.float32.name, tf.float32.is_floating, tf.as_dtype("int64") == tf.int64
    ('float32', True, True)
    """

    __slots__ = ("name", "as_numpy_dtype", "_np")

    def __init__(self, numpy_dtype) -> None:
        self._np = np.dtype(numpy_dtype)
        self.name = ("bool" if self._np == np.bool_ else
                     "string" if self._np.kind == "O" else self._np.name)
        self.as_numpy_dtype = self._np.type

    @property
    def is_floating(self) -> bool:
        return self._np.kind in "fV"  # V: bfloat16, an ml_dtypes extension type

    @property
    def is_integer(self) -> bool:
        return self._np.kind in "iu"

    @property
    def is_bool(self) -> bool:
        return self._np.kind == "b"

    @property
    def is_complex(self) -> bool:
        return self._np.kind == "c"

    @property
    def is_string(self) -> bool:
        return self._np.kind == "O"

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def min(self):
        return _finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return _finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self._np == other._np
        try:
            return self._np == as_dtype(other)._np
        except (TypeError, ValueError):
            return False

    def __hash__(self) -> int:
        return hash(self._np)

    def __repr__(self) -> str:
        return f"tf.{self.name}"


float16 = half = DType(np.float16)
float32 = DType(np.float32)
float64 = double = DType(np.float64)
int8 = DType(np.int8)
int16 = DType(np.int16)
int32 = DType(np.int32)
int64 = DType(np.int64)
uint8 = DType(np.uint8)
uint16 = DType(np.uint16)
uint32 = DType(np.uint32)
uint64 = DType(np.uint64)
bool = DType(np.bool_)  # noqa: A001 - TensorFlow's name
complex64 = DType(np.complex64)
complex128 = DType(np.complex128)
# TensorFlow's strings are byte strings; a string tensor holds them in a NumPy object array
string = DType(np.object_)

_BY_NUMPY = {d._np: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8,
                                uint16, uint32, uint64, bool, complex64, complex128, string)}


class MissingBfloat16Error(AttributeError):
    """bfloat16 was asked for but ml_dtypes is not installed (an AttributeError, so that
    `hasattr(tf, "bfloat16")` is simply False without it)."""


def _bfloat16() -> DType:
    """tf.bfloat16, made on first use: NumPy has no bfloat16, ml_dtypes (as in JAX and
    TensorFlow) adds it, and is imported only by those who use it."""
    dtype = globals().get("_BFLOAT16")
    if dtype is None:
        try:
            import ml_dtypes
        except ImportError:
            raise MissingBfloat16Error(
                "tf.bfloat16 needs the ml_dtypes package: pip install 'tensorflowish[bfloat16]' "
                "(or pip install ml_dtypes).") from None
        dtype = DType(ml_dtypes.bfloat16)
        globals()["_BFLOAT16"] = dtype
        _BY_NUMPY[dtype._np] = dtype
    return dtype


def __getattr__(name: str):
    if name == "bfloat16":
        return _bfloat16()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _finfo(numpy_dtype):
    if numpy_dtype.kind == "V":
        import ml_dtypes

        return ml_dtypes.finfo(numpy_dtype)
    return np.finfo(numpy_dtype)


def as_dtype(value) -> DType:
    """Turn a DType, NumPy dtype, Python type or name into a `DType`."""
    if isinstance(value, DType):
        return value
    if value is float:
        return float32
    if value is int:
        return int32
    if value in (str, bytes, "string") or getattr(value, "kind", None) in ("S", "U"):
        return string
    if (isinstance(value, str) and value == "bfloat16") or \
            getattr(value, "__name__", None) == "bfloat16" or \
            (isinstance(value, np.dtype) and value.name == "bfloat16"):
        return _bfloat16()
    try:
        numpy_dtype = np.dtype(value)
    except TypeError as error:
        raise TypeError(f"Cannot convert {value!r} to a tensorflowish dtype; expected one of "
                        f"{sorted(d.name for d in _BY_NUMPY.values())}") from error
    if numpy_dtype not in _BY_NUMPY:
        raise TypeError(f"Unsupported dtype {numpy_dtype}; expected one of "
                        f"{sorted(d.name for d in _BY_NUMPY.values())}")
    return _BY_NUMPY[numpy_dtype]


def numpy_dtype(value) -> np.dtype:
    """The NumPy dtype for a DType/name/type (None stays None)."""
    return None if value is None else as_dtype(value)._np
