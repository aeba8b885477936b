"""Tensors that leaked out of a trace: made while tracing, kept by Python after it, not returned.

TensorFlow's graph tensors cannot be used outside their function ("All outputs of a tf.function
must be return values"). Here a trace runs on real values, so a tensor that escaped through a
global or an attribute would hold the first call's value forever while later calls replay the
graph without touching it: silently stale. When a trace ends, every tensor it made that is not
among the function's outputs becomes a `LeakedTensor`: its shape and dtype still read (as
TensorFlow's symbolic tensors do), but its value raises TypeError, and `.numpy()` is an
AttributeError, as in TensorFlow.
"""

from __future__ import annotations

import weakref

from ..tensor import Tensor, TensorShape

_ARRAY = Tensor.array  # the slot descriptor: reads the array without the check below
# tensor id -> static shape with None dims, for tensors leaked from a trace with relaxed
# dimensions (an entry goes when its tensor does)
_RELAXED: dict[int, tuple] = {}


def leak(tensor: Tensor, shape: tuple | None) -> None:
    """Make `tensor` a LeakedTensor, whose shape reads `shape` (None dims) when given."""
    tensor.__class__ = LeakedTensor
    if shape is not None:
        _RELAXED[tensor._id] = shape
        weakref.finalize(tensor, _RELAXED.pop, tensor._id, None)


def _out_of_scope(tensor: LeakedTensor) -> TypeError:
    return TypeError(
        f"{tensor!r} is out of scope and cannot be used here: it was made while tracing a "
        "tf.function and escaped it without being returned, so it holds only the value of the "
        "call that traced it. Use return values, explicit Python locals or TensorFlow "
        "collections to access it (see the guide: all outputs of a tf.function must be return "
        "values).")


def _checked_array(tensor):
    raise _out_of_scope(tensor)


def _no_numpy(tensor):
    raise AttributeError(f"{tensor!r} has no attribute 'numpy': it is a graph tensor that "
                         "leaked out of a tf.function trace; return it from the function "
                         "instead.")


class GraphTensor(Tensor):
    """A tensor of a trace (TracedTensor while it runs, LeakedTensor after): its dtype and rank
    read from the array without the checks its value goes through."""

    __slots__ = ()

    @property
    def dtype(self):
        from .. import dtypes

        return dtypes.as_dtype(_ARRAY.__get__(self).dtype)

    @property
    def ndim(self) -> int:
        return _ARRAY.__get__(self).ndim


class LeakedTensor(GraphTensor):
    """A graph tensor used outside its tf.function: its shape and dtype only."""

    __slots__ = ()

    array = property(_checked_array)
    numpy = property(_no_numpy)

    @property
    def shape(self) -> TensorShape:
        return TensorShape(_RELAXED.get(self._id, _ARRAY.__get__(self).shape))

    def __repr__(self) -> str:
        shape = ", ".join(str(d) for d in self.shape)
        return f"<tf.Tensor shape=({shape}) dtype={self.dtype.name} (graph tensor, out of scope)>"

    __str__ = __repr__

    def __bool__(self):
        raise _out_of_scope(self)

    def __float__(self):
        raise _out_of_scope(self)

    def __int__(self):
        raise _out_of_scope(self)

    def __index__(self):
        raise _out_of_scope(self)

    def __len__(self) -> int:
        if self.shape and self.shape[0] is None:
            raise TypeError(f"len is not well defined for a symbolic Tensor ({self!r}). Please "
                            "call `x.shape` rather than `len(x)` for shape information.")
        return _ARRAY.__get__(self).shape[0]

    def __iter__(self):
        raise _out_of_scope(self)
