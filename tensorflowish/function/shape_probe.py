"""Static shapes with None dimensions for traced tensors: shape inference by a probe.

A trace runs on real values, so every traced tensor has a concrete array. When some input
dimensions are relaxed (`input_signature=[tf.TensorSpec([None, ...])]`, `reduce_retracing`),
TensorFlow's shape inference reports `None` for every dimension that depends on them; Python
that reads `y.shape` must see that `None`, or it would bake the traced size into the graph.

Beside each traced tensor that depends on a relaxed input the tracer keeps a *probe*: the same
value with each relaxed dimension of another size (the real array with its first slice repeated
along that axis, so values stay realistic: indices valid, no new zeros). Each recorded line
whose arguments hold a probe runs a second time on the probes (tapes paused, nothing recorded,
the random streams put back), and each output dimension that differs between the real run and
the probe run is None; the outputs get the probe run's results as their probes. Sizes that
depend on values (`tf.boolean_mask`, `tf.unique`, `tf.where(cond)`) always read None.

Control flow (tf.cond, tf.switch_case, tf.while_loop) runs its whole line again on the probes
(`control_line`: the branch or the iterations the probes choose), unless a branch or body holds
a stateful line. Host-drawn masks and noise (Keras's dropout layers) run again too: their
classes name those methods in `_probe_lines`. Lines that cannot run twice (other stateful
calls: optimiser updates, metric updates, `py_function`, Generator draws, dataset loops) or
whose probe run fails get no inference: the trace is then *specialised* (`Tracer.specialised`
says why) and its graph serves only the exact input shapes it was traced with; a call with
other sizes traces again (polymorphic.py). `tape.gradient` has a rule: each gradient has its
source's shape (a sparse gradient's rows are None). A trace without relaxed inputs keeps no
probes and runs nothing twice.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import tape as tape_module
from ..ops.indexed_slices import IndexedSlices
from ..tensor import Tensor, Variable
from .graph import flatten, map_structure
from .plan_lines import _filled

_ARRAY = Tensor.array  # the slot descriptor, bypassing TracedTensor's check

# stateful lines that are pure reads (a variable's slice): they run on probes like ops
_PURE = frozenset({"Variable.__getitem__", "Variable.sparse_read", "Variable.gather_nd"})
_RANDOM_PREFIX = "random."  # tf.random.* functions: run on probes with the streams put back


def grown(array, shape: tuple):
    """`array` resized to `shape` (same rank): along each axis of another size, its slices
    in order then its first slice repeated (truncated when smaller; zeros when empty)."""
    if tuple(array.shape) == tuple(shape):
        return array
    from .. import backend

    xp = backend.get_array_module(array)
    if 0 in array.shape:
        return xp.zeros(shape, array.dtype)
    for axis, (have, want) in enumerate(zip(array.shape, shape)):
        if have != want:
            index = np.arange(want)
            index[index >= have] = 0
            array = xp.take(array, xp.asarray(index), axis=axis)
    return array


def input_probe(tensor: Tensor, shape: tuple):
    """The probe of an input traced with relaxed `shape` (None dims), or None if it has none."""
    array = _ARRAY.__get__(tensor)
    if None not in shape or len(shape) != array.ndim:
        return None
    size = tuple(have + 1 if dim is None else have for have, dim in zip(array.shape, shape))
    return Tensor(grown(array, size))


def _probed(tracer, structure) -> bool:
    leaves: list = []
    flatten(structure, leaves)
    probes = tracer.probes
    return any(isinstance(leaf, Tensor) and leaf._id in probes for leaf in leaves)


def _tensors(result) -> list:
    leaves: list = []
    flatten(result, leaves)
    return leaves


def infer(tracer, name: str, function, args: tuple, kwargs: dict, result,
          stateful: bool) -> None:
    """Set `tracer.shapes` (relaxed dims) and `tracer.probes` for the outputs of one recorded
    line, or specialise the trace when the line cannot be probed."""
    if not _probed(tracer, (args, kwargs)):
        return  # nothing here depends on a relaxed dimension: the shapes are the traced ones
    leaves = _tensors(result)
    if not any(isinstance(leaf, Tensor) and not isinstance(leaf, Variable) for leaf in leaves):
        return  # no tensor results (an assignment, tf.print, tape.watch)
    if name == "GradientTape.gradient":
        _gradient_rule(tracer, args, kwargs, result)
        return
    if name in ("GradientTape.jacobian", "GradientTape.batch_jacobian"):
        _jacobian_rule(tracer, name, args, kwargs, result)
        return
    if stateful and not _may_run_again(name, args):
        tracer.specialise(f"`{name}` (a stateful line) takes a tensor whose shape depends on a "
                          "relaxed dimension")
        return
    probes = tracer.probes

    def swap(leaf):
        return probes.get(leaf._id, leaf) if isinstance(leaf, Tensor) else leaf

    try:
        probe_args, probe_kwargs = map_structure(swap, args), map_structure(swap, kwargs)
        with _quiet(tracer):
            probe_result = function(*probe_args, **probe_kwargs)
    except Exception as error:  # noqa: BLE001 - a probe that fails only costs the inference
        tracer.specialise(f"`{name}` failed on other sizes of the relaxed dimensions "
                          f"({type(error).__name__}: {str(error)[:120]})")
        return
    probe_leaves = _tensors(probe_result)
    if len(probe_leaves) != len(leaves):
        tracer.specialise(f"`{name}` gave another structure on other sizes")
        return
    data = _data_dimensions(name, args, kwargs)
    for index, (real, probe) in enumerate(zip(leaves, probe_leaves)):
        if not isinstance(real, Tensor) or isinstance(real, Variable):
            continue
        if not isinstance(probe, Tensor) or probe.ndim != real.ndim:
            tracer.specialise(f"`{name}` gave another rank on other sizes")
            return
        probe_shape = list(_ARRAY.__get__(probe).shape)
        axis = data.get(index, data.get("each"))
        if axis is not None and 0 <= axis < len(probe_shape):
            probe_shape[axis] = -1  # a count of values: None even where the probe kept it
        _set(tracer, real, tuple(probe_shape), probe)


def explain_none(name: str, args: tuple, kwargs: dict, error: Exception) -> None:
    """A line of a relaxed trace failed with a None inside a list or tuple argument (a size
    read from `x.shape` where it is None): raise TensorFlow's TypeError saying so."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, (list, tuple)) and any(item is None for item in value):
            raise TypeError(
                f"{name}: the argument {tuple(value)!r} holds None, a dimension that is None in "
                "this tf.function (a relaxed input dimension, read from `x.shape`), so its size "
                "is not known while tracing. Use a tensor for it, such as tf.shape(x)[0] (or -1 "
                "in a reshape).") from error


