"""Tracing: run the Python function once on real inputs and record every op call it makes.

Every public op goes through the registry's dispatcher (`ops.registry.register`), which calls
`Tracer.call_op` while a trace is running. Only the outermost op calls become graph lines (an
op that calls other ops is one line). Stateful calls that are not registry ops (Variable
assignment, `tf.print`, random numbers, GradientTape methods, optimiser updates) are patched
for the duration of the trace so that they become graph lines too.

The values the traced body sees are real: the trace is also the function's first execution.
Tensors that depend on the inputs or on variables are switched to `TracedTensor` while the
trace runs. Reading such a tensor's value in Python (`if x > 0:`, `float(x)`, `x.numpy()`,
NumPy on its array) would freeze one outcome into the graph, so it raises
`OperatorNotAllowedInGraphError` naming the line, instead of silently tracing one branch.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator

from .. import tape as tape_module
from ..ops import registry
from ..tensor import Tensor, TensorShape, Variable
from . import shape_probe, tape_lines
from .graph import Call, Graph, Slot, flatten, map_structure, type_of
from .leaked import GraphTensor, leak

_ARRAY = Tensor.array  # the slot descriptor, bypassing TracedTensor's check
_PACKAGE = __name__.rsplit(".", 2)[0]


class OperatorNotAllowedInGraphError(TypeError):
    """A traced tensor's value was needed by Python code while tracing a tf.function."""


_tracer: Tracer | None = None  # the trace running now (one at a time; nested ones are inlined)


def current() -> Tracer | None:
    """The running trace of this thread, or None."""
    tracer = _tracer
    if tracer is not None and tracer.thread == threading.get_ident():
        return tracer
    return None


