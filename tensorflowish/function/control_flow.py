"""`tf.cond` and `tf.while_loop`: control flow that a traced graph keeps.

Eagerly they are plain Python (`true_fn() if pred else false_fn()`, a `while` loop), so their
gradients are the gradients of the ops that ran. While tracing, with a predicate that depends on
the inputs, they record one graph line holding sub-lists of calls: both branches of a `cond`
(the branch not taken is traced without running its stateful calls), and the `cond` and `body`
of a loop, traced once. A replay runs the branch or as many iterations as the values ask for, op
by op, so a tape sees the ops that ran: gradients through a replay are eager's gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..errors import InvalidArgumentError
from ..tensor import Tensor, convert_to_tensor
from . import tracing
from .graph import Call, Slot, fill, flatten, map_structure, run_calls

_ARRAY = Tensor.array


@dataclasses.dataclass
class BranchParts:
    """A traced tf.cond / tf.switch_case line's parts, for replay plans: the selector's slot,
    `choose(selector value) -> branch number`, each branch's (calls, result, result template),
    and the line's output slots with their positions among the result's leaves."""

    kind: str  # "cond" or "switch_case"
    selector: int
    choose: Callable
    branches: list
    output_slots: list
    positions: list


@dataclasses.dataclass
class LoopParts:
    """A traced tf.while_loop line's parts, for replay plans: the template of the initial
    values, the slots the loop variables take inside the loop, the cond's and the body's
    (calls, result template), the iteration limit (None: none) and the line's output slots."""

    initial: object
    loop_slots: list
    cond_calls: list
    cond_template: object
    body_calls: list
    body_template: object
    limit: int | None
    output_slots: list
    kind: str = "while_loop"


def _truth(value) -> bool:
    if isinstance(value, Tensor):
        array = value.array  # a traced tensor here is a Python decision: refused
        if array.size != 1:
            raise ValueError(f"The condition must be a scalar boolean tensor, got shape "
                             f"{tuple(array.shape)}.")
        return bool(array.reshape(()))
    return bool(value)


def _truth_of_traced(value) -> bool:
    """The value a trace sees (both outcomes are traced, so reading it freezes nothing)."""
    if isinstance(value, Tensor):
        return bool(_ARRAY.__get__(value).reshape(()))
    return bool(value)


def _traced(value) -> bool:
    return isinstance(value, tracing.TracedTensor)


def _tensor_leaves(structure) -> tuple[list, list]:
    leaves: list = []
    flatten(structure, leaves)
    positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, Tensor)]
    return leaves, positions


def _check_same(where: str, first, second, first_name: str, second_name: str) -> None:
    a, _ = _tensor_leaves(first)
    b, _ = _tensor_leaves(second)
    if len(a) != len(b):
        raise ValueError(f"{where}: {first_name} and {second_name} must return the same "
                         f"structure, got {len(a)} and {len(b)} values.")
    for index, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, Tensor) != isinstance(y, Tensor):
            raise TypeError(f"{where}: output {index} is a tensor in one of {first_name} and "
                            f"{second_name} but not in the other.")
        if isinstance(x, Tensor) and _ARRAY.__get__(x).dtype != _ARRAY.__get__(y).dtype:
            raise TypeError(f"{where}: output {index} has dtype {x.dtype.name} in {first_name} "
                            f"but {y.dtype.name} in {second_name}.")
        if not isinstance(x, Tensor) and not _same_python_value(x, y):
            raise TypeError(f"{where}: output {index} is the Python value {x!r} in "
                            f"{first_name} but {y!r} in {second_name}; a graph can only choose "
                            "between tensors, so return tensors (e.g. tf.constant(...)).")


def _same_python_value(x, y) -> bool:
    if x is y:
        return True
    try:
        return type(x) is type(y) and bool(x == y)
    except Exception:  # noqa: BLE001 - an object whose == is not a plain bool
        return False


