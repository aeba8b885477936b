"""`tf.config`: the devices this process can use."""

from __future__ import annotations

import dataclasses

from . import backend


@dataclasses.dataclass(frozen=True)
class PhysicalDevice:
    """A device, named as TensorFlow names them."""

    name: str
    device_type: str


def list_physical_devices(device_type: str | None = None) -> list[PhysicalDevice]:
    """The CPU, plus one entry per usable GPU (none where CuPy cannot run)."""
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    devices += [PhysicalDevice(f"/physical_device:GPU:{i}", "GPU")
                for i in range(backend.gpu_count())]
    if device_type is not None:
        devices = [d for d in devices if d.device_type == device_type.upper()]
    return devices


def list_logical_devices(device_type: str | None = None) -> list[PhysicalDevice]:
    return [PhysicalDevice(d.name.replace("/physical_device:", "/device:"), d.device_type)
            for d in list_physical_devices(device_type)]


def gpu_unavailable_reason() -> str | None:
    """Why the GPU backend cannot be used here (None when it can)."""
    return backend.gpu_unavailable_reason()


def set_soft_device_placement(enabled: bool) -> None:
    """On (the default, as TensorFlow): tf.device('GPU:0') without a usable GPU runs on the CPU
    with one warning saying why. Off: it raises the reason instead."""
    backend.set_soft_device_placement(enabled)


def get_soft_device_placement() -> bool:
    return backend.get_soft_device_placement()


def set_backend(name: str) -> None:
    """Switch the default backend ('numpy' or 'cupy') for tensors created from now on."""
    backend.set_default_backend(name)


def get_backend() -> str:
    """'numpy' or 'cupy': where new tensors go outside tf.device blocks."""
    return "cupy" if backend.default_device().startswith("GPU") else "numpy"


class experimental:  # noqa: N801 - TensorFlow's namespace
    list_physical_devices = staticmethod(list_physical_devices)

    @staticmethod
    def set_memory_growth(device, enable) -> None:
        """Accepted for compatibility: CuPy's memory pool already grows on demand."""


_run_functions_eagerly = False


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Make every tf.function run its Python body eagerly instead of tracing (for debugging)."""
    global _run_functions_eagerly
    _run_functions_eagerly = bool(run_eagerly)


def functions_run_eagerly() -> bool:
    """True after `tf.config.run_functions_eagerly(True)`."""
    return _run_functions_eagerly
