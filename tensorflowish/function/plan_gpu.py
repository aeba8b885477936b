"""GPU replay plans: a traced graph on CuPy arrays, each run of elementwise lines ONE kernel.

The CPU replay plan (`plan.py`) runs NumPy only. For a graph whose inputs are CuPy arrays,
`Graph.replay` comes here: the graph's lines are walked once and every maximal run of
elementwise lines of one shape and dtype (:data:`FUSIBLE`) becomes one generated CUDA kernel
(`tensorflowish.kernels.fusion`); the other lines run op by op on Tensors. A GradientTape
used inside the function over an elementwise chain is differentiated here at compile time:
the VJPs of its lines become steps of a kernel too, appended to the forward's run when
nothing else runs in between (the tape-overhead chain of `tensorflowish bench`, forward and
backward, is then a single kernel), so no tape records at run time.

Any other tape (a training step: a tape over dense layers, a cross-entropy, gradients with
respect to the variables it watched on read; several gradients, `stop_recording`, a jacobian)
is run by the plan itself, as the op-by-op replay runs it: a fresh GradientTape per call,
every line that is not fused recording itself with its op's VJP, and every fused run recording
one entry per value it writes out whose VJP is a generated backward kernel
(`plan_gpu_tape.py`). Captured Variables are read at each call (a fused run reads the buffer
a variable holds when the run starts); `Optimizer.apply_gradients`, metric updates and other
stateful lines run as the op-by-op replay runs them, i.e. eager's own calls on CuPy (the
optimisers' fused update kernels, in place unless a snapshot holds the buffer).

Where it does not apply the graph replays op by op, as before: a tape recording outside the
function, strict gradients, or control flow (`graph.plan_note` says why).

The launcher is a parameter (`compile_gpu_plan(graph, runner)`): `fusion.cupy_runner()` on a
GPU; the tests run the same plan with `fusion.emulator_runner()` on NumPy arrays.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from ..tape import _recording_tapes
from ..tensor import Tensor
from . import cuda_graph
from .graph import _ARRAY, Graph, Slot, fill, flatten, run_calls
from .plan_gpu_tape import RunTape

# registry op name -> fusion op (one-to-one over this table)
FUSIBLE = {name: name for name in (
    "add", "subtract", "multiply", "divide", "negative", "exp", "log", "tanh", "sigmoid",
    "relu", "square", "sqrt", "rsqrt", "abs", "maximum", "minimum")}
_FLOATS = {"float16", "bfloat16", "float32", "float64"}
_TAPE_LINES = ("GradientTape.__enter__", "GradientTape.watch", "GradientTape.__exit__")


class NotGpuPlannable(Exception):
    """The graph replays op by op on the GPU (the reason is the message)."""


@dataclasses.dataclass
class _Run:
    """One fused kernel being built: steps over inputs; outputs chosen when the plan ends."""

    shape: tuple
    dtype: str
    inputs: dict = dataclasses.field(default_factory=dict)  # slot -> (name, kind)
    steps: list = dataclasses.field(default_factory=list)
    lines: dict = dataclasses.field(default_factory=dict)  # step name -> the graph line
    defines: dict = dataclasses.field(default_factory=dict)  # slot -> step name
    outputs: list = dataclasses.field(default_factory=list)  # slots written out
    counter: int = 0
    kernel: object = None
    tape: object = None  # plan_gpu_tape.RunTape: records the run on a live GradientTape

    def fresh(self) -> str:
        self.counter += 1
        return f"t{self.counter}"


@dataclasses.dataclass
class GpuPlan:
    """A compiled GPU plan: `function(inputs)` runs it (inputs: the graph's input Tensors)."""

    graph: Graph
    actions: list  # ("run", _Run) or ("call", Call)
    kernels: int
    runner: object

    def function(self, inputs: list):
        values = [None] * self.graph.size
        for slot, value in zip(self.graph.input_slots, inputs):
            values[slot] = value
        for slot, value in self.graph.captures:
            values[slot] = value
        for kind, item in self.actions:
            if kind == "run":
                _launch(item, values, self.runner)
            else:
                run_calls((item,), values)
        return fill(self.graph.output_template, values)


def _launch(run: _Run, values: list, runner) -> None:
    arrays = {}
    for slot, (name, _) in run.inputs.items():
        value = values[slot]
        arrays[name] = value.array if isinstance(value, Tensor) else value
    outputs = run.kernel(arrays, runner, shape=run.shape)
    results = [Tensor(array) for array in outputs]
    for slot, result in zip(run.outputs, results):
        values[slot] = result
    if run.tape is not None and _recording_tapes:  # a tape the plan entered records
        run.tape.record(values, arrays, results)


class _Builder:
    def __init__(self, graph: Graph, live_tape: bool = False) -> None:
        self.graph = graph
        # False: a tape over elementwise lines is differentiated at compile time; True: the
        # plan runs the tape (every GradientTape line a call) and fused runs record on it
        self.live_tape = live_tape
        self.actions: list = []
        self.run: _Run | None = None
        self.owner: dict = {}  # slot -> the _Run defining it
        self.used_outside: set = set()  # slots read by a later run or call, or returned
        self.tape_slot = None
        self.recording = False
        self.watched: list = []
        self.recorded: list = []  # (call, run) of the lines a tape recorded, forward order
        self.reduced: dict = {}  # slot of a full reduce_sum -> its input slot

    def spec(self, slot: int):
        shape, dtype = self.graph.specs.get(slot, (None, None))
        if shape is None or any(d is None for d in shape):
            raise NotGpuPlannable(f"value %{slot} has no static shape")
        return tuple(shape), np.dtype(dtype).name

    def fusible(self, call) -> bool:
        if call.name not in FUSIBLE or call.control is not None or call.dynamic_kwargs:
            return False
        if any(v is not None for k, v in call.kwargs.items() if k == "name") or \
                set(call.kwargs) - {"name"} or len(call.output_slots) != 1:
            return False
        shape, dtype = self.spec(call.output_slots[0])
        if dtype not in _FLOATS:
            return False
        for kind, item in call.plan:
            if kind == 1:
                return False
            if kind == 2 and not (isinstance(item, numbers.Real) and not isinstance(item, bool)):
                return False
            if kind == 0:
                operand_shape, operand_dtype = self.spec(item)
                if operand_dtype != dtype or _kind(operand_shape, shape) is None:
                    return False
        return True

    def operand(self, run: _Run, slot: int) -> str:
        """The name of a value inside `run`: its step, or an input of the kernel."""
        if slot in run.defines:
            return run.defines[slot]
        if slot in run.inputs:
            return run.inputs[slot][0]
        self.used_outside.add(slot)
        name = f"in{len(run.inputs)}"
        run.inputs[slot] = (name, _kind(self.spec(slot)[0], run.shape))
        return name

    def add_line(self, call) -> None:
        shape, dtype = self.spec(call.output_slots[0])
        if self.run is None or self.run.shape != shape or self.run.dtype != dtype:
            self.close()
            self.run = _Run(shape, dtype)
        run = self.run
        args = [self.operand(run, item) if kind == 0 else float(item) for kind, item in call.plan]
        name = run.fresh()
        run.steps.append((name, FUSIBLE[call.name], tuple(args)))
        run.lines[name] = call
        run.defines[call.output_slots[0]] = name
        self.owner[call.output_slots[0]] = run
        if self.recording:
            self.recorded.append(call)

    def close(self) -> None:
        if self.run is not None and self.run.steps:
            self.actions.append(("run", self.run))
        self.run = None

    def add_call(self, call) -> None:
        for leaf in _slots((call.args, call.kwargs)):
            self.used_outside.add(leaf)
        if call.name == "reduce_sum" and call.kwargs.get("axis") is None and \
                not call.kwargs.get("keepdims") and call.plan and call.plan[0][0] == 0 and \
                len(call.plan) == 1:
            self.reduced[call.output_slots[0]] = call.plan[0][1]
        if self.recording and call.name != "reduce_sum" and call.tracked and \
                any(call.tracked):
            raise NotGpuPlannable(f"the tape records {call.name}, which is not elementwise")
        self.close()
        self.actions.append(("call", call))

    def tape_line(self, call) -> None:
        if call.name == "GradientTape.__enter__":
            if self.tape_slot is not None or call.args != (False, True):
                raise NotGpuPlannable("only one non-persistent GradientTape is fused")
            self.tape_slot = call.output_slots[0]
            self.recording = True
        elif call.name == "GradientTape.__exit__":
            self.recording = False
        elif call.name == "GradientTape.watch":
            source = call.args[1]
            sources = list(source) if isinstance(source, (list, tuple)) else [source]
            if not all(isinstance(s, Slot) for s in sources) or \
                    getattr(call.args[0], "index", None) != self.tape_slot:
                raise NotGpuPlannable("tape.watch of a nested structure is not fused")
            self.watched.extend(s.index for s in sources)

    def gradient(self, call) -> None:
        if len(call.args) != 3 or call.kwargs or not isinstance(call.args[1], Slot):
            raise NotGpuPlannable("tape.gradient with options or several targets")
        sources = call.args[2]
        sources = [sources] if isinstance(sources, Slot) else list(sources) \
            if isinstance(sources, (list, tuple)) and all(isinstance(s, Slot) for s in sources) \
            else None
        if sources is None or any(s.index not in self.watched for s in sources):
            raise NotGpuPlannable("tape.gradient of sources that were not watched")
        target = call.args[1].index
        for line in self.recorded:  # a reduce_sum is fused over only as the target itself
            if any(kind == 0 and item in self.reduced for kind, item in line.plan):
                raise NotGpuPlannable("the tape records a reduce_sum inside the chain")
        target = self.reduced.get(target, target)
        if target not in self.owner:
            raise NotGpuPlannable("the gradient's target is not an elementwise value")
        shape, dtype = self.spec(target)
        # the backward joins the current run when it is the target's; else a new kernel
        if self.run is None or self.run.shape != shape or self.run.dtype != dtype:
            self.close()
            self.run = _Run(shape, dtype)
        run = self.run
        gradients: dict = {target: _emit(run, "add", (0.0, 1.0))}  # d sum(target) = ones
        needed = _needed(self.recorded, {s.index for s in sources})
        for line in reversed(self.recorded):
            out = line.output_slots[0]
            if out not in gradients or out not in needed:
                continue
            g = gradients.pop(out)
            operands = [(kind, item) for kind, item in line.plan]
            names = [self.operand(run, item) if kind == 0 else float(item)
                     for kind, item in operands]
            result = self.operand(run, out)
            for position, vjp in enumerate(_vjp(run, FUSIBLE[line.name], g, names, result)):
                kind, item = operands[position]
                if kind != 0 or item not in needed or vjp is None:
                    continue
                if _kind(self.spec(item)[0], shape) != "full":
                    raise NotGpuPlannable("a gradient would flow into a broadcast operand")
                gradients[item] = vjp if item not in gradients else \
                    _emit(run, "add", (gradients[item], vjp))
        results = []
        for source in sources:
            if source.index not in gradients:
                raise NotGpuPlannable("a source the target does not depend on")
            slot = f"grad{id(call)}_{source.index}"
            results.append((slot, gradients[source.index]))
        positions = call.output_positions
        for out_slot, position in zip(call.output_slots, positions):
            name = results[0 if position == -1 else position][1]
            run.defines[out_slot] = name
            self.owner[out_slot] = run

    def build(self, runner) -> GpuPlan:
        from ..kernels import fusion

        for call in self.graph.calls:
            if call.control is not None:
                raise NotGpuPlannable(f"control flow ({call.name}) is not fused")
            if self.live_tape and call.name.startswith("GradientTape."):
                self.add_call(call)
            elif call.name in _TAPE_LINES:
                self.tape_line(call)
            elif call.name == "GradientTape.gradient":
                self.gradient(call)
            elif call.name.startswith("GradientTape."):  # stop_recording, jacobian, reset...
                raise NotGpuPlannable(f"{call.name} is not fused")
            elif self.fusible(call):
                self.add_line(call)
            else:
                self.add_call(call)
        self.close()
        self.used_outside.update(_slots(self.graph.output_template))
        kernels = 0
        for kind, run in self.actions:
            if kind != "run":
                continue
            run.outputs = [slot for slot in run.defines if slot in self.used_outside]
            if not run.outputs:
                continue
            names = [run.defines[slot] for slot in run.outputs]
            inputs = [(name, kind_) for name, kind_ in run.inputs.values()]
            run.kernel = fusion.compile_chain(fusion.Chain(inputs, run.steps, names, run.dtype))
            kernels += 1
            if self.live_tape:
                run.tape = RunTape(run, runner, _vjp, _emit, _Run)
        actions = [(k, r) for k, r in self.actions if k != "run" or r.kernel is not None]
        return GpuPlan(self.graph, actions, kernels, runner)


def _emit(run: _Run, op: str, args: tuple) -> str:
    name = run.fresh()
    run.steps.append((name, op, tuple(args)))
    return name


def _vjp(run: _Run, op: str, g: str, args: list, out: str) -> list:
    """The gradient steps of one line (None: no gradient), as the registry's VJPs."""
    a = args[0]
    b = args[1] if len(args) > 1 else None

    def e(o, *xs):
        return _emit(run, o, xs)

    if op == "add":
        return [g, g]
    if op == "subtract":
        return [g, e("negative", g)]
    if op == "multiply":
        return [e("multiply", g, b), e("multiply", g, a)]
    if op == "divide":
        return [e("divide", g, b),
                e("negative", e("divide", e("multiply", g, a), e("multiply", b, b)))]
    if op == "negative":
        return [e("negative", g)]
    if op == "exp":
        return [e("multiply", g, out)]
    if op == "log":
        return [e("divide", g, a)]
    if op == "tanh":
        return [e("multiply", g, e("subtract", 1.0, e("multiply", out, out)))]
    if op == "sigmoid":
        return [e("multiply", g, e("multiply", out, e("subtract", 1.0, out)))]
    if op == "relu":
        return [e("multiply", g, e("greater", out, 0.0))]
    if op == "square":
        return [e("multiply", g, e("multiply", 2.0, a))]
    if op == "sqrt":
        return [e("divide", e("multiply", g, 0.5), out)]
    if op == "rsqrt":  # d x^-1/2 = -1/2 x^-3/2 = -1/2 out^3
        return [e("multiply", g, e("multiply", -0.5, e("multiply", out, e("square", out))))]
    if op == "abs":
        return [e("multiply", g, e("subtract", e("greater", a, 0.0), e("greater", 0.0, a)))]
    if op == "maximum":  # x gets g where x >= y (TensorFlow's rule)
        return [e("multiply", g, e("subtract", 1.0, e("greater", b, a))),
                e("multiply", g, e("greater", b, a))]
    if op == "minimum":  # x gets g where x <= y
        return [e("multiply", g, e("subtract", 1.0, e("greater", a, b))),
                e("multiply", g, e("greater", a, b))]
    raise NotGpuPlannable(f"no fused gradient for {op}")


def _needed(recorded: list, sources: set) -> set:
    """Slots on a path from the sources (forward reachability through recorded lines)."""
    reached = set(sources)
    for line in recorded:
        if any(kind == 0 and item in reached for kind, item in line.plan):
            reached.add(line.output_slots[0])
    return reached


def _kind(operand_shape: tuple, shape: tuple) -> str | None:
    if operand_shape == shape:
        return "full"
    if int(np.prod(operand_shape, dtype=np.int64)) == 1 and len(operand_shape) <= len(shape):
        return "element"
    if len(shape) >= 1 and operand_shape == (shape[-1],):
        return "row"
    return None


def _slots(structure) -> set:
    found: set = set()

    def walk(item):
        if isinstance(item, Slot):
            found.add(item.index)
        elif isinstance(item, (list, tuple)):
            for x in item:
                walk(x)
        elif isinstance(item, dict):
            for x in item.values():
                walk(x)
        else:
            leaves: list = []
            try:
                flatten(item, leaves)
            except Exception:  # noqa: BLE001 - not a structure
                return
            for leaf in leaves:
                if isinstance(leaf, Slot):
                    found.add(leaf.index)

    walk(structure)
    return found


def compile_gpu_plan(graph: Graph, runner=None) -> GpuPlan:
    """The GPU plan of `graph` (raises NotGpuPlannable); `runner` defaults to CuPy's.

    A GradientTape inside is differentiated at compile time when it records only elementwise
    lines; otherwise (a training step) the plan runs the tape and its fused runs record on it
    (`plan_gpu_tape.py`)."""
    if runner is None:
        from ..kernels import fusion

        runner = fusion.cupy_runner()
    try:
        return _Builder(graph).build(runner)
    except NotGpuPlannable as reason:
        if not any(call.name.startswith("GradientTape.") for call in graph.calls):
            raise
        try:
            return _Builder(graph, live_tape=True).build(runner)
        except NotGpuPlannable as second:
            raise NotGpuPlannable(f"{second} (and with the tape differentiated at compile "
                                  f"time: {reason})") from None


def _is_cupy(array) -> bool:
    return type(array).__module__.startswith("cupy")


def replay_gpu(graph: Graph, inputs: list):
    """`Graph.replay` for inputs the CPU plan refused: the GPU plan for CuPy inputs (compiled
    at the first such call), else op by op."""
    if inputs and all(isinstance(t, Tensor) and _is_cupy(_ARRAY.__get__(t)) for t in inputs):
        plan = graph.gpu_plan
        if plan is None:
            try:
                plan = compile_gpu_plan(graph)
            except NotGpuPlannable as reason:
                plan, graph.plan_note = False, f"no GPU plan: {reason}"
            except Exception as error:  # noqa: BLE001 - a plan is an optimisation: never fatal
                plan, graph.plan_note = False, f"compiling the GPU plan failed: {error!r}"
                import logging

                logging.getLogger("tensorflowish.function").warning(
                    "tf.function %s replays op by op on the GPU: %s", graph.name,
                    graph.plan_note)
            if plan and cuda_graph.cuda_graphs_enabled():  # off by default: see cuda_graph.py
                try:
                    plan = cuda_graph.capture(plan, inputs)
                except cuda_graph.CaptureFailed as reason:
                    graph.plan_note = f"GPU plan not captured as a CUDA graph: {reason}"
            graph.gpu_plan = plan
        if plan:
            return plan.function(inputs)
    return graph.replay_op_by_op(inputs)
