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


# The CuPy wheels, by the CUDA major version they are built for, and what each needs beside it.
CUPY_WHEELS = {12: "cupy-cuda12x", 13: "cupy-cuda13x"}
NVRTC_WHEELS = {12: "nvidia-cuda-nvrtc-cu12", 13: "nvidia-cuda-nvrtc"}
GPU_EXTRAS = {12: "gpu", 13: "gpu-cuda13"}
GPU_INSTALL_HINT = ("pip install 'tensorflowish[gpu]' for CUDA 12 (driver >= 525) or "
                    "'tensorflowish[gpu-cuda13]' for CUDA 13 (driver >= 580)")


def _cuda_major(cupy) -> int | None:
    """The CUDA major version this CuPy was built for (12 for cupy-cuda12x, 13 for 13x)."""
    try:
        return int(cupy.cuda.runtime.runtimeGetVersion()) // 1000
    except Exception:
        return None


def cupy_distribution() -> tuple[str, str] | None:
    """(wheel name, version) of the installed CuPy, e.g. ('cupy-cuda13x', '14.2.0'), or None.

    Where several CuPy wheels are installed (CuPy warns about it), the one whose CUDA version
    the imported ``cupy`` reports comes first."""
    from importlib import metadata

    installed = []
    for name in (*CUPY_WHEELS.values(), "cupy"):
        try:
            installed.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    if len(installed) > 1:
        try:
            import cupy

            wheel = CUPY_WHEELS.get(_cuda_major(cupy))
        except Exception:
            wheel = None
        installed.sort(key=lambda item: item[0] != wheel)
    return installed[0] if installed else None


def gpu_unavailable_reason() -> str | None:
    """None when CuPy can run kernels on a GPU here, else why not and what to do.

    This one function explains the GPU everywhere: `tensorflowish info`, the errors of the cupy
    backend, and the reason of every skipped GPU test.
    """
    try:
        import cupy
    except ImportError:
        return f"CuPy is not installed. Install the GPU extra: {GPU_INSTALL_HINT}."
    except Exception as error:  # a broken CuPy install must not break tensorflowish
        wheel = (cupy_distribution() or ("cupy",))[0]
        return f"CuPy failed to import ({type(error).__name__}: {error}). Reinstall {wheel}."
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
            major = _cuda_major(cupy)
            return (f"The NVIDIA driver is too old for this CUDA {major} runtime "
                    "(cudaErrorInsufficientDriver). Update the driver, or install the CuPy of "
                    f"the driver's CUDA version ({GPU_INSTALL_HINT}), or use numpy.")
        if status == 100:
            return "No CUDA device is visible (cudaErrorNoDevice). Check CUDA_VISIBLE_DEVICES."
        return f"CUDA could not list devices: {error}."
    if count == 0:
        return "No CUDA device is visible. Check CUDA_VISIBLE_DEVICES, or use numpy."
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception:
        major = _cuda_major(cupy)
        wheel = NVRTC_WHEELS.get(major, "the NVRTC wheel of your CUDA version")
        extra = GPU_EXTRAS.get(major, "gpu")
        return ("NVRTC (the CUDA runtime compiler) is missing, so kernels cannot be compiled. "
                f"pip install {wheel} (part of tensorflowish[{extra}]).")
    return None


def gpu_description() -> list[str]:
    """What there is to know about the GPU stack, one fact per line: the CuPy wheel, the CUDA
    runtime, NVRTC and driver versions, each device's name and compute capability. Every line
    is there even when something is missing (it then says so); nothing here raises."""
    distribution = cupy_distribution()
    if distribution is None:
        return [f"CuPy: not installed ({GPU_INSTALL_HINT})"]
    lines = [f"CuPy: {distribution[0]} {distribution[1]}"]
    try:
        import cupy
    except Exception as error:
        return [*lines, f"CuPy does not import: {type(error).__name__}: {error}"]
    runtime = cupy.cuda.runtime

    def version(number: int) -> str:
        return f"{number // 1000}.{number % 1000 // 10}"

    try:
        lines.append(f"CUDA runtime: {version(runtime.runtimeGetVersion())}")
    except Exception as error:
        lines.append(f"CUDA runtime: unknown ({error})")
    try:
        major, minor = cupy.cuda.nvrtc.getVersion()
        lines.append(f"NVRTC: {major}.{minor}")
    except Exception as error:
        lines.append(f"NVRTC: not found ({type(error).__name__})")
    try:
        driver = runtime.driverGetVersion()
        lines.append(f"CUDA driver: {version(driver)}" if driver else "CUDA driver: none")
    except Exception as error:
        lines.append(f"CUDA driver: unknown ({error})")
    try:
        count = runtime.getDeviceCount()
    except Exception:
        count = 0
    for index in range(count):
        try:
            properties = runtime.getDeviceProperties(index)
            name = properties["name"]
            name = name.decode() if isinstance(name, bytes) else name
            memory = properties["totalGlobalMem"] / 2**30
            lines.append(f"GPU:{index}: {name}, compute capability {properties['major']}."
                         f"{properties['minor']}, {memory:.0f} GiB")
        except Exception as error:
            lines.append(f"GPU:{index}: cannot be queried ({error})")
    return lines


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
