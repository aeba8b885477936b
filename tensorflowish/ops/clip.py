"""Gradient clipping by norm (composed from ops, so it is differentiable)."""

from __future__ import annotations

from ..tensor import Tensor
from .math import add_n, cast, maximum, sqrt
from .reductions import reduce_sum
from .registry import as_tensor


def clip_by_norm(t, clip_norm, axes=None, name=None) -> Tensor:
    """Scale `t` down so its L2 norm (over `axes`) is at most `clip_norm`."""
    t = as_tensor(t)
    norm = sqrt(reduce_sum(t * t, axes, keepdims=True))
    return t * clip_norm / maximum(norm, clip_norm)


def global_norm(t_list, name=None) -> Tensor:
    """sqrt(sum of squared L2 norms) of all tensors in the list (None entries are skipped)."""
    squares = [reduce_sum(as_tensor(t) * as_tensor(t)) for t in t_list if t is not None]
    return sqrt(add_n(squares)) if squares else as_tensor(0.0)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scale all tensors by clip_norm / max(global_norm, clip_norm); returns (list, global_norm)."""
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else as_tensor(use_norm)
    present = [t for t in t_list if t is not None]
    if not present:
        return t_list, norm
    dtype = as_tensor(present[0]).dtype
    scale = clip_norm / maximum(cast(norm, dtype), clip_norm)
    return [None if t is None else as_tensor(t) * scale for t in t_list], norm
