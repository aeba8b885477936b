"""AutoGraph converts the functions a tf.function calls (TensorFlow's `converted_call`): helpers,
helpers of helpers, methods, lambdas, nested functions, functools.partial, callable objects and
functions of the user's other modules; not tensorflowish's own functions, builtins, libraries,
generators, tf.functions or `do_not_convert` ones. Each traced result against eager (the same
Python run op by op) or a hand-computed value; the cases where TensorFlow 2.21 raises, raise."""

from __future__ import annotations

import functools
import importlib.util
import warnings

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function import autograph_runtime
from tensorflowish.function.autograph import convert
from tensorflowish.function.tracing import OperatorNotAllowedInGraphError


def triangle(n):
    total = tf.constant(0)
    for i in tf.range(n):
        total += i
    return total


def absolute(x):
    if x > 0:
        y = x * 2.0
    else:
        y = -x
    return y


def triangle_plus_one(n):
    return triangle(n) + 1


def doubling(x):
    while tf.abs(x) < 10.0:
        x = x * 2.0
    return x


def scaled_if_positive(x, scale):
    if x > 0:
        return x * scale
    return x


class Doubler:
    def until_ten(self, x):
        return doubling(x)

    def __call__(self, x):
        return absolute(x)


def test_a_helper_with_a_tensor_for_loop_becomes_a_graph_loop():
    traced = tf.function(lambda n: triangle(n))
    for n in (5, 0, 9):  # one trace serves every n: the loop is in the graph
        assert int(traced(tf.constant(n))) == n * (n - 1) // 2
    assert traced.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("value", [3.0, -4.0])
def test_a_helper_with_a_tensor_if_keeps_both_branches(value):
    @tf.function
    def f(x):
        return absolute(x)

    f(tf.constant(-value))  # traced on the other sign first
    assert float(f(tf.constant(value))) == (value * 2.0 if value > 0 else -value)
    assert f.experimental_get_tracing_count() == 1


def test_a_helper_of_a_helper_and_keyword_and_starred_arguments():
    @tf.function
    def f(n, x):
        arguments, keywords = (x,), {"scale": tf.constant(3.0)}
        return triangle_plus_one(n), scaled_if_positive(*arguments, **keywords), \
            scaled_if_positive(x=x, scale=2.0)

    n, y, z = f(tf.constant(4), tf.constant(-1.5))
    assert int(n) == 7 and float(y) == -1.5 and float(z) == -1.5
    n, y, z = f(tf.constant(4), tf.constant(2.0))
    assert float(y) == 6.0 and float(z) == 4.0


def test_methods_callable_objects_lambdas_nested_functions_and_partials():
    @tf.function
    def f(x):
        twice_or_negated = lambda v: v * 2.0 if v > 0 else -v  # noqa: E731 - the case tested

        def nested(v):
            if v > 0:
                return v + 1.0
            return v - 1.0

        halve = functools.partial(scaled_if_positive, scale=0.5)
        return [Doubler().until_ten(x), Doubler()(x), twice_or_negated(x), nested(x), halve(x)]

    for value in (3.0, -2.0):  # the second value replays the first trace
        x = tf.constant(value)
        got = [float(t) for t in f(x)]
        eager = [float(t) for t in f.python_function(x)]
        assert got == eager
    assert f.experimental_get_tracing_count() == 1
    assert got == [-16.0, 2.0, 2.0, -3.0, -2.0]


def test_a_lambda_given_to_tf_function_is_converted():
    f = tf.function(lambda x: -x if x < 0 else x * 3.0)
    assert float(f(tf.constant(2.0))) == 6.0 and float(f(tf.constant(-2.0))) == 2.0


