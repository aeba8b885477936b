"""The fast paths for small models: kernels called with check_arguments=False, the fused
sum/mean gradient, and the Keras SGD update. Each must give what the checked path gives."""

import weakref

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish import kernels


def _dense_inputs(dtype=np.float32):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal((4, 3)).astype(dtype),
            rng.standard_normal(3).astype(dtype))


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "gelu", "leaky_relu"])
def test_unchecked_dense_matches_checked(activation):
    x, w, b = _dense_inputs()
    y, pre = kernels.dense_forward(x, w, b, activation)
    y_fast, pre_fast = kernels.dense_forward(x, w, b, activation, check_arguments=False)
    np.testing.assert_array_equal(y, y_fast)
    dy = np.ones_like(y)
    expected = kernels.dense_backward(dy, x, w, y, pre, activation)
    got = kernels.dense_backward(dy, x, w, y_fast, pre_fast, activation, check_arguments=False)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)


def test_unchecked_kernels_still_check_what_callers_cannot():
    x, w, b = _dense_inputs()
    with pytest.raises(ValueError, match="alpha >= 0"):
        kernels.dense_forward(x, w, b, "leaky_relu", alpha=-1, check_arguments=False)
    with pytest.raises(TypeError, match="float32 or float64"):  # not the fast case: checked
        kernels.dense_forward(x.astype(np.float16), w.astype(np.float16), None,
                              check_arguments=False)
    y, _ = kernels.dense_forward(x, w, b)
    with pytest.raises(TypeError, match="cast them to one dtype"):  # dy's dtype is checked
        kernels.dense_backward(np.ones(y.shape), x, w, y, None, check_arguments=False)
    logits = np.zeros((2, 3), np.float32)
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match="is not a class index"):
            kernels.sparse_softmax_cross_entropy(logits, np.array(bad), check_arguments=False)
    with pytest.raises(ValueError, match="at least one class"):
        kernels.sparse_softmax_cross_entropy(np.zeros((2, 0)), np.zeros(2, int),
                                             check_arguments=False)


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.int8, np.uint8, np.uint64])
def test_sparse_cross_entropy_for_every_label_dtype(label_dtype):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((7, 5))
    labels = rng.integers(0, 5, 7).astype(label_dtype)
    loss, grad = kernels.sparse_softmax_cross_entropy(logits, labels, check_arguments=False)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    rows = np.arange(7)
    np.testing.assert_allclose(loss, -np.log(probabilities[rows, labels]), rtol=1e-12)
    expected = probabilities.copy()
    expected[rows, labels] -= 1
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="labels must be in"):  # the op's own words
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=np.array([0, 9]),
                                                       logits=tf.zeros([2, 5]))


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_unchecked_sgd_matches_checked(momentum, nesterov):
    rng = np.random.default_rng(2)
    p, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    a, b, va, vb = p.copy(), p.copy(), np.ones_like(p), np.ones_like(p)
    kernels.sgd_update(a, g, va, 0.1, momentum, nesterov)
    kernels.sgd_update(b, g, vb, 0.1, momentum, nesterov, check_arguments=False)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(va, vb)


def test_keras_sgd_updates_in_place_with_keras_formula():
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    array = weakref.ref(w.array)  # weak: holding the buffer would make the update copy
    before = w.numpy()
    gradient = tf.constant(np.full((2, 3), 2.0, np.float32))
    tf.keras.optimizers.SGD(learning_rate=0.1).apply_gradients([(gradient, w)])
    assert w.array is array()  # in place
    np.testing.assert_allclose(w.numpy(), before - np.float32(0.1) * 2.0, rtol=1e-6)


@pytest.mark.parametrize("shape, axis", [((3, 4), None), ((3, 4), 1), ((2, 3, 4), (0, 2)),
                                         ((200, 100), None), ((200, 100), 0)])
def test_mean_and_sum_gradients_small_and_large(shape, axis):
    # large shapes take the broadcast-view path, small ones a filled array: same values
    x = tf.Variable(np.random.default_rng(3).standard_normal(shape))
    count = np.prod(shape) if axis is None else np.prod([shape[a] for a in np.atleast_1d(axis)])
    with tf.GradientTape(persistent=True) as tape:
        mean = tf.reduce_mean(x, axis)
        total = tf.reduce_sum(x, axis)
    np.testing.assert_allclose(mean.numpy(), x.numpy().mean(axis=axis), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(mean, x).numpy(), np.full(shape, 1 / count))
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), np.ones(shape))


def test_mean_gradient_is_differentiable_under_an_outer_tape():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_mean(x * x)
        dy = inner.gradient(y, x)  # 2x / 3
        z = tf.reduce_sum(dy * dy)  # sum 4x^2 / 9
    np.testing.assert_allclose(outer.gradient(z, x).numpy(), 8 * np.array([1.0, 2.0, 3.0]) / 9,
                               rtol=1e-6)
