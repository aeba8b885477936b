"""tf.TensorArray and tf.switch_case: eager, traced, inside loops, TensorFlow's errors, and
gradients against finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


# --- TensorArray, eagerly ------------------------------------------------------------------
def test_write_read_stack_and_unwritten_zeros():
    ta = tf.TensorArray(tf.float32, size=3)
    ta = ta.write(0, [1.0, 2.0]).write(2, tf.constant([5.0, 6.0]))
    np.testing.assert_array_equal(ta.stack().numpy(), [[1, 2], [0, 0], [5, 6]])
    assert ta.stack().dtype == tf.float32 and int(ta.size()) == 3
    assert ta.size().dtype == tf.int32
    assert ta.element_shape.as_list() == [2]
    np.testing.assert_array_equal(ta.read(1).numpy(), [0.0, 0.0])  # never written: zeros


def test_eager_write_changes_the_array_as_tensorflow_does():
    ta = tf.TensorArray(tf.int32, size=2)
    ta.write(0, 7)  # the result is not used: eagerly the array itself changed
    ta.write(1, 8)
    assert ta.stack().numpy().tolist() == [7, 8]


def test_gather_scatter_unstack_concat_identity():
    rows = np.arange(12.0).reshape(4, 3)
    ta = tf.TensorArray(tf.float64, size=4).unstack(rows)
    np.testing.assert_array_equal(ta.gather([3, 0]).numpy(), rows[[3, 0]])
    ta = tf.TensorArray(tf.float64, size=3).scatter([2, 0], rows[:2])
    np.testing.assert_array_equal(ta.stack().numpy(), [rows[1], np.zeros(3), rows[0]])
    pieces = tf.TensorArray(tf.float32, size=2).write(0, [[1.0, 2.0]]).write(1, [[3.0, 4.0]])
    np.testing.assert_array_equal(pieces.concat().numpy(), [[1, 2], [3, 4]])
    copy = pieces.identity()
    assert copy is not pieces and copy.stack().numpy().tolist() == [[[1, 2]], [[3, 4]]]
    assert int(tf.TensorArray(tf.float32, size=5).unstack(rows).size()) == 4  # as TensorFlow


def test_dynamic_size_grows_and_a_fixed_size_refuses():
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True).write(3, [1.0, 2.0])
    assert int(ta.size()) == 4
    np.testing.assert_array_equal(ta.stack().numpy(), [[0, 0], [0, 0], [0, 0], [1, 2]])
    with pytest.raises(tf.errors.OutOfRangeError, match="index 2 .*size is: 2"):
        tf.TensorArray(tf.float32, size=2).write(2, [1.0])
    with pytest.raises(tf.errors.OutOfRangeError, match="negative indices"):
        tf.TensorArray(tf.float32, size=2).write(-1, [1.0])
    with pytest.raises(tf.errors.OutOfRangeError, match="read from index 5 .*size is: 3"):
        tf.TensorArray(tf.float32, size=3).write(0, [1.0]).read(5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="unstack 2 tensors .* size 1"):
        tf.TensorArray(tf.float32, size=1).unstack([[1.0], [2.0]])


def test_tensorflow_errors_for_dtype_shape_size_and_double_reads():
    with pytest.raises(tf.errors.InvalidArgumentError, match="dtype is float32 .* int32"):
        tf.TensorArray(tf.float32, size=2).write(0, tf.constant([1, 2]))
    with pytest.raises(ValueError, match=r"value \(\(3,\)\), expected \(\(2,\)\)"):
        tf.TensorArray(tf.float32, size=2).write(0, [1.0, 2.0]).write(1, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"Incompatible shape"):
        tf.TensorArray(tf.float32, size=2, element_shape=[3]).write(0, [1.0, 2.0])
    with pytest.raises(ValueError, match="Size must be declared"):
        tf.TensorArray(tf.float32)
    with pytest.raises(ValueError, match="element_shape is unknown"):
        tf.TensorArray(tf.float32, size=2).read(0)
    ta = tf.TensorArray(tf.float32, size=2).write(0, [1.0])
    ta.read(0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not read index 0 twice"):
        ta.read(0)
    kept = tf.TensorArray(tf.float32, size=2, clear_after_read=False).write(0, [1.0])
    assert float(kept.read(0)[0]) == float(kept.read(0)[0]) == 1.0
    assert tf.TensorArray(tf.float32, size=0).stack().shape == (0,)
    assert tf.TensorArray(tf.float32, size=2, element_shape=[3]).stack().shape == (2, 3)


# --- TensorArray in traced functions and loops -----------------------------------------------
def test_the_guide_accumulating_values_in_a_loop():
    def rnn_step(inp, state):
        return inp + state

    @tf.function
    def dynamic_rnn(rnn_step, input_data, initial_state):
        input_data = tf.transpose(input_data, [1, 0, 2])
        max_seq_len = input_data.shape[0]
        states = tf.TensorArray(tf.float32, size=max_seq_len)
        state = initial_state
        for i in tf.range(max_seq_len):
            state = rnn_step(input_data[i], state)
            states = states.write(i, state)
        return tf.transpose(states.stack(), [1, 0, 2])

    rng = np.random.default_rng(1)
    for _ in range(2):
        data = rng.uniform(size=(2, 3, 4)).astype(np.float32)
        out = dynamic_rnn(rnn_step, tf.constant(data), tf.zeros([2, 4]))
        np.testing.assert_allclose(out.numpy(), np.cumsum(data, axis=1), rtol=1e-6)
    assert dynamic_rnn.experimental_get_tracing_count() == 1
    graph = str(dynamic_rnn.get_concrete_function(rnn_step, tf.constant(data),
                                                  tf.zeros([2, 4])).graph)
    assert "while_loop(" in graph and "TensorArray(" in graph


def test_a_dynamic_array_whose_size_depends_on_the_data():
    @tf.function
    def squares(n):
        ta = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        for i in tf.range(n):
            ta = ta.write(i, i * i)
        return ta.stack()

    assert squares(tf.constant(4)).numpy().tolist() == [0, 1, 4, 9]
    assert squares(tf.constant(6)).numpy().tolist() == [0, 1, 4, 9, 16, 25]
    assert squares.experimental_get_tracing_count() == 1


def test_inside_a_tf_while_loop_body_and_errors_at_replay():
    def body(i, ta):
        return i + 1, ta.write(i, tf.cast(i, tf.float32) * 2.0)

    @tf.function
    def doubled(n):
        _, ta = tf.while_loop(lambda i, ta: i < n, body,
                              [tf.constant(0), tf.TensorArray(tf.float32, size=3)])
        return ta.stack()

    assert doubled(tf.constant(3)).numpy().tolist() == [0.0, 2.0, 4.0]
    assert doubled(tf.constant(2)).numpy().tolist() == [0.0, 2.0, 0.0]
    with pytest.raises(tf.errors.OutOfRangeError, match="index 3"):
        doubled(tf.constant(4))  # replayed: the write's check runs at every call
    # the same loop eagerly
    _, ta = tf.while_loop(lambda i, ta: i < 3, body,
                          [tf.constant(0), tf.TensorArray(tf.float32, size=3)])
    assert ta.stack().numpy().tolist() == [0.0, 2.0, 4.0]


def test_traced_write_returns_a_new_array():
    @tf.function
    def f(x):
        ta = tf.TensorArray(tf.float32, size=2, element_shape=[2])
        written = ta.write(0, x)
        return written.stack(), ta.stack()

    new, old = f(tf.constant([1.0, 2.0]))
    assert new.numpy().tolist() == [[1.0, 2.0], [0.0, 0.0]]
    assert old.numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]  # nothing was written to `ta`


@pytest.mark.parametrize("traced", [False, True])
def test_gradient_through_a_loop_that_writes_and_stacks(traced, finite_difference):
    weights = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]])

    def accumulate(x):
        ta = tf.TensorArray(tf.float64, size=3)
        state = tf.zeros([2], tf.float64)
        for i in tf.range(3):
            state = tf.tanh(state * x + x[i % 2])
            ta = ta.write(i, state)
        return tf.reduce_sum(ta.stack() * weights) + tf.reduce_sum(ta.read(1))

    function = tf.function(accumulate) if traced else accumulate
    x0 = np.array([0.3, -0.7])
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = function(x)
    numeric = finite_difference(lambda v: float(accumulate(tf.constant(v))), x0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), numeric, rtol=1e-6, atol=1e-8)


# --- tf.switch_case -------------------------------------------------------------------------
def test_switch_case_eagerly_with_tensorflows_rules():
    x = tf.constant(3.0)
    branches = [lambda: x, lambda: x * 2.0, lambda: x * 3.0]
    expected = {0: 3.0, 1: 6.0, 2: 9.0, 7: 9.0, -1: 9.0}  # out of range: the last branch
    for index, value in expected.items():
        assert float(tf.switch_case(tf.constant(index), branches)) == value
    assert float(tf.switch_case(tf.constant(5), branches, default=lambda: x * 10.0)) == 30.0
    assert float(tf.switch_case(tf.constant(1, tf.int64), {1: lambda: x, 0: lambda: -x})) == 3.0
    pairs = [(0, lambda: x), (1, lambda: x + 1.0)]
    assert float(tf.switch_case(tf.constant(1), pairs)) == 4.0
    with pytest.raises(TypeError, match="'branch_index' must be a Tensor"):
        tf.switch_case(0, branches)
    with pytest.raises(TypeError, match="integer Tensor"):
        tf.switch_case(tf.constant(1.0), branches)
    with pytest.raises(ValueError, match="at least one item"):
        tf.switch_case(tf.constant(0), [])
    with pytest.raises(ValueError, match=r"contiguous range of \[0 to 2\) but found \{0,2\}"):
        tf.switch_case(tf.constant(0), {0: lambda: x, 2: lambda: x})


def test_switch_case_traced_keeps_every_branch():
    calls = []

    @tf.function
    def f(i, x):
        calls.append(1)
        return tf.switch_case(i, [lambda: x * x, lambda: tf.sin(x)], default=lambda: -x)

    x = tf.constant(0.5)
    assert float(f(tf.constant(0), x)) == pytest.approx(0.25)
    assert float(f(tf.constant(1), x)) == pytest.approx(np.sin(0.5))
    assert float(f(tf.constant(9), x)) == pytest.approx(-0.5)
    assert len(calls) == 1 and f.experimental_get_tracing_count() == 1
    assert "switch_case(" in str(f.get_concrete_function(tf.constant(0), x).graph)

    @tf.function
    def mismatched(i):
        return tf.switch_case(i, [lambda: tf.constant(1.0), lambda: tf.constant(1)])

    with pytest.raises(TypeError, match="dtype float32 in branch_fns.0. but int32"):
        mismatched(tf.constant(0))


@pytest.mark.parametrize("index", [0, 1, 4])
def test_gradient_through_a_traced_switch_case(index, finite_difference):
    def pick(i, x):
        return tf.switch_case(i, [lambda: tf.reduce_sum(x * x * x),
                                  lambda: tf.reduce_sum(tf.exp(x) * x)],
                              default=lambda: tf.reduce_prod(x))

    traced = tf.function(pick)
    x0 = np.array([0.4, -1.1, 0.8])
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = traced(tf.constant(index), x)
    numeric = finite_difference(lambda v: float(pick(tf.constant(index), tf.constant(v))), x0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_a_size_given_by_a_tensor_and_rows_of_an_unknown_count():
    @tf.function
    def doubled(n):
        ta = tf.TensorArray(tf.float32, size=n)
        for i in tf.range(n):
            ta = ta.write(i, tf.cast(i, tf.float32) * 2.0)
        return ta.stack(), ta.size()

    for n in (3, 5):
        values, size = doubled(tf.constant(n))
        assert values.numpy().tolist() == [2.0 * i for i in range(n)] and int(size) == n
    assert doubled.experimental_get_tracing_count() == 1

    @tf.function(input_signature=[tf.TensorSpec([None, 2])])
    def rows(x):  # None rows: tf.shape and the loop read the real count at every call
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for i, row in enumerate(x):
            ta = ta.write(i, row * 2.0)
        return ta.concat(), tf.shape(x)

    joined, shape = rows(tf.ones([3, 2]))
    assert joined.shape == (6,) and shape.numpy().tolist() == [3, 2]
    joined, shape = rows(tf.ones([1, 2]))
    assert joined.shape == (2,) and shape.numpy().tolist() == [1, 2]
