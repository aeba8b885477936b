"""Replay plans through half precision and through control flow on a gradient path: the plan
exists (no op-by-op fallback) and its values, gradients and updates equal eager's.

Half precision: Keras's `mixed_float16` policy (float32 variables cast to float16, float16
dense layers, a float32 loss) with `LossScaleOptimizer` (dynamic scale, a finite check, skipped
steps), and `mixed_bfloat16`, plan against `run_eagerly=True`, bit for bit.

Control flow: tf.cond / tf.switch_case / tf.while_loop inside a tape's block (sub-plans,
plan_control.py and plan_loop.py), plan against eager bit for bit, gradients against finite
differences in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


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


@pytest.fixture
def mixed_bfloat16():
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    tf.keras.mixed_precision.set_global_policy("float32")


def test_mixed_bfloat16_keras_training_plan_equals_eager(mixed_bfloat16, plan_notes):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((48, 6)).astype("float32")
    y = rng.integers(0, 3, 48)

    def train(run_eagerly: bool):
        tf.keras.utils.set_random_seed(4)
        model = tf.keras.Sequential([
            tf.keras.Input((6,)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(8, activation="sigmoid"),
            tf.keras.layers.Dense(3),
            tf.keras.layers.Activation("softmax", dtype="float32")])
        model.compile(tf.keras.optimizers.SGD(0.1, momentum=0.9),
                      "sparse_categorical_crossentropy", run_eagerly=run_eagerly)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model

    traced, eager = train(False), train(True)
    assert traced.layers[0].compute_dtype == "bfloat16"
    assert traced.layers[0].kernel.dtype == tf.float32
    for planned, expected in zip(traced.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(planned, expected)
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


# --- control flow on a gradient path ---------------------------------------------------------
def _mlp_weights(seed: int, dtype="float64"):
    rng = np.random.default_rng(seed)
    return (tf.Variable(rng.standard_normal((4, 6)).astype(dtype), name="w1"),
            tf.Variable(rng.standard_normal((6, 2)).astype(dtype), name="w2"))


def _assert_same(planned, expected) -> None:
    planned, expected = tf.nest.flatten(planned), tf.nest.flatten(expected)
    assert len(planned) == len(expected)
    for a, b in zip(planned, expected):
        assert (a is None) == (b is None)
        if a is None:
            continue
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _cond_loss(x, w1, w2):
    """An MLP whose loss takes one of two forms by the sign of its hidden layer's sum."""
    h = tf.tanh(tf.matmul(x, w1))
    out = tf.cond(tf.reduce_sum(h) > 0.0,
                  lambda: tf.matmul(h, w2) * 2.0,
                  lambda: tf.sin(tf.matmul(h * h, w2)) + h[:, :2])
    return tf.reduce_mean(out * out)


def test_cond_in_a_tape_step_is_planned_and_equals_eager(plan_notes):
    w1, w2 = _mlp_weights(4)

    def step(x):
        with tf.GradientTape() as tape:
            loss = _cond_loss(x, w1, w2)
        return loss, tape.gradient(loss, [w1, w2])

    traced = tf.function(step)
    rng = np.random.default_rng(5)
    taken = []
    for sign in (1.0, -1.0, -1.0, 1.0, -1.0):
        x = tf.constant(sign * np.abs(rng.standard_normal((3, 4))))
        _assert_same(traced(x), step(x))
        taken.append(float(tf.reduce_sum(tf.tanh(tf.matmul(x, w1)))) > 0)
    assert True in taken and False in taken  # both branches ran through the plan
    (plan, note), = plan_notes
    assert plan, note
    assert "W" in plan.source  # the branches' sub-plans


def test_the_gradient_through_a_planned_cond_matches_finite_differences(plan_notes,
                                                                       finite_difference):
    w1, w2 = _mlp_weights(6)
    traced = tf.function(lambda x: _gradient_of_w1(x, w1, w2))
    rng = np.random.default_rng(7)
    for sign in (1.0, -1.0, 1.0):
        x = sign * np.abs(rng.standard_normal((3, 4)))
        traced(tf.constant(x))  # the second call runs the plan
        planned = traced(tf.constant(x)).numpy()

        def loss_at(w, x=x):
            return float(_cond_loss(tf.constant(x), tf.constant(w), w2))
        np.testing.assert_allclose(planned, finite_difference(loss_at, w1.numpy()),
                                   rtol=1e-6, atol=1e-8)
    assert plan_notes and all(plan for plan, _ in plan_notes), plan_notes


def _gradient_of_w1(x, w1, w2):
    with tf.GradientTape() as tape:
        loss = _cond_loss(x, w1, w2)
    return tape.gradient(loss, w1)


