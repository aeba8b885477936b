"""Every op of the registry, traced by tf.function, against the same op run eagerly.

For each gradient sample of each op: the first call (the trace) and the second call (a replay
of the graph, the Python body not run) must give eager's values, and the gradient of a
weighted sum of the outputs through the replayed graph must equal the eager gradient.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function.graph import flatten, map_structure
from tensorflowish.ops import REGISTRY


def _cases():
    rng = np.random.default_rng(0)
    for key, info in sorted(REGISTRY.items()):
        if info.samples is None:
            continue
        for number, (args, kwargs) in enumerate(info.samples(rng)):
            yield pytest.param(key, args, kwargs, id=f"{key}-{number}")


class _Index:
    def __init__(self, index):
        self.index = index


def _template(args, kwargs):
    """(args, kwargs) with every NumPy array replaced by its position, and the arrays."""
    arrays = []

    def leaf(value):
        if isinstance(value, np.ndarray):
            arrays.append(value)
            return _Index(len(arrays) - 1)
        return value

    return map_structure(leaf, (list(args), dict(kwargs))), arrays


def _fill(template, tensors):
    return map_structure(lambda v: tensors[v.index] if isinstance(v, _Index) else v, template)


def _float_outputs(result):
    leaves = []
    flatten(result, leaves)
    return [leaf for leaf in leaves if isinstance(leaf, tf.Tensor) and leaf.dtype.is_floating]


def _loss(result, weights):
    total = tf.constant(0.0, tf.float64)
    for output, weight in zip(_float_outputs(result), weights):
        total = total + tf.reduce_sum(tf.cast(output, tf.float64) * weight)
    return total


@pytest.mark.parametrize("key,args,kwargs", list(_cases()))
def test_traced_op_equals_eager(key, args, kwargs):
    info = REGISTRY[key]
    template, arrays = _template(args, kwargs)

    def call(tensors):
        call_args, call_kwargs = _fill(template, tensors)
        return info.function(*call_args, **call_kwargs)

    traced = tf.function(call)
    tensors = [tf.constant(a) for a in arrays]
    eager = call(tensors)
    first = traced(tensors)  # the trace
    fresh = [tf.constant(a) for a in arrays]
    second = traced(fresh)  # a replay: same signature
    assert traced.experimental_get_tracing_count() == 1
    expected = []
    flatten(eager, expected)
    for result in (first, second):
        got = []
        flatten(result, got)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            if isinstance(e, tf.Tensor):
                np.testing.assert_allclose(np.asarray(g.numpy(), dtype=float) if
                                           g.dtype.is_floating else g.numpy(),
                                           np.asarray(e.numpy(), dtype=float) if
                                           e.dtype.is_floating else e.numpy(),
                                           rtol=1e-12, atol=1e-12)
            else:
                assert g == e or g is e
    if not info.differentiable:
        return
    rng = np.random.default_rng(1)
    weights = [tf.constant(rng.uniform(0.5, 1.5, tuple(o.shape))) for o in
               _float_outputs(eager)]
    sources = [i for i, a in enumerate(arrays) if a.dtype == np.float64]

    def gradients(function):
        inputs = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            for i in sources:
                tape.watch(inputs[i])
            loss = _loss(function(inputs), weights)
        return tape.gradient(loss, [inputs[i] for i in sources])

    for e, g in zip(gradients(call), gradients(traced)):
        if e is None:
            assert g is None
        else:
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-10, atol=1e-12)
