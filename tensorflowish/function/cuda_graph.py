"""A GPU plan captured as a CUDA graph (``cupy.cuda.Graph``): a step's device work one launch.

:func:`capture` splits a GPU plan (`plan_gpu.py`) in two: the *captured part*, every action up
to the first line with a host-side effect (a metric update, `tf.print`, an assignment, a random
draw) that a later action depends on, and the *tail*, which runs as the plan runs it after each
launch (host-side lines nothing later depends on, such as Keras's loss tracker inside the
tape's block, are passed over and lead the tail). The captured part of a training step is its
forward and backward (the fused runs, the layers' kernels, the GradientTape lines: host-side
bookkeeping whose backward kernels are captured too) and its optimiser update where a
registered lowering covers it (plain SGD, Adam/AdamW: keras/optimizers/capture_lowering.py):
eager's update kernels take the step's scalars (the learning rate, Adam's bias-corrected step
size, the decay factor) as host arguments, which a graph would freeze at the first call's, so
the captured update is a generated kernel reading them from one-element device buffers that
the host fills before each launch (as `apply_gradients` computes them, from the iteration
count); the counter is advanced after the launch. Other updates (momentum, clipping, ...) are
host-side lines of the tail.

Capturing runs the captured part once to warm it (kernels compiled, a private memory pool
filled), then once more under stream capture on a non-blocking stream, on inputs copied into
static buffers (the update's kernels run on scratch copies then, so the warm-up changes no
state). Everything the graph touches has a stable device address from then on: the static
inputs, the buffers it writes (its values, temporaries included, allocated from the private
pool and kept as long as the captured plan lives), the variables' buffers it reads and the
variables, optimiser slots and scalar buffers its update writes, whose addresses are recorded.
A call then:

1. fills the update's scalar buffers for this step and makes each variable it writes own its
   buffer (copy-on-write, as eager: a snapshot taken before the step keeps its value);
2. compares the addresses of the variables and slots with the captured ones: one whose buffer
   was swapped (an `assign` of a new array, the copy-on-write of 1.) gets the graph captured
   again, since the graph would read and write the old buffer;
3. copies its inputs into the static inputs, launches the graph on the current stream (so the
   tail and the copies are ordered after it with no host synchronisation), advances the
   optimiser's iteration count;
4. runs the tail on the graph's values;
5. copies every returned tensor that lives in a graph buffer into a fresh array, so a returned
   tensor never changes when the graph runs again.

Not captured (`CaptureFailed`, the plan then runs uncaptured and `graph.plan_note` says why): a
plan whose first action is a host-side line (nothing to capture), and a plan whose captured
part reads a value back to the host (CuPy refuses synchronous transfers during capture).

The device is a parameter (`CudaDevice` on CuPy): the tests drive the same logic with a fake
device on NumPy arrays (tests/function/test_cuda_graph_capture.py), and `scripts/gpu-check`
runs it on a GPU. Off by default (:func:`enable_cuda_graphs`): verified only where a GPU ran
``scripts/gpu-check`` (so far none).
"""

from __future__ import annotations

from ..tensor import Tensor, Variable
from .graph import Slot, fill, flatten, map_structure, run_calls

_enabled = [False]


def enable_cuda_graphs(flag: bool = True) -> None:
    """Capture GPU plans as CUDA graphs from their second call on (default: off)."""
    _enabled[0] = bool(flag)


def cuda_graphs_enabled() -> bool:
    return _enabled[0]


class CaptureFailed(RuntimeError):
    """The plan could not be captured (the reason is the message); it runs uncaptured."""


