"""Lowering rules of the ops whose results a plan knows at compile time (shapes, sizes,
zeros and ones of a static shape), of comparisons, and of indexing, concat and rsqrt.

A rule whose line has only constant inputs is folded by the plan (run once at compile time);
the static ops here take no array input at all: they run their own op once on a stand-in of
the input's static shape and dtype.
"""

from __future__ import annotations

import numpy as np

from ...ops import registry
from . import Backward, Line, Lowered, NotLowered, _has_slot, lowering
from .indexing import indexed_line


def _stand_in(line: Line, name: str):
    value = line[name]
    if value.__class__.__name__ != "Slot" or value.index not in line.specs:
        raise NotLowered(f"argument {name} is not a tensor")
    shape, dtype = line.specs[value.index][:2]
    return registry.Tensor(np.zeros(shape, dtype))


def _folded(line: Line, tensor_argument: str | None) -> Lowered:
    """The op run once at compile time (on a stand-in of its tensor argument)."""
    arguments = dict(line.arguments)
    if tensor_argument is not None:
        arguments[tensor_argument] = _stand_in(line, tensor_argument)
    if _has_slot(arguments):
        raise NotLowered("a tensor argument beside the static one")
    value = registry.REGISTRY[line.name].function(**arguments).array
    if value.__class__ is not np.ndarray:
        raise NotLowered("not a NumPy result")
    return Lowered(lambda: value, [], None, fresh=False)


@lowering("shape", "size", "rank", "zeros_like", "ones_like")
def shape_of(line: Line) -> Lowered:
    return _folded(line, "input")


@lowering("zeros", "ones", "fill")
def created(line: Line) -> Lowered:
    return _folded(line, None)


_COMPARISONS = {"equal": np.equal, "not_equal": np.not_equal, "less": np.less,
                "less_equal": np.less_equal, "greater": np.greater,
                "greater_equal": np.greater_equal, "logical_and": np.bitwise_and,
                "logical_or": np.bitwise_or}  # the ops' `a & b`, `a | b`


@lowering(*_COMPARISONS)
def compare(line: Line) -> Lowered:
    x, y = line.binary("x", "y")
    return Lowered(_COMPARISONS[line.name], [x, y], None)


@lowering("logical_not")
def logical_not(line: Line) -> Lowered:
    return Lowered(np.invert, [line.tensor("x")], None)  # the op's `~a`


@lowering("Tensor.__getitem__", half=True)
def getitem(line: Line) -> Lowered:
    return indexed_line(line, "tensor")


@lowering("concat", half=True)
def concat(line: Line) -> Lowered:
    values = line.literal_structure("values")
    operands = [line.tensor_value(v) for v in values]
    if not operands or len({line.dtype(o) for o in operands}) != 1:
        raise NotLowered("mixed dtypes")
    rank = len(line.shape(operands[0]))
    axis = line.literal("axis")
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise NotLowered("axis")
    axis = int(axis) % rank
    bounds = np.cumsum([0] + [line.shape(o)[axis] for o in operands])
    indices = [(slice(None),) * axis + (slice(int(bounds[i]), int(bounds[i + 1])),)
               for i in range(len(operands))]

    def backward(g):
        return [g[index] for index in indices]
    return Lowered(lambda *arrays: np.concatenate(arrays, axis=axis), operands,
                   lambda needs, overwrite: Backward(backward, fresh=False))


@lowering("math.rsqrt")
def rsqrt(line: Line) -> Lowered:
    x = line.tensor("x", float_only=True)

    def forward(a):  # eager: reciprocal(sqrt(x)), two ops
        root = np.sqrt(a)
        return 1 / root, root

    def backward(g, out, root):  # through reciprocal, then through sqrt
        g_root = -(g * out * out)
        return (g_root * 0.5 / root,)
    return Lowered(forward, [x], lambda needs, overwrite: Backward(backward, ("out", "res")),
                   residual=True)
