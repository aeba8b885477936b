"""The GPU targets, each measured as a ratio in one run of `tensorflowish bench` on a GPU.

1. The dense layer forward+backward at 1024x2048x2048 float32 takes at most 1.15x the time of
   its three cuBLAS GEMMs alone (y = xW, dx = dy W^T, dW = x^T dy): bias, activation, its
   gradient and the column sum may cost 15% on top, no more.
2. Below the switch-over size (``kernels.cuda.FUSED_DENSE_MAX_MACS`` multiply-adds) the one
   fused kernel for act(xW + b) is faster than a cuBLAS GEMM followed by the bias+activation
   kernel; that is the reason the switch exists.
3. The "large" MLP training step is at least 20x faster on the GPU than on the CPU.
4. Kernel launches per "tiny" training step are counted and printed (no target yet: it is the
   number that tracing will drive down).

Nothing here runs without a usable GPU except the formatting and the workload builders, which
take any device so they can be tested on the CPU.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import numpy as np

from .. import backend
from .bench import Workload, _module, _random, dense_forward_backward, mlp_training_step, time_pair

DENSE_GEMM_SIZE = (1024, 2048, 2048)
DENSE_GEMM_TARGET = 1.15
FUSED_SIZES = [(32, 64, 64), (64, 256, 256), (128, 128, 256)]  # all at or below the switch
MLP_SPEEDUP_SIZE = "large"
MLP_SPEEDUP_TARGET = 20.0
LAUNCH_COUNT_SIZE = "tiny"


@dataclasses.dataclass
class Target:
    """One measured target: ``value`` compared with ``target`` by ``comparison``."""

    name: str
    value: float | None  # None: could not be measured (``detail`` says why)
    target: float | None  # None: a number to report, no target yet
    comparison: str  # "<=", "<" or ">="
    unit: str
    detail: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "NOT MEASURED"
        if self.target is None:
            return "reported"
        met = {"<=": self.value <= self.target, "<": self.value < self.target,
               ">=": self.value >= self.target}[self.comparison]
        return "met" if met else "MISSED"

    def line(self) -> str:
        if self.value is None:
            value = "?"
        elif self.target is None and float(self.value).is_integer():
            value = f"{int(self.value)}{self.unit}"  # a count
        else:
            value = f"{self.value:.2f}{self.unit}"
        goal = "" if self.target is None else f" (target {self.comparison} {self.target:.2f}" \
            f"{self.unit})"
        detail = f"; {self.detail}" if self.detail else ""
        return f"{self.name}: {value}{goal} {self.verdict}{detail}"


def format_targets(targets: list[Target]) -> str:
    """One line per GPU target: the value, the target and the verdict."""
    return "\n".join(target.line() for target in targets)


# --- workloads ---------------------------------------------------------------------------------
def dense_against_three_gemms(device: str, n: int, k: int, m: int) -> Workload:
    """The framework's dense forward+backward against its three GEMMs and nothing else."""
    xp, rng = _module(device), np.random.default_rng(1)
    framework = dense_forward_backward(device, n, k, m).framework
    x, w = _random(xp, rng, (n, k)), _random(xp, rng, (k, m), k ** -0.5)
    dy = _random(xp, rng, (n, m))
    y, dx, dw = (xp.empty(shape, np.float32) for shape in ((n, m), (n, k), (k, m)))

    def floor():
        xp.matmul(x, w, out=y)
        xp.matmul(dy, w.T, out=dx)
        xp.matmul(x.T, dy, out=dw)
        return dw

    return Workload("dense forward+backward vs its 3 GEMMs", f"{n}x{k}x{m}",
                    2.0 * 3 * n * k * m, framework, floor)


def fused_against_gemm_epilogue(runner, n: int, k: int, m: int) -> Workload:
    """``kernels.cuda.dense_forward`` as one fused kernel (framework) against cuBLAS GEMM +
    the bias+activation kernel (floor), both forced through the same launch code. ``runner``
    is a ``kernels.cuda.KernelRunner``; on the CPU tests pass the emulator's."""
    from ..kernels import cuda

    xp, rng = runner.xp, np.random.default_rng(2)
    x, w = _random(xp, rng, (n, k)), _random(xp, rng, (k, m), k ** -0.5)
    b = _random(xp, rng, (m,))
    fused = dataclasses.replace(runner, fused_dense_max_macs=n * k * m)
    unfused = dataclasses.replace(runner, fused_dense_max_macs=0)
    return Workload("fused dense kernel vs GEMM + epilogue", f"{n}x{k}x{m}", 2.0 * n * k * m,
                    lambda: cuda.dense_forward(fused, x, w, b, "relu", 0.2)[0],
                    lambda: cuda.dense_forward(unfused, x, w, b, "relu", 0.2)[0])


# --- counting kernel launches ------------------------------------------------------------------
_KERNEL_NODE = 0  # CU_GRAPH_NODE_TYPE_KERNEL


def _count_kernel_nodes(graph_handle: int) -> int:
    """Kernel nodes of a CUDA graph, through the driver API (libcuda is there with any driver)."""
    import ctypes

    cuda = ctypes.CDLL("libcuda.so.1")
    count = ctypes.c_size_t(0)
    handle = ctypes.c_void_p(graph_handle)
    if cuda.cuGraphGetNodes(handle, None, ctypes.byref(count)) != 0:
        raise RuntimeError("cuGraphGetNodes failed")
    nodes = (ctypes.c_void_p * count.value)()
    if cuda.cuGraphGetNodes(handle, nodes, ctypes.byref(count)) != 0:
        raise RuntimeError("cuGraphGetNodes failed")
    kernels = 0
    for node in nodes:
        kind = ctypes.c_int(-1)
        if cuda.cuGraphNodeGetType(ctypes.c_void_p(node), ctypes.byref(kind)) != 0:
            raise RuntimeError("cuGraphNodeGetType failed")
        kernels += kind.value == _KERNEL_NODE
    return kernels