class CudaDevice:
    """Stream capture on CuPy: a non-blocking stream to capture on, a private memory pool."""

    def __init__(self) -> None:
        import cupy

        self.cupy = cupy
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.pool = cupy.cuda.MemoryPool()

    def copy(self, array):
        with self.cupy.cuda.using_allocator(self.pool.malloc):
            return self.cupy.array(array, copy=True)

    def warm(self, function):
        """Run `function()` on the capture stream and the private pool, then wait for it."""
        self.cupy.cuda.get_current_stream().synchronize()  # what the stream must see first
        with self.cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            result = function()
        self.stream.synchronize()
        return result

    def capture(self, function, dry=None):
        """(graph, result) of `function()` run under stream capture (nothing runs: `dry`, the
        same work on scratch state, is for devices that execute while capturing)."""
        with self.cupy.cuda.using_allocator(self.pool.malloc), self.stream:
            self.stream.begin_capture()
            try:
                result = function()
            except BaseException:
                try:
                    self.stream.end_capture()
                except Exception:  # noqa: BLE001 - the capture is invalid already
                    pass
                raise
            graph = self.stream.end_capture()
        graph.upload()
        return graph, result

    def launch(self, graph) -> None:
        graph.launch(self.cupy.cuda.get_current_stream())

    def copy_into(self, static, array) -> None:
        self.cupy.copyto(static, array)  # on the current stream, before the launch

    @staticmethod
    def address(array) -> int:
        return array.data.ptr

    xp = property(lambda self: self.cupy)


class HostDevice:
    """A stand-in for `CudaDevice` on NumPy arrays, for the tests and gpu-check's dry run: a
    "graph" is the captured part's function, and launching it runs the function again and
    copies what it makes into the buffers the capture made (as a graph's kernels write the
    same addresses). A launch checks that every variable buffer the capture read is still the
    variable's, which a real graph silently would not: the captured plan must re-capture
    first. `log` lists what happened ("warm", "capture", "launch")."""

    def __init__(self) -> None:
        self.log: list[str] = []

    @staticmethod
    def copy(array):
        import numpy as np

        return np.array(array, copy=True)

    def warm(self, function):
        self.log.append("warm")
        return function()

    def capture(self, function, dry=None):
        self.log.append("capture")
        values = (dry or function)()  # this stand-in executes: not on the real state
        # addresses, not the arrays: holding a buffer would force the optimiser to copy it
        variables = [(v, self.address(v.array)) for v in values if isinstance(v, Variable)]
        return _HostGraph(function, values, variables), values

    def launch(self, graph) -> None:
        import numpy as np

        self.log.append("launch")
        for variable, address in graph.variables:
            if self.address(variable.array) != address:
                raise AssertionError(f"the graph would read a stale buffer of {variable.name}")
        for old, new in zip(graph.values, graph.function()):
            if isinstance(old, Tensor) and not isinstance(old, Variable) and old is not new:
                np.copyto(old.array, new.array)

    @staticmethod
    def copy_into(static, array) -> None:
        import numpy as np

        np.copyto(static, array)

    @staticmethod
    def address(array) -> int:
        return array.__array_interface__["data"][0]

    xp = property(lambda self: __import__("numpy"))


class _HostGraph:
    def __init__(self, function, values: list, variables: list) -> None:
        self.function, self.values, self.variables = function, values, variables


def _host_line(kind: str, item) -> bool:
    """A line the graph cannot hold: a host-side effect (the tape's lines are bookkeeping)."""
    return kind == "call" and item.stateful and not item.name.startswith("GradientTape.")


# Lowerings of `apply_gradients` lines into the graph (Keras's optimisers:
# keras/optimizers/capture_lowering.py registers its own when it loads; this package never
# imports Keras): `lower(call, variables, specs)` gives an update object or None. The object
# has `grad_slots`, `variable_slots`, `prepare(xp)` (host, before a launch: the step's scalars
# into device buffers, copy-on-write of what it writes), `buffers()` (what the graph writes:
# their addresses must not change), `launch(grads, runner, scratch)` (the kernels, captured;
# `scratch`: on copies) and `finish()` (host, after a launch).
_UPDATE_CAPTURES: list = []


def register_update_capture(lower) -> None:
    """Add a lowering of optimiser update lines into captured graphs (see above)."""
    _UPDATE_CAPTURES.append(lower)