def test_a_function_of_another_user_module_is_converted(tmp_path):
    path = tmp_path / "agcall_user_helpers.py"
    path.write_text("import tensorflowish as tf\n\n\ndef countdown(n):\n"
                    "    steps = tf.constant(0)\n    while n > 0:\n        n -= 1\n"
                    "        steps += 1\n    return steps\n")
    spec = importlib.util.spec_from_file_location("agcall_user_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    f = tf.function(lambda n: module.countdown(n))
    assert int(f(tf.constant(6))) == 6 and int(f(tf.constant(2))) == 2


def test_gradient_through_a_helper_loop_equals_eager_and_the_derivative():
    def power(x, n):
        result = tf.ones_like(x)
        for _ in tf.range(n):
            result = result * x
        return result

    def step(x, n):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(power(x, n))
        return y, tape.gradient(y, x)

    x = tf.constant([0.5, -1.5, 2.0], tf.float64)
    traced = tf.function(step)
    for n in (3, 4):
        y, grad = traced(x, tf.constant(n))
        y_eager, grad_eager = step(x, tf.constant(n))
        np.testing.assert_array_equal(y.numpy(), y_eager.numpy())
        np.testing.assert_array_equal(grad.numpy(), grad_eager.numpy())
        np.testing.assert_allclose(grad.numpy(), n * x.numpy() ** (n - 1), rtol=1e-12)


def test_python_side_effects_of_a_helper_run_once_while_tracing():
    seen = []

    def noisy(x):
        seen.append("traced")
        if x > 0:
            x = x - 1.0
        return x

    f = tf.function(lambda x: noisy(x))
    assert [float(f(tf.constant(v))) for v in (2.0, -2.0, 5.0)] == [1.0, -2.0, 4.0]
    assert seen == ["traced"]


def test_closures_stay_live_and_nonlocal_assignments_reach_the_caller():
    scale = tf.constant(2.0)
    count = 0

    def scaled(x):
        nonlocal count
        count += 1
        if x > 0:
            x = x * scale
        return x

    f = tf.function(lambda x: scaled(x))
    assert float(f(tf.constant(3.0))) == 6.0 and count == 1
    scale = tf.constant(10.0)  # noqa: F841 - read through the closure cell by the next trace
    g = tf.function(lambda x: scaled(x))
    assert float(g(tf.constant(3.0))) == 30.0 and count == 2


def test_conversion_is_cached_per_code_object():
    first, second = convert(absolute), convert(absolute)
    assert first is not absolute and first.__code__ is second.__code__
    made = [lambda x, k=k: x * k if x > 0 else x for k in (2.0, 3.0)]
    converted = [convert(f) for f in made]
    assert converted[0].__code__ is converted[1].__code__
    f = tf.function(lambda x: [g(x) for g in made])
    assert [float(t) for t in f(tf.constant(1.0))] == [2.0, 3.0]


def test_replay_does_not_run_converted_calls(monkeypatch):
    calls = []
    original = autograph_runtime.converted_call

    def counting(function, arguments, keywords):
        calls.append(function)
        return original(function, arguments, keywords)

    monkeypatch.setattr(autograph_runtime, "converted_call", counting)
    f = tf.function(lambda n: triangle_plus_one(n))
    assert int(f(tf.constant(3))) == 4
    traced = len(calls)
    assert traced > 0
    assert int(f(tf.constant(5))) == 11
    assert len(calls) == traced


def test_not_converted_do_not_convert_builtins_libraries_and_generators():
    @tf.autograph.experimental.do_not_convert
    def marked(x):
        if x > 0:
            return x
        return -x

    def rows(x):
        for v in tf.range(x):  # a generator is called unconverted, as in TensorFlow
            yield v * 2

    def python_generator(x):
        for i in range(3):
            yield x * i

    with pytest.raises(OperatorNotAllowedInGraphError):
        tf.function(lambda x: marked(x))(tf.constant(1.0))
    with pytest.raises(OperatorNotAllowedInGraphError):
        tf.function(lambda x: list(map(absolute, [x])))(tf.constant(1.0))  # builtin's callback
    with pytest.raises(OperatorNotAllowedInGraphError):
        tf.function(lambda x: tf.nest.map_structure(absolute, [x]))(tf.constant(1.0))
    with pytest.raises(OperatorNotAllowedInGraphError):
        tf.function(lambda n: list(rows(n)))(tf.constant(3))
    assert float(tf.function(lambda x: sum(python_generator(x)))(tf.constant(2.0))) == 6.0


def test_an_inner_tf_function_converts_its_own_function():
    inner = tf.function(absolute)
    f = tf.function(lambda x: inner(x) + 1.0)
    assert float(f(tf.constant(-3.0))) == 4.0 and float(f(tf.constant(3.0))) == 7.0


def test_a_called_function_that_cannot_be_converted_runs_as_is_with_a_warning():
    def renamed(x):
        return x * 2.0

    def renamed_if(x):
        if x > 0:
            return x
        return -x

    for function in (renamed, renamed_if):  # its source no longer matches its code
        function.__code__ = function.__code__.replace(co_name="other_name")
    with pytest.warns(UserWarning, match=r"AutoGraph could not transform .* run it as-is"):
        assert float(tf.function(lambda x: renamed(x))(tf.constant(2.0))) == 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(OperatorNotAllowedInGraphError):  # ... unless it then fails
            tf.function(lambda x: renamed_if(x))(tf.constant(2.0))


def test_a_decorated_helper_runs_its_wrapper_converted():
    calls = []

    def logged(function):
        @functools.wraps(function)
        def wrapper(*args):
            calls.append(function.__name__)
            if args[0] > 0:  # the wrapper's own tensor `if` is converted too
                return function(*args) + 100.0
            return function(*args)
        return wrapper

    f = tf.function(lambda x: logged(absolute)(x))
    assert float(f(tf.constant(2.0))) == 104.0 and float(f(tf.constant(-2.0))) == 2.0
    assert calls == ["absolute"]


def test_to_code_shows_the_converted_calls():
    code = tf.autograph.to_code(triangle_plus_one)
    assert "__autograph__.converted_call(triangle, (n,), None) + 1" in code
    code = tf.autograph.to_code(scaled_if_positive)
    assert "converted_call" not in code  # no calls in it: nothing to show


def test_a_keras_layer_call_is_reached_through_keras_code_so_not_converted():
    # as in TensorFlow 2.21 with Keras 3: Layer.__call__ is library code, which calls `call`
    # unconverted, so a tensor `if` in `call` raises (use tf.cond there, as there)
    class Flip(tf.keras.layers.Layer):
        def call(self, x):
            if tf.reduce_sum(x) > 0:
                return x * 2.0
            return -x

    layer = Flip()
    with pytest.raises(OperatorNotAllowedInGraphError, match="in call"):
        tf.function(lambda x: layer(x))(tf.constant([1.0]))


class _Base:
    def scale(self, x):
        return x * 2.0


class _Child(_Base):
    def scale(self, x):
        if x > 0:
            y = super().scale(x) + 1.0  # super() inside a branch AutoGraph makes a function
        else:
            y = super().scale(-x)
        return y

    @tf.function
    def run(self, x):
        if x > 100:
            x = x / 2.0
        return super().scale(x) + self.scale(x)


def test_methods_calling_super_are_converted():
    child = _Child()
    f = tf.function(lambda x: child.scale(x))
    assert float(f(tf.constant(3.0))) == 7.0 and float(f(tf.constant(-3.0))) == 6.0
    assert f.experimental_get_tracing_count() == 1
    assert float(child.run(tf.constant(3.0))) == 13.0  # 6 + 7
    assert float(child.run(tf.constant(300.0))) == 601.0  # 150 * 2 + (150 * 2 + 1)
    assert "super(__class__, self).scale" in tf.autograph.to_code(_Child.scale)
