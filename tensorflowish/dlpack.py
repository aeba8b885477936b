"""`tf.experimental.dlpack`: zero-copy exchange with NumPy, PyTorch, CuPy and others."""

from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor


def to_dlpack(tensor: Tensor):
    """A DLPack capsule sharing the tensor's memory."""
    return tensor.array.__dlpack__()


class _Capsule:
    """Lets numpy.from_dlpack consume a bare capsule (it only accepts objects)."""

    def __init__(self, capsule) -> None:
        self._capsule = capsule

    def __dlpack__(self, *args, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return (1, 0)


def from_dlpack(dlcapsule) -> Tensor:
    """A tensor sharing memory with a DLPack capsule or any object with `__dlpack__`."""
    if hasattr(dlcapsule, "__dlpack_device__"):
        device_type = dlcapsule.__dlpack_device__()[0]
        if device_type in (2, 3, 13):  # CUDA, CUDA host, CUDA managed
            return Tensor(backend.require_cupy().from_dlpack(dlcapsule))
        return Tensor(np.from_dlpack(dlcapsule))
    try:
        return Tensor(np.from_dlpack(_Capsule(dlcapsule)))
    except (RuntimeError, BufferError, TypeError):
        return Tensor(backend.require_cupy().from_dlpack(dlcapsule))
