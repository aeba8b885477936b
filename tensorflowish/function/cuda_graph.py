"""A GPU plan captured as a CUDA graph (``cupy.cuda.Graph``): the whole step one launch.

:func:`capture` runs a GPU plan (`plan_gpu.py`) once to warm it (kernels compiled, a private
memory pool filled), then once more under stream capture on inputs copied into static
buffers. A call then copies its inputs into those buffers, launches the graph and copies the
outputs into fresh arrays (so a returned tensor never changes when the graph runs again).
The pool is private to the captured plan and kept as long as it lives: the buffers the graph
writes, temporaries included, belong to no one else.

Only static shapes, only the CuPy path, only plans whose lines have no effect other than their
outputs (no `tf.print`, no variable, no random draw). Off by default
(:func:`enable_cuda_graphs`): verified only where a GPU ran ``scripts/gpu-check`` (so far
none); a plan that cannot be captured (a line that reads a value back to the host) stays
uncaptured.
"""

from __future__ import annotations

from .graph import map_structure

_enabled = [False]


def enable_cuda_graphs(flag: bool = True) -> None:
    """Capture GPU plans as CUDA graphs from their second call on (default: off)."""
    _enabled[0] = bool(flag)


def cuda_graphs_enabled() -> bool:
    return _enabled[0]


class CaptureFailed(RuntimeError):
    """The plan could not be captured (the reason is the message); it runs uncaptured."""


class CapturedPlan:
    """A GPU plan as one CUDA graph: `function(inputs)` as the plan's, one launch per call."""

    def __init__(self, plan, inputs: list) -> None:
        import cupy

        from ..tensor import Tensor

        if any(call.stateful for kind, call in plan.actions if kind == "call"):
            raise CaptureFailed("a line with side effects cannot be replayed by a CUDA graph")
        self.plan = plan
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.pool = cupy.cuda.MemoryPool()
        with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            self.static = [Tensor(cupy.array(t.array, copy=True)) for t in inputs]
            plan.function(self.static)  # warm: compiles kernels, fills the private pool
            self.stream.synchronize()
            self.stream.begin_capture()
            try:
                self.outputs = plan.function(self.static)
            except Exception as error:
                self.stream.end_capture()
                raise CaptureFailed(f"capturing the plan failed: {error!r}") from error
            self.graph = self.stream.end_capture()
            self.graph.upload()

    def function(self, inputs: list):
        import cupy

        from ..tensor import Tensor

        with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            for static, value in zip(self.static, inputs):
                cupy.copyto(static.array, value.array)
            self.graph.launch(self.stream)
        # the copies: on the default allocator and the current stream, after the graph
        self.stream.synchronize()
        return map_structure(
            lambda leaf: Tensor(leaf.array.copy()) if isinstance(leaf, Tensor) else leaf,
            self.outputs)


def capture(plan, inputs: list) -> CapturedPlan:
    """`plan` (a GpuPlan on CuPy) captured for inputs of the shapes of `inputs`."""
    return CapturedPlan(plan, inputs)


# ---- the check run by scripts/gpu-check ------------------------------------------------------
def elementwise_chain(ops: int):
    """The benchmarks' chain: `ops` alternating `y * s` and `y + s`, and dy/dx by a tape
    (`tensorflowish bench`'s tape-overhead rows run it too)."""
    from .. import tape as tape_module

    def chain(x, s):
        with tape_module.GradientTape() as tape:
            tape.watch(x)
            y = x
            for i in range(ops):
                y = y * s if i % 2 == 0 else y + s
        return y, tape.gradient(y, x)
    return chain


def _median_seconds(function, repeats: int, synchronize) -> float:
    import time

    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronize()
        samples.append(time.perf_counter() - start)
    return sorted(samples)[len(samples) // 2]


def check(emulator: bool = False, ops: int = 100, elements: int = 4096) -> list[str]:
    """The tape-overhead chain (forward + backward) as a GPU plan, uncaptured and captured,
    against eager; returns the report's lines, raises AssertionError on a wrong value.
    `emulator`: the plan's kernels on the CPU emulator on NumPy arrays (no capture)."""
    import numpy as np

    import tensorflowish as tf

    from ..kernels import fusion
    from . import plan_gpu

    if emulator:
        xp, runner, elements, synchronize = np, fusion.emulator_runner(), 16, lambda: None
    else:
        import cupy as xp

        runner = fusion.cupy_runner()

        def synchronize():
            xp.cuda.Stream.null.synchronize()
            xp.cuda.get_current_stream().synchronize()
    rng = np.random.default_rng(0)
    x = tf.Tensor(xp.asarray(rng.normal(size=elements).astype(np.float32)))
    s = tf.Tensor(xp.asarray(rng.normal(size=elements).astype(np.float32) * 0.5 + 1.0))

    chain = elementwise_chain(ops)
    traced = tf.function(chain)
    traced(x, s)
    plan = plan_gpu.compile_gpu_plan(traced.get_concrete_function(x, s).graph, runner)

    def host(values):
        return [np.asarray(v.array.get() if hasattr(v.array, "get") else v.array)
                for v in values]

    eager, planned = host(chain(x, s)), host(plan.function([x, s]))
    for a, b in zip(planned, eager):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    lines = [f"fused chain ({ops} ops x {elements}, forward + backward): {plan.kernels} "
             f"kernel(s), values equal eager (rtol 1e-4)"]
    if emulator:
        return lines + ["CUDA graph capture: not run (emulator: no GPU)"]
    captured = capture(plan, [x, s])
    for a, b in zip(host(captured.function([x, s])), planned):
        np.testing.assert_array_equal(a, b)
    x2 = tf.Tensor(x.array * 0.5)  # new values through the same static buffers
    for a, b in zip(host(captured.function([x2, s])), host(plan.function([x2, s]))):
        np.testing.assert_array_equal(a, b)
    timings = {name: _median_seconds(function, 50, synchronize) * 1e6 for name, function in (
        ("eager", lambda: chain(x, s)), ("GPU plan", lambda: plan.function([x, s])),
        ("CUDA graph", lambda: captured.function([x, s])))}
    lines.append("CUDA graph capture: replays equal the uncaptured plan (exactly), new inputs too")
    lines.append("timing (median of 50): " + ", ".join(
        f"{name} {value:.1f} µs" for name, value in timings.items()))
    return lines


if __name__ == "__main__":
    import sys

    for line in check(emulator="--emulator" in sys.argv):
        print(line)
