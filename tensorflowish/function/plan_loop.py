"""`tf.while_loop` on a gradient path in a replay plan: the loop's cond and body as sub-plans
(`plan_control.py`), a forward loop keeping each iteration's saved arrays, and a backward loop
running the body's traced backward over them in reverse.

Which loop variables a tape tracks may change from one iteration to the next (an accumulator
starting from a constant is tracked from the second iteration on), and eager's tape records
only what it tracks; so the body is generated once per tracking state, from the first
iteration's until it no longer changes (iteration k runs variant min(k, K)). Which gradients
exist may change too as the backward runs (a loop variable whose gradient appears only after
some iterations): the body's backward is generated for every (variant, gradients present)
state reachable from the loop's upstream gradients, found at compile time, and chosen at run
time by which gradients are present. The plan so computes what eager's tape computes, bit for
bit, for any iteration count.

Refused (op-by-op replay, `graph.plan_note` saying why): loop variables that change shape,
gradients that reach different values by the number of iterations (beyond none at all), more
than 64 states. A loop that runs no iteration gives some values no gradient where one
iteration gives them one: a call running no iteration then sends the graph to the op-by-op
replay (before any side effect; with side effects before the loop, it gets no plan).
"""

from __future__ import annotations

import dataclasses

from .control_flow import _truth
from .graph import Slot, _PlanReshaped, flatten
from .lowering import Operand
from .plan import NotPlannable, _Builder, _Recorded, _Tape
from .plan_backward import _accumulate, _Sparse, relevant_values, walk
from .plan_control import (
    _ControlLine,
    _Lazy,
    _Sub,
    backward_builder,
    bind_outputs,
    compile_sub,
    finish_backward,
    has_effects,
    outer_reads,
    sub_builder,
    sub_tape,
)

_MAX_STATES = 64  # generated backward variants per loop


class NoIteration(_PlanReshaped):
    """A planned loop ran no iteration where its gradients then differ: replay op by op."""


@dataclasses.dataclass
class _Loop:
    """A lowered loop: what its backward needs."""

    initial: list  # slots of the initial values
    results: list  # slots of the body's results, per loop variable
    reads: list  # outer slots its cond and body read
    bodies: list  # _Sub per tracking variant
    effects_before: bool
    zero_check: list  # [bool]: the forward refuses a call running no iteration


