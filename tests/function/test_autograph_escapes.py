"""AutoGraph: `break`, `continue` and `return` inside converted `if`/`while`/`for` statements,
`and`/`or`/`not` and `a if c else b` on tensors; each traced once and checked against plain
Python on several inputs, gradients against finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function import OperatorNotAllowedInGraphError


def test_break_in_a_tensor_while_loop():
    @tf.function
    def first_positive(x):
        i = tf.constant(0)
        while i < tf.shape(x)[0]:
            if x[i] > 0:
                break
            i += 1
        return i

    def reference(values):
        return next((i for i, v in enumerate(values) if v > 0), len(values))

    for values in ([-1.0, -2.0, 3.0, 4.0], [5.0, 1.0, 2.0, 3.0], [-1.0, -1.0, -1.0, -1.0]):
        assert int(first_positive(tf.constant(values))) == reference(values)
    assert first_positive.experimental_get_tracing_count() == 1
    assert "while_loop(" in str(first_positive.get_concrete_function(tf.constant(values)).graph)


def test_continue_in_a_for_loop_over_a_tensor():
    @tf.function
    def sum_of_positives(x):
        total = tf.constant(0.0)
        count = tf.constant(0)
        for v in x:
            if v < 0:
                continue
            total += v
            count += 1
        return total, count

    for values in ([1.0, -2.0, 3.0], [-1.0, 5.0, -7.0], [-1.0, -2.0, -3.0]):
        total, count = sum_of_positives(tf.constant(values))
        positives = [v for v in values if v >= 0]
        assert float(total) == sum(positives) and int(count) == len(positives)
    assert sum_of_positives.experimental_get_tracing_count() == 1


def test_return_in_if_elif_else_on_tensors():
    @tf.function
    def sign(x):
        if x > 0:
            return 1.0
        elif x < 0:
            return -1.0
        return 0.0

    assert [float(sign(tf.constant(v))) for v in (3.0, -2.0, 0.0)] == [1.0, -1.0, 0.0]
    assert sign.experimental_get_tracing_count() == 1


def test_return_from_inside_a_loop_over_tf_range():
    @tf.function
    def find(x, target):
        for i in tf.range(tf.shape(x)[0]):
            if x[i] == target:
                return i
        return -1

    x = tf.constant([4, 5, 6, 5])
    assert [int(find(x, tf.constant(t))) for t in (4, 5, 6, 9)] == [0, 1, 2, -1]
    assert find.experimental_get_tracing_count() == 1


def test_return_and_break_in_nested_loops():
    @tf.function
    def scan(x):
        total = tf.constant(0.0)
        for row in x:
            for v in row:
                if v < 0:
                    break  # ends the inner loop only
                total += v
            if total > 10.0:
                return total * 100.0
        return total

    def reference(rows):
        total = 0.0
        for row in rows:
            for v in row:
                if v < 0:
                    break
                total += v
            if total > 10.0:
                return total * 100.0
        return total

    for rows in ([[1.0, -1.0, 5.0], [2.0, 3.0, -1.0]], [[4.0, 5.0, 6.0], [1.0, 1.0, 1.0]],
                 [[-1.0, 9.0, 9.0], [3.0, -2.0, 50.0]]):
        assert float(scan(tf.constant(rows))) == pytest.approx(reference(rows))
    assert scan.experimental_get_tracing_count() == 1


def test_while_true_with_a_tensor_break_becomes_a_graph_loop():
    @tf.function
    def halvings(x):
        n = tf.constant(0)
        while True:
            x = x / 2.0
            n += 1
            if x < 1.0:
                break
        return n

    assert [int(halvings(tf.constant(v))) for v in (10.0, 1.5, 100.0)] == [4, 1, 7]
    assert halvings.experimental_get_tracing_count() == 1


def test_a_python_loop_with_a_tensor_break_is_unrolled_with_guards():
    @tf.function
    def count_up(limit):
        acc = tf.constant(0.0)
        for _ in range(5):
            if acc > limit:
                break
            acc += 1.0
        return acc

    assert [float(count_up(tf.constant(v))) for v in (2.5, 10.0, -1.0)] == [3.0, 5.0, 0.0]
    assert count_up.experimental_get_tracing_count() == 1


def test_python_loops_with_jumps_keep_python_semantics():
    seen = []

    @tf.function
    def f(x, items):
        for item in items:
            if item == "skip":
                continue
            if item == "stop":
                break
            seen.append(item)
            x = x + 1.0
        else:
            x = x * 100.0
        return x

    assert float(f(tf.constant(0.0), ("a", "skip", "b", "stop", "c"))) == 2.0
    assert seen == ["a", "b"]
    assert float(f(tf.constant(0.0), ("a",))) == 100.0


def test_for_else_and_while_else_on_tensors():
    @tf.function
    def all_small(x):
        result = tf.constant(False)
        for v in x:
            if v > 10:
                break
        else:
            result = tf.constant(True)
        return result

    assert bool(all_small(tf.constant([1, 2]))) and not bool(all_small(tf.constant([1, 20])))


def test_and_or_not_and_conditional_expressions_on_tensors():
    @tf.function
    def f(x, y):
        if x > 0 and y > 0:
            r = x + y
        elif not x > 0 or y < -5:
            r = x - y
        else:
            r = x * y
        return r if r > 0 else -r

    def reference(x, y):
        if x > 0 and y > 0:
            r = x + y
        elif not x > 0 or y < -5:
            r = x - y
        else:
            r = x * y
        return abs(r)

    for x, y in ((1.0, 2.0), (-1.0, 2.0), (1.0, -2.0), (1.0, -6.0)):
        assert float(f(tf.constant(x), tf.constant(y))) == reference(x, y)
    assert f.experimental_get_tracing_count() == 1

    @tf.function
    def guarded(x, i):  # `and` is lazy: x[i] is not read once i is out of range
        while i < 3 and x[i] > 0:
            i += 1
        return i

    assert int(guarded(tf.constant([1.0, 2.0, 3.0]), tf.constant(0))) == 3
    assert int(guarded(tf.constant([1.0, -2.0, 3.0]), tf.constant(0))) == 1


def test_tuple_targets_unpack_tensor_rows():
    @tf.function
    def dot_pairs(x):
        total = tf.constant(0.0)
        for a, b in x:
            total += a * b
        return total

    assert float(dot_pairs(tf.constant([[1.0, 2.0], [3.0, 4.0]]))) == 14.0


def test_a_path_without_return_under_a_tensor_condition_is_refused():
    @tf.function
    def f(x):
        if x > 0:
            return x

    with pytest.raises(TypeError, match=r"AutoGraph.*line \d+.*every path"):
        f(tf.constant(1.0))


@pytest.mark.parametrize("limit", [0.5, 1.7, 50.0])  # break at 0, at 2 after a continue; return
def test_gradient_through_break_continue_and_return(limit, finite_difference):
    def grow(x):
        y = x
        for i in tf.range(6):
            if tf.reduce_sum(y) > limit:
                break
            if i == 4:
                return tf.reduce_sum(y * y)
            if i == 1:
                y = y + x * x
                continue
            y = y * x + 0.1
        return tf.reduce_sum(tf.sin(y))

    traced = tf.function(grow)
    x0 = np.array([0.6, 0.9])
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = traced(x)
    assert float(value) == pytest.approx(float(grow(x)))  # traced equals eager
    numeric = finite_difference(lambda v: float(grow(tf.constant(v))), x0)
    np.testing.assert_allclose(tape.gradient(value, x).numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_the_converted_code_is_readable():
    def f(x):
        while x > 1:
            if x > 100:
                break
            x = x / 2
        return x

    code = tf.autograph.to_code(f)
    assert "__break_1 = True" in code and "while_stmt" in code and "if_stmt" in code


def test_do_not_convert_leaves_python_semantics():
    @tf.autograph.experimental.do_not_convert
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(OperatorNotAllowedInGraphError, match=r"test_autograph_escapes.py"):
        tf.function(f)(tf.constant(1.0))


def test_a_variable_first_assigned_after_a_break_is_named():
    @tf.function
    def f(x):
        for v in x:
            if v > 2:
                break
            last = v * 2  # noqa: F841 - defined only inside the loop: the point of the test
        return x

    with pytest.raises(ValueError, match=r"`last` must have a value before"):
        f(tf.constant([1.0, 3.0]))


def test_a_tensor_array_through_a_traced_cond():
    @tf.function
    def f(flag, x):
        ta = tf.TensorArray(tf.float32, size=2)
        if flag:
            ta = ta.write(0, x)
        else:
            ta = ta.write(1, x * 2.0)
        return ta.stack()

    x = tf.constant([1.0, 2.0])
    assert f(tf.constant(True), x).numpy().tolist() == [[1.0, 2.0], [0.0, 0.0]]
    assert f(tf.constant(False), x).numpy().tolist() == [[0.0, 0.0], [2.0, 4.0]]
    assert f.experimental_get_tracing_count() == 1


def test_range_and_enumerate_over_tensors_become_graph_loops():
    @tf.function
    def weighted(x):
        total = tf.constant(0.0)
        for i in range(tf.shape(x)[0]):
            total += tf.cast(i, tf.float32) * x[i]
        for i, v in enumerate(x, 1):
            if v < 0:
                break
            total += tf.cast(i, tf.float32)
        return total

    def reference(values):
        total = sum(i * v for i, v in enumerate(values))
        for i, v in enumerate(values, 1):
            if v < 0:
                break
            total += i
        return total

    for values in ([1.0, 2.0, 3.0], [2.0, -1.0, 5.0, 4.0]):
        assert float(weighted(tf.constant(values))) == reference(values)
    assert weighted.experimental_get_tracing_count() == 2  # two shapes
    assert "while_loop(" in str(weighted.get_concrete_function(tf.constant([1.0])).graph)

    @tf.function
    def python_range(x):
        for k in range(3):  # Python numbers: unrolled, as in TensorFlow
            x = x + k
        return x

    assert float(python_range(tf.constant(0.0))) == 3.0


_LAZY = None


def test_a_global_assigned_in_a_converted_statement_is_the_global():
    @tf.function
    def scaled(x):
        global _LAZY
        if _LAZY is None:
            _LAZY = tf.Variable(3.0)
        return x * _LAZY

    assert float(scaled(tf.constant(2.0))) == 6.0
    assert isinstance(_LAZY, tf.Variable)
    _LAZY.assign(4.0)
    assert float(scaled(tf.constant(2.0))) == 8.0


def test_a_function_ending_in_a_with_block_returns_on_every_path():
    @tf.function
    def in_scope(x):
        if x > 0:
            return x
        with tf.device("CPU:0"):
            return -x * 2.0

    assert [float(in_scope(tf.constant(v))) for v in (2.0, -1.0)] == [2.0, 2.0]


def test_an_attribute_assigned_under_a_tensor_condition_is_refused():
    class Counter:
        def __init__(self):
            self.hits = 0

        @tf.function
        def update(self, x):
            if x > 0:
                self.hits = self.hits + 1  # would keep a traced value: refused
            return x

        @tf.function
        def python_flag(self, x, flag):
            if flag:  # a Python condition: plain Python, allowed
                self.hits = self.hits + 1
            return x

    counter = Counter()
    with pytest.raises(OperatorNotAllowedInGraphError, match=r"line \d+ .*attribute `hits`"):
        counter.update(tf.constant(1.0))
    assert counter.hits == 0  # put back
    counter.python_flag(tf.constant(1.0), True)
    assert counter.hits == 1
