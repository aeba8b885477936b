"""Lowering rule of `where` with x and y (its eager op: `ops/math.py`): `np.where` forward;
each VJP places the gradient where its branch was picked and zeros elsewhere
(`np.where(condition, g, zeros_like(g))`), summed back to the branch's shape as the tape's
`unbroadcast` sums it."""

from __future__ import annotations

import numpy as np

from . import Backward, Line, Lowered, NotLowered, lowering, unbroadcaster


@lowering("where", half=True)
def where(line: Line) -> Lowered:
    if line["x"] is None or line["y"] is None:
        raise NotLowered("the coordinates form (x and y None)")
    condition = line.tensor("condition")
    if line.dtype(condition) != np.bool_:
        raise NotLowered("a condition that is not bool")  # the op raises its error
    x, y = line.binary("x", "y")
    shape = tuple(line.output_shape)
    reduce_x = unbroadcaster(shape, line.shape(x))
    reduce_y = unbroadcaster(shape, line.shape(y))
    select, zeros_like = np.where, np.zeros_like

    def vjp(needs, overwrite):
        def backward(g, picked):
            dx = dy = None
            if needs[1]:
                dx = select(picked, g, zeros_like(g))
                dx = dx if reduce_x is None else reduce_x(dx)
            if needs[2]:
                dy = select(picked, zeros_like(g), g)
                dy = dy if reduce_y is None else reduce_y(dy)
            return None, dx, dy
        return Backward(backward, ("in0",))
    return Lowered(select, [condition, x, y], vjp)
