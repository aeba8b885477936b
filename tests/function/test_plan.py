"""Replay plans: the same values, gradients and variable updates as the op-by-op replay and as
eager, with the framework's overhead removed (tensorflowish/function/plan.py).

Where the plan runs the same kernels as eager (the dense and cross-entropy kernels, the
optimisers' updates), results are compared bit for bit.
"""

from __future__ import annotations

import weakref

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function import plan as plan_module


@pytest.fixture
def op_by_op():
    """Graphs compiled inside the block get no plan: they replay op by op."""
    plan_module.enable(False)
    yield
    plan_module.enable(True)


def _graph(function):
    (concrete,) = function._concrete.values()
    return concrete.graph


def _mlp(optimizer, seed=0, widths=(12, 16, 5)):
    rng = np.random.default_rng(seed)
    variables = []
    for a, b in zip(widths[:-1], widths[1:]):
        variables += [tf.Variable(rng.standard_normal((a, b)).astype("float32") * a ** -0.5),
                      tf.Variable(rng.uniform(-0.1, 0.1, b).astype("float32"))]

    def step(x, labels):
        with tf.GradientTape() as tape:
            h = x
            for i in range(0, len(variables), 2):
                h = tf.nn.dense(h, variables[i], variables[i + 1],
                                activation="relu" if i + 2 < len(variables) else None)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, h))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss
    return step, variables


def _batches(count=4, n=8, features=12, classes=5):
    rng = np.random.default_rng(5)
    return [(tf.constant(rng.standard_normal((n, features)).astype("float32")),
             tf.constant(rng.integers(0, classes, n))) for _ in range(count)]


def _run(step, batches):
    return [step(x, y).numpy() for x, y in batches]


@pytest.mark.parametrize("make_optimizer", [
    lambda: tf.keras.optimizers.SGD(0.1),
    lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: tf.keras.optimizers.Adam(0.01),
    lambda: tf.keras.optimizers.AdamW(0.01, weight_decay=0.1),
    lambda: tf.keras.optimizers.SGD(
        tf.keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)),
], ids=["sgd", "nesterov", "adam", "adamw", "schedule"])
def test_mlp_step_plan_equals_replay_and_eager(make_optimizer, op_by_op):
    batches = _batches()
    eager_step, eager_vars = _mlp(make_optimizer())
    eager = _run(eager_step, batches)
    replay_step, replay_vars = _mlp(make_optimizer())
    replay_step = tf.function(replay_step)
    replayed = _run(replay_step, batches)
    assert _graph(replay_step).plan is False  # compiled while plans were off
    plan_module.enable(True)
    plan_opt = make_optimizer()
    planned_step, planned_vars = _mlp(plan_opt)
    planned_step = tf.function(planned_step)
    planned = _run(planned_step, batches)
    graph = _graph(planned_step)
    assert graph.plan, graph.plan_note
    assert "apply_gradients" not in graph.plan.source  # lowered to the optimiser's update
    np.testing.assert_array_equal(planned, eager)
    np.testing.assert_array_equal(replayed, eager)
    for a, b, c in zip(planned_vars, replay_vars, eager_vars):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), c.numpy())
    assert int(plan_opt.iterations.numpy()) == len(batches)


def test_the_optimiser_writes_in_place_and_snapshots_keep_their_values():
    step, variables = _mlp(tf.keras.optimizers.SGD(0.1))
    step = tf.function(step)
    batches = _batches()
    step(*batches[0])
    step(*batches[1])  # the plan from here on
    buffers = [weakref.ref(v.array) for v in variables]  # without holding them
    step(*batches[2])
    assert all(v.array is b() for v, b in zip(variables, buffers))  # no copy forced
    snapshot = variables[0].read_value()
    value = snapshot.numpy()
    step(*batches[3])
    np.testing.assert_array_equal(snapshot.numpy(), value)  # copy-on-write for the holder
    assert not np.array_equal(variables[0].numpy(), value)