def lower_loop(builder: _Builder, index: int, call, parts, tape: _Tape) -> None:
    """Write while_loop line `index` into `builder` as a forward loop over sub-plans."""
    where = f"line {index} (while_loop)"
    loop_slots = list(parts.loop_slots)
    count = len(loop_slots)
    reads = [slot for slot in outer_reads([(parts.cond_calls, [parts.cond_template]),
                                           (parts.body_calls, [parts.body_template])])
             if slot not in loop_slots]
    initial = _slots(parts.initial, count, where)
    results = _slots(parts.body_template, count, where)
    specs = builder.specs
    for slots in zip(initial, loop_slots, results):
        if len({specs.get(slot, (None,))[:2] for slot in slots}) != 1:
            raise NotPlannable(f"{where}: a loop variable changes shape or dtype")
    if parts.cond_template.__class__ is not Slot:
        raise NotPlannable(f"{where}: its cond does not return a tensor")

    condition, params = sub_builder(builder, reads, tape, inner=loop_slots)
    condition.lines(parts.cond_calls)
    name = condition.array(parts.cond_template.index)
    condition.emit(f"return {name}", (), [name], pure=False)
    cond_function = compile_sub(condition, condition.fresh_name("cond"))

    tracking = [frozenset(i for i, slot in enumerate(initial) if slot in tape.tracked)]
    bodies = []
    while True:  # a body per tracking state, until it stops changing
        body, _ = sub_builder(builder, reads, tape, inner=loop_slots,
                              tracked={loop_slots[i] for i in tracking[-1]})
        body.check_tracking = len(bodies) == 0  # the trace saw the first iteration only
        body.lines(parts.body_calls)
        bodies.append(_Sub(body, [body.array(slot) for slot in results]))
        after = frozenset(i for i, slot in enumerate(results) if slot in sub_tape(body).tracked)
        if after == tracking[-1]:
            break
        if after in tracking:
            raise NotPlannable(f"{where}: which loop variables are differentiable cycles")
        tracking.append(after)

    # a call refused after running no iteration must not have had effects: its cond's either
    loop = _Loop(initial, results, reads, bodies, builder.effects or has_effects(call), [False])
    forwards: list = []
    for position, body in enumerate(bodies):
        forwards.append(_Lazy(forwards, position, body.forward))
    runner = builder.constant(_forward(cond_function, forwards, count, parts.limit,
                                       loop.zero_check), "L")
    starts = [builder.array(slot) for slot in initial]
    saved = builder.fresh_name("s")
    outputs = [f"a{slot}" for slot in parts.output_slots]
    passed = starts + params
    builder.emit(f"{''.join(o + ', ' for o in outputs)}{saved} = {runner}(("
                 f"{''.join(p + ', ' for p in passed)}))", outputs + [saved], passed, pure=False,
                 fresh=False, keeps=tuple(passed))
    builder.owned.difference_update(passed)  # kept by the iterations' saved arrays
    bind_outputs(builder, call, parts.output_slots, outputs)

    for body in bodies:  # variables a body watched
        tape.tracked.update(slot for slot in sub_tape(body.builder).tracked
                            if slot in builder.variables)
    tracked_inputs = tuple(slot in tape.tracked for slot in initial + reads)
    tape.tracked.update(parts.output_slots[i] for states in tracking for i in states)

    def control_backward(builder, tape, line, grads, relevant) -> None:
        _loop_backward(builder, line, grads, relevant, loop, loop_slots, saved)

    tape.lines.append(_Recorded(index, call.name, _ControlLine(list(parts.output_slots),
                                                               control_backward),
                                [Operand(slot=slot) for slot in initial + reads], [],
                                (parts.output_slots or [-1])[0], "", None, tracked_inputs))


def _slots(template, count: int, where: str) -> list[int]:
    leaves: list = []
    flatten(template, leaves)
    if len(leaves) != count or any(leaf.__class__ is not Slot for leaf in leaves):
        raise NotPlannable(f"{where}: its loop variables are not all tensors")
    return [leaf.index for leaf in leaves]


def _forward(cond_function, forwards: list, count: int, limit, zero_check: list):
    """The forward loop: `run((initial values..., outer values...))` gives the final values
    and the list of each iteration's saved arrays."""
    last = len(forwards) - 1

    def run(inputs):
        values, outer = inputs[:count], inputs[count:]
        stack = []
        iteration = 0
        while limit is None or iteration < limit:
            if not _truth(cond_function(values + outer)):
                break
            result = forwards[iteration if iteration < last else last](values + outer)
            values = result[:count]
            stack.append(result[count])
            iteration += 1
        if not iteration and zero_check[0]:
            raise NoIteration("a planned tf.while_loop ran no iteration, where its gradients "
                              "differ from one iteration's")
        return values + (stack,)
    return run


