"""Softmax over masked attention scores, as Keras computes it, in one op.

`masked_softmax(scores, mask)` is softmax(where(mask, scores, -1e9)) with masked positions
then set to 0 (so a fully masked row gives zeros, not a uniform distribution): Keras 3's
`Softmax(mask=...)`, which `MultiHeadAttention` uses. One op, one tape record; its VJP is the
softmax's, y (g - sum(g y)), which is 0 at the masked positions.
"""

from __future__ import annotations

import numpy as np

from .reductions import reduce_sum
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    check_axis,
    format_shape,
    record,
    register,
    require_float,
    should_record,
)

__all__ = ["masked_softmax"]

_LARGE_NEGATIVE = {np.dtype(np.float16): -65504.0}


def _samples(rng):
    mask = np.array([[[True, True, False], [False, False, False]]])  # a fully masked row too
    return [((rng.uniform(-2, 2, (2, 2, 3)), mask), {}),
            ((rng.uniform(-2, 2, (2, 2, 3)), None), {})]


@register("attention.masked_softmax", samples=_samples)
def masked_softmax(scores, mask=None, axis: int = -1) -> Tensor:
    """softmax(scores) along `axis` over the positions where `mask` (broadcastable) is True;
    0 elsewhere."""
    x = as_tensor(scores)
    require_float("masked_softmax", x)
    axis = check_axis("masked_softmax", axis, x.array.ndim)
    xp = array_module(x.array)
    values = x.array.astype(x.array.dtype, copy=True)
    keep = None
    if mask is not None:
        keep = as_tensor(mask).array
        if keep.dtype != bool:
            keep = keep > 0.5
        try:
            keep = xp.broadcast_to(keep, values.shape)
        except ValueError:
            raise InvalidArgumentError(
                f"masked_softmax: the mask {format_shape(keep.shape)} must broadcast to the "
                f"scores {format_shape(values.shape)}.") from None
        values[~keep] = _LARGE_NEGATIVE.get(values.dtype, -1e9)
    values -= values.max(axis=axis, keepdims=True)
    xp.exp(values, out=values)
    values /= values.sum(axis=axis, keepdims=True)
    if keep is not None:
        values[~keep] = 0
    out = Tensor(values)
    if should_record((x,)):
        record((x,), out, (lambda g: out * (g - reduce_sum(g * out, axis, keepdims=True)),))
    return out
