"""`tf.GradientTape`: an execution-ordered list of records, walked backwards.

Every op asks `should_record(inputs)`; when some active tape tracks one of the inputs, the op
calls `record(inputs, output, vjps)` with one vector-Jacobian product per input. Elementwise
ops, the most frequent, call `record_elementwise` instead: one call, with VJPs shared by every
call of the op rather than closures built per call. A tape tracks the ids of tensors it watches
and of every output it recorded, and holds the records (and so the arrays they saved) only
until `gradient()` returns, unless it is persistent.

VJPs are written with ops, so when an outer tape is recording while an inner one computes its
gradient, the outer tape records the backward pass too: that is all higher-order gradients need.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import warnings
from threading import get_ident as _get_ident

import numpy as np

from . import backend
from .tensor import Tensor, Variable, convert_to_tensor, format_shape

_log = logging.getLogger("tensorflowish.tape")
_ndarray, _array = np.ndarray, np.array
_TENSOR_CLASSES = (Tensor, Variable)  # exactly these classes: a subclass takes the general path

# Tapes currently recording, innermost last. Ops only look at this list, so when it is empty
# (inference, optimiser updates) recording costs one truth test.
_recording_tapes: list[GradientTape] = []
# Tapes record only the ops of the thread that entered them (TensorFlow's tapes are thread-local
# too): tf.data runs map functions in worker threads while the training step records.
_tape_thread: int | None = None

_strict_gradients = False
# The ops package, handed down by `tensorflowish.ops` when it loads: the ops sit above the tape
# (they record on it), so the few the tape calls itself are not imported from here.
_ops = None


class UnconnectedGradients(enum.Enum):
    """What `gradient()` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


def enable_strict_gradients(enabled: bool = True) -> None:
    """Make a gradient that would silently be None raise an error explaining why.

    The error names the source and says whether it was never watched (not a trainable Variable
    and no `tape.watch`) or watched but not connected to the target.
    """
    global _strict_gradients
    _strict_gradients = bool(enabled)


_matched: list = []  # the tapes the last should_record() found; record() appends to them


def _watches_on_read(tape: GradientTape, tensor: Tensor) -> bool:
    """Auto-watch `tensor` on `tape` if it is a trainable float Variable; True if it did."""
    if tape._watch_accessed_variables and isinstance(tensor, Variable) and tensor.trainable \
            and tensor.array.dtype.kind in "fV":  # V: bfloat16 (ml_dtypes)
        tape._watched_variables[tensor._id] = tensor
        tape._tracked.add(tensor._id)
        return True
    return False


def _tracks(tape: GradientTape, inputs) -> bool:
    """True when `tape` tracks one of `inputs`, auto-watching the trainable variables among them."""
    tracked = tape._tracked
    hit = False
    for tensor in inputs:  # no early exit: every variable read here must get watched
        if tensor._id in tracked or (tensor.__class__ is not Tensor and
                                     _watches_on_read(tape, tensor)):
            hit = True
    return hit


def should_record(inputs) -> bool:
    """True when some recording tape tracks one of `inputs` (auto-watching trainable variables).

    An op calls this, and when it is True builds its VJPs and calls `record` right away.
    """
    if not _recording_tapes or _get_ident() != _tape_thread:
        return False
    _matched.clear()
    for tape in _recording_tapes:
        if _tracks(tape, inputs):
            _matched.append(tape)
    return bool(_matched)


def record(inputs, output: Tensor, vjps) -> None:
    """Append one op to the tapes that `should_record(inputs)` just matched.

    `vjps` is a tuple: `vjps[i](upstream)` returns the gradient for `inputs[i]`, or None if it
    has none (and `vjps[i]` may itself be None). A fused op may instead pass one callable
    `vjps(upstream, needs)` returning all input gradients at once, where `needs[i]` says whether
    input i is tracked (so it can skip work nobody needs).
    """
    if vjps.__class__ is not tuple and not callable(vjps):
        vjps = tuple(vjps)
    saved = None  # _saved_buffers, inlined: record() runs for every non-elementwise op
    for tensor in inputs:
        kind = tensor.__class__
        if kind is not Tensor and (kind is Variable or isinstance(tensor, Variable)):
            if saved is None:
                saved = []
            saved.append((tensor, tensor.array))
    entry = (inputs, output, vjps, False, saved)
    for tape in _matched:
        tape._records.append(entry)
        tape._tracked.add(output._id)
    _matched.clear()


