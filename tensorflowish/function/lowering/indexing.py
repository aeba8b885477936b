"""Lowering rules of `gather` (without batch dimensions), `reverse` and the `Variable.__getitem__`
line (their eager ops: `ops/shapes.py`, `ops/indexing.py`, `ops/variable_methods.py`), each an
index as the eager ops compose them through getitem, with getitem's VJP: the gradient placed
into zeros at the index (added where an integer array repeats entries, assigned for slices);
and `stack` (the inverse: slices of its gradient)."""

from __future__ import annotations

import numpy as np

from ...errors import check_axes
from ...ops import shapes, variable_methods
from . import Backward, Line, Lowered, NotLowered, lowering, lowering_of_line


@lowering("gather", half=True)
def gather(line: Line) -> Lowered:
    """`tf.gather` without batch dimensions: eager's `params[:, ..., indices]` (getitem with
    an integer array) and its VJP, the gradient added into zeros at the indices (dense, as the
    eager op's)."""
    params, indices = line.tensor("params"), line.tensor("indices")
    shape, rank = tuple(line.shape(params)), len(line.shape(params))
    axis, batch_dims = line.literal("axis"), line.literal("batch_dims")
    if batch_dims != 0 or line.dtype(indices).kind not in "iu":
        raise NotLowered("batch dimensions, or indices that are not integers")
    axis = 0 if axis is None else axis
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise NotLowered("axis")  # the op raises its error
    axis = int(axis) % rank
    check, dtype, add_at = shapes.check_gather_indices, line.dtype(params), np.add.at
    head = (slice(None),) * axis
    probe = np.zeros(shape, dtype)[head + (np.zeros(line.shape(indices), np.intp),)]
    if not probe.flags.c_contiguous:
        # NumPy lays such a result out with the indexed axes first; arithmetic on it keeps that
        # order (and sums in it), which a plan writing into its own buffers would not
        raise NotLowered("a gather whose result NumPy does not lay out in C order")

    def forward(table, index_array):
        check(index_array, shape, axis)
        return table[head + (index_array,)]

    def backward(g, index_array):  # getitem's VJP for an advanced index
        result = np.zeros(shape, dtype=dtype)
        add_at(result, head + (index_array,), g)
        return result, None

    def vjp(needs, overwrite):
        return Backward(backward, ("in1",))
    return Lowered(forward, [params, indices], vjp)


def basic_index(x, shape: tuple, dtype, index: tuple) -> Lowered:
    """`a[index]` for a basic index (slices, integers, None, Ellipsis: a view), with getitem's
    VJP: zeros with the gradient assigned at the index."""
    def backward(g):  # eager's _scatter_into_zeros for a basic index
        result = np.zeros(shape, dtype=dtype)
        result[index] = g
        return (result,)
    return Lowered(lambda a: a[index], [x], lambda needs, overwrite: Backward(backward),
                   fresh=False)


@lowering("reverse", half=True)
def reverse(line: Line) -> Lowered:
    x = line.tensor("tensor")
    shape = tuple(line.shape(x))
    axis = line.literal("axis")
    try:
        axes = check_axes("reverse", [int(a) for a in np.ravel(axis)], len(shape))
    except (TypeError, ValueError):
        raise NotLowered("axis") from None  # the op raises its error
    index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(len(shape)))
    return basic_index(x, shape, line.dtype(x), index)


@lowering_of_line(variable_methods._variable_getitem, "Variable.__getitem__")
def variable_getitem(line: Line) -> Lowered:
    """`variable[index]` (a VariableSlice eagerly, for `.assign`; its values and gradient are
    getitem's, passed through): for a basic index."""
    return indexed_line(line, "variable")


def indexed_line(line: Line, name: str) -> Lowered:
    """`line`'s tensor argument `name` at its literal `index` (getitem and variable slices):
    a basic index only."""
    x = line.tensor(name)
    index = line.literal("index")
    items = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items):
        raise NotLowered("an advanced index")
    return basic_index(x, tuple(line.shape(x)), line.dtype(x), index)


@lowering("stack", half=True)
def stack(line: Line) -> Lowered:
    """`stack` as its op composes it: each input given a new axis, then concatenated; the
    gradient of each is its slice of `g` without that axis (views, as the op's VJPs)."""
    operands = [line.tensor_value(v) for v in line.literal_structure("values")]
    if not operands or len({(tuple(line.shape(o)), line.dtype(o)) for o in operands}) != 1:
        raise NotLowered("mixed shapes or dtypes")  # the op raises its error
    rank = len(line.shape(operands[0])) + 1
    axis = line.literal("axis")
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise NotLowered("axis")
    axis = int(axis) % rank
    head = (slice(None),) * axis
    expand, concatenate = np.expand_dims, np.concatenate

    def forward(*arrays):
        return concatenate([expand(a, axis) for a in arrays], axis)

    def backward(g):
        return [g[head + (i,)] for i in range(len(operands))]
    return Lowered(forward, operands, lambda needs, overwrite: Backward(backward, fresh=False))
