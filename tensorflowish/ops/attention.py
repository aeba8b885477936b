"""Softmax over masked attention scores, as Keras computes it, in one op.

`masked_softmax(scores, mask)` is softmax(where(mask, scores, -1e9)) with masked positions
then set to 0 (so a fully masked row gives zeros, not a uniform distribution): Keras 3's
`Softmax(mask=...)`, which `MultiHeadAttention` uses. One op, one tape record; its VJP is the
softmax's, y (g - sum(g y)), which is 0 at the masked positions.
"""

from __future__ import annotations

from ..kernels import attention as attention_kernels
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


def _samples(rng):
    import numpy as np

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
    shape = x.array.shape
    if mask is None:
        keep = xp.ones(shape, bool)
    else:
        keep = as_tensor(mask).array
        if keep.dtype != bool:
            keep = keep > 0.5
        try:
            keep = xp.broadcast_to(xp.asarray(keep), shape)
        except ValueError:
            raise InvalidArgumentError(
                f"masked_softmax: the mask {format_shape(keep.shape)} must broadcast to the "
                f"scores {format_shape(shape)}.") from None
    moved = axis not in (-1, len(shape) - 1)
    scores, keep = (xp.moveaxis(x.array, axis, -1), xp.moveaxis(keep, axis, -1)) if moved \
        else (x.array, keep)
    width = scores.shape[-1] if scores.ndim else 1
    values = attention_kernels.masked_softmax(
        xp.ascontiguousarray(scores).reshape(-1, width),
        xp.ascontiguousarray(keep).reshape(-1, width)).reshape(scores.shape)
    if moved:
        values = xp.ascontiguousarray(xp.moveaxis(values, -1, axis))
    out = Tensor(values)
    if should_record((x,)):
        record((x,), out, (lambda g: out * (g - reduce_sum(g * out, axis, keepdims=True)),))
    return out