def _indent(tracer_calls: list, label: str) -> str:
    from .graph import Graph

    text = Graph(label, [], [], [], tracer_calls, None, {}, 0).as_text().splitlines()
    body = [line for line in text[1:-2]]  # drop the header, `return None` and the brace
    return "\n".join(["    " + label + ":"] + ["    " + line for line in body])


def cond(pred, true_fn=None, false_fn=None, name=None):
    """`true_fn()` if `pred` else `false_fn()`; in a traced function, both are traced.

    >>> import tensorflowish as tf
    >>> x = tf.constant(2.0)
    >>> float(tf.cond(x > 1.0, lambda: x * 10.0, lambda: x))
    20.0
    """
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("tf.cond: true_fn and false_fn must be callables (e.g. lambdas).")
    tracer = tracing.current()
    if tracer is None or tracer.depth or not _traced(pred):
        return true_fn() if _truth(pred) else false_fn()
    taken = 0 if _truth_of_traced(pred) else 1
    return _traced_branches(tracer, "cond", pred, [true_fn, false_fn], ["true_fn", "false_fn"],
                            ["true", "false"], taken, lambda value: 0 if _truth(value) else 1)


def _traced_branches(tracer, op: str, selector, functions: list, names: list, labels: list,
                     taken: int, choose):
    """One graph line choosing among traced `functions` by `choose(selector's value)`.

    The branch the trace takes runs for real; the others are traced without their stateful
    calls (as TensorFlow builds every branch of a cond into its graph)."""
    selector_slot = tracer.template(selector)
    traced: list = [None] * len(functions)
    traced[taken] = tracer.sub_trace(functions[taken])
    for index, function in enumerate(functions):
        if index != taken:
            traced[index] = tracer.sub_trace(function, dry_run=True)
    _fill_placeholders(tracer, traced)
    where = f"tf.{op}"
    for index, branch in enumerate(traced):
        if index != taken:
            _check_same(where, traced[taken][1], branch[1], names[taken], names[index])
    leaves, positions = _tensor_leaves(traced[taken][1])
    fresh, slots = {}, []
    for position in positions:
        copy, slot = tracer.fresh(leaves[position])
        fresh[position] = copy
        slots.append(slot)

    def control(values):
        calls, _, template = traced[choose(values[selector_slot.index])]
        run_calls(calls, values)
        out: list = []
        flatten(fill(template, values), out)
        for slot, position in zip(slots, positions):
            values[slot] = out[position]

    # what a replay plan needs to lower the line on a gradient path (plan_control.py)
    control.parts = BranchParts(op, selector_slot.index, choose, traced, slots, positions)
    text = "\n".join(_indent(branch[0], label) for branch, label in zip(traced, labels))
    tracer.calls.append(Call(op, cond if op == "cond" else switch_case, (selector_slot,), {},
                             slots, positions, [tracer.types[s] for s in slots], stateful=True,
                             control=control, text=text))
    tracer.after_control(tracer.calls[-1])  # relaxed dimensions: infer the outputs' shapes
    counter = iter(range(len(leaves)))
    return map_structure(lambda leaf: fresh.get(next(counter), leaf), traced[taken][1])


def _fill_placeholders(tracer, traced: list) -> None:
    """Where branches return tuples and one branch's entry is a value not yet defined that may
    be filled (AutoGraph's return value before any `return` ran), give it zeros shaped like
    another branch's tensors, made inside that branch (TensorFlow's placeholder values)."""
    results = [branch[1] for branch in traced]
    if not all(isinstance(r, tuple) for r in results) or len({len(r) for r in results}) != 1:
        return
    from ..ops.creation import zeros

    for position in range(len(results[0])):
        column = [r[position] for r in results]
        example = next((v for v in column if not getattr(v, "fillable", False)), None)
        if example is None or not any(getattr(v, "fillable", False) for v in column):
            continue
        for index, value in enumerate(column):
            if not getattr(value, "fillable", False):
                continue
            calls, result, _ = traced[index]
            saved = tracer.calls
            tracer.calls = calls
            try:
                filled = map_structure(lambda leaf: zeros(_ARRAY.__get__(leaf).shape, leaf.dtype)
                                       if isinstance(leaf, Tensor) else leaf, example)
            finally:
                tracer.calls = saved
            result = result[:position] + (filled,) + result[position + 1:]
            traced[index] = (calls, result, tracer.template(result))
            results[index] = result