def test_elementwise_chain_in_place_keeps_returned_values():
    scale = tf.constant(np.linspace(0.5, 1.5, 16).astype("float32"))

    def chain(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x
            middle = None
            for i in range(20):
                y = y * scale if i % 2 == 0 else y + scale
                if i == 9:
                    middle = y
            total = tf.reduce_sum(tf.exp(y * 0.01))
        return middle, total, tape.gradient(total, x)

    traced = tf.function(chain)
    rng = np.random.default_rng(0)
    inputs = [tf.constant(rng.standard_normal(16).astype("float32")) for _ in range(3)]
    results = [traced(x) for x in inputs]
    assert _graph(traced).plan
    assert "out=" in _graph(traced).plan.source  # the chain runs in place
    for x, got in zip(inputs, results):  # earlier results unchanged by later calls
        for g, e in zip(got, chain(x)):
            np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_keras_training_step_with_metrics(op_by_op):
    plan_module.enable(True)

    def make():
        tf.keras.utils.set_random_seed(3)
        model = tf.keras.Sequential([tf.keras.Input((6,)),
                                     tf.keras.layers.Dense(8, activation="relu"),
                                     tf.keras.layers.Dense(3)])
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = tf.keras.optimizers.Adam(0.01)
        accuracy = tf.keras.metrics.SparseCategoricalAccuracy()
        mean = tf.keras.metrics.Mean()

        def step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            accuracy.update_state(y, logits)
            mean.update_state(loss)
            return loss
        return model, step, accuracy, mean

    rng = np.random.default_rng(1)
    batches = [(tf.constant(rng.standard_normal((10, 6)).astype("float32")),
                tf.constant(rng.integers(0, 3, 10))) for _ in range(4)]
    results = []
    for traced in (False, True):
        model, step, accuracy, mean = make()
        if traced:
            step = tf.function(step)
        losses = [step(x, y).numpy() for x, y in batches]
        results.append((losses, model.get_weights(), accuracy.result().numpy(),
                        mean.result().numpy()))
    graph = _graph(step)
    assert graph.plan, graph.plan_note
    assert "update_state" not in graph.plan.source  # metric lines run as lines (a mixed plan)
    (e_losses, e_weights, e_acc, e_mean), (p_losses, p_weights, p_acc, p_mean) = results
    np.testing.assert_array_equal(p_losses, e_losses)
    for a, b in zip(p_weights, e_weights):
        np.testing.assert_array_equal(a, b)
    assert p_acc == e_acc and p_mean == e_mean


def test_outer_tape_replays_op_by_op_with_gradients():
    w = tf.Variable([[0.5, -1.0], [2.0, 0.25]])

    @tf.function
    def f(x):
        return tf.reduce_sum(tf.tanh(tf.matmul(x, w)))

    x = tf.constant([[1.0, 2.0]])
    f(x)
    f(x)  # compiles the plan
    assert _graph(f).plan
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    grads = tape.gradient(y, [x, w])
    with tf.GradientTape() as tape:
        tape.watch(x)
        expected = tf.reduce_sum(tf.tanh(tf.matmul(x, w)))
    for g, e in zip(grads, tape.gradient(expected, [x, w])):
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_an_op_without_rule_on_the_gradient_path_falls_back_whole():
    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            # sort has no lowering rule (roll, used here before, has one now)
            y = tf.reduce_sum(tf.sort(x * x, direction="DESCENDING") *
                              tf.constant([1.0, 2.0, 3.0]))
        return tape.gradient(y, x)

    x = tf.constant([1.0, 2.0, 3.0])
    f(x)
    got = f(x + 1.0)
    assert _graph(f).plan is False and "no lowering rule" in _graph(f).plan_note
    # x + 1 = [2, 3, 4]: sorted descending, 16 gets weight 1, 9 weight 2, 4 weight 3
    np.testing.assert_array_equal(got.numpy(), [2 * 2 * 3.0, 2 * 3 * 2.0, 2 * 4 * 1.0])


def test_an_op_without_rule_off_the_gradient_path_runs_as_a_line():
    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(x * x)
        best = tf.argmax(x)  # no rule: run through the op inside the plan
        return tape.gradient(y, x), best

    f(tf.constant([1.0, 5.0, 3.0]))
    grad, best = f(tf.constant([4.0, 2.0, 3.0]))
    assert _graph(f).plan
    np.testing.assert_array_equal(grad.numpy(), [8.0, 4.0, 6.0])
    assert int(best) == 0


def test_new_signature_traces_and_gets_its_own_plan():
    @tf.function
    def f(x):
        return tf.reduce_mean(tf.square(x - 1.0))

    for n in (3, 3, 4, 4):
        x = tf.constant(np.arange(n, dtype="float32"))
        np.testing.assert_array_equal(f(x).numpy(), np.mean(np.square(x.numpy() - 1.0)))
    assert f.experimental_get_tracing_count() == 2
    assert all(c.graph.plan for c in f._concrete.values())


def test_gpu_inputs_take_the_op_by_op_replay():
    """A plan is made for NumPy arrays; other arrays fall back before any effect."""
    calls = []

    class Marked(np.ndarray):
        pass

    @tf.function
    def f(x):
        tf.py_function(lambda: calls.append(1) or 0.0, [], [tf.float32])
        return x * 2.0

    f(tf.constant([1.0]))
    f(tf.constant([1.0]))
    assert _graph(f).plan
    odd = tf.constant([3.0])
    odd.array = odd.array.view(Marked)  # not an exact ndarray: the plan steps aside
    assert float(f(odd)[0]) == 6.0
    assert len(calls) == 3


def test_the_benchmark_steps_run_as_plans():
    from tensorflowish.tools import bench

    for workload in (bench.mlp_training_step("CPU:0", "tiny", traced=True),
                     bench.tape_overhead("CPU:0", traced=True)):
        workload.framework()
        workload.framework()
        graph = _graph(workload.framework.function)
        assert graph.plan, graph.plan_note
        assert "apply_gradients" not in graph.plan.source


def test_persistent_tape_two_gradients_and_a_constant_folded_seed():
    w = tf.Variable([[0.5, -1.0], [2.0, 0.25]])

    @tf.function
    def f(x, labels):
        with tf.GradientTape(persistent=True) as tape:
            logits = tf.matmul(x, w)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            other = tf.reduce_sum(logits * logits)
        return tape.gradient(loss, w), tape.gradient(other, w), tape.gradient(loss, w)

    x, labels = tf.constant([[1.0, 2.0], [0.5, -1.0]]), tf.constant([1, 0])
    expected = f.python_function(x, labels)
    f(x, labels)
    got = f(x, labels)
    assert _graph(f).plan
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_keras_fit_of_a_cnn_runs_plans_and_equals_eager(fit_as_plan_equals_eager):
    """fit traces its steps (their graphs run as plans): the same weights as run_eagerly."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((24, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 3, 24)

    def train(run_eagerly):
        tf.keras.utils.set_random_seed(7)
        model = tf.keras.Sequential([
            tf.keras.Input((8, 8, 2)),
            tf.keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(),
            tf.keras.layers.Conv2D(4, 3, activation="tanh"),
            tf.keras.layers.Reshape((4, 4)),
            tf.keras.layers.Conv1D(3, 2, strides=2, padding="same", activation="relu"),
            tf.keras.layers.GlobalAveragePooling1D(),
            tf.keras.layers.Dense(3)])
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01), run_eagerly=run_eagerly,
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), history.history

    fit_as_plan_equals_eager(train)


@pytest.mark.parametrize("seed", range(24))
def test_random_programs_keep_every_value(seed):
    """Random straight-line programs of elementwise ops, views (reshape, transpose, slices)
    and reductions, with several values returned and a gradient: the plan (in place where a
    buffer dies) gives eager's values, and values it returned never change afterwards."""
    rng = np.random.default_rng(seed)
    steps = [(int(rng.integers(0, 10)), int(rng.integers(0, 1 << 30))) for _ in range(14)]
    square = tf.Variable(rng.standard_normal((3, 3)) * 0.5)
    returned = sorted(rng.choice(len(steps), 3, replace=False).tolist())

    def program(x, w):
        with tf.GradientTape() as tape:
            tape.watch(x)
            values = [x, w]
            for kind, pick in steps:
                a = values[pick % len(values)]
                b = values[(pick // 7) % len(values)]
                if kind == 0:
                    out = a * b
                elif kind == 1:
                    out = a + b
                elif kind == 2:
                    out = a - 0.5
                elif kind == 3:
                    out = tf.tanh(a)
                elif kind == 4:
                    out = tf.reshape(tf.transpose(a), (4, 3))
                    out = tf.transpose(tf.reshape(out, (3, 4)))  # a view of a view, same shape
                elif kind == 5:
                    out = tf.exp(a * 0.1)
                elif kind == 6:
                    out = a / (tf.abs(b) + 1.0)
                elif kind == 7:
                    out = tf.identity(a)
                elif kind == 9:  # a fused layer whose backward may write into its upstream
                    out = tf.nn.dense(a, square, activation="relu")
                else:
                    out = a + tf.reduce_sum(b, axis=0, keepdims=True)
                values.append(out)
            loss = tf.reduce_sum(values[-1] * values[-2])
        return [values[2 + i] for i in returned] + [tape.gradient(loss, [x, w, square])]

    traced = tf.function(program)
    inputs = [(tf.constant(rng.standard_normal((4, 3))), tf.constant(rng.standard_normal((4, 3))))
              for _ in range(4)]
    results = [traced(x, w) for x, w in inputs]
    assert _graph(traced).plan, _graph(traced).plan_note
    snapshots = [[np.array(t.numpy()) for t in r[:-1]] for r in results]
    traced(*inputs[0])  # one more call: nothing returned earlier may change
    for (x, w), got, kept in zip(inputs, results, snapshots):
        expected = program(x, w)
        for g, e, k in zip(got[:-1], expected[:-1], kept):
            np.testing.assert_array_equal(g.numpy(), e.numpy())
            np.testing.assert_array_equal(g.numpy(), k)
        for g, e in zip(got[-1], expected[-1]):
            if e is None:
                assert g is None
            else:
                np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_bad_labels_raise_the_ops_error_from_a_plan():
    @tf.function
    def loss(logits, labels):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))

    logits = tf.constant([[0.5, 1.0], [2.0, -1.0]])
    loss(logits, tf.constant([0, 1]))
    loss(logits, tf.constant([1, 0]))
    assert _graph(loss).plan
    with pytest.raises(tf.errors.InvalidArgumentError) as planned:
        loss(logits, tf.constant([0, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError) as eager:
        loss.python_function(logits, tf.constant([0, 2]))
    assert str(planned.value) == str(eager.value)


def test_keras_lstm_step_plan_equals_eager():
    def make():
        tf.keras.utils.set_random_seed(2)
        model = tf.keras.Sequential([tf.keras.Input((5, 3)), tf.keras.layers.LSTM(4),
                                     tf.keras.layers.Dense(2)])
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = tf.keras.optimizers.SGD(0.1, momentum=0.5)

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return model, step

    rng = np.random.default_rng(3)
    batches = [(tf.constant(rng.standard_normal((4, 5, 3)).astype("float32")),
                tf.constant(rng.integers(0, 2, 4))) for _ in range(3)]
    eager_model, eager_step = make()
    eager = [eager_step(x, y).numpy() for x, y in batches]
    planned_model, planned_step = make()
    planned_step = tf.function(planned_step)
    planned = [planned_step(x, y).numpy() for x, y in batches]
    assert _graph(planned_step).plan, _graph(planned_step).plan_note
    np.testing.assert_array_equal(planned, eager)
    for a, b in zip(planned_model.get_weights(), eager_model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_value_dependent_shape_sends_the_call_op_by_op():
    @tf.function
    def f(x):
        positive = tf.boolean_mask(x, x > 0.0)  # no rule; its size depends on the values
        return tf.reduce_sum(positive * 2.0), positive * 2.0

    f(tf.constant([1.0, -1.0, 2.0]))
    total, doubled = f(tf.constant([3.0, -1.0, 1.0]))  # the plan: same sizes
    assert _graph(f).plan
    total, doubled = f(tf.constant([3.0, 4.0, 1.0]))  # three values pass: another size
    assert float(total) == 16.0 and doubled.numpy().tolist() == [6.0, 8.0, 2.0]
    assert _graph(f).plan is False and "value-dependent" in _graph(f).plan_note


def test_value_dependent_shapes_after_side_effects_get_no_plan():
    counter = tf.Variable(0)

    @tf.function
    def f(x):
        counter.assign_add(1)
        positive = tf.boolean_mask(x, x > 0.0)
        return tf.reduce_sum(positive * 2.0)

    f(tf.constant([1.0, -1.0, 2.0]))
    f(tf.constant([3.0, 4.0, 1.0]))
    assert _graph(f).plan is False and "value-dependent" in _graph(f).plan_note
    assert int(counter.numpy()) == 2


def test_keras_fit_of_an_attention_model_runs_plans_and_equals_eager(fit_as_plan_equals_eager):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 6, 8)).astype("float32")
    y = rng.integers(0, 3, 16)

    def train(run_eagerly):
        tf.keras.utils.set_random_seed(5)
        inputs = tf.keras.Input((6, 8))
        h = tf.keras.layers.LayerNormalization()(inputs)
        h = tf.keras.layers.MultiHeadAttention(2, 4)(h, h)
        h = tf.keras.layers.GlobalMaxPooling1D()(h)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(3, activation="softmax")(h))
        model.compile("adam", "sparse_categorical_crossentropy", run_eagerly=run_eagerly)
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), history.history

    fit_as_plan_equals_eager(train)


def test_a_gradient_shared_by_a_sum_is_not_overwritten():
    """h1 + h2 passes one gradient buffer to both dense layers: the first backward may not
    write into it (the dense backward's in-place activation gradient) while the second needs
    it."""
    rng = np.random.default_rng(0)
    w1 = tf.Variable(rng.standard_normal((3, 4)).astype("float32"))
    w2 = tf.Variable(rng.standard_normal((3, 4)).astype("float32"))

    def f(x, c):
        with tf.GradientTape() as tape:
            h1 = tf.nn.dense(x, w1, activation="relu")
            h2 = tf.nn.dense(x, w2, activation="relu")
            loss = tf.reduce_sum((h1 + h2) * c)
        return tape.gradient(loss, [w1, w2])

    traced = tf.function(f)
    x = tf.constant(rng.standard_normal((5, 3)).astype("float32"))
    c = tf.constant(rng.standard_normal((5, 4)).astype("float32"))
    traced(x, c)
    got = traced(x, c)
    assert _graph(traced).plan
    for g, e in zip(got, f(x, c)):
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_relaxed_shapes_get_a_plan_per_input_shape():
    w = tf.Variable(np.linspace(-1, 1, 12).reshape(4, 3).astype("float32"))

    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.nn.dense(x, w, activation="tanh")))
        return loss, tape.gradient(loss, w)

    traced = tf.function(step, input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    rng = np.random.default_rng(0)
    for rows in (2, 5, 5, 2, 5, 3):
        x = tf.constant(rng.standard_normal((rows, 4)).astype("float32"))
        for got, expected in zip(traced(x), step(x)):
            np.testing.assert_array_equal(got.numpy(), expected.numpy())
    (concrete,) = traced._relaxed if not traced._concrete else traced._concrete.values()
    graph = (concrete[2] if isinstance(concrete, tuple) else concrete).graph
    assert graph.plan is False and graph.shaped_plans is not None
    # each shape's first call replays op by op and compiles; its later calls run the plan
    assert sorted(k[0][0] for k, plan in graph.shaped_plans.items() if plan) == [2, 3, 5]


def test_control_flow_lines_run_inside_a_plan():
    counter = tf.Variable(1.0)

    def f(x, n):
        y = x * 2.0
        if tf.reduce_sum(y) > 0:
            z = y + 1.0
        else:
            z = y - 1.0
        i = tf.constant(0)
        while i < n:
            z = z * 1.5
            i += 1
        counter.assign_add(1.0)
        return tf.reduce_sum(z) + counter

    traced = tf.function(f)
    results = [float(traced(tf.constant(a), tf.constant(k))) for a, k in
               (([1.0, 2.0], 3), ([-3.0, 1.0], 3), ([0.5, 0.5], 2), ([-1.0, -1.0], 0))]
    assert _graph(traced).plan, _graph(traced).plan_note
    assert "L" in _graph(traced).plan.source
    counter.assign(1.0)
    expected = [float(f(tf.constant(a), tf.constant(k))) for a, k in
                (([1.0, 2.0], 3), ([-3.0, 1.0], 3), ([0.5, 0.5], 2), ([-1.0, -1.0], 0))]
    assert results == expected
