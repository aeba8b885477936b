"""The graph a `tf.function` trace produces: a flat, typed list of op calls, readable as text.

A graph is what JAX calls a jaxpr: inputs, captured values (variables and constant tensors),
then one line per call of a registry op (or of a stateful call such as `Variable.assign`,
`tf.print` or `GradientTape.gradient`), then the outputs. Every value lives in a numbered slot;
a call's arguments are its original Python arguments with each tensor replaced by a `Slot`.

Replaying a graph calls the same op functions on the new inputs, without running the Python
body that was traced: the ops record themselves on any GradientTape that is active, so
gradients through a replayed graph are eager's gradients.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

from .. import tape as _tape_module
from ..ops.indexed_slices import IndexedSlices
from ..tape import _recording_tapes
from ..tensor import Tensor, Variable

_ARRAY = Tensor.array  # the slot descriptor: reads a tensor's array without any hook


class _PlanFallback(Exception):
    """Raised by a plan, before any effect, for inputs it was not made for (GPU arrays)."""


class _PlanReshaped(_PlanFallback):
    """Raised by a plan, before any effect, when a value-dependent shape changed."""


_plans_enabled = [True]  # tests switch plans off to compare with the op-by-op replay
_SHAPED_PLANS = 8  # plans kept per graph with relaxed shapes (one per tuple of input shapes)


class Slot:
    """A reference to value number `index` of a graph (an input, a capture or an op output)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"%{self.index}"


class Composite:
    """A Python object made of tensors (tf.TensorArray) that traced control flow carries as its
    tensors: TensorFlow's `__tf_flatten__` / `__tf_unflatten__` protocol."""

    __slots__ = ()

    def __tf_flatten__(self) -> tuple:
        """(metadata, components): what rebuilds the object, and its tensors."""
        raise NotImplementedError

    @classmethod
    def __tf_unflatten__(cls, metadata, components):
        raise NotImplementedError


def flatten(structure, leaves: list) -> None:
    """Append the leaves of nested lists, tuples and dicts to `leaves`, in a fixed order."""
    if isinstance(structure, (list, tuple)):
        for item in structure:
            flatten(item, leaves)
    elif isinstance(structure, dict):
        for key in structure:
            flatten(structure[key], leaves)
    elif isinstance(structure, IndexedSlices):  # a sparse gradient: its two tensors
        flatten(structure.values, leaves)
        flatten(structure.indices, leaves)
    elif isinstance(structure, Composite):
        flatten(structure.__tf_flatten__()[1], leaves)
    else:
        leaves.append(structure)


def _indexed_slices(values, indices, dense_shape) -> IndexedSlices:
    """An IndexedSlices of any two parts (Slots too), without __init__'s conversions."""
    made = object.__new__(IndexedSlices)
    made.values, made.indices, made.dense_shape = values, indices, dense_shape
    return made


def map_structure(function, structure):
    """`structure` with every leaf replaced by `function(leaf)` (lists, tuples, namedtuples,
    dicts keep their type)."""
    if isinstance(structure, list):
        return [map_structure(function, item) for item in structure]
    if isinstance(structure, tuple):
        items = [map_structure(function, item) for item in structure]
        if hasattr(structure, "_fields"):
            return type(structure)(*items)
        return tuple(items) if type(structure) is tuple else type(structure)(items)
    if isinstance(structure, dict):
        return {key: map_structure(function, value) for key, value in structure.items()}
    if isinstance(structure, IndexedSlices):
        return _indexed_slices(map_structure(function, structure.values),
                               map_structure(function, structure.indices),
                               structure.dense_shape)
    if isinstance(structure, Composite):
        metadata, components = structure.__tf_flatten__()
        return structure.__tf_unflatten__(metadata, map_structure(function, components))
    return function(structure)


def fill(template, values: list):
    """`template` with every Slot replaced by its value (the replay's hot helper)."""
    cls = template.__class__
    if cls is Slot:
        return values[template.index]
    if cls is tuple or cls is list:
        filled = [fill(item, values) for item in template]
        return filled if cls is list else tuple(filled)
    if cls is dict:
        return {key: fill(value, values) for key, value in template.items()}
    if cls is IndexedSlices:
        return _indexed_slices(fill(template.values, values), fill(template.indices, values),
                               template.dense_shape)
    if isinstance(template, tuple):  # a namedtuple or another tuple subclass
        items = [fill(item, values) for item in template]
        return type(template)(*items) if hasattr(template, "_fields") else type(template)(items)
    if isinstance(template, Composite):
        metadata, components = template.__tf_flatten__()
        return template.__tf_unflatten__(metadata, fill(components, values))
    return template