def _may_run_again(name: str, args: tuple) -> bool:
    """Whether a stateful line may run once more on probes: a pure read, a tf.random.*
    draw, or a method its class names in `_probe_lines` (one whose only state is tf.random's
    streams, such as a dropout mask drawn on the host: `_quiet` puts them back)."""
    if name in _PURE or name.startswith(_RANDOM_PREFIX):
        return True
    owner = args[0] if args else None
    return name.rpartition(".")[2] in getattr(type(owner), "_probe_lines", ())


def _data_dimensions(name: str, args: tuple, kwargs: dict) -> dict:
    """{output leaf: axis} whose size is a count of values (TensorFlow's shape inference
    gives None there whatever the probe's values happened to give)."""
    if name == "boolean_mask":
        axis = kwargs.get("axis", args[2] if len(args) > 2 else None) or 0
        tensor = kwargs.get("tensor", args[0] if args else None)
        if axis < 0 and isinstance(tensor, Tensor):
            axis += tensor.ndim
        return {0: axis}
    if name == "where" and kwargs.get("x", args[1] if len(args) > 1 else None) is None:
        return {0: 0}
    if name in ("unique", "unique_with_counts"):
        return {0: 0, 2: 0}
    if name == "dynamic_partition":
        return {"each": 0}
    return {}