def test_switch_case_nested_cond_and_a_persistent_tape(plan_notes):
    w1, w2 = _mlp_weights(8)

    def step(x):
        with tf.GradientTape(persistent=True) as tape:
            h = tf.tanh(tf.matmul(x, w1))
            total = tf.reduce_sum(h)
            index = tf.cast(total > 0.4, tf.int32) + tf.cast(total > 1.6, tf.int32)
            taken.append((int(index), float(tf.reduce_mean(h)) > 0.05) if not
                         tf.inside_function() else None)

            def inner():  # a cond inside a branch
                return tf.cond(tf.reduce_mean(h) > 0.05, lambda: tf.matmul(h, w2),
                               lambda: tf.matmul(h, w2) - h[:, 1:3])
            out = tf.switch_case(index, [lambda: tf.matmul(h * 3.0, w2), inner],
                                 default=lambda: tf.exp(tf.matmul(h, w2)))
            loss = tf.reduce_sum(out * out)
        return loss, tape.gradient(loss, [w1, w2]), tape.gradient(out, w1)

    traced = tf.function(step)
    rng = np.random.default_rng(9)
    taken: list = []
    for scale in (-1.0, 0.05, 1.0, 3.0, -0.5, 2.0):
        x = tf.constant(scale * np.abs(rng.standard_normal((3, 4))))
        _assert_same(traced(x), step(x))
    # every branch and both sides of the inner cond ran (eager's picks)
    picks = {index if index != 1 else (1, inner) for index, inner in filter(None, taken)}
    assert picks == {0, (1, True), (1, False), 2}, picks
    (plan, note), = plan_notes
    assert plan, note


def test_a_branch_returning_its_input_and_autograph_if(plan_notes):
    w1, _ = _mlp_weights(10)

    def step(x):
        with tf.GradientTape() as tape:
            h = tf.tanh(tf.matmul(x, w1))
            if tf.reduce_sum(h) > 0.0:  # AutoGraph: tf.cond
                y = h
            else:
                y = h * h
            loss = tf.reduce_sum(y * h)
        return loss, tape.gradient(loss, w1)

    traced = tf.function(step)
    rng = np.random.default_rng(11)
    for sign in (1.0, -1.0, 1.0, -1.0):
        x = tf.constant(sign * np.abs(rng.standard_normal((2, 4))))
        _assert_same(traced(x), step(x))
    (plan, note), = plan_notes
    assert plan, note


def test_a_value_only_one_branch_differentiates_falls_back_with_a_note(plan_notes):
    w1, w2 = _mlp_weights(12)

    def step(x):
        with tf.GradientTape() as tape:
            h = tf.tanh(tf.matmul(x, w1))
            out = tf.cond(tf.reduce_sum(h) > 0.0, lambda: tf.matmul(h, w2),
                          lambda: h[:, :2])  # w2 gets no gradient here: None in eager
            loss = tf.reduce_sum(out)
        return loss, tape.gradient(loss, [w1, w2])

    traced = tf.function(step)
    rng = np.random.default_rng(13)
    for sign in (1.0, -1.0, 1.0):
        x = tf.constant(sign * np.abs(rng.standard_normal((2, 4))))
        planned, expected = traced(x), step(x)
        assert (planned[1][1] is None) == (expected[1][1] is None)
        _assert_same([planned[0], planned[1][0]], [expected[0], expected[1][0]])
    (plan, note), = plan_notes
    assert plan is False
    assert "from one branch but not from another" in note


def _loop_loss(x, w1, w2, n):
    """An MLP whose hidden layer goes `n` times through a recurrent layer (one of two by a
    cond inside the loop), its loss summed over the iterations from a constant."""
    def body(i, h, total):
        h = tf.cond(tf.reduce_sum(h) > 0.0, lambda: tf.tanh(tf.matmul(h, w2)),
                    lambda: 0.5 * h + tf.sin(tf.matmul(h, w2)))
        return i + 1, h, total + tf.reduce_mean(h * h)

    h = tf.tanh(tf.matmul(x, w1))
    _, _, total = tf.while_loop(lambda i, h, total: i < n, body,
                                [tf.constant(0), h, tf.constant(0.0, x.dtype)])
    return total


def _recurrent_weights(seed: int):
    rng = np.random.default_rng(seed)
    return (tf.Variable(0.7 * rng.standard_normal((4, 6)), name="w1"),
            tf.Variable(0.7 * rng.standard_normal((6, 6)), name="w2"))


def test_while_loop_in_a_tape_step_is_planned_and_equals_eager(plan_notes):
    w1, w2 = _recurrent_weights(14)

    def step(x, n):
        with tf.GradientTape() as tape:
            loss = _loop_loss(x, w1, w2, n)
        return loss, tape.gradient(loss, [w1, w2])

    traced = tf.function(step)
    rng = np.random.default_rng(15)
    for n in (3, 1, 4, 2, 5):
        x = tf.constant(rng.standard_normal((3, 4)))
        _assert_same(traced(x, tf.constant(n)), step(x, tf.constant(n)))
    (plan, note), = plan_notes
    assert plan, note