def _has_slot(template) -> bool:
    if template.__class__ is Slot:
        return True
    if isinstance(template, (list, tuple)):
        return any(_has_slot(item) for item in template)
    if isinstance(template, dict):
        return any(_has_slot(item) for item in template.values())
    if isinstance(template, IndexedSlices):
        return _has_slot(template.values) or _has_slot(template.indices)
    if isinstance(template, Composite):
        return _has_slot(template.__tf_flatten__()[1])
    return False


@dataclasses.dataclass
class Call:
    """One line of a graph: `outputs = function(*args, **kwargs)`."""

    name: str
    function: Callable
    args: tuple
    kwargs: dict
    output_slots: list[int]  # where the flattened result's tensors go
    output_positions: list[int]  # their positions among the flattened result's leaves
    types: list[str]  # the traced type of each output, for printing
    stateful: bool = False  # runs for its effect (assign, print, gradient); kept when unused
    # control flow (tf.cond, tf.while_loop): control(values) runs the line on the graph's
    # values itself, choosing and running sub-lists of calls; `function` is then only shown
    control: Callable | None = None
    text: str = ""  # extra lines (the branches or the loop's body) when printed
    # per output: whether a GradientTape recording during the trace tracked it (empty: none
    # recorded); replay plans use it for lines without a lowering rule
    tracked: tuple = ()

    def __post_init__(self) -> None:
        # how to build each positional argument (0: a slot, 1: nested, 2: a literal) and
        # whether the keywords hold any slot; this keeps `fill` off the common path
        self.plan = [(0, a.index) if a.__class__ is Slot else (1, a) if _has_slot(a) else
                     (2, a) for a in self.args]
        self.dynamic_kwargs = _has_slot(self.kwargs)


def run_calls(calls: list[Call], values: list) -> None:
    """Run graph lines on `values` (a list indexed by slot), writing each line's outputs."""
    for call in calls:
        if call.control is not None:
            call.control(values)
            continue
        args = [values[item] if kind == 0 else fill(item, values) if kind == 1 else item
                for kind, item in call.plan]
        kwargs = fill(call.kwargs, values) if call.dynamic_kwargs else call.kwargs
        result = call.function(*args, **kwargs)
        if call.output_slots:
            if len(call.output_positions) == 1 and call.output_positions[0] == -1:
                values[call.output_slots[0]] = result
            else:
                leaves: list = []
                flatten(result, leaves)
                for slot, position in zip(call.output_slots, call.output_positions):
                    values[slot] = leaves[position]


