"""The backward pass of a replay plan: `GradientTape.gradient` written out as array code.

At compile time the tape's recorded lines (`plan._Tape.lines`) are walked backwards from the
target, as `GradientTape._backward` walks its records at run time: each line whose output has
a gradient calls its rule's VJP for the inputs that lead to a requested source, and gradients
reaching one value from several lines are summed in eager's order (`previous + new`), so the
plan's gradients equal eager's.
"""

from __future__ import annotations

import numpy as np

from .. import tape as tape_module
from .plan import NotPlannable
from .plan_lines import bind, structure_slots


def gradient(builder, tape, call) -> None:
    """Emit the statements of one `tape.gradient(...)` line into `builder`."""
    arguments = bind(call.function, call.args, call.kwargs)
    targets = structure_slots(arguments["target"])
    sources = structure_slots(arguments["sources"])
    seeds = arguments["output_gradients"]
    seeds = [None] * len(targets) if seeds is None else structure_slots(seeds)
    if None in targets or None in sources or len(seeds) != len(targets):
        raise NotPlannable("gradient of or for something that is not a traced value")
    unconnected = tape_module._as_unconnected(arguments["unconnected_gradients"])
    specs = builder.specs
    if any(slot not in specs for slot in targets + sources + [s for s in seeds if s is not None]):
        raise NotPlannable("a gradient of or for a value that is not a plain tensor")
    for slot in sources:
        if specs[slot][1].kind not in "fcV":
            raise NotPlannable("a gradient for a non-float source")
    source_set = set(sources)

    # which values lead from a source (only their inputs need gradients)
    relevant = relevant_values(tape, sources)

    grads: dict[int, str] = {}
    for target, seed in zip(targets, seeds):
        shape, dtype = specs[target][:2]
        if seed is None:
            name = builder.constant(np.array(1, dtype) if not shape else _ones(shape, dtype))
        else:
            if specs[seed][:2] != (shape, dtype):
                raise NotPlannable("output_gradients of another shape or dtype")
            name = builder.array(seed)
        _accumulate(builder, grads, target, name)

    walk(builder, tape, grads, relevant, source_set)

    leaves = []  # the flattened result: (name, (shape, dtype)), an IndexedSlices as two
    for slot in sources:
        name = grads.get(slot)
        if name is None and unconnected is tape_module.UnconnectedGradients.ZERO:
            shape, dtype = specs[slot][:2]
            name = builder.fresh_name("g")
            builder.emit(f"{name} = {builder.constant(np.zeros)}({shape!r}, "
                         f"{builder.constant(dtype)})", [name])
        if name.__class__ is _Sparse:
            leaves += [(name.values, name.values_spec), (name.indices, name.indices_spec)]
        else:
            leaves.append((name, None if name is None else specs[slot][:2]))
    positions = call.output_positions
    for slot, position in zip(call.output_slots, positions):
        name, spec = leaves[0 if position == -1 else position]
        if name is None or specs[slot][:2] != spec:
            raise NotPlannable("the plan's gradients differ from the trace's")
        builder.arrays[slot] = name
        builder.objects.pop(slot, None)
    if len(call.output_slots) != sum(name is not None for name, _ in leaves) and \
            positions != [-1]:
        raise NotPlannable("the plan's gradients differ from the trace's")


def relevant_values(tape, sources) -> set:
    """The slots that lead from a source along the tape's lines (only their inputs need
    gradients)."""
    relevant = set(sources)
    for line in tape.lines:
        if any(tracked and operand.slot in relevant
               for operand, tracked in zip(line.inputs, line.tracked_inputs)):
            relevant.update(getattr(line.lowered, "output_slots", None) or (line.output_slot,))
    return relevant


