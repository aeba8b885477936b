"""The only module that knows NumPy from CuPy.

It chooses where new tensors live (`TENSORFLOWISH_BACKEND=numpy|cupy`, overridden inside
`tf.device(...)` blocks), tells which device an array is on, moves arrays between devices, and
explains why a GPU cannot be used when it cannot.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .errors import FailedPreconditionError

BACKENDS = ("numpy", "cupy")
_ENV_VARIABLE = "TENSORFLOWISH_BACKEND"

_default_device: str | None = None  # "CPU:0" or "GPU:0", resolved on first use
_device_stack: list[str] = []
_cupy = None  # the cupy module once a GPU has been found usable


class BackendError(FailedPreconditionError):
    """Raised when the requested backend or device cannot be used (also a RuntimeError)."""


def _backend_from_environment() -> str:
    name = os.environ.get(_ENV_VARIABLE, "numpy").strip().lower() or "numpy"
    if name not in BACKENDS:
        raise ValueError(f"{_ENV_VARIABLE}={os.environ[_ENV_VARIABLE]!r} is not a backend; "
                         f"expected one of {', '.join(BACKENDS)} (unset it for numpy).")
    return name


def gpu_unavailable_reason() -> str | None:
    """None when CuPy can run kernels on a GPU here, else why not and what to do."""
    try:
        import cupy
    except ImportError:
        return ("CuPy is not installed. Install the GPU extra: "
                "pip install 'tensorflowish[gpu]' (cupy-cuda12x and NVRTC).")
    except Exception as error:  # a broken CuPy install must not break tensorflowish
        return f"CuPy failed to import ({type(error).__name__}: {error}). Reinstall cupy-cuda12x."
    runtime = cupy.cuda.runtime
    try:
        if runtime.driverGetVersion() == 0:
            return ("No NVIDIA driver found (libcuda is missing). Install the NVIDIA driver, "
                    "or use the numpy backend.")
    except Exception as error:
        return f"CUDA driver query failed: {error}. Install the NVIDIA driver, or use numpy."
    try:
        count = runtime.getDeviceCount()
    except Exception as error:
        status = getattr(error, "status", None)
        if status == 35:
            return ("The NVIDIA driver is too old for this CUDA runtime "
                    "(cudaErrorInsufficientDriver). Update the driver, or use numpy.")
        if status == 100:
            return "No CUDA device is visible (cudaErrorNoDevice). Check CUDA_VISIBLE_DEVICES."
        return f"CUDA could not list devices: {error}."
    if count == 0:
        return "No CUDA device is visible. Check CUDA_VISIBLE_DEVICES, or use numpy."
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception:
        return ("NVRTC (the CUDA runtime compiler) is missing, so kernels cannot be compiled. "
                "pip install nvidia-cuda-nvrtc-cu12 (part of tensorflowish[gpu]).")
    return None


def require_cupy():
    """Return the cupy module, or raise BackendError saying why it is unusable."""
    global _cupy
    if _cupy is None:
        reason = gpu_unavailable_reason()
        if reason is not None:
            raise BackendError(f"The cupy backend (GPU) cannot be used: {reason}")
        import cupy

        _cupy = cupy
    return _cupy


def gpu_count() -> int:
    """How many usable GPUs there are (0 when CuPy cannot run)."""
    if gpu_unavailable_reason() is not None:
        return 0
    import cupy

    return cupy.cuda.runtime.getDeviceCount()


def available_backends() -> list[str]:
    """The backends that work here: always numpy, cupy when a GPU is usable."""
    return ["numpy", "cupy"] if gpu_count() else ["numpy"]


def normalize_device(name: str) -> str:
    """'/device:GPU:0', 'gpu', 'GPU:1', '/job:localhost/.../device:CPU:0' -> 'GPU:0' / 'CPU:0'."""
    text = str(name).strip()
    if "device:" in text:
        text = text.rsplit("device:", 1)[1]
    text = text.strip("/").upper()
    kind, _, index = text.partition(":")
    if kind not in ("CPU", "GPU") or (index and not index.isdigit()):
        raise ValueError(f"Unknown device {name!r}; expected 'CPU:0' or 'GPU:<index>'.")
    return f"{kind}:{int(index or 0)}"


def default_device() -> str:
    """Where new tensors go outside any tf.device block."""
    global _default_device
    if _default_device is None:
        _default_device = "GPU:0" if _backend_from_environment() == "cupy" else "CPU:0"
    return _default_device


def set_default_backend(name: str) -> None:
    """Switch the default backend for new tensors ('numpy' or 'cupy')."""
    global _default_device
    if name not in BACKENDS:
        raise ValueError(f"Unknown backend {name!r}; expected one of {', '.join(BACKENDS)}.")
    if name == "cupy":
        require_cupy()
    _default_device = "GPU:0" if name == "cupy" else "CPU:0"


def current_device() -> str:
    """The device new tensors are created on: the innermost tf.device block, or the default."""
    return _device_stack[-1] if _device_stack else default_device()


_soft_placement = True
_soft_placement_warned: set[str] = set()


def set_soft_device_placement(enabled: bool) -> None:
    """With soft placement on (TensorFlow's default), `tf.device("GPU:0")` where no GPU is
    usable runs on the CPU with one warning; off, it raises BackendError with the reason."""
    global _soft_placement
    _soft_placement = bool(enabled)


def get_soft_device_placement() -> bool:
    return _soft_placement


def _soft_fallback(device: str, reason: str) -> str:
    if device not in _soft_placement_warned:
        _soft_placement_warned.add(device)
        import warnings

        warnings.warn(f"tf.device('{device}'): no usable GPU ({reason}) Running on CPU:0 "
                      "instead (soft device placement; "
                      "tf.config.set_soft_device_placement(False) makes this an error).",
                      RuntimeWarning, stacklevel=4)
    return "CPU:0"


@contextlib.contextmanager
def device_scope(name: str):
    """Context manager behind `tf.device`."""
    device = normalize_device(name)
    if device.startswith("GPU"):
        index = int(device.split(":")[1])
        reason = gpu_unavailable_reason()
        if reason is None:
            cupy = require_cupy()
            count = cupy.cuda.runtime.getDeviceCount()
            if index >= count:
                reason = f"{device} does not exist: {count} GPU(s) visible."
        if reason is not None:
            if not _soft_placement:
                raise BackendError(f"tf.device('{device}'): {reason}")
            device = _soft_fallback(device, reason)
    if device.startswith("GPU"):
        with require_cupy().cuda.Device(int(device.split(":")[1])):
            _device_stack.append(device)
            try:
                yield device
            finally:
                _device_stack.pop()
    else:
        _device_stack.append(device)
        try:
            yield device
        finally:
            _device_stack.pop()


def array_module_for_device(device: str):
    """numpy for 'CPU:*', cupy for 'GPU:*'."""
    return require_cupy() if device.startswith("GPU") else np


def is_numpy(array) -> bool:
    return type(array) is np.ndarray


def get_array_module(array):
    """numpy or cupy, whichever owns this array."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        return np
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    module = type(array).__module__
    if module.startswith("cupy"):
        return require_cupy()
    return np


def device_of(array) -> str:
    """'CPU:0' for a NumPy array, 'GPU:<n>' for a CuPy array."""
    if isinstance(array, np.ndarray):
        return "CPU:0"
    return f"GPU:{array.device.id}"


def to_numpy(array) -> np.ndarray:
    """A host (NumPy) copy or view of a backend array."""
    if isinstance(array, np.ndarray):
        return array
    if isinstance(array, (np.generic, int, float, bool)):
        return np.asarray(array)
    return array.get()


def to_device(array, device: str):
    """Copy a backend array to 'CPU:0' or 'GPU:n' (no copy if already there)."""
    device = normalize_device(device)
    if device_of(array) == device:
        return array
    if device == "CPU:0":
        return to_numpy(array)
    cupy = require_cupy()
    with cupy.cuda.Device(int(device.split(":")[1])):
        return cupy.asarray(array)


def asarray(data, dtype=None, device: str | None = None):
    """A backend array on `device` (default: the current device) from any array-like."""
    device = device or current_device()
    if device == "CPU:0":
        if not isinstance(data, np.ndarray) and type(data).__module__.startswith("cupy"):
            data = data.get()
        return np.asarray(data, dtype=dtype)
    cupy = require_cupy()
    with cupy.cuda.Device(int(device.split(":")[1])):
        return cupy.asarray(data, dtype=dtype)


def synchronize(device: str | None = None) -> None:
    """Wait for queued GPU work (a no-op on the CPU)."""
    if (device or current_device()).startswith("GPU"):
        require_cupy().cuda.get_current_stream().synchronize()
