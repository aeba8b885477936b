"""GradientTape behaving as TensorFlow 2's does."""

from __future__ import annotations

import gc
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest

import tensorflowish as tf


def test_watch_and_gradient(device):
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 6.0


def test_trainable_variables_are_watched_automatically(device):
    v = tf.Variable(2.0)
    frozen = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        y = v * v + frozen * frozen
    dv, dfrozen = tape.gradient(y, [v, frozen])
    assert float(dv) == 4.0 and dfrozen is None
    assert [w.name for w in tape.watched_variables()] == [v.name]


def test_watch_accessed_variables_false(device):
    x0, x1 = tf.Variable(0.0), tf.Variable(10.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        y = tf.math.sin(x0) + tf.nn.softplus(x1)
    grad = tape.gradient(y, {"x0": x0, "x1": x1})
    assert grad["x0"] is None
    np.testing.assert_allclose(grad["x1"].numpy(), 0.9999546, rtol=1e-6)


def test_non_persistent_tape_can_be_used_once(device):
    x = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = x * 2
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="A non-persistent GradientTape can only be used to "
                                           "compute one set of gradients"):
        tape.gradient(y, x)


def test_persistent_tape(device):
    x = tf.constant([1.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), [4.0, 108.0])
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 6.0])


def test_source_structures_come_back_in_the_same_shape(device):
    w, b = tf.Variable([[1.0, 2.0]]), tf.Variable([0.5])
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_sum(w * 3.0) + tf.reduce_sum(b)
    as_list = tape.gradient(loss, [w, b])
    as_tuple = tape.gradient(loss, (w, b))
    as_dict = tape.gradient(loss, {"w": w, "nested": {"b": b}})
    assert isinstance(as_list, list) and isinstance(as_tuple, tuple)
    np.testing.assert_allclose(as_dict["w"].numpy(), [[3.0, 3.0]])
    np.testing.assert_allclose(as_dict["nested"]["b"].numpy(), [1.0])


def test_non_scalar_target_is_summed_and_output_gradients(device):
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y = x * [3.0, 4.0]
    assert float(tape.gradient(y, x)) == 7.0
    assert float(tape.gradient(y, x, output_gradients=tf.constant([1.0, 10.0]))) == 43.0


def test_target_structure_is_summed(device):
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y0, y1 = x ** 2, 1 / x
    assert float(tape.gradient({"y0": y0, "y1": y1}, x)) == pytest.approx(3.75)


def test_unconnected_gradients(device):
    x, y = tf.Variable([2.0, 2.0]), tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        z = y ** 2
    assert tape.gradient(z, x) is None
    zero = tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(zero.numpy(), [0.0, 0.0])


def test_stop_recording_and_reset(device):
    x = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        y = x * x
        with tape.stop_recording():
            z = x * x * x
        w = y + z
    assert float(tape.gradient(w, x)) == 6.0  # z is a constant to the tape
    with tf.GradientTape() as tape:
        y = x * x
        tape.reset()
        y2 = x * 5.0
    assert float(tape.gradient(y2, x)) == 5.0


def test_stop_gradient(device):
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * tf.stop_gradient(x * x)
    assert float(tape.gradient(y, x)) == 4.0