def _loop_backward(builder, line, grads, relevant, loop: _Loop, loop_slots, saved) -> None:
    """The backward of a lowered while_loop: the body's backward over the saved iterations, in
    reverse, each through the variant generated for its state."""
    count = len(loop_slots)
    upstream = [grads.get(slot) for slot in line.lowered.output_slots]
    if all(name is None for name in upstream):
        return
    tracked = dict(zip(loop.initial + loop.reads, line.tracked_inputs))
    outer = [slot for slot in loop.reads if tracked[slot] and slot in relevant]
    wanted = [i for i, slot in enumerate(loop.initial) if tracked[slot] and slot in relevant]
    previous = [grads.get(slot) for slot in outer]
    if any(name.__class__ is _Sparse for name in upstream + previous):
        raise NotPlannable(f"line {line.index} ({line.name}): a sparse gradient through "
                           "control flow")
    last = len(loop.bodies) - 1
    inside = set(relevant) | set(loop_slots)

    def generate(variant: int, state: tuple):
        present_vars, present_outer = state
        body = loop.bodies[variant]
        inner = [(loop.results[i], "") for i in range(count) if present_vars[i]]
        back, body_grads = backward_builder(builder, inner, outer,
                                            ["" if p else None for p in present_outer])
        tape = sub_tape(body.builder)
        walk(back, tape, body_grads, relevant_values(tape, inside), set())
        names = [body_grads.get(slot) for slot in loop_slots + outer]
        if any(name.__class__ is _Sparse for name in names):
            raise NotPlannable(f"line {line.index} ({line.name}): a sparse gradient through "
                               "control flow")
        function = finish_backward(back, body, names)
        after = (tuple(name is not None for name in names[:count]),
                 tuple(name is not None for name in names[count:]))
        return function, after

    start = (tuple(name is not None for name in upstream),
             tuple(name is not None for name in previous))
    generated: dict = {}
    finals = set()
    pending = [(variant, start) for variant in range(last + 1)]
    while pending:
        key = pending.pop()
        if key in generated:
            continue
        if len(generated) >= _MAX_STATES:
            raise NotPlannable(f"line {line.index} ({line.name}): its backward has more than "
                               f"{_MAX_STATES} states")
        function, after = generated[key] = generate(*key)
        variant = key[0]
        if variant == 0:
            finals.add(_visible(after, wanted))
        else:
            pending.append((variant - 1, after))
        if variant == last:
            pending.append((variant, after))
    if len(finals) != 1:
        raise NotPlannable(f"line {line.index} ({line.name}): its gradients reach different "
                           "values by the number of iterations")
    (final,) = finals
    if final != _visible(start, wanted):  # no iteration would differ
        if loop.effects_before:
            raise NotPlannable(f"line {line.index} ({line.name}): a loop after side effects "
                               "whose gradients differ when it runs no iteration")
        loop.zero_check[0] = True
    present_vars, present_outer = final
    keep = [i for i in wanted if present_vars[wanted.index(i)]] + \
        [count + j for j in range(len(outer)) if present_outer[j]]
    if not keep:
        return
    table = {key: value[0] for key, value in generated.items()}
    runner = builder.constant(_backward(table, count, last), "L")
    arguments = [name or "None" for name in upstream + previous]
    result = builder.fresh_name("g")
    names = [builder.fresh_name("g") for _ in keep]
    code = f"{result} = {runner}(({saved}, {''.join(a + ', ' for a in arguments)}))"
    code += "".join(f"\n{name} = {result}[{position}]" for name, position in zip(names, keep))
    used = [saved] + [name for name in upstream + previous if name is not None]
    builder.emit(code, [result] + names, used, pure=False, fresh=False)
    builder.owned.difference_update(used)  # the body's backward may pass them through
    for name, position in zip(names, keep):
        if position < count:
            _accumulate(builder, grads, loop.initial[position], name)
        else:
            grads[outer[position - count]] = name


def _visible(state: tuple, wanted: list) -> tuple:
    """The part of a (loop variables, outer values) presence state the graph reads."""
    return tuple(state[0][i] for i in wanted), state[1]


def _backward(table: dict, count: int, last: int):
    """The backward loop: `run((saved stack, upstream per loop variable..., gradient so far per
    outer value...))` gives the gradients of the initial values and the outer values (None
    where there is none)."""
    def run(inputs):
        stack = inputs[0]
        variables, outer = inputs[1:1 + count], inputs[1 + count:]
        for iteration in range(len(stack) - 1, -1, -1):
            state = (tuple(g is not None for g in variables), tuple(g is not None for g in outer))
            function = table[(iteration if iteration < last else last, state)]
            result = function((stack[iteration],) + tuple(g for g in variables if g is not None)
                              + tuple(g for g in outer if g is not None))
            variables, outer = result[:count], result[count:]
        return variables + outer
    return run