def _updates(plan) -> list:
    """The plan's actions with each capturable update line as an ("update", object) action."""
    variables = {slot: value for slot, value in plan.graph.captures
                 if isinstance(value, Variable)}
    actions = []
    for kind, item in plan.actions:
        if kind == "call" and item.stateful and item.name.endswith(".apply_gradients"):
            for lower in _UPDATE_CAPTURES:
                update = lower(item, variables, plan.graph.specs)
                if update is not None:
                    update.call = item  # what runs instead where it is not captured
                    kind, item = "update", update
                    break
        actions.append((kind, item))
    return actions


class CapturedPlan:
    """A GPU plan with its device work up to its first host-side line as one CUDA graph:
    `function(inputs)` as the plan's."""

    def __init__(self, plan, inputs: list, device=None) -> None:
        self.plan = plan
        self.device = CudaDevice() if device is None else device
        self.captured, self.tail = _split(_updates(plan))
        if not any(kind != "call" or not item.name.startswith("GradientTape.")
                   for kind, item in self.captured):
            name = self.tail[0][1].name if self.tail else "nothing"
            raise CaptureFailed(f"nothing to capture before the host-side line {name}")
        tape_lines = [item.name for kind, item in self.tail
                      if kind == "call" and item.name.startswith("GradientTape.")]
        if tape_lines:
            stop = next(item.name for kind, item in self.tail if _host_line(kind, item))
            raise CaptureFailed(f"the host-side line {stop} must run before the GradientTape "
                                f"line {tape_lines[0]} (it writes what a later line reads): "
                                "the tape's block and its gradient must be captured whole")
        self.read_variables = _variables_read(plan.graph, self.captured)
        self.updates = [item for kind, item in self.captured if kind == "update"]
        self.static = [Tensor(self.device.copy(t.array)) for t in inputs]
        self.captures = 0  # how many times the graph was captured (re-captures included)
        self.graph = self.values = None
        self.failed = None  # why a re-capture failed: then the plan runs uncaptured
        try:
            for update in self.updates:
                update.prepare(self.device.xp)  # its scalar buffers exist before the capture
            # compiles kernels, fills the private pool (updates on scratch copies)
            self.device.warm(lambda: self._run_captured(scratch=True))
        except Exception as error:
            raise CaptureFailed(f"the warm-up run before capture failed: {error!r}") from error
        self._capture()

    def _run_captured(self, scratch: bool = False) -> list:
        from .plan_gpu import _launch

        graph = self.plan.graph
        values = [None] * graph.size
        for slot, value in zip(graph.input_slots, self.static):
            values[slot] = value
        for slot, value in graph.captures:
            values[slot] = value
        for kind, item in self.captured:
            if kind == "run":
                _launch(item, values, self.plan.runner)
            elif kind == "update":
                item.launch([values[slot].array for slot in item.grad_slots], self.plan.runner,
                            scratch)
            else:
                run_calls((item,), values)
        return values

    def _capture(self) -> None:
        self.graph = self.values = None  # the old graph's buffers go back to the pool first
        try:
            self.graph, self.values = self.device.capture(
                self._run_captured, lambda: self._run_captured(scratch=True))
        except Exception as error:
            raise CaptureFailed(f"capturing the plan failed: {error!r}") from error
        self.addresses = [self.device.address(a) for a in self._buffers()]
        self.owned = {id(value) for value in self.values
                      if isinstance(value, Tensor) and not isinstance(value, Variable)}
        self.captures += 1

    def _buffers(self) -> list:
        """The buffers of state the graph reads or writes (its addresses are baked in)."""
        return [v.array for v in self.read_variables] + \
            [buffer for update in self.updates for buffer in update.buffers()]

    def function(self, inputs: list):
        from .plan_gpu import _launch

        if self.failed is not None:
            return self.plan.function(inputs)
        for static, value in zip(self.static, inputs):
            if value.array.shape != static.array.shape or value.array.dtype != \
                    static.array.dtype:
                return self.plan.function(inputs)  # not the captured signature
        for update in self.updates:  # the step's scalars; what it writes made its own
            update.prepare(self.device.xp)
        if any(self.device.address(a) != address
               for a, address in zip(self._buffers(), self.addresses)):
            try:  # a variable's buffer was swapped: the graph would read the old one
                self._capture()
            except CaptureFailed as reason:
                self.failed = self.plan.graph.plan_note = \
                    f"GPU plan no longer captured as a CUDA graph: {reason}"
                return self.plan.function(inputs)
        device = self.device
        for static, value in zip(self.static, inputs):
            device.copy_into(static.array, value.array)
        device.launch(self.graph)
        for update in self.updates:
            update.finish()
        values = list(self.values)
        for kind, item in self.tail:
            if kind == "run":
                _launch(item, values, self.plan.runner)
            else:
                run_calls((item,), values)
        owned = self.owned
        return map_structure(
            lambda leaf: Tensor(leaf.array.copy()) if isinstance(leaf, Tensor) and
            id(leaf) in owned else leaf, fill(self.plan.graph.output_template, values))


