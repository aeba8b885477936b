"""Replay plans: a traced graph compiled into one straight-line Python function on arrays.

A graph replayed op by op (`Graph.replay`'s fallback) calls every registry op again: Tensor
objects, argument checks and tape records per line. A plan runs the same lines through their
lowering rules (`tensorflowish.function.lowering`) on NumPy arrays instead, as generated
source exec'd once per graph (JAX-style): one local variable per value, no Tensor made between
lines, nothing checked at run time that the trace already checked (static shapes and dtypes).

- A GradientTape used inside the function becomes array code too: the plan holds the backward
  pass, written at compile time by walking the tape's recorded lines backwards through the
  rules' VJPs, for only the inputs that lead to the requested sources (TensorFlow's graph
  gradients). Values the backward needs stay alive; every local is deleted after its last use.
- `Optimizer.apply_gradients` becomes a direct call of the optimiser's array update (its own
  fused kernels) when the optimiser clips, accumulates, averages nothing and the variables have
  no constraints; otherwise it is a line like any other below.
- Lines without a rule (metric updates, tf.print, random draws, assignments, ops not lowered
  yet) run through their function on Tensors wrapping the arrays: a mixed plan. A graph whose
  gradient path holds such a line, or control flow that `plan_control.py` does not lower, or
  tape uses other than enter/watch/exit/gradient, gets no plan and replays op by op.
- Elementwise ufunc lines whose input buffer dies at that line write their result into it
  (`out=`), so chains of elementwise ops run in place; every decision to write into a buffer is
  taken once the whole function is written, from each name's last use (`_Builder.source`).
- Buffers kept from call to call (`plan_buffers.py`): GEMM results, gradients, elementwise
  results and the cross-entropy's arrays are computed (`out=`) into arrays the plan allocates
  once, when no value living in them can leave the call (returned, passed to a line without a
  rule or to control flow, kept by an optimiser update); buffers of one shape and dtype are
  shared by values whose lifetimes do not overlap. A call finding the plan busy (another
  thread, or re-entry) runs without them.
- Lines whose inputs are all constants run once, at compile time (constant folding).
- The output shape of a line without a rule is checked where later array code relies on it (a
  value-dependent size would otherwise be baked in).

The plan is compiled lazily at a graph's second call (the first is the trace) and used while
no GradientTape records outside the function (then the ops must record themselves: the op-by-op
replay runs) and the inputs are NumPy arrays. A graph with relaxed (None) shapes gets a plan
per tuple of input shapes (`Graph._replay_shaped`). Results equal the op-by-op replay's; see
tests/function/test_plan.py.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from ..tensor import Tensor, Variable
from . import lowering as lowering_rules
from . import plan_buffers
from .graph import Call, Graph, Slot, _PlanFallback, _PlanReshaped, _plans_enabled, fill
from .plan_lines import VALUE_SHAPED, has_effects, line_runner, slots_of


class NotPlannable(Exception):
    """The graph replays op by op (the reason is the message)."""


Fallback = _PlanFallback  # raised by a plan, before any effect, for inputs not its own


@dataclasses.dataclass
class _Statement:
    code: str
    defines: tuple
    uses: tuple
    pure: bool
    inplace: tuple = ()  # with `{out}` in code: names it may write into when they die here
    consume: tuple = ()  # with `{consume}` in code: one flag per name, True where it dies here
    # with `{function}` in code: (name, function if the name's buffer dies here, otherwise)
    choose: tuple = ()
    # with `{buffers}` in code: per result, (name, shape, dtype) of a buffer it can be computed
    # into, or None (plan_buffers.py decides which get the plan's persistent buffers)
    allocate: tuple = ()
    # with `{out}` in code: (name, shape, dtype) of the buffer to compute into when no input
    # dies here
    out_buffer: tuple | None = None
    fresh: bool = True  # False: the defined names may be views of any used name
    aliases: tuple = ()  # used names the defined ones may be views of although `fresh`
    keeps: tuple = ()  # used names whose buffers the line may hold after the call


@dataclasses.dataclass
class _Recorded:
    """A lowered line recorded on a tape: what its backward needs."""

    index: int  # the forward line's number
    name: str
    lowered: lowering_rules.Lowered | None
    inputs: list  # Operands (slots or constants)
    input_names: list  # the array names (or constants' names) it read
    output_slot: int
    output_name: str
    residual_name: str | None
    tracked_inputs: tuple  # per input: a slot the tape tracked when the line ran


@dataclasses.dataclass
class _Tape:
    persistent: bool
    watch_variables: bool
    recording: bool = True
    tracked: set = dataclasses.field(default_factory=set)
    # _Recorded, forward order (lowered None: a line without a rule that the tape tracked)
    lines: list = dataclasses.field(default_factory=list)
    gradients: int = 0


class _Builder:
    def __init__(self, graph: Graph, specs: dict | None = None) -> None:
        self.graph = graph
        self.specs = graph.specs if specs is None else specs
        self.namespace: dict = {"_T": Tensor, "_nd": np.ndarray, "_Fallback": Fallback,
                                "_Reshaped": _PlanReshaped, "_fill": fill, "_add": np.add}
        self.statements: list[_Statement] = []
        self.counter = itertools.count()
        self.arrays: dict[int, str] = {}  # slot -> local name of its array
        self.objects: dict[int, str] = {}  # slot -> name of its Tensor (or Variable) object
        self.variables: dict[int, Variable] = {}
        self.variable_reads: dict[int, str] = {}  # slot -> name read since the last effect
        self.owned: set[str] = set()  # names of buffers only the plan holds
        self.fresh_residuals: set[str] = set()  # residuals of rules with `buffers` (never views)
        self.buffer_specs: list = []  # (shape, dtype) per persistent buffer, set by source()
        self.tapes: dict[int, _Tape] = {}  # tape slot -> state
        self.lowered_lines = 0
        self.effects = False  # whether a line with side effects has been emitted

    # --- names -----------------------------------------------------------------------------
    def fresh_name(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def constant(self, value, prefix: str = "K") -> str:
        name = self.fresh_name(prefix)
        self.namespace[name] = value
        return name

    def emit(self, code: str, defines=(), uses=(), pure=True, inplace=(), consume=(),
             choose=(), **buffers) -> None:
        """One statement; `buffers`: `_Statement`'s allocate, out_buffer, fresh, aliases,
        keeps."""
        self.statements.append(_Statement(code, tuple(defines), tuple(uses), pure,
                                          tuple(inplace), tuple(consume), tuple(choose),
                                          **buffers))

    def array(self, slot: int) -> str:
        """The local name of a slot's array, reading a variable's current buffer if needed."""
        if slot in self.variables:
            name = self.variable_reads.get(slot)
            if name is None:
                name = self.variable_reads[slot] = self.fresh_name("r")
                self.emit(f"{name} = {self.objects[slot]}.array", [name],
                          [self.objects[slot]])
            return name
        name = self.arrays.get(slot)
        if name is None:
            source = self.objects.get(slot)
            if source is None:
                raise NotPlannable(f"value %{slot} is not an array")
            name = self.arrays[slot] = f"a{slot}"
            self.emit(f"{name} = {source}.array", [name], [source])
        return name

    def object(self, slot: int) -> str:
        """The name of a slot's Tensor (a new Tensor wrapping its array if none exists)."""
        name = self.objects.get(slot)
        if name is None:
            array = self.arrays.get(slot)
            if array is None:
                raise NotPlannable(f"value %{slot} ({self.graph.types.get(slot)}) cannot be "
                                   "passed to a line")
            name = self.objects[slot] = f"t{slot}"
            self.emit(f"{name} = _T({array})", [name], [array])
            self.owned.discard(array)  # the Tensor may outlive the name: never written
        return name

    def operand(self, operand: lowering_rules.Operand) -> str:
        if operand.slot is None:
            return self.constant(operand.constant)
        return self.array(operand.slot)

    def effect(self) -> None:
        """A line that may change variables ran: read them again at their next use."""
        self.variable_reads.clear()

    # --- the graph's parts -----------------------------------------------------------------
    def inputs(self) -> None:
        for position, slot in enumerate(self.graph.input_slots):
            if slot in self.objects:
                continue
            self.objects[slot] = f"t{slot}"
            self.arrays[slot] = f"a{slot}"
            self.emit(f"t{slot} = inputs[{position}]\na{slot} = t{slot}.array\n"
                      f"if a{slot}.__class__ is not _nd:\n    raise _Fallback", [f"t{slot}",
                                                                                 f"a{slot}"],
                      pure=False)
        for slot, value in self.graph.captures:
            if value.array.__class__ is not np.ndarray:
                raise NotPlannable(f"captured value %{slot} is not a NumPy array")
            self.objects[slot] = self.constant(value, "C")
            if isinstance(value, Variable):
                self.variables[slot] = value
            else:
                self.arrays[slot] = self.constant(value.array, "A")

    def lines(self, calls: list[Call]) -> None:
        for index, call in enumerate(calls):
            if call.control is not None:
                self.control(index, call)
            elif call.name.startswith("GradientTape."):
                self.tape_line(index, call)
            elif _is_apply_gradients(call) and self.apply_gradients(call):
                pass
            elif not self.lower(index, call):
                self.fallback(index, call)

    def recording(self) -> list[_Tape]:
        return [tape for tape in self.tapes.values() if tape.recording]

    # --- lowered lines ---------------------------------------------------------------------
    def lower(self, index: int, call: Call) -> bool:
        if call.stateful and not lowering_rules.has_line_rule(call.function) or \
                len(call.output_slots) != 1 or call.output_positions != [-1]:
            return False
        found = lowering_rules.rule_for(call.function)
        if found is None:
            return False
        try:
            line = lowering_rules.Line(found[0], call.function, call.args, call.kwargs,
                                       self.specs, call.output_slots)
            lowered = found[1](line)
        except lowering_rules.NotLowered:
            return False
        slot = call.output_slots[0]
        spec = self.specs.get(slot)
        if spec is None:
            return False
        for operand in lowered.inputs:
            if operand.slot is not None and operand.slot not in self.arrays and \
                    operand.slot not in self.variables and operand.slot not in self.objects:
                return False
        names = [self.operand(operand) for operand in lowered.inputs]
        if all(name in self.namespace for name in names):  # constant inputs: fold the line
            output, residual = self.fold(lowered, names)
            self.arrays[slot] = output
            self.lowered_lines += 1
            self.record_all(index, call, lowered, names, slot, output, residual)
            return True
        function = self.constant(lowered.forward, "F")
        output = f"a{slot}"
        residual = f"s{slot}" if lowered.residual else None
        targets = f"{output}, {residual}" if residual else output
        candidates, out_buffer, allocate = (), None, ()
        if lowered.ufunc and spec[0]:  # not 0-d: NumPy would return a scalar
            candidates = tuple(name for name, operand in zip(names, lowered.inputs)
                               if operand.slot is not None and
                               self.specs[operand.slot][:2] == spec[:2])
            # a float ufunc whose inputs all have the output's dtype: its result is exactly
            # an array of the output's spec, so it may go into a buffer of that spec
            if isinstance(lowered.forward, np.ufunc) and spec[1].kind in "fc" and all(
                    np.asarray(operand.constant).dtype == spec[1] if operand.slot is None
                    else self.specs[operand.slot][1] == spec[1] for operand in lowered.inputs):
                out_buffer = (output, tuple(spec[0]), spec[1])
            code = f"{targets} = {function}({', '.join(names)}{{out}})"
        elif lowered.buffers:
            results = [output] + ([residual] if residual else [])
            allocate = tuple(None if entry is None else (name, *entry)
                             for name, entry in zip(results, lowered.buffers))
            code = f"{targets} = {function}({', '.join(names)}{{buffers}})"
            if residual:
                self.fresh_residuals.add(residual)
        else:
            code = f"{targets} = {function}({', '.join(names)})"
        # without declared buffers a residual may hold the inputs (a view of one)
        fresh = lowered.fresh and (not residual or bool(lowered.buffers))
        self.emit(code, [output] + ([residual] if residual else []), names, inplace=candidates,
                  out_buffer=out_buffer, allocate=allocate, fresh=fresh)
        self.arrays[slot] = output
        self.lowered_lines += 1
        if lowered.fresh:
            self.owned.add(output)
        else:
            self.owned.difference_update(names)
        self.record_all(index, call, lowered, names, slot, output, residual)
        return True

    def fold(self, lowered, names: list) -> tuple[str, str | None]:
        """Run a line whose inputs are all constants once, now: its results become constants
        (read-only: no line ever writes into them)."""
        result = lowered.forward(*[self.namespace[name] for name in names])
        values = result if lowered.residual else (result, None)
        for value in values:
            if value.__class__ is np.ndarray:
                value.flags.writeable = False
        return self.constant(values[0]), (None if values[1] is None else
                                          self.constant(values[1]))

    def record_all(self, index, call, lowered, names, slot, output, residual) -> None:
        """Record a lowered line on the recording tapes; the tapes must track its output
        exactly where the trace's tapes did (a safety net for the rules' VJP claims)."""
        tapes = self.recording()
        for tape in tapes:
            self.record(tape, index, call, lowered, names, slot, output, residual)
        if call.tracked and call.tracked[0] != any(slot in tape.tracked for tape in tapes):
            raise NotPlannable(f"line {index} ({call.name}): the plan's tape tracking differs "
                               "from the trace's")

    def record(self, tape: _Tape, index, call, lowered, names, slot, output, residual) -> None:
        self.watch_variables(tape, call)
        tracked = tuple(o.slot is not None and o.slot in tape.tracked and
                        position not in lowered.untracked
                        for position, o in enumerate(lowered.inputs))
        if any(tracked) and lowered.vjp is not None and self.specs[slot][1].kind in "fcV":
            tape.tracked.add(slot)
            tape.lines.append(_Recorded(index, call.name, lowered, lowered.inputs, names, slot,
                                        output, residual, tracked))

    def watch_variables(self, tape: _Tape, call: Call) -> None:
        """Trainable float variables a line reads are watched (watch_accessed_variables)."""
        if not tape.watch_variables:
            return
        for slot in slots_of((call.args, call.kwargs)):
            variable = self.variables.get(slot)
            if variable is not None and variable.trainable and \
                    variable.array.dtype.kind in "fV":
                tape.tracked.add(slot)

    # --- lines run through their function on Tensors -------------------------------------------
    def fallback(self, index: int, call: Call) -> None:
        slots = slots_of((call.args, call.kwargs))
        objects = {slot: self.object(slot) for slot in slots}
        for tape in self.recording():
            self.watch_variables(tape, call)
            if any(slot in tape.tracked for slot in slots):
                tracked = tuple(slot in tape.tracked for slot in slots)
                operands = [lowering_rules.Operand(slot=slot) for slot in slots]
                for position, slot in enumerate(call.output_slots):
                    if call.tracked and not call.tracked[position]:
                        continue  # the trace's tape did not track it (a dropout mask)
                    tape.tracked.add(slot)  # tracked by eager; the plan has no backward
                    tape.lines.append(_Recorded(index, call.name, None, operands, [], slot, "",
                                                None, tracked))
        helper = self.constant(line_runner(call), "L")
        mapping = "{" + ", ".join(f"{slot}: {name}" for slot, name in objects.items()) + "}"
        outputs = [f"t{slot}" for slot in call.output_slots]
        head = f"{', '.join(outputs)}, = " if outputs else ""
        self.emit(f"{head}{helper}({mapping})", outputs, list(objects.values()), pure=False)
        for slot, name in zip(call.output_slots, outputs):
            self.objects[slot] = name
            self.arrays.pop(slot, None)
            self.check_shape(index, call, slot, name, slots)
        if call.stateful:
            self.effect()
            self.effects = True

    def check_shape(self, index: int, call: Call, slot: int, name: str, inputs: list) -> None:
        """The rules after a line without one rely on its output's traced shape; an op whose
        output size depends on values (boolean_mask, unique, a tensor shape argument) can
        break that. Checked at run time: before any side effect, a changed shape sends the
        call (and later ones) to the op-by-op replay; after one, such ops get no plan."""
        spec = self.specs.get(slot)
        if spec is None:
            return
        risky = call.name in VALUE_SHAPED or any(
            self.specs.get(s, ((), np.dtype("f")))[1].kind in "iub" for s in inputs)
        if self.effects and risky:
            raise NotPlannable(f"line {index} ({call.name}) may give a value-dependent shape "
                               "after a side effect of the call")
        if self.effects:
            message = (f"line {index} ({call.name}) gave a shape other than its traced "
                       f"{spec[0]} after side effects: a replay-plan bug")
            failure = f"raise RuntimeError({message!r})"
        else:
            failure = "raise _Reshaped"
        self.emit(f"if {name}.array.shape != {tuple(spec[0])!r}:\n    {failure}", (), [name],
                  pure=False)

    def control(self, index: int, call: Call) -> None:
        """A control-flow line (tf.cond, tf.while_loop, a dataset loop) runs as it replays op by
        op, on a {slot: object} table of every value made so far (its branches and bodies read
        outer values by slot). While a tape records, its branches or body become sub-plans
        with a traced backward (plan_control.py)."""
        if self.recording():  # on a gradient path: sub-plans with a traced backward
            from .plan_control import lower_control

            lower_control(self, index, call)
            return
        slots = sorted(set(self.arrays) | set(self.objects) | set(self.variables))
        objects = {}
        for slot in slots:
            try:
                objects[slot] = self.object(slot)
            except NotPlannable:
                continue  # not a value of the graph (a tape)
        table = self.fresh_name("t")
        mapping = "{" + ", ".join(f"{slot}: {name}" for slot, name in objects.items()) + "}"
        runner = self.constant(call.control, "L")
        outputs = [f"t{slot}" for slot in call.output_slots]
        code = f"{table} = {mapping}\n{runner}({table})"
        if outputs:
            code += f"\n{', '.join(outputs)}, = " + \
                ", ".join(f"{table}[{slot}]" for slot in call.output_slots) + ","
        self.emit(code, [table] + outputs, list(objects.values()), pure=False)
        self.effect()  # its branches may assign variables: read them again
        for slot, name in zip(call.output_slots, outputs):
            self.objects[slot] = name
            self.arrays.pop(slot, None)
            self.check_shape(index, call, slot, name, list(objects))
        if has_effects(call):
            self.effects = True

    # --- tapes ------------------------------------------------------------------------------
    def tape_line(self, index: int, call: Call) -> None:
        what = call.name.split(".", 1)[1]
        if what == "__enter__":
            persistent, watch_variables = call.args
            self.tapes[call.output_slots[0]] = _Tape(bool(persistent), bool(watch_variables))
            return
        tape = self.tapes.get(call.args[0].index if call.args and
                              call.args[0].__class__ is Slot else -1)
        if tape is None:
            raise NotPlannable(f"{call.name} on a tape made outside the function")
        if what == "__exit__":
            tape.recording = False
        elif what == "watch":
            for slot in slots_of(call.args[1:]):
                if slot in self.variables or self.specs.get(slot, ((), np.dtype(object)))[1] \
                        .kind in "fcV":
                    tape.tracked.add(slot)
        elif what == "gradient":
            from .plan_backward import gradient

            if self.recording() or (tape.gradients and not tape.persistent):
                raise NotPlannable("a gradient taken while a tape records, or twice")
            tape.gradients += 1
            gradient(self, tape, call)
        else:
            raise NotPlannable(f"{call.name} is not planned")

    # --- optimiser updates ---------------------------------------------------------------------
    def apply_gradients(self, call: Call) -> bool:
        for lower in _UPDATE_LOWERINGS:
            update = lower(call, self.variables, self.specs)
            if update is not None:
                break
        else:
            return False
        function, pairs = update
        # a gradient slot, or (values, indices) slots of an IndexedSlices: passed as a pair
        names = [self.array(grad) if grad.__class__ is int else
                 f"({self.array(grad[0])}, {self.array(grad[1])})" for grad, _ in pairs]
        uses = [name for name in names if name[0] != "("] + \
            [self.array(part) for grad, _ in pairs if grad.__class__ is not int for part in grad]
        for tape in self.recording():
            self.watch_variables(tape, call)
        self.effect()  # drop cached reads before the update: a held buffer forces a copy
        self.effects = True
        helper = self.constant(function, "U")
        # the gradients that die here may be scaled in place (as the floor's `dw *= lr`); an
        # update that does not say it only reads them may keep them (a custom optimiser)
        keeps = () if getattr(function, "keeps_gradients", True) is False else tuple(uses)
        self.emit(f"{helper}([{', '.join(names)}], {{consume}})", (), uses, pure=False,
                  consume=names, keeps=keeps)
        self.effect()
        return True

    # --- outputs and code -------------------------------------------------------------------
    def outputs(self) -> None:
        template = self.graph.output_template
        if template.__class__ is Slot:
            name = self.object(template.index)
            self.emit(f"return {name}", (), [name], pure=False)
            return
        slots = slots_of(template)
        objects = {slot: self.object(slot) for slot in slots}
        name = self.constant(template, "O")
        mapping = "{" + ", ".join(f"{slot}: {n}" for slot, n in objects.items()) + "}"
        self.emit(f"return _fill({name}, {mapping})", (), list(objects.values()), pure=False)

    def source(self) -> str:
        statements = _without_dead_code(self.statements)
        last_use: dict[str, int] = {}
        for position, statement in enumerate(statements):
            for name in statement.uses:
                last_use[name] = position
        inplace = []
        for position, statement in enumerate(statements):
            inplace.append(next((name for name in statement.inplace if name in self.owned and
                                 last_use.get(name) == position), None))
        chosen, self.buffer_specs = plan_buffers.assign(
            statements, last_use, inplace,
            lambda name: name in self.owned or name in self.fresh_residuals)
        body = []
        for position, statement in enumerate(statements):
            out = ""
            if inplace[position] is not None:
                out = f", out={inplace[position]}"
            elif statement.out_buffer is not None and \
                    (position, statement.out_buffer[0]) in chosen:
                out = f", out={chosen[position, statement.out_buffer[0]]}"
            code = statement.code.replace("{out}", out)
            if statement.allocate:
                buffers = [None if entry is None else chosen.get((position, entry[0]))
                           for entry in statement.allocate]
                code = code.replace("{buffers}", "" if not any(buffers) else ", out=(" + "".join(
                    f"{buffer}, " for buffer in buffers) + ")")
            if statement.choose:
                name, dying, living = statement.choose
                dies = name in self.owned and last_use.get(name) == position and \
                    statement.uses.count(name) == 1
                code = code.replace("{function}", dying if dies else living)
            if statement.consume:
                names = statement.consume
                code = code.replace("{consume}", repr(tuple(
                    name in self.owned and last_use.get(name) == position and
                    names.count(name) == 1 for name in names)))
            body.append(code)
            dead = [name for name in dict.fromkeys(statement.uses + statement.defines)
                    if last_use.get(name, position) == position and name[0] in "atrgs"]
            if dead and not statement.code.startswith("return"):
                body.append(f"del {', '.join(dead)}")
        lines = ["def plan(inputs, _buffers):"]
        if self.buffer_specs:  # the plan's own buffers, or Nones (plan_buffers.guarded)
            lines.append("    " + "".join(f"P{i}, " for i in range(len(self.buffer_specs))) +
                         "= _buffers")
        for code in body:
            lines += ["    " + text for text in code.split("\n")]
        return "\n".join(lines) + "\n"


