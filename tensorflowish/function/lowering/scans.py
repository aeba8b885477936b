"""Lowering rule of `math.cumsum` (its eager op: `ops/scans.py`): the op's own scan on arrays,
forward and VJP (the scan run the other way)."""

from __future__ import annotations

import numpy as np

from ...ops import scans
from . import Backward, Line, Lowered, NotLowered, lowering


@lowering("math.cumsum", half=True)
def cumsum(line: Line) -> Lowered:
    x = line.tensor("x")
    rank = len(line.shape(x))
    axis, exclusive, reverse = (line.literal(name) for name in ("axis", "exclusive", "reverse"))
    if not rank or not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise NotLowered("axis")  # the op raises its error
    axis, exclusive, reverse = int(axis) % rank, bool(exclusive), bool(reverse)

    def scan(array, backwards: bool):
        return scans._scan(np, array, axis, exclusive, backwards,
                           lambda a, d: np.cumsum(a, axis=d, dtype=a.dtype), 0)

    def vjp(needs, overwrite):
        return Backward(lambda g: (scan(g, not reverse),))
    return Lowered(lambda a: scan(a, reverse), [x], vjp)
