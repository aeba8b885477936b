"""Fixtures for the kernel tests: a per-session kernel cache and the places kernels run."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tensorflowish.kernels import KERNEL_DIR, cuda, emulator


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory: pytest.TempPathFactory):
    """Compiled emulator kernels are shared by the tests of one session, not between runs."""
    path = tmp_path_factory.mktemp("kernel_cache")
    previous = os.environ.get("TENSORFLOWISH_KERNEL_CACHE")
    os.environ["TENSORFLOWISH_KERNEL_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("TENSORFLOWISH_KERNEL_CACHE", None)
    else:
        os.environ["TENSORFLOWISH_KERNEL_CACHE"] = previous


def gpu_unavailable_reason() -> str | None:
    """None where CuPy can run kernels here, else why not (the reason `tensorflowish info`
    gives: one function explains the GPU everywhere)."""
    from tensorflowish import backend

    reason = backend.gpu_unavailable_reason()
    return None if reason is None else f"no usable GPU: {reason}"


def _poison(dtype) -> float:
    """NaN for float buffers (bfloat16 included), -1 (no valid index) for integer ones such as
    pooling's argmax."""
    dtype = np.dtype(dtype)
    return np.nan if dtype.kind == "f" or dtype.name == "bfloat16" else -1


def _poisoned_numpy(shape, dtype):
    return np.full(shape, _poison(dtype), dtype=dtype)


@functools.cache
def emulator_runner(order: str, fused_dense_max_macs: int) -> cuda.KernelRunner:
    """The GPU launch code on NumPy arrays, kernels on the emulator, outputs poisoned with NaN.

    ``max_blocks`` is tiny so that the grid-stride loops of the kernels run more than once.
    """

    @functools.cache
    def load(filename: str) -> emulator.EmulatedModule:
        return emulator.load(KERNEL_DIR / filename, order=order, seed=1234)

    return cuda.KernelRunner(np, load, _poisoned_numpy, fused_dense_max_macs, max_blocks=3)


def cupy_runner(fused_dense_max_macs: int) -> cuda.KernelRunner:
    """The real CuPy runner, with outputs poisoned with NaN."""
    import cupy

    return dataclasses.replace(
        cuda.cupy_runner(),
        empty=lambda shape, dtype: cupy.full(shape, _poison(dtype), dtype=dtype),
        fused_dense_max_macs=fused_dense_max_macs,
    )


@dataclasses.dataclass
class CudaBackend:
    """Where the CUDA kernels of a test run, and how arrays get there and back."""

    name: str
    runner: Callable[[int], cuda.KernelRunner]  # fused_dense_max_macs -> runner
    to_device: Callable[[np.ndarray], Any]
    to_host: Callable[[Any], np.ndarray]


@pytest.fixture(
    params=[
        "emulator-forward",
        "emulator-reverse",
        "emulator-random",
        pytest.param("cupy", marks=pytest.mark.gpu),
    ]
)
def cuda_backend(request: pytest.FixtureRequest) -> CudaBackend:
    """The emulator in each thread order everywhere; real CuPy where a GPU exists."""
    if request.param == "cupy":
        reason = gpu_unavailable_reason()
        if reason:
            pytest.skip(reason)
        import cupy

        return CudaBackend("cupy", cupy_runner, cupy.asarray, cupy.asnumpy)
    order = request.param.split("-")[1]
    return CudaBackend(
        request.param, lambda fused: emulator_runner(order, fused), lambda a: a, lambda a: a
    )