def _set(tracer, real: Tensor, probe_shape: tuple, probe: Tensor | None) -> None:
    shape = tuple(_ARRAY.__get__(real).shape)
    relaxed = tuple(a if a == b else None for a, b in zip(shape, probe_shape))
    if None in relaxed:
        tracer.shapes[real._id] = relaxed
    if probe is not None:
        tracer.probes[real._id] = probe


def _gradient_rule(tracer, args: tuple, kwargs: dict, result) -> None:
    """tape.gradient(target, sources): each gradient has its source's shape."""
    sources = kwargs["sources"] if "sources" in kwargs else args[2] if len(args) > 2 else None
    pairs: list = []
    _pair(sources, result, pairs)
    for source, gradient in pairs:
        if gradient is None:
            continue
        if isinstance(gradient, IndexedSlices) and isinstance(gradient.values, Tensor) and \
                isinstance(gradient.indices, Tensor):
            # a sparse gradient (an embedding's): one row per index looked up, a count that
            # TensorFlow's shape inference leaves unknown too
            for part in (gradient.values, gradient.indices):
                array = _ARRAY.__get__(part)
                size = (array.shape[0] + 1, *array.shape[1:]) if array.ndim else ()
                _set(tracer, part, size, Tensor(grown(array, size)))
            continue
        if not isinstance(gradient, Tensor) or not isinstance(source, Tensor):
            tracer.specialise("a gradient of an unknown kind in a graph with relaxed dimensions")
            return
        probe = tracer.probes.get(source._id)
        if probe is None:
            continue  # a variable or a tensor of static shape: the gradient's shape is static
        size = _ARRAY.__get__(probe).shape
        _set(tracer, gradient, size, Tensor(grown(_ARRAY.__get__(gradient), size)))


def _size(tracer, tensor) -> tuple:
    """The shape `tensor` has at the probe's sizes."""
    probe = tracer.probes.get(tensor._id)
    return tuple((probe if probe is not None else tensor).shape)


def _jacobian_rule(tracer, name: str, args: tuple, kwargs: dict, result) -> None:
    """tape.jacobian: target.shape + source.shape; batch_jacobian: the batch, then the rest
    of the target's and of the source's dimensions."""
    key = "source" if name.endswith("batch_jacobian") else "sources"
    target = kwargs["target"] if "target" in kwargs else args[1] if len(args) > 1 else None
    sources = kwargs[key] if key in kwargs else args[2] if len(args) > 2 else None
    pairs: list = []
    _pair(sources, result, pairs)
    if not isinstance(target, Tensor):
        tracer.specialise(f"`{name}` of a target that is not a tensor")
        return
    target_size = _size(tracer, target)
    for source, jacobian in pairs:
        if jacobian is None:
            continue
        if not isinstance(jacobian, Tensor) or not isinstance(source, Tensor):
            tracer.specialise(f"`{name}` gave a result of an unknown kind")
            return
        source_size = _size(tracer, source)
        size = (*target_size, *source_size) if key == "sources" else \
            (*target_size, *source_size[1:])
        array = _ARRAY.__get__(jacobian)
        if len(size) != array.ndim:
            tracer.specialise(f"`{name}` gave an unexpected rank")
            return
        _set(tracer, jacobian, size, Tensor(grown(array, size)))


def _pair(sources, result, pairs: list) -> None:
    if isinstance(sources, (list, tuple)) and isinstance(result, (list, tuple)):
        for source, item in zip(sources, result):
            _pair(source, item, pairs)
    elif isinstance(sources, dict) and isinstance(result, dict):
        for key in sources:
            _pair(sources[key], result.get(key), pairs)
    else:
        pairs.append((sources, result))