def record_elementwise(inputs, output: Tensor, vjps) -> None:
    """Record an op whose VJPs need nothing but its inputs and output, if a tape tracks it.

    `vjps[i](upstream, *inputs, output)` gives the gradient for `inputs[i]`; a gradient of the
    output's (broadcast) shape is summed back to the input's shape by the tape. No closure is
    built per call, which keeps the cost of recording an elementwise op low; `pass_through`
    marks an input whose gradient is the upstream itself (both inputs of x + y).
    """
    if _get_ident() != _tape_thread:
        return
    entry = None
    for tape in _recording_tapes:  # should_record and record in one pass
        if _tracks(tape, inputs):
            if entry is None:
                entry = (inputs, output, vjps, True, _saved_buffers(inputs))
            tape._records.append(entry)
            tape._tracked.add(output._id)


def record_binary(x: Tensor, y: Tensor, output: Tensor, vjps) -> None:
    """`record_elementwise((x, y), output, vjps)` for the binary ops, the most frequent of all,
    with the matching loop unrolled for two inputs."""
    if _get_ident() != _tape_thread:
        return
    for tape in _recording_tapes:
        tracked = tape._tracked
        if x._id in tracked:
            if y.__class__ is not Tensor and y._id not in tracked:
                _watches_on_read(tape, y)
        elif y._id in tracked:
            if x.__class__ is not Tensor:
                _watches_on_read(tape, x)
        # `|`, not `or`: both variables read here must get watched
        elif not ((x.__class__ is not Tensor and _watches_on_read(tape, x)) |
                  (y.__class__ is not Tensor and _watches_on_read(tape, y))):
            continue
        saved = None if x.__class__ is Tensor and y.__class__ is Tensor else \
            _saved_buffers((x, y))
        tape._records.append(((x, y), output, vjps, True, saved))
        tracked.add(output._id)


def _saved_buffers(inputs):
    """The buffers of the Variables among `inputs`, as the op read them (None if there are none).

    A record keeps them so `gradient()` differentiates the values the forward pass saw, even
    if a variable is assigned in between: holding the buffer makes the variable's next update
    copy-on-write (see `Variable._writable_array`)."""
    saved = None
    for tensor in inputs:
        if tensor.__class__ is not Tensor and isinstance(tensor, Variable):
            if saved is None:
                saved = []
            saved.append((tensor, tensor.array))
    return saved


def _swap_in(saved) -> list:
    """Point each variable back at the buffer its op read; returns what to restore."""
    restore = []
    for variable, array in saved:
        if variable.array is not array:
            restore.append((variable, variable.array))
            variable.array = array
    return restore


def pass_through(upstream, *inputs_and_output):
    """The VJP of an input whose gradient is the upstream gradient itself (x in x + y).

    The tape recognises it and skips the call: half the ops of a typical chain are additions.
    """
    return upstream


def _flatten(structure, out: list) -> None:
    if isinstance(structure, dict):
        for key in structure:
            _flatten(structure[key], out)
    elif isinstance(structure, (list, tuple)):
        for item in structure:
            if isinstance(item, Tensor):  # the usual leaf, taken without a call
                out.append(item)
            else:
                _flatten(item, out)
    else:
        out.append(structure)


def _unflatten(structure, values):
    if isinstance(structure, dict):
        return {key: _unflatten(structure[key], values) for key in structure}
    if isinstance(structure, (list, tuple)):
        items = [next(values) if isinstance(item, Tensor) else _unflatten(item, values)
                 for item in structure]
        return items if isinstance(structure, list) else type(structure)(items) \
            if not hasattr(structure, "_fields") else type(structure)(*items)
    return next(values)


def _as_unconnected(value) -> UnconnectedGradients:
    # the enum's own constructor is slow enough to show in a small training step
    return value if value.__class__ is UnconnectedGradients else UnconnectedGradients(value)


def _unbroadcast(gradient: Tensor, shape: tuple) -> Tensor:
    return _ops.registry.unbroadcast(gradient, shape)