def _branch_list(branch_fns) -> list:
    """The branches of tf.switch_case as a list indexed from 0 (TensorFlow's checks)."""
    if isinstance(branch_fns, dict):
        pairs = list(branch_fns.items())
    elif isinstance(branch_fns, (list, tuple)):
        pairs = []
        for index, entry in enumerate(branch_fns):
            if callable(entry):
                pairs.append((index, entry))
            elif isinstance(entry, tuple) and len(entry) == 2:
                pairs.append(entry)
            else:
                raise TypeError(f"Each entry in 'branch_fns' must be a callable or a 2-tuple "
                                f"(index, callable). Received {entry!r}.")
    else:
        raise TypeError(f"'branch_fns' must be a list, tuple or dict of callables, got "
                        f"{type(branch_fns).__name__}.")
    if not pairs:
        raise ValueError("Must provide at least one item in 'branch_fns'")
    keys = sorted(key for key, _ in pairs)
    if keys != list(range(len(pairs))):
        raise ValueError(f"branch indices (keys) must form contiguous range of [0 to "
                         f"{len(pairs)}) but found {{{','.join(str(k) for k in keys)}}}")
    functions = [function for _, function in sorted(pairs, key=lambda pair: pair[0])]
    for index, function in enumerate(functions):
        if not callable(function):
            raise TypeError(f"branch_fns[{index}] must be callable, got "
                            f"{type(function).__name__}.")
    return functions


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """Run `branch_fns[branch_index]()`, or `default()` (the last branch when None) for an index
    out of range; in a traced function every branch is traced (TensorFlow's tf.switch_case).

    >>> import tensorflowish as tf
    >>> x = tf.constant(2.0)
    >>> float(tf.switch_case(tf.constant(1), [lambda: x, lambda: x * 10.0]))
    20.0
    """
    if not isinstance(branch_index, Tensor):
        raise TypeError(f"'branch_index' must be a Tensor, got {type(branch_index)}")
    if branch_index.dtype.name not in ("int32", "int64"):
        raise TypeError(f"'branch_index' must be an integer Tensor, got "
                        f"{branch_index.dtype.name}")
    if branch_index.shape.rank != 0:
        raise InvalidArgumentError(f"switch_case: 'branch_index' must be a scalar, got shape "
                                   f"{branch_index.shape}.")
    functions = _branch_list(branch_fns)
    if default is not None:
        if not callable(default):
            raise TypeError(f"'default' must be callable, got {type(default).__name__}.")
        functions.append(default)
    count = len(functions) - (default is not None)

    def choose(value) -> int:
        index = int(value.array) if isinstance(value, Tensor) else int(value)
        return index if 0 <= index < count else len(functions) - 1

    tracer = tracing.current()
    if tracer is None or tracer.depth or not _traced(branch_index):
        return functions[choose(branch_index)]()
    taken = choose(_ARRAY.__get__(branch_index).reshape(()))
    names = [f"branch_fns[{i}]" for i in range(count)] + ["default"] * (default is not None)
    labels = [f"branch {i}" for i in range(count)] + ["default"] * (default is not None)
    return _traced_branches(tracer, "switch_case", branch_index, functions, names, labels, taken,
                            choose)


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None):
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`; the result has the
    structure of `loop_vars`. In a traced function the loop stays a loop.

    >>> import tensorflowish as tf
    >>> i, total = tf.while_loop(lambda i, t: i < 4, lambda i, t: (i + 1, t + i),
    ...                          [tf.constant(0), tf.constant(0)])
    >>> int(i), int(total)
    (4, 6)
    """
    if not callable(cond) or not callable(body):
        raise TypeError("tf.while_loop: cond and body must be callables.")
    packed = isinstance(loop_vars, (list, tuple)) and not hasattr(loop_vars, "_fields")

    def call(function, variables):
        return function(*variables) if packed else function(variables)

    def repack(result):
        if packed and len(loop_vars) == 1 and not isinstance(result, (list, tuple)):
            result = [result]
        if packed:
            result = list(result)
            if len(result) != len(loop_vars):
                raise ValueError(f"tf.while_loop: body returned {len(result)} values for "
                                 f"{len(loop_vars)} loop variables.")
            return type(loop_vars)(result) if type(loop_vars) in (list, tuple) else result
        return result

    limit = None if maximum_iterations is None else int(maximum_iterations)
    tracer = tracing.current()
    variables = map_structure(lambda v: v if isinstance(v, Tensor) else convert_to_tensor(v),
                              loop_vars)
    leaves, _ = _tensor_leaves(variables)
    if tracer is None or tracer.depth:
        count = 0
        while (limit is None or count < limit) and _truth(call(cond, variables)):
            variables = repack(call(body, variables))
            count += 1
        return variables
    initial = tracer.template(variables)
    fresh_slots = []
    copies = []
    for leaf in leaves:
        copy, slot = tracer.fresh(leaf)
        copies.append(copy)
        fresh_slots.append(slot)
    counter = iter(copies)
    current = map_structure(lambda leaf: next(counter), variables)
    cond_calls, condition, cond_template = tracer.sub_trace(lambda: call(cond, current))
    runs = (limit is None or limit > 0) and _truth_of_traced(condition)
    body_calls, result, body_template = tracer.sub_trace(lambda: repack(call(body, current)),
                                                         dry_run=not runs)
    _check_same("tf.while_loop", current, result, "loop_vars", "the body's result")

    def run(values, count: int) -> None:
        while limit is None or count < limit:
            run_calls(cond_calls, values)
            if not _truth(fill(cond_template, values)):
                return
            run_calls(body_calls, values)
            out: list = []
            flatten(fill(body_template, values), out)
            for slot, value in zip(fresh_slots, out):
                values[slot] = value
            count += 1

    # finish the loop of this (first) call: the first iteration ran while tracing
    values = tracer.values()
    if runs:
        out, _ = _tensor_leaves(result)
        for slot, value in zip(fresh_slots, out):
            values[slot] = value
        tracer.depth += 1
        try:
            run(values, 1)
        finally:
            tracer.depth -= 1
    final = [values[slot] for slot in fresh_slots]
    output_slots = []
    outputs = []
    for value in final:
        copy, slot = tracer.fresh(value)
        outputs.append(copy)
        output_slots.append(slot)

    def control(values):
        start: list = []
        flatten(fill(initial, values), start)
        for slot, value in zip(fresh_slots, start):
            values[slot] = value
        run(values, 0)
        for source, slot in zip(fresh_slots, output_slots):
            values[slot] = values[source]

    # what a replay plan needs to lower the line on a gradient path (plan_loop.py)
    control.parts = LoopParts(initial, fresh_slots, cond_calls, cond_template, body_calls,
                              body_template, limit, output_slots)
    text = _indent(cond_calls, "cond") + "\n" + _indent(body_calls, "body")
    tracer.calls.append(Call("while_loop", while_loop, (initial,), {}, output_slots,
                             list(range(len(output_slots))),
                             [tracer.types[s] for s in output_slots], stateful=True,
                             control=control, text=text))
    tracer.after_control(tracer.calls[-1])  # relaxed dimensions: infer the outputs' shapes
    counter = iter(outputs)
    # the body's structure: a TensorArray written in the loop knows its element shape there
    return map_structure(lambda leaf: next(counter), result)


__all__ = ["cond", "switch_case", "while_loop", "Slot"]