class _quiet:
    """Run a probe: inside an op for the tracer (nothing recorded), no tape recording, no
    warnings (the real run gave them), and the random streams put back afterwards."""

    def __init__(self, tracer) -> None:
        self.tracer = tracer

    def __enter__(self):
        from .. import random as tf_random

        self.tapes = list(tape_module._recording_tapes)
        tape_module._recording_tapes.clear()
        self.generator = tf_random._global_generator
        self.state = self.generator.bit_generator.state
        self.op_states = {key: g.bit_generator.state
                          for key, g in tf_random._op_generators.items()}
        self.tracer.depth += 1
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore")
        self.errstate = np.errstate(all="ignore")
        self.errstate.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        from .. import random as tf_random

        self.errstate.__exit__(*exc)
        self.warnings.__exit__(*exc)
        self.tracer.depth -= 1
        tape_module._recording_tapes.extend(self.tapes)
        tf_random._global_generator = self.generator
        self.generator.bit_generator.state = self.state
        for key in list(tf_random._op_generators):
            if key in self.op_states:
                tf_random._op_generators[key].bit_generator.state = self.op_states[key]
            else:
                del tf_random._op_generators[key]


def carry(tracer, tensor: Tensor, copy: Tensor) -> None:
    """`copy` (control flow's copy of `tensor`) gets its relaxed shape and probe."""
    probe = tracer.probes.get(tensor._id)
    if probe is not None:
        tracer.probes[copy._id] = probe
    shape = tracer.shapes.get(tensor._id)
    if shape is not None:
        tracer.shapes[copy._id] = shape


def control_line(tracer, call) -> None:
    """Infer a control-flow line's output shapes: run it again on the probes of every value
    (its branches and bodies run as at a replay), compare with the traced outputs."""
    if not call.output_slots:
        return
    if call.name == "for_dataset" or _stateful_inside(call.control):
        tracer.specialise(f"`{call.name}` holds stateful lines (it cannot run twice)")
        return
    from .graph import type_of

    probes = tracer.probes
    values = [probes.get(value._id, value) if isinstance(value, Tensor) else value
              for value in tracer.holds]
    try:
        with _quiet(tracer):
            call.control(values)
    except Exception as error:  # noqa: BLE001 - a probe that fails only costs the inference
        tracer.specialise(f"`{call.name}` failed on other sizes of the relaxed dimensions "
                          f"({type(error).__name__}: {str(error)[:120]})")
        return
    for slot in call.output_slots:
        real, probe = tracer.holds[slot], values[slot]
        if not isinstance(real, Tensor) or isinstance(real, Variable):
            continue
        if not isinstance(probe, Tensor) or probe.ndim != real.ndim:
            tracer.specialise(f"`{call.name}` gave another rank on other sizes")
            return
        tracer.shapes.pop(real._id, None)  # carried from the loop's entry: inferred anew
        _set(tracer, real, _ARRAY.__get__(probe).shape, probe)
        tracer.types[slot] = type_of(real, tracer.shapes.get(real._id))
    call.types = [tracer.types[slot] for slot in call.output_slots]


def _stateful_inside(control) -> bool:
    """Whether a control-flow line's branches or bodies (lists of Calls in its closures) hold
    a stateful line (an assignment, tf.print, a random draw)."""
    from .graph import Call

    seen: set = set()

    def walk(item) -> bool:
        if id(item) in seen:
            return False
        seen.add(id(item))
        if isinstance(item, Call):
            return item.stateful and item.control is None or (
                item.control is not None and walk(item.control))
        if isinstance(item, (list, tuple)):
            return any(walk(element) for element in item)
        if isinstance(item, dict):
            return any(walk(element) for element in item.values())
        if callable(item) and getattr(item, "__closure__", None):
            return any(walk(cell.cell_contents) for cell in item.__closure__ if _filled(cell))
        return False

    return walk(control)
