"""Keras masks: a boolean (batch, time) tensor that travels with a layer's output.

`Embedding(mask_zero=True)` and `Masking` attach one; layers whose `call` takes `mask=` get it
from their input (an RNN then carries its state through the masked steps), and layers that
support masking pass it on (`compute_mask`). Tensors are immutable and have no attribute
slots, so the mask is held here, by the tensor's id, for as long as the tensor lives.
"""

from __future__ import annotations

import weakref
from typing import Any

from tensorflowish.tensor import Tensor

_MASKS: dict[int, tuple[Any, Any]] = {}


def _forget(key: int):
    return lambda _reference: _MASKS.pop(key, None)


def get_keras_mask(tensor: Any) -> Any:
    """The mask attached to `tensor`, or None."""
    if not isinstance(tensor, Tensor):
        return None
    entry = _MASKS.get(tensor._id)
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def set_keras_mask(tensor: Any, mask: Any) -> None:
    """Attach `mask` to `tensor` (None removes it)."""
    if not isinstance(tensor, Tensor):
        return
    if mask is None:
        _MASKS.pop(tensor._id, None)
        return
    _MASKS[tensor._id] = (weakref.ref(tensor, _forget(tensor._id)), mask)


def first_mask(value: Any) -> Any:
    """The mask of a tensor, or the list of masks of a list of tensors (None if none)."""
    if isinstance(value, (list, tuple)):
        masks = [get_keras_mask(v) for v in value]
        return masks if any(m is not None for m in masks) else None
    return get_keras_mask(value)


def attach(outputs: Any, masks: Any) -> None:
    """Attach output masks (one, or one per output) where the outputs have none yet."""
    if masks is None:
        return
    if isinstance(outputs, (list, tuple)):
        mask_list = masks if isinstance(masks, (list, tuple)) else [masks] * len(outputs)
        for output, mask in zip(outputs, mask_list):
            if mask is not None and get_keras_mask(output) is None:
                set_keras_mask(output, mask)
    elif get_keras_mask(outputs) is None:
        set_keras_mask(outputs, masks[0] if isinstance(masks, (list, tuple)) else masks)