def test_nested_tapes_give_second_derivative(device):
    x = tf.constant(3.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3
        dy_dx = inner.gradient(y, x)
    d2y_dx2 = outer.gradient(dy_dx, x)
    assert float(dy_dx) == 27.0
    assert float(d2y_dx2) == 18.0


@pytest.mark.parametrize("function,second", [
    (lambda x: tf.tanh(x), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (lambda x: tf.sigmoid(x), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    (lambda x: tf.exp(x) * tf.sin(x), lambda x: 2 * np.exp(x) * np.cos(x)),
    (lambda x: tf.reduce_sum(tf.nn.softmax(x * tf.constant([1.0, 2.0], tf.float64))),
     lambda x: 0.0 * x),
])
def test_second_derivatives_of_composed_functions(function, second, device):
    x = tf.constant(0.7, tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = function(x)
        dy = inner.gradient(y, x)
    np.testing.assert_allclose(outer.gradient(dy, x).numpy(), second(0.7), atol=1e-12)


def test_second_derivative_through_fused_dense_and_cross_entropy(device):
    rng = np.random.default_rng(3)
    x = tf.constant(rng.uniform(-1, 1, (4, 3)))
    w = tf.constant(rng.uniform(-1, 1, (3, 5)))
    labels = tf.constant(np.array([0, 2, 4, 1]))

    def loss_of(w_):
        return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=tf.nn.dense(x, w_, activation="tanh")))

    def grad_norm(w_):
        with tf.GradientTape() as inner:
            inner.watch(w_)
            loss = loss_of(w_)
        g = inner.gradient(loss, w_)
        return tf.reduce_sum(g * g)

    with tf.GradientTape() as outer:
        outer.watch(w)
        value = grad_norm(w)
    analytic = outer.gradient(value, w).numpy()
    numeric = np.zeros_like(analytic)
    eps = 1e-6
    for index in np.ndindex(analytic.shape):
        shifted = w.numpy().copy()
        shifted[index] += eps
        plus = float(grad_norm(tf.constant(shifted)))
        shifted[index] -= 2 * eps
        minus = float(grad_norm(tf.constant(shifted)))
        numeric[index] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_jacobian(device):
    x = tf.constant([1.0, 2.0, 3.0], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    jacobian = tape.jacobian(y, x)
    np.testing.assert_allclose(jacobian.numpy(), np.diag([2.0, 4.0, 6.0]))


def test_integer_sources_give_none_with_a_warning(device):
    x = tf.constant(10)
    with tf.GradientTape() as tape:
        with pytest.warns(UserWarning, match="must be floating"):
            tape.watch(x)
        y = x * x
    with pytest.warns(UserWarning, match="must be floating"):
        assert tape.gradient(y, x) is None


def test_assign_add_then_read_is_not_connected(device):
    x0, x1 = tf.Variable(3.0), tf.Variable(0.0)
    with tf.GradientTape() as tape:
        x1.assign_add(x0)
        y = x1 ** 2
    assert tape.gradient(y, x0) is None


def test_strict_mode_explains_a_missing_gradient(device):
    tf.debugging.enable_strict_gradients()
    try:
        constant = tf.constant(1.0)
        unused = tf.Variable(2.0, name="unused")
        w = tf.Variable(3.0, name="w")
        with tf.GradientTape(persistent=True) as tape:
            loss = w * 2.0
        with pytest.raises(ValueError, match="never watched"):
            tape.gradient(loss, constant)
        with pytest.raises(ValueError, match="unused"):
            tape.gradient(loss, unused)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(constant)
            loss = tf.constant(constant.numpy()) * w  # a .numpy() round trip breaks the chain
        with pytest.raises(ValueError, match="not computed from it"):
            tape.gradient(loss, constant)
    finally:
        tf.debugging.disable_strict_gradients()


def test_op_without_gradient_raises_when_differentiated(device):
    x = tf.Variable(2.5)
    with tf.GradientTape() as tape:
        y = tf.math.floor(x) * x
    with pytest.raises(LookupError, match="No gradient defined for operation 'floor'"):
        tape.gradient(y, x)


def test_comparisons_and_argmax_carry_no_gradient(device):
    x = tf.Variable([1.0, 3.0, 2.0])
    with tf.GradientTape() as tape:
        index = tf.argmax(x)
        mask = tf.cast(x > 1.5, tf.float32)
        y = tf.reduce_sum(x * mask)
    assert int(index) == 1
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 1.0, 1.0])


def test_differentiable_indexing(device):
    x = tf.Variable(np.arange(12.0).reshape(3, 4))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(x[1:, ::2]) + tf.reduce_sum(tf.gather(x, [0, 0], axis=0))
    expected = np.zeros((3, 4))
    expected[1:, ::2] = 1
    expected[0] += 2
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)


def test_tape_drops_intermediates_after_gradient(device):
    x = tf.Variable(np.ones((64, 64), np.float32))
    with tf.GradientTape() as tape:
        hidden = tf.tanh(x @ x)
        loss = tf.reduce_sum(hidden * hidden)
    reference = weakref.ref(hidden.array)
    del hidden
    tape.gradient(loss, x)
    del loss
    gc.collect()
    assert reference() is None, "the tape kept an intermediate array alive after gradient()"
    assert tape._records == [] and not tape._tracked


def test_ten_thousand_steps_do_not_grow_memory(device):
    rng = np.random.default_rng(0)
    w = tf.Variable(rng.normal(size=(8, 4)).astype(np.float32))
    b = tf.Variable(np.zeros(4, np.float32))
    x = tf.constant(rng.normal(size=(16, 8)).astype(np.float32))
    labels = tf.constant(rng.integers(0, 4, 16))

    def step():
        with tf.GradientTape() as tape:
            logits = tf.nn.dense(x, w, b, activation="relu")
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        gw, gb = tape.gradient(loss, [w, b])
        w.assign_sub(gw * 0.01)
        b.assign_sub(gb * 0.01)

    for _ in range(200):  # warm up caches and allocator
        step()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(10_000):
        step()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert after - before < 64 * 1024, f"memory grew by {after - before} bytes over 10,000 steps"


def test_tape_warns_nothing_in_ordinary_use(device):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = tf.Variable(1.0)
        with tf.GradientTape() as tape:
            y = v * 2
        tape.gradient(y, v)