def _without_dead_code(statements: list[_Statement]) -> list[_Statement]:
    """Drop pure statements whose results nothing uses (unused forward values, reads)."""
    used: set[str] = set()
    kept = []
    for statement in reversed(statements):
        if statement.pure and not any(name in used for name in statement.defines):
            continue
        used.update(statement.uses)
        kept.append(statement)
    return kept[::-1]


# Lowerings of update lines whose classes sit above this package (Keras's
# Optimizer.apply_gradients, keras/optimizers/plan_lowering.py): registered by their modules
# when they load, as this package does not import Keras (docs/layout.md).
_UPDATE_LOWERINGS: list = []


def register_update_lowering(lower) -> None:
    """Add `lower(call, variables, specs)`: (update(gradient arrays), [(gradient slot,
    variable slot)]) for an `apply_gradients` line it can replace, else None. An IndexedSlices
    gradient is a pair of slots (values, indices), and reaches `update` as a pair of arrays."""
    _UPDATE_LOWERINGS.append(lower)


def _is_apply_gradients(call: Call) -> bool:
    return call.name.endswith(".apply_gradients")


@dataclasses.dataclass
class Plan:
    """A compiled graph: call it with the input tensors."""

    function: object
    source: str
    lowered_lines: int
    buffers: tuple = ()  # the arrays it computes into at every call (plan_buffers.py)

    def __call__(self, inputs):
        return self.function(inputs)


