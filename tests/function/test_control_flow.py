"""tf.cond and tf.while_loop: eager, traced (both branches / the loop kept in the graph), and
their gradients through a replayed graph against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def _numeric_gradient(function, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        gradient[index] = (function(up) - function(down)) / (2 * step)
    return gradient


def _piecewise(x):
    return tf.cond(tf.reduce_sum(x) > 0, lambda: tf.reduce_sum(x * x * x),
                   lambda: tf.reduce_sum(tf.sin(x)))


def _power(x, n):
    _, result = tf.while_loop(lambda i, acc: i < n, lambda i, acc: (i + 1, acc * x),
                              [tf.constant(0), tf.ones_like(x)])
    return tf.reduce_sum(result)


@pytest.mark.parametrize("values", [[0.5, 1.5, -0.3], [-0.5, -1.5, 0.3]])
def test_cond_traced_equals_eager_with_finite_difference_gradients(values):
    traced = tf.function(_piecewise)
    traced(tf.constant([1.0, 1.0, 1.0], tf.float64))  # traced on the other sign first
    x = np.array(values)
    expected = (x ** 3).sum() if x.sum() > 0 else np.sin(x).sum()
    source = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(source)
        y = traced(source)
    assert traced.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(float(y), expected, rtol=1e-12)
    numeric = _numeric_gradient(lambda a: float(_piecewise(tf.constant(a))), x)
    np.testing.assert_allclose(tape.gradient(y, source).numpy(), numeric, rtol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_while_loop_traced_runs_as_many_iterations_as_the_values_ask(n):
    traced = tf.function(_power)
    traced(tf.constant([1.5, 2.0]), tf.constant(2))  # the trace, with another count
    x = np.array([1.5, -0.7])
    source = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(source)
        y = traced(source, tf.constant(n))
    assert traced.experimental_get_tracing_count() == 2  # float64 inputs: a second signature
    np.testing.assert_allclose(float(y), (x ** n).sum(), rtol=1e-12)
    gradient = tape.gradient(y, source)
    if n == 0:
        assert gradient is None
    else:
        numeric = _numeric_gradient(lambda a: float(_power(tf.constant(a), n)), x)
        np.testing.assert_allclose(gradient.numpy(), numeric, rtol=1e-6)


def test_graph_keeps_both_branches_and_the_loop():
    traced = tf.function(_power)
    text = str(traced.get_concrete_function(tf.constant([1.0]), tf.constant(3)).graph)
    assert "while_loop(" in text and "cond:" in text and "body:" in text
    text = str(tf.function(_piecewise).get_concrete_function(tf.constant([1.0])).graph)
    assert "true:" in text and "false:" in text and "sin(" in text


def test_untaken_branch_stateful_calls_do_not_run_while_tracing():
    v = tf.Variable(0.0)

    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: v.assign_add(1.0).read_value(),
                       lambda: v.assign_sub(1.0).read_value())

    f(tf.constant(1.0))
    assert float(v) == 1.0
    f(tf.constant(-1.0))
    assert float(v) == 0.0


def test_branches_must_agree():
    with pytest.raises(TypeError, match="dtype"):
        tf.function(lambda x: tf.cond(x > 0, lambda: x, lambda: tf.cast(x, tf.int32)))(
            tf.constant(1.0))


def test_eager_while_loop_keeps_the_structure():
    result = tf.while_loop(lambda i: i < 3, lambda i: i + 1, [tf.constant(0)])
    assert isinstance(result, list) and int(result[0]) == 3
    assert int(tf.while_loop(lambda i: i < 10, lambda i: i + 1, [0],
                             maximum_iterations=4)[0]) == 4