def _split(actions: list) -> tuple[list, list]:
    """(captured, tail): the actions up to the first host-side line that a later action
    depends on (it writes a slot or a variable that one reads), and the rest, the host-side
    lines passed over (a loss tracker's update inside a tape's block, a print) leading it in
    their order. A passed-over line reads only values made before it, which the graph has
    written when the tail runs."""
    captured, deferred = [], []
    for index, (kind, item) in enumerate(actions):
        if not _host_line(kind, item):
            captured.append((kind, item))
            continue
        writes = set(item.output_slots)
        if item.name.startswith("Variable.") and item.args and isinstance(item.args[0], Slot):
            writes.add(item.args[0].index)
        later, later_writes = set(), set()
        for other in actions[index + 1:]:
            if not _host_line(*other):
                later |= _reads(*other)
                if other[0] == "update":
                    later_writes |= set(other[1].variable_slots)
        # passed over, it would run after the graph: it must not change what a later line
        # reads, nor read a variable the graph's update writes
        if writes & later or _reads(kind, item) & later_writes:
            rest = [("call", other.call) if kind_ == "update" else (kind_, other)
                    for kind_, other in actions[index:]]
            return captured, deferred + rest
        deferred.append((kind, item))
    return captured, deferred


def _reads(kind: str, item) -> set:
    if kind == "run":
        return set(item.inputs)
    if kind == "update":
        return set(item.grad_slots) | set(item.variable_slots)
    leaves: list = []
    flatten((item.args, item.kwargs), leaves)
    return {leaf.index for leaf in leaves if isinstance(leaf, Slot)}


def _variables_read(graph, actions: list) -> list:
    """The captured Variables the actions read (their buffers' addresses go into the graph)."""
    slots: set = set()
    for kind, item in actions:
        slots |= _reads(kind, item)
    return [value for slot, value in graph.captures
            if isinstance(value, Variable) and slot in slots]


def capture(plan, inputs: list, device=None) -> CapturedPlan:
    """`plan` (a GpuPlan on CuPy) captured for inputs of the shapes of `inputs`."""
    return CapturedPlan(plan, inputs, device)


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
    lines.append("CUDA graph capture: replays equal the uncaptured plan (exactly), new inputs too")
    lines.append(timing_line(synchronize, "timing (median of 50)", (
        ("eager", lambda: chain(x, s)), ("GPU plan", lambda: plan.function([x, s])),
        ("CUDA graph", lambda: captured.function([x, s])))))
    return lines


def timing_line(synchronize, label: str, functions) -> str:
    """`label: name t µs, ...`: the median of 50 timed calls of each (name, function)."""
    return label + ": " + ", ".join(
        f"{name} {_median_seconds(function, 50, synchronize) * 1e6:.1f} µs"
        for name, function in functions)


if __name__ == "__main__":
    import sys

    for line in check(emulator="--emulator" in sys.argv):
        print(line)
