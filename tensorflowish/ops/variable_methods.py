"""Variable methods that index: `v[...]` with `.assign`, `scatter_nd_*`, `scatter_*` with
`tf.IndexedSlices`, `sparse_read` and `gather_nd`.

Every write computes the new value and goes through `Variable.assign`, so a Variable's value
semantics (tensors read before keep their values) hold for these too.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from .indexing import _scatter_into, _tensor_scatter, gather_nd, integer_indices
from .registry import (
    Tensor,
    array_module,
    binary_operands,
    format_shape,
    record,
    should_record,
)
from .shapes import _normalize_index, gather, getitem


class VariableSlice(Tensor):
    """`variable[index]`: the values (a tensor, differentiable) plus `.assign(value)`, which
    writes `value` into that part of the variable, as TensorFlow's sliced assignment does."""

    __slots__ = ("_variable", "_index")

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Write `value` (broadcast to this slice's shape) into the variable."""
        variable = self._variable
        value = binary_operands(Tensor(self.array), value, "assign")[1]
        updated = variable.numpy() if array_module(variable.array) is np else \
            variable.array.copy()
        try:
            updated[self._index] = value.array
        except ValueError:
            raise InvalidArgumentError(
                f"assign: cannot write a value of shape {format_shape(value.shape)} into "
                f"{self._variable.name}[...] of shape {format_shape(self.shape)}.") from None
        variable.assign(updated)
        return variable if read_value else None


def _variable_getitem(variable, index):
    out = getitem(variable, index)
    sliced = VariableSlice(out.array)
    sliced._variable = variable
    sliced._index = _normalize_index(index)
    if should_record((out,)):
        record((out,), sliced, (lambda g: g,))
    return sliced


def _variable_scatter(kind: str):
    def method(self, indices, updates, name=None):
        self.assign(_tensor_scatter(kind, Tensor(self.array), indices, updates))
        return self
    method.__name__ = f"scatter_nd_{kind}"
    method.__doc__ = f"Variable.scatter_nd_{kind}: tf.tensor_scatter_nd_{kind} written back."
    return method


def _variable_sparse_scatter(kind: str):
    """Variable.scatter_<kind>(sparse_delta): rows `sparse_delta.indices` of the variable
    combined with `sparse_delta.values` (repeated rows accumulate, as TensorFlow's)."""
    def method(self, sparse_delta, use_locking=False, name=None):
        indices = integer_indices(f"scatter_{kind}", sparse_delta.indices).reshape(-1)
        values = binary_operands(Tensor(self.array), sparse_delta.values, f"scatter_{kind}")[1]
        rows = self.array.shape[0] if self.array.ndim else 0
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= rows):
            from ..errors import IndexOutOfRangeError

            raise IndexOutOfRangeError(f"scatter_{kind}: row indices must be in [0, {rows}) for "
                                       f"variable '{self.name}' of shape "
                                       f"{format_shape(self.shape)}.")
        expected = tuple(indices.shape) + tuple(self.array.shape[1:])
        if tuple(values.array.shape) != expected:
            raise InvalidArgumentError(f"scatter_{kind}: values of shape "
                                       f"{format_shape(values.shape)} must have shape "
                                       f"{format_shape(expected)} (one row per index).")
        update = values.array
        if kind == "div":
            update = 1 / update
        elif kind == "sub":
            update = -update
        target = self.array.copy()
        _scatter_into({"sub": "add", "mul": "prod", "div": "prod"}.get(kind, kind), target,
                      (indices,), update)
        self.assign(target)
        return self
    method.__name__ = f"scatter_{kind}"
    method.__doc__ = _variable_sparse_scatter.__doc__.replace("<kind>", kind)
    return method


def _sparse_read(self, indices, name=None):
    """Rows `indices` of the variable (differentiable): `tf.gather(v, indices)`."""
    return gather(self, indices)


def _gather_nd(self, indices, name=None):
    """`tf.gather_nd(v, indices)`."""
    return gather_nd(self, indices)


def install_variable_methods() -> None:
    from ..tensor import Variable

    Variable.__getitem__ = _variable_getitem
    for kind in ("update", "add", "sub", "min", "max"):
        setattr(Variable, f"scatter_nd_{kind}", _variable_scatter(kind))
    for kind in ("update", "add", "sub", "mul", "div", "min", "max"):
        setattr(Variable, f"scatter_{kind}", _variable_sparse_scatter(kind))
    Variable.sparse_read = _sparse_read
    Variable.gather_nd = _gather_nd
