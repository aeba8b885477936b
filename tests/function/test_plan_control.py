"""Replay plans through half precision and through control flow on a gradient path: the plan
exists (no op-by-op fallback) and its values, gradients and updates equal eager's.

Half precision: Keras's `mixed_float16` policy (float32 variables cast to float16, float16
dense layers, a float32 loss) with `LossScaleOptimizer` (dynamic scale, a finite check, skipped
steps), plan against `run_eagerly=True`, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function.graph import Graph


@pytest.fixture
def plan_notes(monkeypatch):
    """(plan or False, plan_note) of every graph compiled in the test."""
    compiled = []
    original = Graph.compile

    def compile_and_note(self):
        compiled.append((original(self), self.plan_note))
        return compiled[-1][0]
    monkeypatch.setattr(Graph, "compile", compile_and_note)
    return compiled


@pytest.fixture
def mixed_float16():
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    tf.keras.mixed_precision.set_global_policy("float32")


def _train_mixed(run_eagerly: bool, x, y):
    tf.keras.utils.set_random_seed(3)
    model = tf.keras.Sequential([
        tf.keras.Input((x.shape[1],)),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(8, activation="tanh"),
        tf.keras.layers.Dense(3),
        tf.keras.layers.Activation("softmax", dtype="float32")])
    # a large initial scale: the first steps' scaled gradients overflow float16 (skipped)
    optimizer = tf.keras.optimizers.LossScaleOptimizer(
        tf.keras.optimizers.SGD(0.1, momentum=0.9), initial_scale=2.0 ** 28,
        dynamic_growth_steps=2)
    model.compile(optimizer, "sparse_categorical_crossentropy", run_eagerly=run_eagerly)
    scales, iterations = [], []
    for batch in range(0, len(x), 8):
        model.train_on_batch(x[batch:batch + 8], y[batch:batch + 8])
        scales.append(float(optimizer.dynamic_scale.numpy()))
        iterations.append(int(optimizer.iterations.numpy()))
    return model, scales, iterations


def test_mixed_float16_keras_training_plan_equals_eager(mixed_float16, plan_notes):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype("float32")
    x[40:48] *= 3e4  # a batch whose float16 activations overflow: an inf gradient, skipped
    y = rng.integers(0, 3, 96)
    traced, traced_scales, traced_iterations = _train_mixed(False, x, y)
    eager, eager_scales, eager_iterations = _train_mixed(True, x, y)
    assert traced.layers[0].kernel.dtype == tf.float32
    assert traced.layers[0].compute_dtype == "float16"
    assert traced_scales == eager_scales
    assert traced_iterations == eager_iterations
    steps = np.diff([0] + eager_iterations)
    assert 0 in steps[:3] and 1 in steps  # overflowing steps were skipped, others applied
    assert steps[5] == 0  # the batch with huge inputs
    assert eager_scales[-1] < 2.0 ** 28
    for planned, expected in zip(traced.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(planned, expected)
    # the casts and float16 dense layers lie on the gradient path: a plan means they lowered
    assert plan_notes and all(plan for plan, _ in plan_notes), plan_notes


def test_float16_tape_step_plan_equals_eager(plan_notes):
    rng = np.random.default_rng(1)
    w1 = tf.Variable(rng.standard_normal((5, 7)).astype("float32"))
    w2 = tf.Variable(rng.standard_normal((7, 2)).astype("float32"))

    def step(x):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, tf.cast(w1, tf.float16)))
            out = tf.sigmoid(tf.matmul(h, tf.cast(w2, tf.float16)))
            loss = tf.reduce_mean(tf.square(tf.cast(out, tf.float32) - 0.5))
        return loss, tape.gradient(loss, [w1, w2])

    traced = tf.function(step)
    for _ in range(3):
        x = tf.constant(rng.standard_normal((4, 5)).astype("float16"))
        planned_loss, planned_grads = traced(x)
        eager_loss, eager_grads = step(x)
        np.testing.assert_array_equal(planned_loss.numpy(), eager_loss.numpy())
        for planned, expected in zip(planned_grads, eager_grads):
            assert planned.dtype == tf.float32
            np.testing.assert_array_equal(planned.numpy(), expected.numpy())
    (plan, note), = plan_notes
    assert plan, note
    assert plan.lowered_lines >= 8


def test_bfloat16_casts_on_a_gradient_path_lower(plan_notes):
    rng = np.random.default_rng(2)
    w = tf.Variable(rng.standard_normal((3, 4)).astype("float32"))

    def step(x):
        with tf.GradientTape() as tape:
            h = tf.cast(tf.cast(w, tf.bfloat16), tf.float32)
            loss = tf.reduce_sum(x * h)
        return loss, tape.gradient(loss, w)

    traced = tf.function(step)
    for _ in range(3):
        x = tf.constant(rng.standard_normal((3, 4)).astype("float32"))
        (planned_loss, planned_grad), (loss, grad) = traced(x), step(x)
        np.testing.assert_array_equal(planned_loss.numpy(), loss.numpy())
        np.testing.assert_array_equal(planned_grad.numpy(), grad.numpy())
    (plan, note), = plan_notes
    assert plan, note
