"""Replay plans of training steps using the ops lowered by function/lowering/more.py: the
step gets a plan (no op-by-op fallback) and its losses and variables equal eager's bit for
bit."""

from __future__ import annotations

import numpy as np

import tensorflowish as tf


def _variables(seed=0):
    rng = np.random.default_rng(seed)
    return [tf.Variable(rng.standard_normal((6, 8)).astype("float32") * 0.4),
            tf.Variable(rng.uniform(-0.1, 0.1, (1, 8)).astype("float32")),
            tf.Variable(rng.standard_normal((8, 3)).astype("float32") * 0.3)]


def _activations_step(variables, optimizer):
    w1, b1, w2 = variables

    def step(x, y):
        with tf.GradientTape() as tape:
            pre = tf.matmul(x, w1) + tf.broadcast_to(b1, (x.shape[0], 8))
            h = tf.add_n([tf.nn.gelu(pre), tf.nn.silu(pre, beta=1.5),
                          tf.nn.gelu(pre, approximate=True)])
            h = tf.nn.selu(h) + tf.nn.relu6(pre * 4.0) + tf.math.erf(pre)
            out = tf.einsum("bi,ij->bj", h, w2)
            loss = tf.reduce_mean((out - y) ** 2) + 0.01 * tf.reduce_sum(w1 ** 2) + \
                0.001 * tf.reduce_sum(tf.pow(tf.abs(w2) + 0.5, 1.5))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss
    return step


def _batches(count=3):
    rng = np.random.default_rng(4)
    return [(tf.constant(rng.standard_normal((5, 6)).astype("float32")),
             tf.constant(rng.standard_normal((5, 3)).astype("float32"))) for _ in range(count)]


def _compare(make_step):
    eager_vars, traced_vars = _variables(), _variables()
    eager = make_step(eager_vars, tf.keras.optimizers.SGD(0.05, momentum=0.9))
    traced = tf.function(make_step(traced_vars, tf.keras.optimizers.SGD(0.05, momentum=0.9)))
    for x, y in _batches():
        np.testing.assert_array_equal(traced(x, y).numpy(), eager(x, y).numpy())
    (concrete,) = traced._concrete.values()
    graph = concrete.graph
    assert graph.plan, graph.plan_note
    assert "no lowering rule" not in (graph.plan_note or "")
    assert graph.plan.lowered_lines >= 10
    for a, b in zip(traced_vars, eager_vars):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_activation_mlp_with_power_regulariser_plans_and_equals_eager():
    _compare(_activations_step)


def _shapes_step(variables, optimizer):
    w1, b1, w2 = variables

    def step(x, y):
        with tf.GradientTape() as tape:
            h = tf.nn.gelu(tf.matmul(x, w1) + b1)                         # (5, 8)
            padded = tf.pad(h, [[1, 0], [2, 2]])                           # (6, 12)
            mirrored = tf.pad(h, [[2, 1], [0, 0]], mode="REFLECT")         # (8, 8)
            h = tf.slice(padded, [1, 2], [5, 8]) * tf.strided_slice(mirrored, [1, 0], [6, 8]) \
                + tf.tile(tf.strided_slice(h, [0, 0], [1, 8], shrink_axis_mask=1)[None], [5, 1])
            out = tf.tensordot(h, w2, 1)
            loss = tf.reduce_mean((out - y) ** 2)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss
    return step


def test_pad_slice_tile_step_plans_and_equals_eager():
    _compare(_shapes_step)


def _reductions_step(variables, optimizer):
    w1, b1, w2 = variables

    def step(x, y):
        with tf.GradientTape() as tape:
            h = tf.nn.silu(tf.matmul(x, w1) + b1)                          # (5, 8)
            h = (h - tf.reduce_mean(h, axis=1, keepdims=True)) / \
                (tf.math.reduce_std(h, axis=1, keepdims=True) + 1.0)
            h = h + tf.roll(h, 1, axis=1) + tf.reshape(tf.repeat(h[:, :4], 2), (5, 8))
            out = tf.matmul(h, w2)
            image = tf.reshape(h[:4], (1, 4, 8, 1))
            filters = tf.reshape(tf.linalg.matvec(w2, y[0]), (2, 2, 1, 2))
            feature = tf.nn.conv2d(image, filters, 1, "SAME")
            loss = tf.reduce_mean(tf.reduce_logsumexp(out, axis=1) - tf.reduce_sum(out * y, 1)) \
                + 0.01 * tf.nn.l2_loss(w1) + 0.01 * tf.math.reduce_variance(feature) \
                + 0.001 * tf.reduce_sum(tf.reduce_prod(tf.abs(w2) + 0.5, axis=1))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss
    return step


def test_reductions_conv_step_plans_and_equals_eager():
    _compare(_reductions_step)
