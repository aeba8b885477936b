"""tf.nn.dense, the fused layer op, against the composition of unfused ops (float64, 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

ACTIVATIONS = [None, "linear", "relu", "sigmoid", "tanh", "gelu", "leaky_relu"]
UNFUSED = {
    None: lambda z: z,
    "linear": lambda z: z,
    "relu": tf.nn.relu,
    "sigmoid": tf.sigmoid,
    "tanh": tf.tanh,
    "gelu": tf.nn.gelu,
    "leaky_relu": tf.nn.leaky_relu,
}


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_dense_matches_composition(activation, with_bias, device):
    rng = np.random.default_rng(11)
    x = tf.Variable(rng.uniform(-1, 1, (7, 5)))
    w = tf.Variable(rng.uniform(-1, 1, (5, 3)))
    b = tf.Variable(rng.uniform(-1, 1, (3,)))
    upstream = tf.constant(rng.uniform(0.5, 1.5, (7, 3)))
    sources = [x, w, b] if with_bias else [x, w]

    with tf.GradientTape() as tape:
        fused = tf.nn.dense(x, w, b if with_bias else None, activation=activation)
    fused_grads = tape.gradient(fused, sources, output_gradients=upstream)

    with tf.GradientTape() as tape:
        z = x @ w + b if with_bias else x @ w
        composed = UNFUSED[activation](z)
    composed_grads = tape.gradient(composed, sources, output_gradients=upstream)

    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-6, atol=1e-12)
    for got, want in zip(fused_grads, composed_grads):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-12)


def test_dense_is_one_tape_record(device):
    x = tf.Variable(np.ones((4, 3), np.float32))
    w = tf.Variable(np.ones((3, 2), np.float32))
    b = tf.Variable(np.zeros(2, np.float32))
    with tf.GradientTape() as tape:
        tf.nn.dense(x, w, b, activation="relu")
    assert len(tape._records) == 1


def test_dense_skips_gradients_nobody_needs(device, monkeypatch):
    from tensorflowish import kernels

    calls = []
    original = kernels.dense_backward

    def spy(*args, **kwargs):
        calls.append({k: v for k, v in kwargs.items() if k.startswith("need")})
        return original(*args, **kwargs)

    monkeypatch.setattr(kernels, "dense_backward", spy)
    x = tf.constant(np.ones((4, 3), np.float32))  # input data: no gradient wanted
    w = tf.Variable(np.ones((3, 2), np.float32))
    with tf.GradientTape() as tape:
        y = tf.nn.dense(x, w)
    tape.gradient(y, w)
    assert calls == [{"need_dx": False, "need_dkernel": True, "need_dbias": False}]


def test_dense_on_rank_3_inputs(device):
    rng = np.random.default_rng(2)
    x = tf.constant(rng.uniform(-1, 1, (2, 4, 5)))
    w = tf.constant(rng.uniform(-1, 1, (5, 3)))
    np.testing.assert_allclose(tf.nn.dense(x, w, activation="tanh").numpy(),
                               np.tanh(x.numpy() @ w.numpy()), rtol=1e-12)


def test_relu_gives_positive_zero_for_negative_inputs(device):
    # TensorFlow and PyTorch give +0.0; a multiply by the mask would give -0.0
    x = tf.constant(np.array([[-3.0, -0.5, 0.0, 2.0]], np.float32)).to(device)
    identity = tf.constant(np.eye(4, dtype=np.float32)).to(device)
    for y in (tf.nn.relu(x), tf.nn.dense(x, identity, activation="relu")):
        values = y.numpy()
        np.testing.assert_array_equal(values, [[0.0, 0.0, 0.0, 2.0]])
        assert not np.signbit(values).any()
