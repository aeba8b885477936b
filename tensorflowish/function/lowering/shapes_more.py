"""Lowering rules of more shape ops: tile, pad, slice and strided_slice (their eager ops:
`ops/shapes.py`, `ops/indexing.py`).

slice and strided_slice are getitem with a basic index, as eager composes them; pad's
REFLECT and SYMMETRIC modes are one getitem with an integer array per padded axis, whose VJPs
(the gradient added into zeros) run in the tape's order, last axis first. Those lower only
where NumPy lays the result out in C order (padding the first axis): on a later axis its
result is strided otherwise, and a plan computing what follows into its own buffers would sum
in another order than eager.
"""

from __future__ import annotations

import builtins

import numpy as np

from ...errors import InvalidArgumentError
from ...ops import indexing as ops_indexing
from ...ops import registry
from ...ops.indexing import _int_list, _pad_positions
from . import Backward, Line, Lowered, NotLowered, is_half, lowering
from .indexing import basic_index

_add_reduce = np.add.reduce


def _literal_ints(line: Line, name: str) -> list:
    try:
        return _int_list(line.literal(name))
    except (TypeError, ValueError):
        raise NotLowered(f"argument {name}") from None


@lowering("tile", half=True)
def tile(line: Line) -> Lowered:
    x = line.tensor("input")
    shape, dtype = tuple(line.shape(x)), line.dtype(x)
    if dtype.kind not in "fiubV":
        raise NotLowered(f"tile of {dtype}")
    multiples = tuple(_literal_ints(line, "multiples"))
    if len(multiples) != len(shape):
        raise NotLowered("multiples")  # the op raises its error
    split_shape = []
    for m, s in zip(multiples, shape):
        split_shape += [m, s]
    axes = tuple(range(0, 2 * len(shape), 2))

    half = is_half(dtype)

    def backward(g):  # eager: reduce_sum(reshape(g, split_shape), axis=the multiples' axes)
        if half:  # as eager's reduce_sum: accumulated in float32, rounded once
            return (np.asarray(_add_reduce(g.reshape(split_shape), axes, np.float32, None,
                                           False)).astype(dtype),)
        return (_add_reduce(g.reshape(split_shape), axes, None, None, False),)
    return Lowered(lambda a: np.tile(a, multiples), [x],
                   lambda needs, overwrite: Backward(backward))


@lowering("pad", half=True)
def pad(line: Line) -> Lowered:
    x = line.tensor("tensor")
    shape, dtype = tuple(line.shape(x)), line.dtype(x)
    if dtype.kind not in "fiubV":
        raise NotLowered(f"pad of {dtype}")
    pairs = np.asarray(line.literal("paddings"))
    if pairs.shape != (len(shape), 2):
        raise NotLowered("paddings")  # the op raises its error
    pairs = [(int(b), int(a)) for b, a in pairs]
    mode = str(line.literal("mode")).upper()
    if mode == "CONSTANT":
        like = registry.Tensor(np.zeros((), dtype))
        fill = registry.binary_operands(like, line.literal("constant_values"), "pad")[1] \
            .array.reshape(()).item()
        inside = tuple(builtins.slice(b, b + n) for (b, _), n in zip(pairs, shape))

        def forward(a):
            return np.pad(a, pairs, constant_values=fill)

        def vjp(needs, overwrite):
            return Backward(lambda g: (g[inside],), fresh=False)
        return Lowered(forward, [x], vjp)
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise NotLowered(f"mode {mode}")
    steps = []  # (index, shape before) per padded axis, as eager's getitems
    current = list(shape)
    for d, ((b, a), n) in enumerate(zip(pairs, shape)):
        if b or a:
            positions = _pad_positions(mode, n, b, a)
            index = (builtins.slice(None),) * d + (positions,)
            if not np.zeros(current, dtype)[index].flags.c_contiguous:
                raise NotLowered("a result NumPy does not lay out in C order")
            steps.append((index, tuple(current)))
            current[d] = len(positions)
    if not steps:
        raise NotLowered("no padding")  # eager returns the input itself
    add_at = np.add.at

    def forward(a):
        for index, _ in steps:
            a = a[index]
        return a

    def backward(g):
        for index, before in reversed(steps):
            result = np.zeros(before, dtype=dtype)
            add_at(result, index, g)
            g = result
        return (g,)
    return Lowered(forward, [x], lambda needs, overwrite: Backward(backward))


@lowering("slice", half=True)
def slice_(line: Line) -> Lowered:
    x = line.tensor("input_")
    shape = tuple(line.shape(x))
    begin, size = _literal_ints(line, "begin"), _literal_ints(line, "size")
    if len(begin) != len(shape) or len(size) != len(shape):
        raise NotLowered("begin or size")  # the op raises its error
    index = tuple(builtins.slice(b, n if s == -1 else b + s)
                  for b, s, n in zip(begin, size, shape))
    return basic_index(x, shape, line.dtype(x), index)


@lowering("strided_slice", half=True)
def strided_slice(line: Line) -> Lowered:
    x = line.tensor("input_")
    shape = tuple(line.shape(x))
    if line.literal("var") is not None:
        raise NotLowered("var")
    begin, end = _literal_ints(line, "begin"), _literal_ints(line, "end")
    strides = line.literal("strides")
    strides = [1] * len(begin) if strides is None else _literal_ints(line, "strides")
    masks = [int(line.literal(name)) for name in ("begin_mask", "end_mask", "ellipsis_mask",
                                                   "new_axis_mask", "shrink_axis_mask")]
    try:  # as the eager op builds it
        index = ops_indexing.strided_slice_index(begin, end, strides, *masks)
    except InvalidArgumentError as error:
        raise NotLowered(str(error)) from None  # the op raises its error
    return basic_index(x, shape, line.dtype(x), index)