def walk(builder, tape, grads: dict, relevant: set, source_set: set) -> None:
    """Emit the VJPs of the tape's lines, last first, accumulating into `grads` (slot ->
    name of its gradient so far) as eager's tape does."""
    specs = builder.specs
    for line in reversed(tape.lines):
        control = getattr(line.lowered, "control_backward", None)
        if control is not None:  # tf.cond / tf.switch_case / tf.while_loop (plan_control.py)
            control(builder, tape, line, grads, relevant)
            continue
        upstream = grads.get(line.output_slot)
        if upstream is None:
            continue
        if line.lowered is None:
            raise NotPlannable(f"line {line.index} ({line.name}) on the gradient path has no "
                               "lowering rule")
        needs = tuple(bool(tracked and operand.slot in relevant)
                      for operand, tracked in zip(line.inputs, line.tracked_inputs))
        if not any(needs):
            continue
        overwrite = upstream in builder.owned and line.output_slot not in source_set
        # a non-persistent tape's backward runs once: it may write into the line's residual
        line.lowered.consume_residual = not tape.persistent
        backward = line.lowered.vjp(needs, False)
        if backward.passthrough:  # the upstream itself (the same name: liveness still holds)
            for operand, need in zip(line.inputs, needs):
                if need:
                    _accumulate(builder, grads, operand.slot, upstream)
            continue
        saved = [_saved(line, what) for what in backward.saves]
        if backward.sparse is not None:
            _sparse(builder, grads, line, backward, upstream, saved)
            continue
        if upstream in builder.namespace and all(name == "None" or name in builder.namespace
                                                 for name in saved):
            _fold(builder, grads, line, needs, backward, upstream, saved)
            continue
        function = builder.constant(backward.function, "B")
        arguments = ", ".join([upstream] + saved)
        used = [upstream] + [name for name in saved if name != "None"]
        if backward.single:
            (index,) = [i for i, need in enumerate(needs) if need]
            name = builder.fresh_name("g")
            same = specs[line.output_slot][:2] == specs[line.inputs[index].slot][:2]
            in_place = (upstream,) if backward.ufunc and overwrite and \
                specs[line.output_slot][0] == specs[line.inputs[index].slot][0] else ()
            # a float ufunc of g (and a saved value) has g's shape and dtype: the input's here
            out_buffer = (name, tuple(specs[line.output_slot][0]), specs[line.output_slot][1]) \
                if backward.ufunc and same and isinstance(backward.function, np.ufunc) and \
                specs[line.output_slot][0] and specs[line.output_slot][1].kind in "fc" else None
            builder.emit(f"{name} = {function}({arguments}{{out}})", [name], used,
                         inplace=in_place, out_buffer=out_buffer)
            builder.owned.add(name)
            _accumulate(builder, grads, line.inputs[index].slot, name)
            continue
        outputs = [builder.fresh_name("g") if need else "_" for need in needs]
        # a variant that may write into the upstream gradient, chosen once liveness is known
        # (the same buffer may be another value's gradient too: a sum passes it to both)
        over_backward = line.lowered.vjp(needs, True) if overwrite else backward
        over = builder.constant(over_backward.function, "B") if overwrite else function
        # buffers for the gradients, where both variants compute into the same ones
        allocate = ()
        if backward.buffers and over_backward.buffers == backward.buffers:
            allocate = tuple(None if not need or entry is None else (name, *entry)
                             for name, need, entry in zip(outputs, needs, backward.buffers))
        if any(allocate):
            arguments += "{buffers}"
        else:
            allocate = ()
        aliases = tuple(name for name, what in zip(saved, backward.saves)
                        if what in backward.aliases and name != "None")
        builder.emit(f"{', '.join(outputs)}, = {{function}}({arguments})",
                     [o for o in outputs if o != "_"], used, choose=(upstream, over, function),
                     allocate=allocate, fresh=backward.fresh, aliases=aliases)
        if backward.fresh:
            builder.owned.update(o for o in outputs if o != "_")
        else:
            builder.owned.discard(upstream)
        for operand, need, name in zip(line.inputs, needs, outputs):
            if need:
                _accumulate(builder, grads, operand.slot, name)


def _fold(builder, grads, line, needs, backward, upstream, saved) -> None:
    """A backward call whose arguments are all constants (the seed of a mean, say) runs once,
    at compile time: its gradients become constants of the plan (read-only, never written)."""
    values = [builder.namespace[upstream]] + [None if name == "None" else builder.namespace[name]
                                              for name in saved]
    result = backward.function(*values)
    if backward.single:
        result = [result if need else None for need in needs]
    for operand, need, value in zip(line.inputs, needs, result):
        if need:
            value = np.array(value)  # a copy we own (and a 0-d array for a NumPy scalar)
            value.flags.writeable = False
            _accumulate(builder, grads, operand.slot, builder.constant(value))


def _ones(shape, dtype):
    ones = np.empty(shape, dtype)
    ones.fill(1)
    ones.flags.writeable = False
    return ones


