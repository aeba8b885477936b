"""tf.function's tracing semantics, as TensorFlow's "Better performance with tf.function" guide
shows them: side effects once, tf.print every call, retracing rules, input_signature, the
variable creation rule, errors for Python decisions on tensor values, tapes inside and outside.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function import OperatorNotAllowedInGraphError


def test_python_side_effects_run_once_and_tf_print_every_call(capsys):
    traces = []

    @tf.function
    def f(x):
        traces.append(1)
        tf.print("value", x)
        return x + 1.0

    assert float(f(tf.constant(1.0))) == 2.0
    assert float(f(tf.constant(5.0))) == 6.0
    assert float(f(tf.constant(7.0))) == 8.0
    assert traces == [1]
    printed = capsys.readouterr().out.split("\n")
    assert printed[:3] == ["value 1.0", "value 5.0", "value 7.0"]


def test_retracing_follows_the_signature():
    @tf.function
    def double(a):
        return a + a

    double(tf.constant(1))
    double(tf.constant(2))  # same dtype and shape: no retrace
    assert double.experimental_get_tracing_count() == 1
    assert double(tf.constant(1.5)).dtype == tf.float32  # new dtype
    assert double.experimental_get_tracing_count() == 2
    double(tf.constant([1.0, 2.0]))  # new shape
    assert double.experimental_get_tracing_count() == 3
    assert double("a") == "aa"  # Python values trace by value
    assert double("b") == "bb"
    assert double.experimental_get_tracing_count() == 5
    double("a")
    assert double.experimental_get_tracing_count() == 5


def test_replay_does_not_run_python_and_uses_new_values():
    calls = []

    @tf.function
    def f(x, y):
        calls.append(1)
        return tf.matmul(x, y) * 2.0

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    f(tf.constant(a), tf.constant(b))
    c, d = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(f(tf.constant(c), tf.constant(d)).numpy(), 2 * c @ d, rtol=1e-5)
    assert len(calls) == 1


def test_input_signature_accepts_any_batch_and_refuses_other_shapes():
    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.int32)])
    def next_collatz(x):
        tf.print("Tracing with", x)
        return tf.where(x % 2 == 0, x // 2, 3 * x + 1)

    np.testing.assert_array_equal(next_collatz(tf.constant([1, 2])).numpy(), [4, 1])
    np.testing.assert_array_equal(next_collatz(tf.constant([3, 4, 5])).numpy(), [10, 2, 16])
    assert next_collatz.experimental_get_tracing_count() == 1
    with pytest.raises(TypeError, match="incompatible with input_signature"):
        next_collatz(tf.constant([[1, 2], [3, 4]]))
    with pytest.raises(TypeError, match="incompatible with input_signature"):
        next_collatz(tf.constant([1.0, 2.0]))


def test_unknown_dimensions_read_as_none_while_tracing():
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        seen.append(tuple(x.shape))
        return tf.reduce_sum(x, axis=1)

    f(tf.ones([2, 3]))
    np.testing.assert_allclose(f(tf.ones([5, 3])).numpy(), [3.0] * 5)
    assert seen == [(None, 3)]


def test_reduce_retracing_relaxes_the_dimension_that_changed():
    @tf.function(reduce_retracing=True)
    def f(x):
        return x * 2.0

    f(tf.ones([2]))
    f(tf.ones([3]))  # traced again, with the changed dimension as None
    f(tf.ones([7]))
    np.testing.assert_allclose(f(tf.ones([9])).numpy(), [2.0] * 9)
    assert f.experimental_get_tracing_count() == 2


def test_concrete_function_and_its_printed_graph():
    @tf.function
    def f(x, y):
        return tf.reduce_sum(x * y + 1.0, axis=1)

    concrete = f.get_concrete_function(tf.TensorSpec([None, 2], tf.float32),
                                       tf.TensorSpec([None, 2], tf.float32))
    text = str(concrete.graph)
    assert "multiply(%0, %1)" in text and "reduce_sum(" in text and "axis=1" in text
    assert "float32[?,2]" in text
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_allclose(concrete(x, x).numpy(), [7.0, 27.0, 63.0])
    assert f.get_concrete_function(tf.TensorSpec([None, 2], tf.float32),
                                   tf.TensorSpec([None, 2], tf.float32)) is concrete
    assert f.python_function(x, x).numpy().tolist() == [7.0, 27.0, 63.0]


def test_concrete_function_from_specs_does_not_run_stateful_calls(capsys):
    v = tf.Variable(1.0)

    @tf.function
    def f(x):
        tf.print("side effect")
        v.assign_add(x)
        return v.read_value()

    f.get_concrete_function(tf.TensorSpec([], tf.float32))
    assert float(v) == 1.0 and capsys.readouterr().out == ""
    assert float(f(tf.constant(2.0))) == 3.0  # the graph (a replay) runs both
    assert "side effect" in capsys.readouterr().out


def test_python_bool_of_a_tensor_is_refused_naming_the_line():
    @tf.function(autograph=False)
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(OperatorNotAllowedInGraphError, match=r"test_tracing.py:\d+ in f"):
        f(tf.constant(1.0))

    @tf.function(autograph=False)  # with AutoGraph the loop becomes a tf.while_loop
    def loop(n):
        total = tf.constant(0)
        for i in tf.range(n):
            total += i
        return total

    with pytest.raises(OperatorNotAllowedInGraphError, match="Iterating over"):
        loop(tf.constant(3))

    @tf.function
    def g(x):
        return float(x) * 2

    with pytest.raises(OperatorNotAllowedInGraphError, match="Reading the value"):
        g(tf.constant(1.0))


def test_python_conditions_stay_python():
    @tf.function
    def f(x, training):
        if training:
            return x * 2.0
        return x

    assert float(f(tf.constant(3.0), True)) == 6.0
    assert float(f(tf.constant(3.0), False)) == 3.0
    assert f.experimental_get_tracing_count() == 2


def test_variables_only_on_the_first_trace():
    @tf.function
    def f(x):
        v = tf.Variable(1.0)
        return v + x

    # TensorFlow traces a function that created variables once more, and this one creates
    # another: the first call already raises (the guide's "Creating tf.Variables")
    with pytest.raises(ValueError, match="singleton tf.Variables created on the first call"):
        f(tf.constant(1.0))

    class Count(tf.Module):
        def __init__(self):
            self.count = None

        @tf.function
        def __call__(self):
            if self.count is None:
                self.count = tf.Variable(0)
            return self.count.assign_add(1)

    counter = Count()
    assert [int(counter()) for _ in range(3)] == [1, 2, 3]
    assert counter.__call__.experimental_get_tracing_count() == 2  # as TensorFlow counts


def test_variables_are_read_at_every_call():
    v = tf.Variable(2.0)

    @tf.function
    def f(x):
        return v * x

    assert float(f(tf.constant(3.0))) == 6.0
    v.assign(5.0)
    assert float(f(tf.constant(3.0))) == 15.0


def test_methods_are_traced_per_instance():
    class Scale(tf.Module):
        def __init__(self, factor):
            self.factor = tf.Variable(factor)

        @tf.function
        def __call__(self, x):
            return x * self.factor

    a, b = Scale(2.0), Scale(3.0)
    assert float(a(tf.constant(1.0))) == 2.0 and float(b(tf.constant(1.0))) == 3.0
    assert float(a(tf.constant(2.0))) == 4.0 and float(b(tf.constant(2.0))) == 6.0
    assert a.__call__.experimental_get_tracing_count() == 1


def test_run_functions_eagerly_runs_the_body_each_call():
    calls = []

    @tf.function
    def f(x):
        calls.append(1)
        assert tf.executing_eagerly()
        return x

    tf.config.run_functions_eagerly(True)
    try:
        f(tf.constant(1.0))
        f(tf.constant(1.0))
    finally:
        tf.config.run_functions_eagerly(False)
    assert len(calls) == 2 and f.experimental_get_tracing_count() == 0


def test_random_ops_draw_new_numbers_at_every_call():
    g = tf.random.Generator.from_seed(1)

    @tf.function
    def f():
        return g.normal([3]), tf.random.uniform([3])

    (a, b), (c, d) = f(), f()
    assert not np.allclose(a.numpy(), c.numpy()) and not np.allclose(b.numpy(), d.numpy())


def test_tape_inside_a_traced_training_step_matches_eager():
    def make():
        rng = np.random.default_rng(3)
        w = tf.Variable(rng.normal(size=(3, 2)))
        b = tf.Variable(np.zeros(2))
        return w, b

    def step(w, b, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.nn.relu(x @ w + b) - y))
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(0.1 * dw)
        b.assign_sub(0.1 * db)
        return loss

    rng = np.random.default_rng(4)
    batches = [(tf.constant(rng.normal(size=(4, 3))), tf.constant(rng.normal(size=(4, 2))))
               for _ in range(5)]
    eager_w, eager_b = make()
    traced_w, traced_b = make()
    traced = tf.function(step)
    for x, y in batches:
        expected = step(eager_w, eager_b, x, y)
        np.testing.assert_allclose(traced(traced_w, traced_b, x, y).numpy(), expected.numpy(),
                                   rtol=1e-12)
    np.testing.assert_allclose(traced_w.numpy(), eager_w.numpy(), rtol=1e-12)
    assert traced.experimental_get_tracing_count() == 1


def test_gradient_of_a_traced_function_under_an_outer_tape():
    @tf.function
    def f(x):
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        return inner.gradient(y, x)  # 3x², whose derivative is 6x

    for value in (2.0, 3.0):  # the trace, then a replay
        x = tf.constant(value)
        with tf.GradientTape() as outer:
            outer.watch(x)
            dy = f(x)
        assert float(dy) == 3 * value ** 2
        assert float(outer.gradient(dy, x)) == 6 * value


def test_keras_training_step_under_tf_function_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.int64)
    model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"),
                                 tf.keras.layers.Dense(2)])
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam(0.05)
    accuracy = tf.keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        accuracy(labels, predictions)
        return loss

    losses = [float(train_step(tf.constant(x), tf.constant(y))) for _ in range(30)]
    assert train_step.experimental_get_tracing_count() == 1
    assert losses[-1] < losses[0] * 0.5
    assert float(accuracy.result()) > 0.8


def test_init_scope_and_executing_eagerly():
    seen = []

    @tf.function
    def f(x):
        seen.append(tf.executing_eagerly())
        with tf.init_scope():
            seen.append(tf.executing_eagerly())
        return x

    f(tf.constant(1.0))
    assert seen == [False, True]


def test_py_function_and_numpy_function_run_at_every_call():
    seen = []

    def record(x):
        seen.append(float(x.numpy()))
        return x * 2.0

    @tf.function
    def f(x):
        doubled = tf.py_function(record, [x], tf.float32)
        halved = tf.numpy_function(lambda a: a / 2, [x], tf.float32)
        return doubled + halved

    assert float(f(tf.constant(2.0))) == 5.0
    assert float(f(tf.constant(4.0))) == 10.0
    assert seen == [2.0, 4.0] and f.experimental_get_tracing_count() == 1
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.function(lambda v: tf.py_function(lambda t: t * t, [v], tf.float32))(x)
    assert float(tape.gradient(y, x)) == 6.0


def test_stop_recording_inside_a_traced_function():
    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
            with tape.stop_recording():
                z = x * 10.0  # not differentiated
            total = y + z
        return tape.gradient(total, x)

    for value in (3.0, 5.0):  # the trace, then a replay
        assert float(f(tf.constant(value))) == 2 * value


def test_a_tensor_leaked_out_of_a_trace_is_out_of_scope_as_in_tensorflow():
    leaked = []

    @tf.function
    def leaky(a):
        b = a + 1
        leaked.append(b)  # bad: escapes the function without being returned
        return b

    result = leaky(tf.constant(1))
    assert int(result) == 2  # the returned value is the caller's
    assert int(leaky(tf.constant(5))) == 6  # replayed: the leaked tensor would be stale
    x = leaked[0]
    assert x.shape == () and x.dtype == tf.int32  # its shape and dtype still read
    with pytest.raises(AttributeError, match="leaked out of a tf.function"):
        x.numpy()
    with pytest.raises(TypeError, match="out of scope"):
        x + 1
    with pytest.raises(TypeError, match="out of scope"):
        float(x)

    @tf.function
    def captures_leaked_tensor(c):
        return c + x

    with pytest.raises(TypeError, match="out of scope"):
        captures_leaked_tensor(tf.constant(2))


def test_under_an_outer_tape_the_traced_tensors_stay_usable_for_its_gradient():
    kept = []

    @tf.function
    def f(a):
        b = a * a
        kept.append(b)
        return b * 3.0

    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    assert float(tape.gradient(y, x)) == 12.0
    assert float(kept[0]) == 4.0  # the outer tape's records hold it: not poisoned
