"""Automatic differentiation beyond `GradientTape.gradient`: `tf.custom_gradient`,
`tf.recompute_grad` and forward mode (`tf.autodiff.ForwardAccumulator`).

All three are built on the tape's one primitive, `record(inputs, output, vjps)`:
- a custom gradient is one record whose VJP is the user's function;
- recomputation is a custom gradient that keeps nothing and reruns the function under a tape;
- a Jacobian-vector product is the VJP differentiated with respect to its (dummy) upstream
  gradient: VJPs are linear in the upstream and written with ops, so `J t = d<Jᵀu, t>/du`. Every
  op of the registry therefore has a JVP without a second table of rules (it costs one backward
  pass per `jvp` call instead of riding along the forward pass).
"""

from __future__ import annotations

import contextlib
import functools
import inspect

from . import tape as _tape
from .backend import get_array_module
from .tape import GradientTape, UnconnectedGradients, _flatten, _unflatten
from .tensor import Tensor, convert_to_tensor, format_shape

__all__ = ["custom_gradient", "recompute_grad", "ForwardAccumulator", "gradients", "hessians",
           "gradients_and_variables"]


@contextlib.contextmanager
def _variable_watcher(suspend_tapes: bool = False):
    """Collect the trainable variables that ops read inside the block.

    A throwaway tape that auto-watches what ops read does exactly that. With `suspend_tapes`,
    the user's tapes do not record the block (nothing is kept for their backward pass).
    """
    watcher = GradientTape()
    saved = list(_tape._recording_tapes)
    if suspend_tapes:
        _tape._recording_tapes.clear()
    _tape._recording_tapes.append(watcher)
    try:
        yield watcher
    finally:
        _tape._recording_tapes[:] = saved


def _identity_output(value: Tensor) -> Tensor:
    """A new tensor with the same values: the custom record's output, distinct from whatever
    the function's own ops produced (as TensorFlow's identity on each result)."""
    return Tensor(value.array)


def _accepts_variables(function) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "variables" or p.kind is p.VAR_KEYWORD for p in parameters)


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _record_custom(inputs: list, outputs: list, backward) -> None:
    """Record `backward(upstreams)` (a list of input gradients) as the VJP of the outputs.

    One output is one ordinary record. Several outputs share one backward call: each output's
    record hands its upstream to a hidden joint tensor, whose own record (walked after them,
    since the tape runs backwards) calls `backward` once with all upstreams, zeros for the
    outputs that got none, as TensorFlow does.
    """
    inputs = tuple(inputs)
    if not _tape.should_record(inputs):
        return
    if len(outputs) == 1:
        def single(g, needs):
            return backward([g])
        _tape.record(inputs, outputs[0], single)
        return
    joint = _filled(outputs[0], 0, ())
    collected: dict[int, Tensor] = {}

    def joint_backward(_unused, needs):
        upstreams = [collected.pop(k, None) for k in range(len(outputs))]
        collected.clear()
        upstreams = [u if u is not None else _filled(o, 0) for u, o in zip(upstreams, outputs)]
        return backward(upstreams)
    _tape.record(inputs, joint, joint_backward)
    for position, output in enumerate(outputs):
        if not _tape.should_record((joint,)):
            break

        def forward_upstream(g, position=position):
            previous = collected.get(position)
            collected[position] = g if previous is None else previous + g
            return _filled(joint, 0, ())
        _tape.record((joint,), output, (forward_upstream,))


def _filled(tensor: Tensor, value, shape: tuple | None = None) -> Tensor:
    """A new tensor of `tensor`'s dtype and device, of its shape (or `shape`), all `value`."""
    xp = get_array_module(tensor.array)
    return Tensor(xp.full(tensor.array.shape if shape is None else shape, value,
                          dtype=tensor.array.dtype))


def _record_outputs(result, inputs: list, backward):
    """`result` (a tensor or a structure of them) as new output tensors recorded with
    `backward` as their VJP (see `_record_custom`), in the same structure."""
    flat_result: list = []
    _flatten(result, flat_result)
    flat_result = [_identity_output(convert_to_tensor(r)) for r in flat_result]
    _record_custom(inputs, flat_result, backward)
    return flat_result[0] if isinstance(result, Tensor) else \
        _unflatten(result, iter(flat_result))


