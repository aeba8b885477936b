"""AutoGraph: `if`/`while` on tensor conditions become tf.cond / tf.while_loop, Python conditions
stay Python, and what is not converted fails with the line named."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function import OperatorNotAllowedInGraphError


def test_if_on_a_tensor_becomes_a_cond():
    @tf.function
    def f(x):
        if tf.reduce_sum(x) > 0:
            y = x * x
        else:
            y = -x
        return y

    np.testing.assert_allclose(f(tf.constant([1.0, 2.0])).numpy(), [1.0, 4.0])
    np.testing.assert_allclose(f(tf.constant([-1.0, -2.0])).numpy(), [1.0, 2.0])
    assert f.experimental_get_tracing_count() == 1
    assert "cond(" in str(f.get_concrete_function(tf.constant([1.0, 2.0])).graph)


def test_while_and_nested_if_on_tensors_the_collatz_example():
    @tf.function
    def collatz(n):
        steps = tf.constant(0)
        while n > 1:
            if n % 2 == 0:
                n = n // 2
            else:
                n = 3 * n + 1
            steps += 1
        return steps

    def reference(n):
        steps = 0
        while n > 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        return steps

    for n in (6, 27, 1, 7):
        assert int(collatz(tf.constant(n))) == reference(n)
    assert collatz.experimental_get_tracing_count() == 1


def test_python_conditions_stay_python_and_closures_are_read():
    scale = 3.0

    @tf.function
    def f(x, training):
        if training:
            x = x * scale
        return x

    assert float(f(tf.constant(1.0), True)) == 3.0
    assert float(f(tf.constant(1.0), False)) == 1.0
    assert "cond(" not in str(f.get_concrete_function(tf.constant(1.0), True).graph)


def test_for_over_a_tensor_becomes_a_while_loop():
    @tf.function
    def total(n):
        result = tf.constant(0)
        for i in tf.range(n):
            result += i
        return result

    assert int(total(tf.constant(5))) == 10 and int(total(tf.constant(10))) == 45
    assert total.experimental_get_tracing_count() == 1

    @tf.function
    def squares(x):
        acc = tf.zeros([2], tf.float64)
        for row in x:
            acc = acc + row * row
        for k in range(2):  # a Python loop stays Python (unrolled)
            acc = acc + k
        return acc

    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(squares(x))
    assert float(y) == 91.0 + 2.0
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 * x.numpy())


def test_gradient_through_a_converted_loop():
    @tf.function
    def power(x, n):
        result = tf.ones_like(x)
        i = tf.constant(0)
        while i < n:
            result = result * x
            i += 1
        return result

    x = tf.constant(1.5, tf.float64)
    for n in (2, 3):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = power(x, tf.constant(n))
        assert float(y) == pytest.approx(1.5 ** n)
        assert float(tape.gradient(y, x)) == pytest.approx(n * 1.5 ** (n - 1))


def test_a_variable_defined_in_one_branch_only_is_named():
    @tf.function
    def f(x):
        if x > 0:
            y = x
        return y  # noqa: F821 - the point of the test

    with pytest.raises((ValueError, TypeError), match="y|tensor in one"):
        f(tf.constant(1.0))


def test_a_function_without_source_is_refused_with_the_line():
    scope: dict = {"tf": tf}
    exec("def f(x):\n    if x > 0:\n        return x\n    return -x\n", scope)  # no source file

    with pytest.raises(OperatorNotAllowedInGraphError,
                       match=r"<string>:2 in f.*could not read the source of `f`.*tf.cond"):
        tf.function(scope["f"])(tf.constant(1.0))


def test_autograph_false_keeps_python_semantics():
    @tf.function(autograph=False)
    def f(x):
        if x > 0:
            x = x * 2.0
        return x

    with pytest.raises(OperatorNotAllowedInGraphError):
        f(tf.constant(1.0))
