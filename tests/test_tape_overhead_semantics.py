"""Semantics the lean hot path must keep: auto-watching, pass-through VJPs, the composed mean,
higher-order gradients through the fast elementwise records, and the tape's fast argument paths.
"""

import numpy as np
import pytest

import tensorflowish as tf


def test_every_variable_input_of_an_elementwise_op_is_watched(device):
    a = tf.Variable([1.0, 2.0])
    b = tf.Variable([3.0, 4.0])
    with tf.GradientTape() as tape:
        y = a * b
    assert {v.name for v in tape.watched_variables()} == {a.name, b.name}
    grad_a, grad_b = tape.gradient(y, [a, b])
    np.testing.assert_allclose(grad_a.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(grad_b.numpy(), [1.0, 2.0])


def test_every_variable_input_of_a_general_op_is_watched(device):
    x = tf.Variable(np.ones((2, 3), np.float32))
    w = tf.Variable(np.ones((3, 2), np.float32))
    with tf.GradientTape() as tape:
        y = tf.matmul(x, w)
    assert len(tape.watched_variables()) == 2
    assert all(g is not None for g in tape.gradient(y, [x, w]))


def test_non_trainable_variables_and_watch_accessed_variables_false_are_respected(device):
    frozen = tf.Variable([1.0, 2.0], trainable=False)
    trainable = tf.Variable([3.0, 4.0])
    with tf.GradientTape() as tape:
        y = frozen * trainable
    assert [v.name for v in tape.watched_variables()] == [trainable.name]
    assert tape.gradient(y, frozen) is None
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        y = trainable + trainable
    assert tape.watched_variables() == ()
    assert tape.gradient(y, trainable) is None


def test_pass_through_gradients_broadcast_and_accumulate(device):
    x = tf.constant(np.ones((2, 3), np.float32))
    b = tf.constant(np.ones((3,), np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, b])
        y = x + b - b * 2.0 + x  # subtract's first VJP is a pass-through too
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.full((2, 3), 2.0))
    np.testing.assert_allclose(tape.gradient(y, b).numpy(), np.full((3,), -2.0))


def test_second_derivative_through_elementwise_chain(device):
    x = tf.constant(3.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x + x  # y' = 3x^2 + 1, y'' = 6x
        dy = inner.gradient(y, x)
    assert float(dy) == pytest.approx(28.0)
    assert float(outer.gradient(dy, x)) == pytest.approx(18.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_reduce_mean_matches_numpy_exactly(device, dtype, axis):
    values = np.random.default_rng(0).standard_normal((5, 7)).astype(dtype)
    got = tf.reduce_mean(tf.constant(values), axis=axis)
    assert got.dtype.name == np.dtype(dtype).name
    np.testing.assert_array_equal(got.numpy(), values.mean(axis=axis))


def test_reduce_mean_exact_for_simple_values_and_float16(device):
    assert float(tf.reduce_mean(tf.constant([1.0, 2.0, 3.0]))) == 2.0
    halves = tf.constant(np.ones(100000, np.float16))  # a float16 sum would overflow
    assert float(tf.reduce_mean(halves)) == 1.0


def test_reduce_mean_gradients_first_and_second_order(device):
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_mean(x * x, axis=1)
        g = inner.gradient(y, x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy() / 3, rtol=1e-6)
    np.testing.assert_allclose(outer.gradient(g, x).numpy(), np.full((2, 3), 2 / 3), rtol=1e-6)


def test_sparse_cross_entropy_label_errors_name_the_op(device):
    logits = tf.constant(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"sparse_softmax_cross_entropy_with_logits: labels "
                                         r"must be in \[0, 3\), got values from -1 to 1"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant([1, -1]), logits)


def test_gradient_of_a_non_contiguous_target(device):
    x = tf.constant(np.ones((2, 3), np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.transpose(x) * 3.0
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.full((2, 3), 3.0))


def test_unconnected_gradients_accepts_a_string(device):
    x = tf.constant([1.0, 2.0])
    unused = tf.constant([5.0])
    with tf.GradientTape() as tape:
        tape.watch([x, unused])
        y = x * 2.0
    grads = tape.gradient(y, {"x": x, "unused": unused}, unconnected_gradients="zero")
    np.testing.assert_allclose(grads["unused"].numpy(), [0.0])
    np.testing.assert_allclose(grads["x"].numpy(), [2.0, 2.0])


def test_dtype_mismatch_in_the_fast_path_is_still_an_error(device):
    with pytest.raises(TypeError, match="different dtypes"):
        tf.constant([1.0], dtype=tf.float32) * tf.constant([1.0], dtype=tf.float64)