def custom_gradient(f=None):
    """Decorate `f(*x) -> (y, grad_fn)` so tapes use `grad_fn(*dy)` as the gradient of y.

    `grad_fn` returns one gradient per tensor argument (a single tensor for one argument).
    When `f` reads trainable variables, `grad_fn` must take a keyword argument `variables` and
    return `(input_gradients, variable_gradients)`. `grad_fn` is written with ops, so nested
    tapes differentiate it again (higher-order gradients).

    >>> import tensorflowish as tf
    >>> @tf.custom_gradient
    ... def clip_gradient(x):
    ...     def grad(dy):
    ...         return tf.clip_by_value(dy, -0.5, 0.5)
    ...     return tf.identity(x), grad
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = clip_gradient(x) * 10.0
    >>> float(tape.gradient(y, x))
    0.5
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        with _variable_watcher() as watcher:
            result, grad_fn = f(*args, **kwargs)
        inputs = [a for a in args if isinstance(a, Tensor)]
        variables = [v for v in watcher.watched_variables()
                     if not any(v is a for a in inputs)]
        if variables and not _accepts_variables(grad_fn):
            raise TypeError(f"@tf.custom_gradient grad_fn must accept keyword argument "
                            f"'variables', since function uses variables: "
                            f"{[v.name for v in variables]}")
        def backward(upstreams):
            if variables:
                input_grads, variable_grads = grad_fn(*upstreams, variables=variables)
                variable_grads = _as_list(variable_grads)
                if len(variable_grads) != len(variables):
                    raise ValueError(f"@tf.custom_gradient: grad_fn returned "
                                     f"{len(variable_grads)} variable gradients for "
                                     f"{len(variables)} variables.")
            else:
                input_grads, variable_grads = grad_fn(*upstreams), []
            input_grads = _as_list(input_grads)
            if len(input_grads) != len(inputs):
                raise ValueError(f"@tf.custom_gradient: grad_fn of {f.__name__} returned "
                                 f"{len(input_grads)} gradients for {len(inputs)} tensor "
                                 "arguments.")
            return [None if g is None else convert_to_tensor(g, dtype=x.dtype)
                    for g, x in zip(input_grads + variable_grads, inputs + variables)]

        return _record_outputs(result, inputs + variables, backward)

    return decorated


def recompute_grad(f):
    """Run `f` without keeping its intermediate values; rerun it during the backward pass.

    Memory for activations is traded for a second forward pass (gradient checkpointing).
    Gradients flow to the tensor arguments and to the trainable variables `f` reads.
    """
    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        with _variable_watcher(suspend_tapes=True) as watcher:
            result = f(*args, **kwargs)
        inputs = [a for a in args if isinstance(a, Tensor)]
        variables = list(watcher.watched_variables())
        del watcher  # its records (the intermediate values) go now

        def backward(upstreams):
            with GradientTape() as tape:
                tape.watch(inputs)
                again: list = []
                _flatten(f(*args, **kwargs), again)
            return tape.gradient(again, inputs + variables, output_gradients=upstreams)

        return _record_outputs(result, inputs + variables, backward)

    return wrapped


class ForwardAccumulator:
    """Forward-mode autodiff: Jacobian-vector products of everything computed from `primals`.

    >>> import tensorflowish as tf
    >>> x = tf.constant([1.0, 2.0])
    >>> with tf.autodiff.ForwardAccumulator(primals=x, tangents=tf.constant([1.0, 0.0])) as acc:
    ...     y = tf.reduce_sum(x * x)
    >>> float(acc.jvp(y))
    2.0
    """

    def __init__(self, primals, tangents) -> None:
        self._tape = GradientTape(persistent=True, watch_accessed_variables=False)
        self._primals: list = []
        self._tangents: list = []
        self._entered = False
        self.watch(primals, tangents)

    def watch(self, primals, tangents) -> None:
        """Also track `primals`, moving along `tangents` (same structure, shapes, dtypes)."""
        primal_list: list = []
        tangent_list: list = []
        _flatten(primals, primal_list)
        _flatten(tangents, tangent_list)
        if len(primal_list) != len(tangent_list):
            raise ValueError(f"ForwardAccumulator: {len(primal_list)} primals but "
                             f"{len(tangent_list)} tangents; give one tangent per primal.")
        for primal, tangent in zip(primal_list, tangent_list):
            if not isinstance(primal, Tensor):
                raise ValueError(f"ForwardAccumulator: primals must be tensors or variables, "
                                 f"got {type(primal).__name__}.")
            tangent = convert_to_tensor(tangent, dtype=primal.dtype)
            if tuple(tangent.shape) != tuple(primal.shape):
                raise ValueError(f"ForwardAccumulator: tangent shape "
                                 f"{format_shape(tangent.shape)} does not match primal shape "
                                 f"{format_shape(primal.shape)}.")
            if not primal.dtype.is_floating:
                raise ValueError(f"ForwardAccumulator: primals must be floating-point, got "
                                 f"{primal.dtype.name}.")
            self._tape.watch(primal)
            self._primals.append(primal)
            self._tangents.append(tangent)

    def __enter__(self) -> ForwardAccumulator:
        self._tape.__enter__()
        self._entered = True
        return self

    def __exit__(self, *exc_info) -> None:
        self._tape.__exit__(*exc_info)

    def jvp(self, primals, unconnected_gradients=UnconnectedGradients.NONE):
        """The directional derivative of `primals` (a tensor or structure of tensors computed
        inside the accumulator) along the tangents."""
        unconnected = UnconnectedGradients(unconnected_gradients) \
            if not isinstance(unconnected_gradients, UnconnectedGradients) \
            else unconnected_gradients
        targets: list = []
        _flatten(primals, targets)
        results = [self._jvp_one(convert_to_tensor(t), unconnected) for t in targets]
        if isinstance(primals, Tensor):
            return results[0]
        return _unflatten(primals, iter(results))

    def _jvp_one(self, target: Tensor, unconnected):
        reduce_sum = _tape._ops.reduce_sum  # the ops sit above the core (see tape._ops)
        if not target.dtype.is_floating:
            return None if unconnected is UnconnectedGradients.NONE else _filled(target, 0)
        for primal, tangent in zip(self._primals, self._tangents):
            if primal is target:
                return tangent
        # any upstream will do (the VJP is linear in it); ones, not zeros, keep VJPs that treat
        # the signs of the upstream apart (cumulative_logsumexp's) away from their kink at 0
        upstream = _filled(target, 1)
        with GradientTape() as transpose_tape:
            transpose_tape.watch(upstream)
            grads = self._tape._backward([target], [upstream])
            total = None
            for primal, tangent in zip(self._primals, self._tangents):
                gradient = grads.get(primal._id)
                if gradient is not None:
                    term = reduce_sum(gradient * tangent)
                    total = term if total is None else total + term
        result = None if total is None else transpose_tape.gradient(total, upstream)
        if result is None and unconnected is UnconnectedGradients.ZERO:
            return _filled(target, 0)
        return result


def gradients(ys, xs, grad_ys=None, name="gradients", gate_gradients=False,
              aggregation_method=None, stop_gradients=None,
              unconnected_gradients=UnconnectedGradients.NONE):
    """Graph-mode only in TensorFlow 2, and so here: raises, pointing to GradientTape."""
    raise RuntimeError("tf.gradients is not supported when eager execution is enabled. Use "
                       "tf.GradientTape instead.")


def hessians(ys, xs, name="hessians", colocate_gradients_with_ops=False,
             gate_gradients=False, aggregation_method=None):
    """Graph-mode only in TensorFlow 2: raises, pointing to nested tapes and `jacobian`."""
    raise RuntimeError("tf.gradients is not supported when eager execution is enabled. Use "
                       "tf.GradientTape instead: a Hessian is outer.jacobian(inner.gradient(y, "
                       "x), x) with two nested tapes (see docs/autodiff.md).")


def gradients_and_variables(loss, var_list, tape=None) -> list:
    """The (gradient, variable) pairs `minimize` applies: `loss` is a zero-argument function
    (run under a new tape that watches `var_list`) or a tensor computed under `tape`."""
    if callable(loss) and not isinstance(loss, Tensor):
        with GradientTape() as tape:
            if callable(var_list):
                var_list = var_list()
            for variable in var_list:
                tape.watch(variable)
            value = loss()
    else:
        if tape is None:
            raise ValueError(
                "minimize got a loss tensor but no tape: pass tape=the GradientTape that "
                "recorded it, or pass the loss as a zero-argument function."
            )
        value = loss
        if callable(var_list):
            var_list = var_list()
    var_list = list(var_list)
    return list(zip(tape.gradient(value, var_list), var_list))