def _count_by_graph_capture(step: Callable[[], object]) -> int:
    """Record one step into a CUDA graph (stream capture: nothing runs) and count its kernels."""
    cupy = backend.require_cupy()
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        try:
            step()
        finally:
            graph = stream.end_capture()
    try:
        return _count_kernel_nodes(graph.graph)
    except (OSError, RuntimeError, AttributeError):  # no driver API: read the DOT description
        return len(re.findall(r"\bKERNEL\b", graph.debug_dot_str()))


def _count_by_profiler(step: Callable[[], object]) -> int:
    """Count the kernels CUPTI sees during one step (PyTorch's profiler, where installed)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    cupy = backend.require_cupy()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as profiler:
        step()
        cupy.cuda.get_current_stream().synchronize()
    return sum(1 for event in profiler.events() if event.device_type == DeviceType.CUDA
               and not event.name.lower().startswith(("memcpy", "memset")))


def count_kernel_launches(step: Callable[[], object]) -> tuple[int | None, str]:
    """(launches in one call of ``step``, how they were counted), or (None, why not).

    ``step`` is warmed up first (kernels compiled, the memory pool filled), then recorded with
    CUDA stream capture; where capture is refused (a host synchronisation inside the step),
    PyTorch's CUPTI profiler counts instead.
    """
    cupy = backend.require_cupy()
    for _ in range(3):
        step()
    cupy.cuda.get_current_stream().synchronize()
    failures = []
    for method, name in ((_count_by_graph_capture, "CUDA graph capture"),
                         (_count_by_profiler, "PyTorch profiler (CUPTI)")):
        try:
            return method(step), name
        except Exception as error:  # noqa: BLE001 - each way may be unavailable; say why
            failures.append(f"{name}: {type(error).__name__}: {error}")
            cupy.cuda.get_current_stream().synchronize()
    return None, "; ".join(failures)


# --- the run -----------------------------------------------------------------------------------
def measure(device: str = "GPU:0", repeats: int = 45, cpu_seconds: dict | None = None,
            progress: Callable[[str], None] | None = None) -> list[Target]:
    """Measure every GPU target on ``device``. ``cpu_seconds`` maps MLP sizes to CPU step times
    already measured in this run (otherwise the CPU step is timed here)."""
    from .. import device as device_scope
    from ..kernels import cuda

    say = progress or (lambda text: None)
    targets = []
    with device_scope(device):
        say(f"{device} dense forward+backward against its three GEMMs")
        workload = dense_against_three_gemms(device, *DENSE_GEMM_SIZE)
        seconds, gemms = time_pair(workload.framework, workload.floor, device, repeats)
        targets.append(Target(f"{device} dense forward+backward {workload.size} / its 3 cuBLAS "
                              "GEMMs", seconds / gemms, DENSE_GEMM_TARGET, "<=", "x",
                              f"{seconds * 1e3:.2f} ms vs {gemms * 1e3:.2f} ms"))
        for n, k, m in FUSED_SIZES:
            say(f"{device} fused dense kernel {n}x{k}x{m}")
            workload = fused_against_gemm_epilogue(cuda.cupy_runner(), n, k, m)
            fused, unfused = time_pair(workload.framework, workload.floor, device, repeats)
            targets.append(Target(f"{device} fused dense kernel {workload.size} / GEMM + "
                                  "epilogue", fused / unfused, 1.0, "<", "x",
                                  f"{fused * 1e6:.1f} µs vs {unfused * 1e6:.1f} µs; switch-over "
                                  f"at {cuda.FUSED_DENSE_MAX_MACS} MACs"))
        say(f"{device} MLP training step {MLP_SPEEDUP_SIZE}")
        step = mlp_training_step(device, MLP_SPEEDUP_SIZE)
        gpu, _ = time_pair(step.framework, step.floor, device, repeats)
    cpu = (cpu_seconds or {}).get(MLP_SPEEDUP_SIZE)
    if cpu is None:
        say(f"CPU:0 MLP training step {MLP_SPEEDUP_SIZE}")
        with device_scope("CPU:0"):
            step = mlp_training_step("CPU:0", MLP_SPEEDUP_SIZE)
            cpu, _ = time_pair(step.framework, step.floor, "CPU:0", max(3, repeats // 5))
    targets.append(Target(f"{device} MLP training step {MLP_SPEEDUP_SIZE}: CPU time / GPU time",
                          cpu / gpu, MLP_SPEEDUP_TARGET, ">=", "x",
                          f"{cpu * 1e3:.2f} ms vs {gpu * 1e3:.2f} ms"))
    with device_scope(device):
        say(f"{device} kernel launches per {LAUNCH_COUNT_SIZE} training step")
        launches, how = count_kernel_launches(
            mlp_training_step(device, LAUNCH_COUNT_SIZE).framework)
    targets.append(Target(f"{device} kernel launches per {LAUNCH_COUNT_SIZE} MLP training step",
                          None if launches is None else float(launches), None, "<=", "",
                          f"counted by {how}" if launches is not None else how))
    return targets