@dataclasses.dataclass
class Graph:
    """A traced function: inputs, captures, calls, outputs."""

    name: str
    input_slots: list[int]
    input_names: list[str]
    captures: list  # (slot, value): variables and constant tensors, held by identity
    calls: list[Call]
    output_template: object  # the returned structure, tensors replaced by Slots
    types: dict  # slot -> printed type
    size: int = 0  # number of slots
    # slot -> (shape, dtype) of each tensor value as traced (None for a relaxed dimension)
    specs: dict = dataclasses.field(default_factory=dict)
    # the replay plan (tensorflowish.function.plan): None until the second call compiles it,
    # False when the graph has none (then `plan_note` says why)
    plan: object = None
    plan_note: str = ""
    # relaxed shapes: input shapes -> plan (or False), None when the graph's shapes are static
    shaped_plans: dict | None = None
    # the GPU plan (tensorflowish.function.plan_gpu) for CuPy inputs: None until compiled
    gpu_plan: object = None

    def replay(self, inputs: list):
        """Run the graph on new input tensors (same signature) and return the outputs: through
        its plan when it has one and no tape records outside, else op by op."""
        plan = self.plan
        if plan is None:
            plan = self.compile()
        if plan and not _recording_tapes and not _tape_module._strict_gradients:
            try:
                return plan.function(inputs)
            except _PlanReshaped as reason:
                self.plan = False
                self.plan_note = str(reason) or "a value-dependent shape changed between calls"
            except _PlanFallback:  # not NumPy: CuPy inputs get the GPU plan (plan_gpu.py)
                from .plan_gpu import replay_gpu

                return replay_gpu(self, inputs)
        elif self.shaped_plans is not None and not _recording_tapes and \
                not _tape_module._strict_gradients:
            return self._replay_shaped(inputs)
        if plan is False and self.gpu_plan is not False and not _recording_tapes and \
                not _tape_module._strict_gradients:  # no NumPy plan: CuPy inputs may have one
            from .plan_gpu import replay_gpu

            return replay_gpu(self, inputs)
        return self.replay_op_by_op(inputs)

    def _replay_shaped(self, inputs: list):
        """A graph with relaxed (None) dimensions: one plan per tuple of input shapes, its
        types read from the first op-by-op replay with those shapes."""
        key = tuple(_ARRAY.__get__(tensor).shape for tensor in inputs)
        plan = self.shaped_plans.get(key)
        if plan:
            try:
                return plan.function(inputs)
            except _PlanReshaped:
                self.shaped_plans[key] = False
            except _PlanFallback:
                pass
            return self.replay_op_by_op(inputs)
        if plan is False or len(self.shaped_plans) >= _SHAPED_PLANS:
            return self.replay_op_by_op(inputs)
        values = self._run_op_by_op(inputs)
        specs = {slot: (tuple(_ARRAY.__get__(value).shape), _ARRAY.__get__(value).dtype)
                 for slot, value in enumerate(values) if isinstance(value, Tensor)}
        from .plan import NotPlannable, compile_plan

        try:
            self.shaped_plans[key] = compile_plan(self, specs)
        except NotPlannable:
            self.shaped_plans[key] = False
        return fill(self.output_template, values)

    def compile(self):
        """Compile the plan (or note why there is none); returns it, or False."""
        from .plan import NotPlannable, UnknownShapes, compile_plan

        if not _plans_enabled[0]:
            self.plan, self.plan_note = False, "plans are switched off"
            return False
        try:
            self.plan = compile_plan(self)
        except UnknownShapes as reason:  # plans per input shapes (see _replay_shaped)
            self.plan, self.plan_note, self.shaped_plans = False, str(reason), {}
        except NotPlannable as reason:
            self.plan, self.plan_note = False, str(reason)
        except Exception as error:  # noqa: BLE001 - a plan is an optimisation: never fatal
            self.plan, self.plan_note = False, f"compiling the plan failed: {error!r}"
            import logging

            logging.getLogger("tensorflowish.function").warning(
                "tf.function %s replays op by op: %s", self.name, self.plan_note)
        return self.plan

    def replay_op_by_op(self, inputs: list):
        """Run the calls on new input tensors (same signature) and return the outputs."""
        return fill(self.output_template, self._run_op_by_op(inputs))

    def _run_op_by_op(self, inputs: list) -> list:
        """Run the calls on new input tensors; returns every slot's value."""
        values = [None] * self.size
        for slot, value in zip(self.input_slots, inputs):
            values[slot] = value
        for slot, value in self.captures:
            values[slot] = value
        run_calls(self.calls, values)
        return values

    def as_graph_def(self):
        """The graph listed as TensorFlow lists a GraphDef (`.node`: name, op, input)."""
        from .graph_def import as_graph_def

        return as_graph_def(self)

    def as_text(self) -> str:
        """The graph as readable text, one op call per line."""
        def show(value) -> str:
            if isinstance(value, Slot):
                return repr(value)
            if isinstance(value, list):
                return "[" + ", ".join(show(v) for v in value) + "]"
            if isinstance(value, tuple):
                return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") \
                    + ")"
            if isinstance(value, dict):
                return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in value.items()) + "}"
            if isinstance(value, Composite):
                return f"{type(value).__name__}({show(value.__tf_flatten__()[1][0])})"
            if callable(value) and hasattr(value, "__name__"):
                return value.__name__
            text = repr(value)
            return text if len(text) <= 40 else text[:37] + "..."

        inputs = ", ".join(f"%{slot}: {self.types[slot]}" for slot in self.input_slots)
        lines = [f"graph {self.name}({inputs}) {{"]
        for slot, value in self.captures:
            what = f"variable {value.name!r}" if isinstance(value, Variable) else "constant"
            lines.append(f"  %{slot}: {self.types[slot]} = capture {what}")
        for call in self.calls:
            arguments = [show(a) for a in call.args]
            defaults = _defaults(call.function)
            arguments += [f"{k}={show(v)}" for k, v in call.kwargs.items()
                          if not _is_default(v, defaults.get(k, _NO_DEFAULT))]
            outputs = ", ".join(f"%{s}: {t}" for s, t in zip(call.output_slots, call.types))
            head = f"{outputs} = " if outputs else ""
            lines.append(f"  {head}{call.name}({', '.join(arguments)})")
            if call.text:
                lines.append(call.text)
        lines.append(f"  return {show(self.output_template)}")
        lines.append("}")
        return "\n".join(lines)

    __str__ = as_text


_NO_DEFAULT = object()


def _defaults(function) -> dict:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not p.empty}


def _is_default(value, default) -> bool:
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # noqa: BLE001 - an object whose == is not a plain bool
        return False


def type_of(tensor: Tensor, shape=None) -> str:
    """float32[2,3]-style text for a tensor (with `?` for an unknown dimension)."""
    array = _ARRAY.__get__(tensor)
    dims = array.shape if shape is None else shape
    name = getattr(array.dtype, "name", str(array.dtype))
    return f"{name}[{','.join('?' if d is None else str(d) for d in dims)}]"
