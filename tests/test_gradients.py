"""Every differentiable op in the registry against central finite differences in float64.

The cases are generated from `tensorflowish.ops.REGISTRY`, so a new op cannot skip this check:
an op registered as differentiable without sample inputs fails `test_every_op_has_samples`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorflowish as tf
from tensorflowish.ops import REGISTRY


def _cases():
    rng = np.random.default_rng(0)
    for key, info in sorted(REGISTRY.items()):
        if not info.differentiable or info.samples is None:
            continue
        for number, (args, kwargs) in enumerate(info.samples(rng)):
            yield pytest.param(key, args, kwargs, id=f"{key}-{number}")


def test_every_op_has_samples():
    missing = [key for key, info in REGISTRY.items() if info.differentiable and not info.samples]
    assert not missing, f"differentiable ops without gradient samples: {missing}"


def _is_float_array(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == np.float64


def _split(info, args, kwargs):
    """Positions (in a flat list) of the float arrays the check differentiates."""
    slots = []  # (container, key, sub_index) for each differentiable array
    for i, value in enumerate(args):
        if info.grad_arguments is not None and i not in info.grad_arguments:
            continue
        if _is_float_array(value):
            slots.append(("args", i, None))
        elif isinstance(value, list) and value and all(_is_float_array(v) for v in value):
            slots.extend(("args", i, j) for j in range(len(value)))
    for key, value in kwargs.items():
        if _is_float_array(value):
            slots.append(("kwargs", key, None))
    return slots


def _build(args, kwargs, slots, values):
    args = [list(a) if isinstance(a, list) else a for a in args]
    kwargs = dict(kwargs)
    for (where, key, sub), value in zip(slots, values):
        container = args if where == "args" else kwargs
        if sub is None:
            container[key] = value
        else:
            container[key][sub] = value
    return args, kwargs


def _lift(value):
    """Remaining plain arrays (int labels, bool masks) become tensors too."""
    if isinstance(value, np.ndarray):
        return tf.constant(value)
    return value


@pytest.mark.parametrize("key,args,kwargs", list(_cases()))
def test_gradient_matches_finite_differences(key, args, kwargs, device):
    info = REGISTRY[key]
    slots = _split(info, args, kwargs)
    assert slots, f"{key}: its samples have no float64 input to differentiate"
    originals = [(args if w == "args" else kwargs)[k] if s is None else args[k][s]
                 for w, k, s in slots]
    probe = np.random.default_rng(7)

    def evaluate(arrays, weights=None, tape=None):
        tensors = [tf.constant(a) for a in arrays]
        if tape is not None:
            for t in tensors:
                tape.watch(t)
        call_args, call_kwargs = _build(args, kwargs, slots, tensors)
        call_args = [_lift(a) for a in call_args]
        call_kwargs = {k: _lift(v) for k, v in call_kwargs.items()}
        function = info.check_function() if info.check_function else info.function
        out = function(*call_args, **call_kwargs)
        if isinstance(out, (list, tuple)):  # several outputs (split, top_k, svd): float ones
            out = tf.concat([tf.reshape(o, [-1]) for o in out if o.dtype.is_floating], 0)
        return tensors, out

    with tf.GradientTape() as tape:
        tensors, out = evaluate(originals, tape=tape)
        weights = tf.constant(probe.uniform(0.5, 1.5, tuple(out.shape)).astype(out.numpy().dtype))
        objective = tf.reduce_sum(out * weights)
    analytic = tape.gradient(objective, tensors)

    low_precision = out.dtype != tf.float64
    eps = 1e-3 if low_precision else 1e-6
    w = weights.numpy().astype(np.float64)
    for index, (original, grad) in enumerate(zip(originals, analytic)):
        assert grad is not None, f"{key}: no gradient for input {index}"
        assert grad.shape == original.shape, \
            f"{key}: gradient shape {grad.shape} != {original.shape}"
        numeric = np.zeros_like(original)
        for position in np.ndindex(original.shape):
            values = [o.copy() for o in originals]
            values[index][position] += eps
            plus = float(np.sum(evaluate(values)[1].numpy().astype(np.float64) * w))
            values[index][position] -= 2 * eps
            minus = float(np.sum(evaluate(values)[1].numpy().astype(np.float64) * w))
            numeric[position] = (plus - minus) / (2 * eps)
        tolerance = dict(rtol=2e-2, atol=2e-2) if low_precision else dict(rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(grad.numpy(), numeric, **tolerance,
                                   err_msg=f"{key}: gradient of input {index}")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.lists(st.booleans(), min_size=3, max_size=3))
def test_broadcast_gradients_for_random_shapes(shape, ones):
    """Binary ops on randomly broadcast shapes: gradients come back in each input's shape."""
    rng = np.random.default_rng(len(shape))
    other_shape = [1 if flag else size for size, flag in zip(shape, ones)]
    x = tf.constant(rng.uniform(0.5, 2, shape))
    y = tf.constant(rng.uniform(0.5, 2, other_shape))
    for op in (tf.add, tf.subtract, tf.multiply, tf.divide, tf.maximum, tf.pow):
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            z = op(x, y)
        gx, gy = tape.gradient(z, [x, y])
        assert gx.shape == x.shape and gy.shape == y.shape
        # numeric check of the reduction for one direction: d sum(x*y)/dy = sum over broadcast
        if op is tf.multiply:
            expected = np.sum(np.broadcast_to(x.numpy(), np.broadcast_shapes(tuple(shape),
                              tuple(other_shape))), axis=tuple(
                i for i, f in enumerate(ones) if f and i < len(shape)), keepdims=True)
            np.testing.assert_allclose(gy.numpy(), expected.reshape(gy.shape), rtol=1e-12)