def _user_location() -> str:
    """'file.py:12 in f' for the innermost frame outside tensorflowish (the user's line)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != _PACKAGE and not module.startswith(_PACKAGE + "."):
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return "an unknown line"


def _not_allowed(what: str, tensor: Tensor | None = None) -> OperatorNotAllowedInGraphError:
    tracer = current()
    name = tracer.name if tracer else "the function"
    described = f"a traced tensor ({type_of(tensor)})" if tensor is not None else ""
    return OperatorNotAllowedInGraphError(
        f"{what.format(tensor=described)} is not allowed in tf.function `{name}` "
        f"(at {_user_location()}). The function is traced once and its graph replayed, so a "
        "Python decision on a tensor's value would be frozen into the graph. Use tensor ops "
        "(tf.where, tf.cond, tf.while_loop), tf.py_function, or run it eagerly with "
        "tf.config.run_functions_eagerly(True).")


def _checked_array(tensor):
    tracer = current()
    if tracer is not None and tracer.depth == 0:
        raise _not_allowed("Reading the value (the backend array) of {tensor}", tensor)
    return _ARRAY.__get__(tensor)


class TracedTensor(GraphTensor):
    """A tensor seen while tracing whose value depends on the inputs or on variables.

    Its shape and dtype are known (an input's relaxed dimensions read as None); its values
    may be used only by ops.
    """

    __slots__ = ()

    array = property(_checked_array)

    @property
    def shape(self) -> TensorShape:
        tracer = current()
        # relaxed (None) dimensions are what user code sees; an op's body sees the real shape
        known = tracer.shapes.get(self._id) if tracer is not None and not tracer.depth else None
        return TensorShape(_ARRAY.__get__(self).shape if known is None else known)

    @property
    def device(self) -> str:
        from .. import backend

        return "/job:localhost/replica:0/task:0/device:" + backend.device_of(_ARRAY.__get__(self))

    def __len__(self) -> int:
        array = _ARRAY.__get__(self)
        if array.ndim == 0:
            raise TypeError("len() of a scalar (0-d) tensor is undefined.")
        if self.shape[0] is None:  # a relaxed dimension: TensorFlow's message
            raise TypeError(f"len is not well defined for a symbolic Tensor ({self!r}). Please "
                            "call `x.shape` rather than `len(x)` for shape information.")
        return array.shape[0]

    def __iter__(self):
        # the number of rows may depend on the data (tf.range(n), tf.boolean_mask): a Python
        # loop over them would freeze one count into the graph, as TensorFlow refuses too
        raise _not_allowed("Iterating over {tensor} in a Python `for` loop", self)

    def __bool__(self):
        raise _not_allowed("Using {tensor} as a Python `bool`", self)

    def __repr__(self) -> str:
        tracer = current()
        slot = tracer.slots.get(self._id) if tracer is not None else None
        name = f"%{slot}" if slot is not None else "traced"
        return f'Tensor("{name}", shape={self.shape}, dtype={self.dtype.name})'

    __str__ = __repr__


def _variable_value_guard(name: str, original):
    def guarded(self, *args, **kwargs):
        tracer = current()
        if tracer is not None and tracer.depth == 0:
            raise _not_allowed(f"Reading the value of variable {self.name!r} with `{name}`", None)
        return original(self, *args, **kwargs)
    return guarded


class Tracer:
    """Records the outermost op calls of one run of a Python function into a Graph."""

    def __init__(self, name: str, dry_run: bool = False, allow_variables: bool = True) -> None:
        self.name = name
        self.thread = threading.get_ident()
        self.depth = 0  # > 0 inside an op or stateful call: nothing inside is recorded
        self.dry_run = dry_run  # inputs are placeholders (get_concrete_function on specs)
        self.allow_variables = allow_variables
        self.slots: dict[int, int] = {}  # tensor id (or object id) -> slot
        self.holds: list = []  # keeps every object whose id is in `slots` alive
        self.shapes: dict[int, tuple] = {}  # tensor id -> shape with None for relaxed dims
        # tensor id -> probe (shape_probe.py): only in traces with relaxed input dimensions
        self.probes: dict[int, Tensor] | None = None
        self.specialised = ""  # why the graph serves only the traced input shapes, if it does
        self.types: dict[int, str] = {}
        self.size = 0
        self.captures: list = []
        self.calls: list[Call] = []
        self.converted: list[Tensor] = []
        self.inputs: set[int] = set()  # the caller's tensors: never leaked
        self.poison = False  # set by finish(): made tensors become LeakedTensors at the end
        self.outer_tapes = bool(tape_module._recording_tapes)
        self.input_slots: list[int] = []
        self.input_names: list[str] = []
        self.created_variables: list[Variable] = []

    # --- slots ----------------------------------------------------------------------------
    def _new_slot(self, value, type_text: str) -> int:
        slot = self.size
        self.size += 1
        self.slots[id(value) if not isinstance(value, Tensor) else value._id] = slot
        self.holds.append(value)
        self.types[slot] = type_text
        return slot

    def _mark_traced(self, tensor: Tensor) -> None:
        if tensor.__class__ is Tensor:
            tensor.__class__ = TracedTensor
            self.converted.append(tensor)

    def add_input(self, tensor: Tensor, name: str, shape=None) -> None:
        if tensor._id in self.slots:  # the same tensor passed twice
            self.input_slots.append(self.slots[tensor._id])
        else:
            self.input_slots.append(self._new_slot(tensor, type_of(tensor, shape)))
            if shape is not None:
                self.shapes[tensor._id] = tuple(shape)
                probe = shape_probe.input_probe(tensor, tuple(shape))
                if probe is not None:
                    self.probes = {} if self.probes is None else self.probes
                    self.probes[tensor._id] = probe
            self._mark_traced(tensor)
        self.inputs.add(tensor._id)
        self.input_names.append(name)

    def template(self, value):
        """`value` with each tensor (and each graph-made object) replaced by its Slot."""
        def leaf(item):
            if isinstance(item, Tensor):
                slot = self.slots.get(item._id)
                if slot is None:  # a variable or a constant made outside the graph
                    slot = self._new_slot(item, type_of(item))
                    self.captures.append((slot, item))
                return Slot(slot)
            if isinstance(item, tape_module.GradientTape):
                slot = self.slots.get(id(item))
                if slot is not None:
                    return Slot(slot)
            return item
        return map_structure(leaf, value)

    def _outputs(self, result) -> tuple[list, list, list]:
        leaves: list = []
        flatten(result, leaves)
        slots, positions, types = [], [], []
        for position, leaf in enumerate(leaves):
            if isinstance(leaf, Variable) or not isinstance(leaf, Tensor):
                if isinstance(leaf, tape_module.GradientTape):
                    slots.append(self._new_slot(leaf, "GradientTape"))
                    positions.append(position)
                    types.append("GradientTape")
                continue  # a variable is a capture; other objects are not values of the graph
            slot = self._new_slot(leaf, type_of(leaf, self.shapes.get(leaf._id)))
            self._mark_traced(leaf)
            slots.append(slot)
            positions.append(position)
            types.append(self.types[slot])
        if len(leaves) == 1 and leaves[0] is result and slots:
            positions = [-1]  # the result is the leaf itself: replay skips flattening
        return slots, positions, types

    # --- recording ------------------------------------------------------------------------
    def record(self, name: str, function: Callable, args: tuple, kwargs: dict,
               stateful: bool = False, run: Callable | None = None):
        """Run `run(*args, **kwargs)` (default: `function`) unrecorded, and add one graph line
        that calls `function` with the same arguments at replay."""
        if any(isinstance(a, Iterator) for a in args):  # zip(grads, vars) is read once
            args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        args_template = self.template(args)
        kwargs_template = self.template(kwargs)
        self.depth += 1
        try:
            result = (run or function)(*args, **kwargs)
        except Exception as error:
            if self.probes is not None:  # a None size read from `x.shape`: say so
                shape_probe.explain_none(name, args, kwargs, error)
            raise
        finally:
            self.depth -= 1
        if self.probes is not None:  # relaxed input dimensions: infer which dims are None
            shape_probe.infer(self, name, function, args, kwargs, result, stateful)
        slots, positions, types = self._outputs(result)
        call = Call(name, function, args_template, kwargs_template, slots, positions, types,
                    stateful)
        if tape_module._recording_tapes and slots:  # which outputs a tape tracks (for plans)
            leaves: list = []
            flatten(result, leaves)
            call.tracked = tuple(
                any(getattr(result if p == -1 else leaves[p], "_id", None) in tape._tracked
                    for tape in tape_module._recording_tapes) for p in positions)
        self.calls.append(call)
        return result

    def call_op(self, info, function, args, kwargs):
        """The registry's hook: one graph line per outermost op call."""
        if self.depth or self.thread != threading.get_ident():
            return function(*args, **kwargs)
        return self.record(info.name, function, args, kwargs)

    def sub_trace(self, function: Callable, dry_run: bool = False):
        """Run `function()` recording its lines into a separate list (a branch or a loop body).

        Returns (calls, result, result template). With `dry_run`, stateful lines are recorded
        but not executed (the branch a trace did not take)."""
        saved_calls, saved_dry = self.calls, self.dry_run
        self.calls = []
        self.dry_run = saved_dry or dry_run
        try:
            result = function()
            calls = self.calls
        finally:
            self.calls, self.dry_run = saved_calls, saved_dry
        return calls, result, self.template(result)

    def fresh(self, tensor: Tensor) -> tuple[Tensor, int]:
        """A new traced tensor equal to `tensor` (differentiably) with a slot of its own."""
        from ..ops.shapes import identity

        self.depth += 1
        try:
            copy = identity(tensor)
        finally:
            self.depth -= 1
        if self.probes is not None:  # relaxed dims: the copy has the tensor's (a loop variable)
            shape_probe.carry(self, tensor, copy)
        slot = self._new_slot(copy, type_of(copy, self.shapes.get(copy._id)))
        self._mark_traced(copy)
        return copy, slot

    def after_control(self, call: Call) -> None:
        """Called by control flow (tf.cond, tf.while_loop, dataset loops) once its line is
        added: with relaxed dimensions, infer its outputs' shapes by running it on probes."""
        if self.probes is not None:
            shape_probe.control_line(self, call)

    def specialise(self, reason: str) -> None:
        """Make the graph serve only the exact input shapes traced (see shape_probe.py)."""
        if not self.specialised:
            self.specialised = reason

    def values(self) -> list:
        """The current value of every slot (for running recorded lines while tracing)."""
        return list(self.holds)

    def finish(self, outputs, dry_outputs: bool = False) -> Graph:
        template = self.template(outputs)
        # the caller gets new tensors; those the trace made become leaked if Python kept them
        # (not under an outer tape, whose records still read them)
        self.poison = not self.outer_tapes
        specs = {}  # every tensor value's shape and dtype, for replay plans
        for slot, value in enumerate(self.holds):
            if isinstance(value, Tensor):
                array = _ARRAY.__get__(value)
                shape = array.shape if self.specialised else \
                    self.shapes.get(value._id, array.shape)
                specs[slot] = (tuple(shape), array.dtype)
        return Graph(self.name, self.input_slots, self.input_names, self.captures, self.calls,
                     template, self.types, self.size, specs)

    def returned(self, outputs):
        """`outputs` with each tensor the trace made replaced by a new plain Tensor (as they
        are, under an outer tape: its records hold them)."""
        if not self.poison:
            return outputs
        return map_structure(lambda leaf: Tensor(_ARRAY.__get__(leaf))
                             if leaf.__class__ is TracedTensor else leaf, outputs)

    def restore(self) -> None:
        """Turn every TracedTensor back into a plain Tensor (the trace's results are real);
        after a finished trace, those it made become LeakedTensors (the function's results
        reach the caller as new tensors: `returned`)."""
        for tensor in self.converted:
            if self.poison and tensor._id not in self.inputs:
                leak(tensor, self.shapes.get(tensor._id))
            else:
                tensor.__class__ = Tensor
        self.converted.clear()


# --- calls that are not registry ops but must be replayed ---------------------------------
def _stateful(name: str, original: Callable, dry_result: Callable | None = None):
    """Wrap `original` so that a trace records it as one graph line (run at every replay)."""
    def wrapper(*args, **kwargs):
        tracer = current()
        if tracer is None or tracer.depth:
            return original(*args, **kwargs)
        run = None
        if tracer.dry_run and dry_result is not None:
            def run(*a, **k):
                return dry_result(*a, **k)
        return tracer.record(name, original, args, kwargs, stateful=True, run=run)
    wrapper.__name__ = getattr(original, "__name__", name)
    wrapper.__wrapped__ = original
    return wrapper


def check_new_state(what: str) -> None:
    """Called where state that TensorFlow keeps in variables is made (a Keras optimizer's
    slots): after a function's first trace that is TensorFlow's ValueError."""
    tracer = current()
    if tracer is not None and not tracer.allow_variables:
        raise ValueError(
            f"tf.function only supports singleton tf.Variables created on the first call: "
            f"{what} would be created in a later trace of `{tracer.name}` (at "
            f"{_user_location()}). Create it on the first call (e.g. optimizer.build(...) "
            "before calling the function), or use one tf.function per object.")


def _variable_init(original):
    def init(self, *args, **kwargs):
        tracer = current()
        if tracer is None:
            return original(self, *args, **kwargs)
        if not tracer.allow_variables:  # inside ops and optimisers too, as TensorFlow
            raise ValueError(
                f"tf.function only supports singleton tf.Variables created on the first call. "
                f"Make sure the tf.Variable is only created once or created outside "
                f"tf.function (at {_user_location()}). See "
                "https://www.tensorflow.org/guide/function#creating_tfvariables for more "
                "information.")
        if tracer.depth:
            return original(self, *args, **kwargs)
        tracer.depth += 1
        try:
            original(self, *args, **kwargs)
        finally:
            tracer.depth -= 1
        tracer.created_variables.append(self)
    return init


def _in_init_scope(original):
    """Run `original` outside the graph (TensorFlow lifts variable initialisers the same way)."""
    def lifted(*args, **kwargs):
        tracer = current()
        if tracer is None:
            return original(*args, **kwargs)
        tracer.depth += 1
        try:
            return original(*args, **kwargs)
        finally:
            tracer.depth -= 1
    lifted.__wrapped__ = original
    return lifted


def _print_dry(*args, **kwargs):
    return None


def _random_guard(original):
    def numpy_generator(*args, **kwargs):
        tracer = current()
        if tracer is not None and tracer.depth == 0:
            raise OperatorNotAllowedInGraphError(
                f"Random numbers drawn by Python code (at {_user_location()}) inside "
                f"tf.function `{tracer.name}` would be frozen into the graph. Use tf.random.* "
                "or a tf.random.Generator (replayed at every call), or run the function eagerly "
                "with tf.config.run_functions_eagerly(True).")
        return original(*args, **kwargs)
    return numpy_generator


def _patches() -> list[tuple[object, str, Callable]]:
    """(owner, attribute, replacement) for every call a trace must see."""
    import tensorflowish

    from .. import ops
    from .. import random as tf_random
    from ..random import generator

    patches = []
    for name in ops.EAGER_OPERATORS:  # eagerly the plain ops; a trace must see the dispatchers
        patches.append((Tensor, name, ops._OPERATORS[name]))
    for name in ("assign", "assign_add", "assign_sub"):
        original = getattr(Variable, name)
        patches.append((Variable, name, _stateful(f"Variable.{name}", original,
                                                  dry_result=lambda self, *a, **k: self)))
    for name in ("scatter_update", "scatter_add", "scatter_sub", "scatter_nd_update",
                 "scatter_nd_add", "scatter_nd_sub", "scatter_max", "scatter_min"):
        original = getattr(Variable, name, None)
        if original is not None:
            patches.append((Variable, name, _stateful(f"Variable.{name}", original)))
    for name in ("__getitem__", "sparse_read", "gather_nd"):  # pure, but not registry ops
        original = getattr(Variable, name, None)
        if original is not None:
            patches.append((Variable, name, _stateful(f"Variable.{name}", original)))
    for name in ("numpy", "__bool__", "__float__", "__int__", "__index__", "__array__"):
        patches.append((Variable, name, _variable_value_guard(name, getattr(Variable, name))))
    patches.append((Variable, "__init__", _variable_init(Variable.__init__)))
    patches.append((tensorflowish, "print", _stateful("print", tensorflowish.print,
                                                      dry_result=_print_dry)))
    for name in ("normal", "truncated_normal", "uniform", "shuffle", "categorical"):
        patches.append((tf_random, name, _stateful(f"random.{name}", getattr(tf_random, name))))
    patches.append((tf_random, "numpy_generator", _random_guard(tf_random.numpy_generator)))
    for name in ("normal", "truncated_normal", "uniform", "uniform_full_int", "binomial",
                 "make_seeds", "skip", "reset", "reset_from_seed", "reset_from_key_counter"):
        original = getattr(generator.Generator, name, None)
        if original is not None:
            patches.append((generator.Generator, name,
                            _stateful(f"Generator.{name}", original)))
    from ..data import dataset as data_dataset  # next(iterator) reads the next element per call
    from .dataset_loop import iterator_next

    patches.append((data_dataset._Iterator, "__next__",
                    iterator_next(data_dataset._Iterator.__next__)))
    tape_lines.ORIGINALS["tape_enter"] = tape_module.GradientTape.__enter__
    tape_lines.ORIGINALS["stop_recording"] = tape_module.GradientTape.stop_recording
    patches.append((tape_module.GradientTape, "__enter__", tape_lines.tape_enter))
    patches.append((tape_module.GradientTape, "stop_recording", tape_lines.stop_recording))
    for name in ("__exit__", "watch", "gradient", "jacobian", "batch_jacobian", "reset"):
        patches.append((tape_module.GradientTape, name, _stateful(
            f"GradientTape.{name}", getattr(tape_module.GradientTape, name))))
    for base, names, subclasses in _LIFTED_METHODS:
        for cls in _subclasses(base) if subclasses else [base]:
            for name in names:
                original = cls.__dict__.get(name)
                if callable(original):
                    patches.append((cls, name, _in_init_scope(original)))
    # methods that read tensor values in Python (a dropout mask drawn on the host, an in-place
    # moving-statistic update) name themselves in their class's `_graph_lines` (inherited by
    # subclasses, each patched where it defines the method): one line each
    for base in _GRAPH_LINE_BASES:
        for cls in _subclasses(base):
            for name, skip_when_dry in getattr(cls, "_graph_lines", {}).items():
                original = cls.__dict__.get(name)
                if callable(original):
                    patches.append((cls, name, _stateful(
                        f"{cls.__name__}.{name}", original,
                        dry_result=(lambda *a, **k: None) if skip_when_dry else None)))
    for owner, name, dry_result in _STATEFUL_FUNCTIONS:
        patches.append((owner, name, _stateful(
            f"{owner.__name__.rpartition('.')[2]}.{name}", getattr(owner, name),
            dry_result=dry_result)))
    for base, names, dry_result in _STATEFUL_METHODS:
        patches += _class_patches(base, names, dry_result)
    return patches


# Methods of classes above this package (Keras's Layer, Optimizer, Metric) that a trace must
# treat specially. Their modules register them here when they load: this package never imports
# Keras (see docs/layout.md).
_LIFTED_METHODS: list[tuple[type, tuple[str, ...], bool]] = []
_STATEFUL_METHODS: list[tuple[type, tuple[str, ...], Callable | None]] = []
_GRAPH_LINE_BASES: list[type] = []
_STATEFUL_FUNCTIONS: list[tuple[object, str, Callable | None]] = []


def run_outside_traces(base: type, names: tuple[str, ...], subclasses: bool = False) -> None:
    """Run `base`'s methods `names` (with `subclasses`, also each subclass's own) outside any
    graph being traced, as TensorFlow lifts variable initialisers: `Layer.add_weight` inside a
    tf.function makes its variable once; a metric made while tracing is built outside it."""
    _LIFTED_METHODS.append((base, tuple(names), subclasses))


def trace_as_stateful(base: type, names: tuple[str, ...],
                      dry_result: Callable | None = None) -> None:
    """Record each call of `names` (on `base` and every subclass defining them) as one graph
    line, run again at every replay: an optimiser's `apply_gradients`, a metric's
    `update_state`. `dry_result` stands in for the call while a trace only probes shapes."""
    _STATEFUL_METHODS.append((base, tuple(names), dry_result))


def trace_function_as_stateful(owner: object, name: str,
                               dry_result: Callable | None = None) -> None:
    """Record each call of the function `owner.name` (a module's) as one graph line, run again
    at every replay: data-parallel fit's `distribute.allreduce_gradients`."""
    _STATEFUL_FUNCTIONS.append((owner, name, dry_result))


def trace_graph_lines(base: type) -> None:
    """Record as one graph line each method that a subclass of `base` names in its
    `_graph_lines` dict ({method name: skip it while a trace only probes shapes})."""
    _GRAPH_LINE_BASES.append(base)


def _subclasses(base: type) -> list[type]:
    found, pending = [], [base]
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


def _class_patches(base: type, names: tuple, dry_result) -> list:
    """Patches making each of `names`, on `base` and every subclass defining it, a graph line."""
    patches = []
    for cls in _subclasses(base):
        for name in names:
            original = cls.__dict__.get(name)
            if callable(original):
                patches.append((cls, name, _stateful(f"{cls.__name__}.{name}", original,
                                                     dry_result=dry_result)))
    return patches


@contextlib.contextmanager
def tracing(tracer: Tracer):
    """Run a block with `tracer` recording (patches installed, registry hooked)."""
    global _tracer
    if _tracer is not None:
        raise RuntimeError("tf.function: a trace is already running in another thread.")
    saved = []
    for owner, name, replacement in _patches():
        saved.append((owner, name, owner.__dict__.get(name) if isinstance(owner, type)
                      else getattr(owner, name), name in vars(owner)))
        setattr(owner, name, replacement)
    _tracer = tracer
    registry.set_trace_hook(tracer.call_op)
    try:
        yield tracer
    finally:
        registry.set_trace_hook(None)
        _tracer = None
        for owner, name, original, owned in reversed(saved):
            if owned:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        tracer.restore()