class GradientTape:
    """Record operations for automatic differentiation, as TensorFlow 2 does.

    >>> import tensorflowish as tf
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * x
    >>> float(tape.gradient(y, x))
    6.0
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self._persistent = bool(persistent)
        self._watch_accessed_variables = bool(watch_accessed_variables)
        self._records: list = []
        self._tracked: set[int] = set()
        # plain tensors are tracked by id only; variables are also kept, for watched_variables()
        self._watched_variables: dict[int, Variable] = {}
        self._used = False
        self._entered = False

    # --- recording ------------------------------------------------------------------------
    def __enter__(self) -> GradientTape:
        global _tape_thread
        if self in _recording_tapes:
            raise ValueError("This GradientTape is already recording.")
        if not _recording_tapes:
            _tape_thread = _get_ident()
        elif _get_ident() != _tape_thread:
            raise RuntimeError(
                "A GradientTape is already recording in another thread; tensorflowish records "
                "tapes in one thread at a time. Take gradients in one thread, or finish the "
                "other thread's tape first."
            )
        _recording_tapes.append(self)
        self._entered = True
        return self

    def __exit__(self, *exc_info) -> None:
        if self in _recording_tapes:
            _recording_tapes.remove(self)

    def _watch_tensor(self, tensor: Tensor) -> None:
        if isinstance(tensor, Variable):
            self._watched_variables[tensor._id] = tensor
        self._tracked.add(tensor._id)

    def watch(self, tensor) -> None:
        """Track `tensor` (or a structure of tensors) so gradients can be taken with respect
        to it. (Trainable variables an op reads are watched automatically.)"""
        if isinstance(tensor, Tensor):
            items = [tensor]
        else:
            items = []
            _flatten(tensor, items)
        for item in items:
            if not isinstance(item, Tensor):
                raise ValueError(f"tape.watch expects tensors or variables, got "
                                 f"{type(item).__name__}; convert with tf.constant first.")
            if item.array.dtype.kind not in "fcV":
                warnings.warn(f"The dtype of the watched tensor must be floating (e.g. "
                              f"tf.float32), got {item.dtype.name}: it will get no gradient.",
                              stacklevel=2)
            self._watch_tensor(item)

    def watched_variables(self) -> tuple:
        """The variables this tape watched, in the order they were first watched."""
        return tuple(self._watched_variables.values())

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stop recording: ops inside the block are not differentiated."""
        if self not in _recording_tapes:
            raise ValueError("Tape.stop_recording() can only be used while the tape records "
                             "(inside its `with` block).")
        position = _recording_tapes.index(self)
        _recording_tapes.remove(self)
        try:
            yield
        finally:
            _recording_tapes.insert(position, self)

    def reset(self) -> None:
        """Forget everything recorded so far (the tape stays active)."""
        self._records = []
        self._tracked = set()
        self._watched_variables = {}
        self._used = False

    # --- differentiation ------------------------------------------------------------------
    def _backward(self, targets: list, seeds: list) -> dict:
        """Walk the records backwards from targets with the given seed gradients."""
        grads: dict[int, Tensor] = {}
        for target, seed in zip(targets, seeds):
            # seeded even when untracked: d(v)/d(v) is 1 for a variable that is also a source
            previous = grads.get(target._id)
            grads[target._id] = seed if previous is None else previous + seed
        # the backward pass must not be recorded by this tape (outer tapes still record it)
        position = _recording_tapes.index(self) if self in _recording_tapes else None
        if position is not None:
            _recording_tapes.remove(self)
        try:
            tracked = self._tracked
            for inputs, output, vjps, elementwise, saved in reversed(self._records):
                upstream = grads.get(output._id)
                if upstream is None:
                    continue
                restore = None
                if saved is not None:
                    for variable, array in saved:
                        if variable.array is not array:  # assigned since the op read it:
                            restore = _swap_in(saved)    # differentiate what the op saw
                            break
                try:  # free on Python 3.11+ when nothing raises
                    if elementwise:  # the hot path: one plain VJP per input, no lists built
                        for tensor, vjp in zip(inputs, vjps):
                            key = tensor._id
                            if key not in tracked:
                                continue
                            if vjp is pass_through:
                                gradient = upstream
                            else:
                                gradient = vjp(upstream, *inputs, output)
                            if gradient.array.shape != tensor.array.shape:
                                gradient = _unbroadcast(gradient, tensor.array.shape)
                            previous = grads.get(key)
                            grads[key] = gradient if previous is None else previous + gradient
                        continue
                    # plain loops, not comprehensions: on Python 3.11 each comprehension is a call
                    if vjps.__class__ is tuple:  # one VJP per input
                        for tensor, vjp in zip(inputs, vjps):
                            key = tensor._id
                            if vjp is None or key not in tracked:
                                continue
                            gradient = vjp(upstream)
                            if gradient is not None:
                                previous = grads.get(key)
                                grads[key] = gradient if previous is None else \
                                    previous + gradient
                        continue
                    needs = []  # a fused op: one VJP for all inputs, told which it needs
                    for tensor in inputs:
                        needs.append(tensor._id in tracked)
                    for tensor, gradient in zip(inputs, vjps(upstream, needs)):
                        if gradient is not None:
                            previous = grads.get(tensor._id)
                            grads[tensor._id] = gradient if previous is None else \
                                previous + gradient
                finally:
                    if restore is not None:
                        for variable, array in restore:
                            variable.array = array
        finally:
            if position is not None:
                _recording_tapes.insert(position, self)
        return grads

    def _check_usable(self) -> None:
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians)")

    def _release(self) -> None:
        if not self._persistent:
            self._used = True
            self._records = []
            self._tracked = set()  # variables stay listed in _watched_variables (they outlive it)

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """d(sum of target)/d(sources), with `sources` a tensor or a list/tuple/dict of them.

        The result has the structure of `sources`. A source the target does not depend on gets
        None (or zeros with `unconnected_gradients=tf.UnconnectedGradients.ZERO`).
        """
        self._check_usable()
        unconnected = _as_unconnected(unconnected_gradients)
        if self._persistent and self in _recording_tapes:
            warnings.warn("Calling GradientTape.gradient on a persistent tape inside its "
                          "context is inefficient; do it after the with block.", stacklevel=2)
        if isinstance(target, Tensor):  # the common case, without walking a structure
            target_list = [target]
        else:
            target_list = []
            _flatten(target, target_list)
            target_list = [convert_to_tensor(t) for t in target_list]
        if output_gradients is None:
            seeds = [_ones_like(t) for t in target_list]
        else:
            seed_list: list = []
            _flatten(output_gradients, seed_list)
            if len(seed_list) != len(target_list):
                raise ValueError(f"output_gradients has {len(seed_list)} tensors for "
                                 f"{len(target_list)} targets.")
            seeds = []
            for t, s in zip(target_list, seed_list):
                s = _ones_like(t) if s is None else convert_to_tensor(s, dtype_hint=t.dtype)
                if tuple(s.shape) != tuple(t.shape):
                    raise ValueError(f"output_gradients shape {format_shape(s.shape)} does not "
                                     f"match target shape {format_shape(t.shape)}.")
                seeds.append(s)
        if isinstance(sources, Tensor):
            source_list = [sources]
        else:
            source_list = sources  # the usual list of variables: no structure to walk
            if sources.__class__ is list:
                for source in sources:  # a loop: a generator expression costs a call per item
                    if source.__class__ not in _TENSOR_CLASSES:
                        source_list = None
                        break
            else:
                source_list = None
            if source_list is None:
                source_list = []
                _flatten(sources, source_list)
        for index, source in enumerate(source_list):
            if not isinstance(source, Tensor):
                raise ValueError(f"gradient sources must be tensors or variables; source "
                                 f"{index} is {type(source).__name__}.")
        grads = self._backward(target_list, seeds)
        results = []
        for index, source in enumerate(source_list):
            gradient = grads.get(source._id)
            if gradient is None or source.array.dtype.kind not in "fcV":
                gradient = self._result_for(source, index, gradient, unconnected)
            results.append(gradient)
        self._release()
        if isinstance(sources, Tensor):
            return results[0]
        if source_list is sources:
            return results
        return _unflatten(sources, iter(results))

    def _result_for(self, source: Tensor, index: int, gradient, unconnected):
        if source.array.dtype.kind not in "fcV":
            warnings.warn(f"The dtype of the source tensor must be floating (e.g. tf.float32) "
                          f"when calling GradientTape.gradient, got {source.dtype.name}: "
                          "returning None.", stacklevel=3)
            return None
        if gradient is not None:
            return gradient
        if unconnected is UnconnectedGradients.ZERO:
            return _zeros_like(source)
        name = getattr(source, "name", None) or f"source {index}"
        label = f"{name} (shape {format_shape(source.shape)}, dtype {source.dtype.name})"
        if source._id not in self._tracked and isinstance(source, Variable) and \
                source.trainable and self._watch_accessed_variables:
            why = ("it is a trainable variable, but no op on this tape read it: it was read "
                   "outside the `with` block, or only through .numpy()/NumPy (which the tape "
                   "cannot follow). Compute the loss from the variable inside the tape")
        elif source._id not in self._tracked:
            why = ("it was never watched: call tape.watch(x) inside the tape, or make it a "
                   "trainable tf.Variable" + ("" if self._watch_accessed_variables else
                                              " (this tape has watch_accessed_variables=False)"))
        else:
            why = ("it is watched but the target was not computed from it on this tape "
                   "(check for work done outside the `with` block, .numpy() round trips, "
                   "tf.stop_gradient, or integer ops on the way)")
        message = f"No gradient for {label}: {why}."
        if _strict_gradients:
            raise ValueError(message + " (strict gradients are on: "
                             "tf.debugging.enable_strict_gradients(False) to allow None)")
        _log.debug(message)
        return None

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """d target[i...] / d source[j...] for every element: shape target.shape + source.shape."""
        self._check_usable()
        unconnected = _as_unconnected(unconnected_gradients)
        target = convert_to_tensor(target)
        source_list: list = []
        _flatten(sources, source_list)
        xp = backend.get_array_module(target.array)
        rows: list[list] = [[] for _ in source_list]
        size = int(target.array.size)
        for flat_index in range(size):
            seed_array = xp.zeros(target.array.size, dtype=target.array.dtype)
            seed_array[flat_index] = 1
            seed = Tensor(seed_array.reshape(target.array.shape))
            grads = self._backward([target], [seed])
            for k, source in enumerate(source_list):
                g = grads.get(source._id)
                rows[k].append(g)
        reshape, stack = _ops.reshape, _ops.stack
        results = []
        for k, source in enumerate(source_list):
            if source.array.dtype.kind not in "fcV" or all(g is None for g in rows[k]):
                if unconnected is UnconnectedGradients.ZERO:
                    results.append(Tensor(xp.zeros(tuple(target.shape) + tuple(source.shape),
                                                   dtype=source.array.dtype)))
                else:
                    results.append(None)
                continue
            parts = [g if g is not None else _zeros_like(source) for g in rows[k]]
            results.append(reshape(stack(parts), tuple(target.shape) + tuple(source.shape)))
        self._release()
        if isinstance(sources, Tensor):
            return results[0]
        return _unflatten(sources, iter(results))


    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """The Jacobian of each example: d target[b, i...] / d source[b, j...], of shape
        target.shape + source.shape[1:], for targets whose example b depends only on example b
        of the source. One backward pass per element of one example (not of the whole batch).
        """
        self._check_usable()
        unconnected = _as_unconnected(unconnected_gradients)
        target = convert_to_tensor(target)
        if target.array.ndim < 1 or source.array.ndim < 1 or \
                target.array.shape[0] != source.array.shape[0]:
            raise ValueError(f"Need first dimension of `target` shape {tuple(target.shape)} "
                             f"and `source` shape {tuple(source.shape)} to match.")
        xp = backend.get_array_module(target.array)
        batch = target.array.shape[0]
        per_example = int(np.prod(target.array.shape[1:], dtype=np.int64))
        parts = []
        for index in range(per_example):
            seed = xp.zeros((batch, per_example), dtype=target.array.dtype)
            seed[:, index] = 1
            grads = self._backward([target], [Tensor(seed.reshape(target.array.shape))])
            parts.append(grads.get(source._id))
        shape = tuple(target.shape) + tuple(source.shape[1:])
        self._release()
        if source.array.dtype.kind not in "fcV" or all(part is None for part in parts):
            if unconnected is UnconnectedGradients.ZERO:
                return Tensor(xp.zeros(shape, dtype=source.array.dtype))
            return None
        reshape, stack = _ops.reshape, _ops.stack
        parts = [part if part is not None else _zeros_like(source) for part in parts]
        return reshape(stack(parts, axis=1), shape)


def _ones_like(tensor: Tensor) -> Tensor:
    array = tensor.array
    if array.__class__ is _ndarray and not array.ndim:  # a scalar loss: the usual target
        return Tensor(_array(1, array.dtype))
    # empty + fill: NumPy's ones() is a Python function costing more than the whole fill
    ones = backend.get_array_module(array).empty_like(array)
    ones.fill(1)
    return Tensor(ones)


def _zeros_like(tensor: Tensor) -> Tensor:
    xp = backend.get_array_module(tensor.array)
    return Tensor(xp.zeros(tensor.array.shape, dtype=tensor.array.dtype))
