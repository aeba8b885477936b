"""What a replay plan needs to run the lines it does not lower: a runner calling a line's
function on a {slot: object} table, the scan of a control-flow line for side effects, and
the slot helpers shared by `plan.py` and `plan_backward.py`."""

from __future__ import annotations

import inspect

from .graph import Call, Slot, fill, flatten

# ops whose output size depends on their input values even where all inputs are float
VALUE_SHAPED = frozenset({"unique", "unique_with_counts", "dynamic_partition"})


def has_effects(call: Call) -> bool:
    """Whether a control-flow line holds stateful lines (assignments, prints, random draws):
    its branches and bodies are lists of Calls in its closures. True when none are found."""
    seen: set = set()
    found = [False]

    def walk(item) -> bool:
        if id(item) in seen:
            return False
        seen.add(id(item))
        if isinstance(item, Call):
            found[0] = True
            return item.stateful or (item.control is not None and walk(item.control))
        if isinstance(item, (list, tuple)):
            return any(walk(element) for element in item)
        if isinstance(item, dict):
            return any(walk(element) for element in item.values())
        if callable(item) and getattr(item, "__closure__", None):
            return any(walk(cell.cell_contents) for cell in item.__closure__
                       if _filled(cell))
        return False

    stateful = walk(call.control)
    return stateful or not found[0]


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


def slots_of(structure) -> list[int]:
    leaves: list = []
    flatten(structure, leaves)
    return list(dict.fromkeys(leaf.index for leaf in leaves if leaf.__class__ is Slot))


def line_runner(call: Call):
    """Run one graph line on a {slot: object} mapping; returns its output objects."""
    function, args, kwargs = call.function, call.args, call.kwargs
    positions = call.output_positions

    def run(values):
        result = function(*fill(args, values), **fill(kwargs, values))
        if not positions:
            return ()
        if positions == [-1]:
            return (result,)
        leaves: list = []
        flatten(result, leaves)
        return tuple(leaves[p] for p in positions)
    return run


def structure_slots(structure) -> list:
    """The Slots of a structure in flattening order (None where a leaf is not a Slot)."""
    leaves: list = []
    flatten(structure, leaves)
    return [leaf.index if leaf.__class__ is Slot else None for leaf in leaves]


def bind(function, args: tuple, kwargs: dict) -> dict:
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments
