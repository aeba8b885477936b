"""The buffers a replay plan keeps from call to call (tensorflowish/function/plan_buffers.py):
used where values stay inside the call, never for a value that leaves it (returned, held by a
variable, handed to Python), and never shared by two calls running at once (threads, a plan
running inside itself)."""

from __future__ import annotations

import threading

import numpy as np

import tensorflowish as tf


def _graph(function):
    (concrete,) = function._concrete.values()
    return concrete.graph


def _layer(seed=0, features=12, units=16, classes=5):
    rng = np.random.default_rng(seed)
    w1 = tf.Variable(rng.standard_normal((features, units)).astype("float32"))
    b1 = tf.Variable(rng.uniform(-0.1, 0.1, units).astype("float32"))
    w2 = tf.Variable(rng.standard_normal((units, classes)).astype("float32"))
    return w1, b1, w2


def _inputs(count, seed=1, n=8, features=12):
    rng = np.random.default_rng(seed)
    return [tf.constant(rng.standard_normal((n, features)).astype("float32"))
            for _ in range(count)]


def _poison(function):
    plan = _graph(function).plan
    assert plan and plan.buffers, "the plan keeps no buffers: nothing is tested"
    for buffer in plan.buffers:
        buffer.fill(np.nan)


def test_training_step_computes_into_kept_buffers_and_equals_eager():
    """A training step's GEMM results and gradients go into the plan's buffers (allocated
    once), poisoned between calls, with eager's results bit for bit."""
    labels = tf.constant(np.arange(8) % 5)

    def make():
        w1, b1, w2 = _layer()
        variables = [w1, b1, w2]
        optimizer = tf.keras.optimizers.SGD(0.1)

        def step(x):
            with tf.GradientTape() as tape:
                h = tf.nn.dense(x, w1, b1, activation="relu")
                logits = tf.matmul(h, w2)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss
        return step, variables

    eager_step, eager_vars = make()
    traced_step, traced_vars = make()
    traced_step = tf.function(traced_step)
    batches = _inputs(5)
    losses = []
    for number, x in enumerate(batches):
        if number == 2:
            plan = _graph(traced_step).plan
            assert "out=(P" in plan.source and len(plan.buffers) >= 5
            kept = [id(buffer) for buffer in plan.buffers]
        if number >= 2:
            _poison(traced_step)
        losses.append(traced_step(x).numpy())
    assert [id(buffer) for buffer in _graph(traced_step).plan.buffers] == kept
    for x, loss in zip(batches, losses):
        assert eager_step(x).numpy() == loss
    for eager, traced in zip(eager_vars, traced_vars):
        np.testing.assert_array_equal(traced.numpy(), eager.numpy())


def test_returned_values_never_live_in_kept_buffers():
    """Results of one call (activations, gradients, a sum of gradients) stay as they were after
    later calls, while values that stay inside use the plan's buffers."""
    w1, b1, w2 = _layer()

    def function(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            h = tf.nn.dense(x, w1, b1, activation="relu")
            y = tf.matmul(h, w2)
            z = y * y + y  # an elementwise chain that dies inside
            loss = tf.reduce_sum(z)
        dx, dw1, dw2 = tape.gradient(loss, [x, w1, w2])
        return h, dx, dw1 + dw1, tf.reduce_sum(dw2)

    traced = tf.function(function)
    first, second, third = _inputs(3, seed=2)
    traced(first)
    results = traced(first)  # the plan's first call
    _poison(traced)
    copies = [r.numpy().copy() for r in results]
    traced(second)
    traced(third)
    for result, copy in zip(results, copies):
        np.testing.assert_array_equal(result.numpy(), copy)
    for got, want in zip(traced(third), function(third)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_values_stored_into_variables_are_not_kept_buffers():
    """A value assigned to a variable (and a snapshot read from it) does not change when later
    calls run; the optimiser's updates leave an earlier snapshot alone."""
    w1, b1, w2 = _layer()
    store = tf.Variable(np.zeros((8, 5), "float32"))
    optimizer = tf.keras.optimizers.SGD(0.01, momentum=0.9)

    def function(x):
        with tf.GradientTape() as tape:
            y = tf.matmul(tf.nn.dense(x, w1, b1, activation="relu"), w2)
            loss = tf.reduce_sum(y * y)
        store.assign(y)
        optimizer.apply_gradients(zip(tape.gradient(loss, [w1, w2]), [w1, w2]))
        return loss

    traced = tf.function(function)
    batches = _inputs(4, seed=3)
    traced(batches[0])
    traced(batches[1])
    _poison(traced)
    snapshot, weights = tf.identity(store), w1.value()
    copies = snapshot.numpy().copy(), weights.numpy().copy()
    expected = store.numpy().copy()
    traced(batches[2])
    traced(batches[3])
    np.testing.assert_array_equal(snapshot.numpy(), copies[0])
    np.testing.assert_array_equal(weights.numpy(), copies[1])
    np.testing.assert_array_equal(copies[0], expected)
    assert not np.array_equal(store.numpy(), expected)


def test_two_threads_calling_one_plan_get_their_own_results():
    w1, b1, w2 = _layer()

    def function(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.matmul(tf.nn.dense(x, w1, b1, activation="tanh"), w2)
            loss = tf.reduce_sum(y * y)
        return loss, tf.reduce_sum(tape.gradient(loss, x) * x)

    traced = tf.function(function)
    batches = _inputs(6, seed=4, n=64, features=12)
    expected = [[v.numpy() for v in function(x)] for x in batches]
    traced(batches[0])
    traced(batches[0])
    assert _graph(traced).plan.buffers
    failures = []
    start = threading.Barrier(2)

    def worker(order):
        start.wait()
        for _ in range(40):
            for index in order:
                got = [v.numpy() for v in traced(batches[index])]
                if got != expected[index]:
                    failures.append((index, got, expected[index]))

    threads = [threading.Thread(target=worker, args=(order,))
               for order in (range(6), range(5, -1, -1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_plan_running_inside_itself_uses_fresh_buffers():
    """The function calls itself (same signature, so the same plan) through a py_function
    while its own value `h` waits in a buffer: the inner call must not overwrite it."""
    w1, b1, w2 = _layer()
    depth = {"inner": False, "calls": 0}

    def python_side(x):
        if not depth["inner"] and depth["calls"] >= 2:
            depth["inner"] = True
            try:
                return traced(x * 2.0)
            finally:
                depth["inner"] = False
        return tf.constant(1.0)

    def function(x):
        h = tf.matmul(tf.nn.dense(x, w1, b1, activation="relu"), w2)
        inner = tf.py_function(python_side, [x], tf.float32)
        return tf.reduce_sum(h * h) + inner

    traced = tf.function(function)
    x = _inputs(1, seed=5)[0]
    for _ in range(2):
        traced(x)
        depth["calls"] += 1
    assert _graph(traced).plan.buffers
    _poison(traced)
    got = traced(x).numpy()

    def eager(x):
        return tf.reduce_sum(tf.square(tf.matmul(tf.nn.dense(x, w1, b1, activation="relu"),
                                                 w2)))
    assert got == (eager(x) + eager(x * 2.0) + 1.0).numpy()


def test_a_traced_function_calling_another_equals_eager():
    w1, b1, w2 = _layer()

    @tf.function
    def inner(x):
        return tf.reduce_sum(tf.square(tf.matmul(tf.nn.dense(x, w1, b1, activation="relu"),
                                                 w2)))

    @tf.function
    def outer(x):
        h = tf.matmul(x, w1)
        return inner(x) + inner(x * 0.5) + tf.reduce_sum(h * h)

    batches = _inputs(4, seed=6)
    for x in batches:
        expected = (inner.python_function(x) + inner.python_function(x * 0.5) +
                    tf.reduce_sum(tf.square(tf.matmul(x, w1))))
        assert outer(x).numpy() == expected.numpy()
        assert inner(x).numpy() == inner.python_function(x).numpy()


def test_gradients_a_custom_optimiser_keeps_are_not_kept_buffers():
    """An optimiser whose update holds on to its gradients: the plan must not reuse them."""
    kept = []

    class Keeping(tf.keras.optimizers.SGD):
        def _apply_updates(self, grads, variables, learning_rate, step):
            kept.extend(grads)
            super()._apply_updates(grads, variables, learning_rate, step)

    w1, b1, w2 = _layer()
    optimizer = Keeping(0.01)

    def function(x):
        with tf.GradientTape() as tape:
            y = tf.matmul(tf.nn.dense(x, w1, b1, activation="relu"), w2)
            loss = tf.reduce_sum(y * y)
        optimizer.apply_gradients(zip(tape.gradient(loss, [w1, w2]), [w1, w2]))
        return loss

    traced = tf.function(function)
    batches = _inputs(4, seed=7)
    traced(batches[0])
    traced(batches[1])
    assert len(kept) == 4 and "U" in _graph(traced).plan.source  # the update is lowered
    copies = [np.array(grad) for grad in kept[-2:]]
    traced(batches[2])
    traced(batches[3])
    for grad, copy in zip(kept[-6:-4], copies):
        np.testing.assert_array_equal(grad, copy)


def test_elementwise_chains_and_their_gradients_use_kept_buffers():
    scale = tf.constant(np.linspace(0.5, 1.5, 12).astype("float64"))

    def function(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * scale + 1.0
            z = tf.tanh(y) * y - tf.exp(-y)
            total = tf.reduce_sum(tf.reduce_mean(z * z, axis=0))
        g = tape.gradient(total, x)
        return total, tf.reduce_sum(g * g)

    traced = tf.function(function)
    rng = np.random.default_rng(8)
    batches = [tf.constant(rng.standard_normal((6, 12))) for _ in range(4)]
    traced(batches[0])
    traced(batches[0])
    source = _graph(traced).plan.source
    assert ", out=P" in source and "out=(P" in source  # the chain's results, a mean's
    for x in batches:
        _poison(traced)
        for got, want in zip(traced(x), function(x)):
            assert got.numpy() == want.numpy()


def test_values_handed_to_control_flow_and_tensor_arrays_are_not_kept_buffers():
    """A loop line (a TensorArray filled from a lowered matmul's result) sees the plan's values
    as Tensors: they leave the plan's hands, so the stacked result of one call survives the
    next."""
    w1, _, _ = _layer()

    def function(x):
        h = tf.matmul(x, w1)
        ta = tf.TensorArray(tf.float32, size=3)
        for i in tf.range(3):
            ta = ta.write(i, h * tf.cast(i + 1, tf.float32))
        return ta.stack(), tf.reduce_sum(h * h)

    traced = tf.function(function)
    first, second = _inputs(2, seed=9)
    traced(first)
    stacked, total = traced(first)
    assert _graph(traced).plan
    copies = stacked.numpy().copy(), total.numpy().copy()
    for got, want in zip(traced(second), function(second)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(stacked.numpy(), copies[0])
    assert total.numpy() == copies[1]
    np.testing.assert_array_equal(copies[0], function(first)[0].numpy())


def test_two_threads_calling_a_convolution_plan_get_their_own_results():
    rng = np.random.default_rng(10)
    kernel = tf.Variable(rng.standard_normal((3, 3, 3, 8)).astype("float32"))

    def function(x):
        with tf.GradientTape() as tape:
            y = tf.nn.conv(x, kernel, None, padding="SAME", activation="relu")
            loss = tf.reduce_sum(tf.square(tf.nn.max_pool2d(y, 2, 2, "VALID")))
        return loss, tf.reduce_sum(tape.gradient(loss, kernel))

    traced = tf.function(function)
    batches = [tf.constant(rng.standard_normal((4, 12, 12, 3)).astype("float32"))
               for _ in range(4)]
    expected = [[v.numpy() for v in function(x)] for x in batches]
    traced(batches[0])
    traced(batches[0])
    assert "out=(P" in _graph(traced).plan.source
    failures = []

    def worker(order):
        for _ in range(15):
            for index in order:
                if [v.numpy() for v in traced(batches[index])] != expected[index]:
                    failures.append(index)

    threads = [threading.Thread(target=worker, args=(order,))
               for order in (range(4), range(3, -1, -1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