def test_the_gradient_through_a_planned_while_loop_matches_finite_differences(
        plan_notes, finite_difference):
    w1, w2 = _recurrent_weights(16)

    def gradients(x, n):
        with tf.GradientTape() as tape:
            loss = _loop_loss(x, w1, w2, n)
        return tape.gradient(loss, [w1, w2])

    traced = tf.function(gradients)
    rng = np.random.default_rng(17)
    for n in (3, 2):
        x = rng.standard_normal((3, 4))
        traced(tf.constant(x), tf.constant(n))
        planned = [g.numpy() for g in traced(tf.constant(x), tf.constant(n))]

        def loss_at_w1(w, x=x, n=n):
            return float(_loop_loss(tf.constant(x), tf.constant(w), w2, n))

        def loss_at_w2(w, x=x, n=n):
            return float(_loop_loss(tf.constant(x), w1, tf.constant(w), n))
        np.testing.assert_allclose(planned[0], finite_difference(loss_at_w1, w1.numpy()),
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(planned[1], finite_difference(loss_at_w2, w2.numpy()),
                                   rtol=1e-6, atol=1e-8)
    assert plan_notes and all(plan for plan, _ in plan_notes), plan_notes


def test_loops_nested_in_loops_and_conds_with_a_persistent_tape(plan_notes):
    w1, w2 = _recurrent_weights(18)

    def step(x, n):
        with tf.GradientTape(persistent=True) as tape:
            h = tf.tanh(tf.matmul(x, w1))

            def body(i, h):  # a loop inside the loop, its length the outer counter
                _, h = tf.while_loop(lambda j, h: j < i, lambda j, h: (
                    j + 1, tf.tanh(tf.matmul(h, w2))), [0, h])
                return i + 1, h * 1.5
            _, h = tf.while_loop(lambda i, h: i < n, body, [1, h])
            out = tf.cond(tf.reduce_sum(h) > 0.0, lambda: tf.while_loop(
                lambda k, h: k < 2, lambda k, h: (k + 1, h * h), [0, h])[1], lambda: -h)
            loss = tf.reduce_sum(out)
        return loss, tape.gradient(loss, [w1, w2]), tape.gradient(h, w1)

    traced = tf.function(step)
    rng = np.random.default_rng(19)
    for n in (3, 4, 2, 3, 2):
        x = tf.constant(rng.standard_normal((3, 4)))
        _assert_same(traced(x, tf.constant(n)), step(x, tf.constant(n)))
    (plan, note), = plan_notes
    assert plan, note


def test_a_loop_running_no_iteration_replays_op_by_op_with_a_note(plan_notes):
    w1, w2 = _recurrent_weights(20)

    def step(x, n):
        with tf.GradientTape() as tape:
            loss = _loop_loss(x, w1, w2, n)
        return loss, tape.gradient(loss, [w1, w2])

    traced = tf.function(step)
    rng = np.random.default_rng(21)
    x = tf.constant(rng.standard_normal((3, 4)))
    for n in (2, 3, 0, 2):  # with no iteration w2 has no gradient (None, as eager)
        planned, expected = traced(x, tf.constant(n)), step(x, tf.constant(n))
        assert (planned[1][1] is None) == (n == 0)
        _assert_same(planned, expected)
    (plan, _), = plan_notes
    assert plan  # the second call ran the plan, until a call ran no iteration
    graph = traced.get_concrete_function(x, tf.constant(2)).graph
    assert graph.plan is False
    assert "ran no iteration" in graph.plan_note


class _Gate(tf.keras.layers.Layer):
    """A layer choosing its activation by the sign of its input's mean (a tf.cond)."""

    def call(self, x):
        return tf.cond(tf.reduce_mean(x) > 0.0, lambda: tf.nn.relu(x),
                       lambda: tf.tanh(x) * 0.5)


def test_keras_fit_through_a_cond_layer_is_planned_and_equals_eager(plan_notes):
    rng = np.random.default_rng(23)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = rng.integers(0, 3, 64)

    def train(run_eagerly: bool):
        tf.keras.utils.set_random_seed(5)
        model = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.layers.Dense(16), _Gate(),
                                     tf.keras.layers.Dense(3)])
        model.compile(tf.keras.optimizers.Adam(0.01),
                      tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      run_eagerly=run_eagerly)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model

    traced, eager = train(False), train(True)
    for planned, expected in zip(traced.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(planned, expected)
    assert plan_notes and all(plan for plan, _ in plan_notes), plan_notes


def test_relaxed_shapes_through_control_flow_on_a_gradient_path():
    """Plans per input shape read their types from a replay, where a branch that did not run
    has none: such a plan is refused (op by op), never a crash."""
    w1, w2 = _recurrent_weights(24)

    def step(x):
        with tf.GradientTape() as tape:
            h = tf.tanh(tf.matmul(x, w1))
            out = tf.cond(tf.reduce_sum(h) > 0.0, lambda: tf.matmul(h, w2), lambda: h * 2.0)
            _, out = tf.while_loop(lambda i, o: i < 2, lambda i, o: (
                i + 1, tf.tanh(tf.matmul(o, w2))), [0, out])
            loss = tf.reduce_sum(out)
        return loss, tape.gradient(loss, [w1, w2])

    traced = tf.function(step, reduce_retracing=True)
    rng = np.random.default_rng(25)
    for rows in (3, 5, 7, 5, 7, 3, 5):
        x = tf.constant(rng.standard_normal((rows, 4)))
        _assert_same(traced(x), step(x))