def _saved(line, what: str | None) -> str:
    if what is None:
        return "None"
    if what == "out":
        return line.output_name
    if what == "res":
        return line.residual_name
    return line.input_names[int(what[2:])]


class _Sparse:
    """A Variable's gradient kept as an IndexedSlices: the names of its values and indices."""

    def __init__(self, values: str, indices: str, values_spec: tuple,
                 indices_spec: tuple) -> None:
        self.values, self.indices = values, indices
        self.values_spec, self.indices_spec = values_spec, indices_spec


def _sparse(builder, grads, line, backward, upstream, saved) -> None:
    """An embedding table's gradient, an IndexedSlices in eager: kept as its two arrays for a
    Variable (summed with another as the tape sums two IndexedSlices: rows concatenated),
    scattered into zeros for any other table as the eager VJP's `to_dense()`."""
    values, indices = builder.fresh_name("g"), builder.fresh_name("g")
    function = builder.constant(backward.function, "B")
    # views: the values of the upstream gradient, the indices of the ids (not fresh: they
    # share the buffer class of what they view)
    builder.emit(f"{values}, {indices} = {function}({', '.join([upstream] + saved)})",
                 [values, indices], [upstream] + [name for name in saved if name != "None"],
                 fresh=False)
    builder.owned.discard(upstream)
    slot, shape = line.inputs[0].slot, tuple(backward.sparse)
    dtype = builder.specs[line.output_slot][1]
    ids = builder.specs[line.inputs[1].slot] if line.inputs[1].slot is not None else \
        (np.shape(line.inputs[1].constant), np.asarray(line.inputs[1].constant).dtype)
    count = int(np.prod(ids[0]))
    made = _Sparse(values, indices, ((count,) + shape[1:], dtype), ((count,), ids[1]))
    if slot not in builder.variables:
        _accumulate(builder, grads, slot, _densify(builder, made, shape))
        return
    previous = grads.get(slot)
    if previous is None:
        grads[slot] = made
        return
    if previous.__class__ is not _Sparse:  # eager: the dense sum of the two
        _accumulate(builder, grads, slot, _densify(builder, made, shape))
        return
    concatenate = builder.constant(np.concatenate)
    total_values, total_indices = builder.fresh_name("g"), builder.fresh_name("g")
    builder.emit(f"{total_values} = {concatenate}([{previous.values}, {values}])\n"
                 f"{total_indices} = {concatenate}([{previous.indices}, {indices}])",
                 [total_values, total_indices],
                 [previous.values, values, previous.indices, indices])
    builder.owned.add(total_values)
    total = previous.values_spec[0][0] + count
    grads[slot] = _Sparse(total_values, total_indices, ((total,) + shape[1:], dtype),
                          ((total,), np.result_type(previous.indices_spec[1], ids[1])))


def _densify(builder, sparse: _Sparse, shape) -> str:
    """The name of a sparse gradient made dense (IndexedSlices.to_dense)."""
    dense = builder.fresh_name("g")
    builder.emit(f"{dense} = {builder.constant(_to_dense)}({sparse.values}, {sparse.indices}, "
                 f"{tuple(shape)!r})", [dense], [sparse.values, sparse.indices])
    builder.owned.add(dense)
    return dense


def _to_dense(values, indices, shape: tuple):
    """IndexedSlices.to_dense_array on NumPy arrays (repeated rows summed)."""
    dense = np.zeros(shape, dtype=values.dtype)
    np.add.at(dense, indices, values)
    return dense


def _accumulate(builder, grads: dict, slot: int, name: str) -> None:
    previous = grads.get(slot)
    if previous is None:
        grads[slot] = name
        return
    if previous.__class__ is _Sparse:  # eager: IndexedSlices + dense is the dense sum
        previous = _densify(builder, previous, builder.specs[slot][0])
    total = builder.fresh_name("g")
    shape, dtype = builder.specs[slot][:2]
    in_place = (previous, name) if shape else ()  # 0-d: NumPy scalars
    out_buffer = (total, tuple(shape), dtype) if shape and dtype.kind in "fc" else None
    builder.emit(f"{total} = _add({previous}, {name}{{out}})", [total], [previous, name],
                 inplace=in_place, out_buffer=out_buffer)
    builder.owned.add(total)
    grads[slot] = total
