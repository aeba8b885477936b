"""`for element in dataset:` inside a traced function: one graph line that iterates the dataset.

As TensorFlow builds a dataset loop (rather than unrolling the elements seen while tracing), the
loop body is traced once, on the first element, and the graph line runs it for every element
the dataset yields at each call (a `tf.data.Dataset.from_generator` runs its generator again at
every call). The loop variables are the variables the body assigns, as for a `while` loop; an
extra test (from a `break` or `return` in the body) ends the loop when false.
"""

from __future__ import annotations

from ..tensor import Tensor, convert_to_tensor
from . import tracing
from .control_flow import _check_same, _indent, _tensor_leaves, _truth, _truth_of_traced
from .graph import Call, fill, flatten, map_structure, run_calls


def _fresh_structure(tracer, structure) -> tuple:
    """`structure` with each tensor replaced by a fresh traced copy, and the copies' slots."""
    slots: list = []

    def fresh(leaf):
        if not isinstance(leaf, Tensor):
            return leaf
        copy, slot = tracer.fresh(leaf)
        slots.append(slot)
        return copy
    return map_structure(fresh, structure), slots


def dataset_for(dataset, body, extra_test, values: tuple) -> tuple:
    """Run `values = body(element, *values)` for each element of `dataset` (while
    `extra_test(*values)`), as one graph line of the trace running now."""
    tracer = tracing.current()
    values = tuple(map_structure(lambda v: v if isinstance(v, Tensor) else convert_to_tensor(v),
                                 values))
    initial = tracer.template(list(values))
    tracer.depth += 1  # reading the dataset here is this trace's own work, not a graph line
    try:
        iterator = iter(dataset)
        first = next(iterator, None)
    finally:
        tracer.depth -= 1
    if first is None:  # nothing to trace the body on: the call's result is the loop's input
        raise ValueError("tf.function (AutoGraph): a `for` loop over a tf.data.Dataset that is "
                         "empty while tracing cannot be traced; trace it with a non-empty "
                         "dataset.")
    current, loop_slots = _fresh_structure(tracer, list(values))
    element, element_slots = _fresh_structure(tracer, first)
    test_calls, test_template = [], None
    if extra_test is not None:
        test_calls, condition, test_template = tracer.sub_trace(lambda: extra_test(*current))
        going = _truth_of_traced(condition)
    else:
        going = True
    body_calls, result, body_template = tracer.sub_trace(
        lambda: tuple(body(element, *current)), dry_run=not going)
    _check_same("for over a dataset", tuple(current), result, "the loop variables",
                "the loop body's result")

    def run(values_list, elements) -> None:
        for item in elements:
            if extra_test is not None:
                run_calls(test_calls, values_list)
                if not _truth(fill(test_template, values_list)):
                    return
            leaves: list = []
            flatten(item, leaves)
            for slot, leaf in zip(element_slots, [x for x in leaves if isinstance(x, Tensor)]):
                values_list[slot] = leaf
            run_calls(body_calls, values_list)
            out: list = []
            flatten(fill(body_template, values_list), out)
            for slot, value in zip(loop_slots, [x for x in out if isinstance(x, Tensor)]):
                values_list[slot] = value

    # finish this (first) call: the first element ran while tracing
    state = tracer.values()
    if going:
        out, _ = _tensor_leaves(result)
        for slot, value in zip(loop_slots, out):
            state[slot] = value
        tracer.depth += 1
        try:
            run(state, iterator)
        finally:
            tracer.depth -= 1
    output_slots, outputs = [], []
    for slot in loop_slots:
        copy, new_slot = tracer.fresh(state[slot])
        outputs.append(copy)
        output_slots.append(new_slot)

    def control(values_list):
        start: list = []
        flatten(fill(initial, values_list), start)
        for slot, value in zip(loop_slots, [x for x in start if isinstance(x, Tensor)]):
            values_list[slot] = value
        run(values_list, iter(dataset))
        for source, slot in zip(loop_slots, output_slots):
            values_list[slot] = values_list[source]

    text = ((_indent(test_calls, "test") + "\n") if test_calls else "") + \
        _indent(body_calls, "body")
    tracer.calls.append(Call("for_dataset", dataset_for, (initial,), {}, output_slots,
                             list(range(len(output_slots))),
                             [tracer.types[s] for s in output_slots], stateful=True,
                             control=control, text=text))
    tracer.after_control(tracer.calls[-1])  # relaxed dimensions: no inference (it specialises)
    counter = iter(outputs)
    return tuple(map_structure(lambda leaf: next(counter) if isinstance(leaf, Tensor) else leaf,
                               result))


class _Held:
    """An iterator as a graph line's argument (`record` would read a bare iterator out)."""

    __slots__ = ("iterator", "next")

    def __init__(self, iterator, next_function) -> None:
        self.iterator, self.next = iterator, next_function

    def __repr__(self) -> str:
        return "iterator"


def _get_next(held: _Held):
    return held.next(held.iterator)


def _placeholder_element(held: _Held):
    """What a dry trace (a branch not taken) reads instead of consuming an element."""
    import numpy as np

    from ..dtypes import numpy_dtype
    from ..tensor import convert_to_tensor

    def placeholder(spec):
        dims = () if spec.shape.rank is None else tuple(spec.shape)
        shape = [1 if d is None else d for d in dims]
        dtype = np.dtype(numpy_dtype(spec.dtype))
        empty = np.full(shape, b"", dtype) if dtype.kind == "O" else np.zeros(shape, dtype)
        return convert_to_tensor(empty)
    return map_structure(placeholder, held.iterator.element_spec)


def iterator_next(original):
    """`next(iterator)` on a tf.data iterator, made a graph line while a trace runs."""
    def wrapper(self):
        tracer = tracing.current()
        if tracer is None or tracer.depth:
            return original(self)
        held = _Held(self, original)
        run = _placeholder_element if tracer.dry_run else None
        return tracer.record("Iterator.get_next", _get_next, (held,), {}, stateful=True,
                             run=run)
    return wrapper
