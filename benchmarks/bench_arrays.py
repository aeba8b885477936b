"""Helpers the benchmark modules share: the array module of a device, and a result on the host
(for checking that framework and floor agree)."""

from __future__ import annotations

import numpy as np

from tensorflowish import backend


def array_module(device):
    """NumPy for a CPU device, CuPy for a GPU one."""
    return backend.array_module_for_device(device)


def host(value):
    """A tensor, backend array or list of them as NumPy arrays on the host."""
    if isinstance(value, (list, tuple)):
        return [host(v) for v in value]
    array = getattr(value, "array", value)
    return np.asarray(backend.to_numpy(array) if hasattr(array, "shape") else array)