class UnknownShapes(NotPlannable):
    """The graph's shapes are relaxed (None): plans are made per input shapes instead."""


def compile_plan(graph: Graph, specs: dict | None = None) -> Plan:
    """The plan of `graph` (for `specs`, slot -> (shape, dtype), when given instead of the
    traced ones), or NotPlannable saying why it replays op by op."""
    specs = getattr(graph, "specs", None) if specs is None else specs
    if not specs:
        raise NotPlannable("the graph has no static types")
    if any(None in spec[0] for spec in specs.values()):
        raise UnknownShapes("some shapes are unknown (input_signature or reduce_retracing)")
    builder = _Builder(graph, specs)
    builder.inputs()
    builder.lines(graph.calls)
    builder.outputs()
    source = builder.source()
    namespace = builder.namespace
    exec(compile(source, f"<plan {graph.name}>", "exec"), namespace)  # noqa: S102 - generated
    function, buffers = plan_buffers.guarded(namespace["plan"], builder.buffer_specs)
    return Plan(function, source, builder.lowered_lines, buffers)


def enable(enabled: bool = True) -> None:
    """Use replay plans (the default) or replay every graph op by op (for comparisons);
    affects graphs compiled afterwards."""
    _plans_enabled[0] = bool(enabled)


__all__ = ["Plan", "compile_plan", "NotPlannable", "UnknownShapes", "Fallback", "enable"]
