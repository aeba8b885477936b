"""Variable.assign/assign_add/assign_sub inside a tf.while_loop body under a GradientTape: the
tape holds the variable's buffer, so each update writes a fresh buffer, which must stay a
backend array of the variable's shape (a 0-d `a + b` in NumPy is a scalar, not an array).
Eager and tf.function (trace and replay) against a NumPy reference of the same recurrence."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def _reference(x: float, v0: float, w0, steps: int = 3):
    """y_{k+1} = y_k * x + (v += 1) + sum(w := (w - [.5, .25]) * 2), y_0 = x; with dy/dx,
    dy/dv (the read of v after each add) and dy/dw (through each rescaled w) by hand."""
    v, w = v0, np.array(w0, np.float64)
    y, dy_dx, dy_dv, dy_dw = x, 1.0, 0.0, np.zeros(2)
    for _ in range(steps):
        v += 1.0
        w = (w - [0.5, 0.25]) * 2.0
        # d/dx (y x) = y'x + y; each added term is a read of a variable (derivative 1 per
        # element); an assign's value is no path to the variable, as in TensorFlow
        y, dy_dx = y * x + v + w.sum(), dy_dx * x + y
        dy_dv, dy_dw = dy_dv * x + 1.0, dy_dw * x + 1.0
    return y, dy_dx, dy_dv, dy_dw, v, w


def _step_function(v, w):
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)

            def body(i, y):
                added = v.assign_add(1.0)
                w.assign_sub([0.5, 0.25])
                w.assign(w * 2.0)
                return i + 1, y * x + added + tf.reduce_sum(w)

            _, y = tf.while_loop(lambda i, y: i < 3, body, (tf.constant(0), x))
        return y, tape.gradient(y, [x, v, w])
    return step


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "tf.function"])
def test_updates_in_while_loop_under_tape_match_reference(traced):
    v, w = tf.Variable(1.0), tf.Variable([1.0, 2.0])
    step = _step_function(v, w)
    step = tf.function(step) if traced else step
    v_start, w_start = 1.0, [1.0, 2.0]
    for _ in range(2):  # the second call replays the traced graph
        y, (dx, dv, dw) = step(tf.constant(2.0))
        ref_y, ref_dx, ref_dv, ref_dw, v_start, w_start = _reference(2.0, v_start, w_start)
        np.testing.assert_allclose(y.numpy(), ref_y, rtol=1e-6)
        np.testing.assert_allclose(dx.numpy(), ref_dx, rtol=1e-6)
        np.testing.assert_allclose(dv.numpy(), ref_dv, rtol=1e-6)
        np.testing.assert_allclose(dw.numpy(), ref_dw, rtol=1e-6)
        np.testing.assert_allclose(v.numpy(), v_start, rtol=1e-6)
        np.testing.assert_allclose(w.numpy(), w_start, rtol=1e-6)


def test_traced_equals_eager_bit_for_bit_including_variable_gradients():
    results = []
    for traced in (False, True):
        v, w = tf.Variable(1.0), tf.Variable([1.0, 2.0])
        step = _step_function(v, w)
        step = tf.function(step) if traced else step
        calls = [step(tf.constant(value)) for value in (2.0, -0.5)]
        results.append((calls, v.numpy(), w.numpy()))
    (eager, v_eager, w_eager), (traced, v_traced, w_traced) = results
    for (y_e, g_e), (y_t, g_t) in zip(eager, traced):
        np.testing.assert_array_equal(y_t.numpy(), y_e.numpy())
        for a, b in zip(g_t, g_e):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(v_traced, v_eager)
    np.testing.assert_array_equal(w_traced, w_eager)


def test_variable_gradients_match_tensorflow():
    # TensorFlow 2.21 on the same function: d y / d v = 7, d y / d w = [7, 7]
    v, w = tf.Variable(1.0), tf.Variable([1.0, 2.0])
    y, (dx, dv, dw) = tf.function(_step_function(v, w))(tf.constant(2.0))
    np.testing.assert_allclose(y.numpy(), 80.5)
    np.testing.assert_allclose(dx.numpy(), 68.5)
    np.testing.assert_allclose(dv.numpy(), 7.0)
    np.testing.assert_allclose(dw.numpy(), [7.0, 7.0])


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_scalar_variable_update_while_a_tape_holds_it_stays_an_array(method):
    v = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        read = v * 2.0  # the tape now holds v's buffer: the update writes a fresh one
        getattr(v, method)(1.5)
        after = v * 1.0
    assert isinstance(v.array, np.ndarray) and v.array.shape == () and v.dtype == tf.float32
    expected = {"assign": 1.5, "assign_add": 4.5, "assign_sub": 1.5}[method]
    assert after.numpy() == np.float32(expected)
    assert read.numpy() == np.float32(6.0)  # the earlier read kept its value
    assert tape.gradient(after, v).numpy() == np.float32(1.0)
