"""Optimisers against hand-computed reference steps (Keras's formulas and defaults)."""

from __future__ import annotations

import math
import weakref

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import optimizers


def _step(optimizer, value, grad, steps=1):
    variable = tf.Variable(np.array(value, dtype=np.float64))
    array_before = weakref.ref(variable.array)  # weak: holding it would make the update copy
    for _ in range(steps):
        optimizer.apply_gradients([(tf.constant(np.array(grad, dtype=np.float64)), variable)])
    assert variable.array is array_before(), "updates must happen in place"
    return variable.numpy()


def test_sgd_plain_step(device):
    result = _step(tf.keras.optimizers.SGD(learning_rate=0.1), [1.0, -2.0], [0.5, 1.0])
    np.testing.assert_allclose(result, [1.0 - 0.05, -2.0 - 0.1])


def test_sgd_momentum_two_steps():
    # v1 = -lr*g = -0.1; p1 = 0.9. v2 = 0.9*(-0.1) - 0.1 = -0.19; p2 = 0.71
    result = _step(tf.keras.optimizers.SGD(0.1, momentum=0.9), [1.0], [1.0], steps=2)
    np.testing.assert_allclose(result, [0.71])


def test_sgd_nesterov_two_steps():
    # step 1: v = -0.1; p += 0.9*(-0.1) - 0.1 = -0.19 -> 0.81
    # step 2: v = 0.9*(-0.1) - 0.1 = -0.19; p += 0.9*(-0.19) - 0.1 = -0.271 -> 0.539
    result = _step(tf.keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), [1.0], [1.0], 2)
    np.testing.assert_allclose(result, [0.539])


def _adam_reference(p, g, steps, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, wd=0.0):
    m = v = 0.0
    for t in range(1, steps + 1):
        p = p - p * wd * lr
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        p = p - m * alpha / (math.sqrt(v) + eps)
    return p


def test_adam_first_step_moves_by_learning_rate():
    # Bias correction makes the first Adam step exactly lr * g / (|g| + eps') in size.
    result = _step(tf.keras.optimizers.Adam(learning_rate=0.01), [1.0, 1.0], [3.0, -0.5])
    np.testing.assert_allclose(result, [0.99, 1.01], rtol=1e-6)


def test_adam_three_steps_match_reference(device):
    result = _step(tf.keras.optimizers.Adam(0.1, beta_1=0.8, beta_2=0.9), [2.0], [0.3], 3)
    np.testing.assert_allclose(result, [_adam_reference(2.0, 0.3, 3, 0.1, 0.8, 0.9)], rtol=1e-10)


def test_adamw_decays_before_the_adam_step():
    optimizer = tf.keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    result = _step(optimizer, [2.0], [0.3], 2)
    np.testing.assert_allclose(result, [_adam_reference(2.0, 0.3, 2, 0.1, wd=0.5)], rtol=1e-10)


def test_adam_amsgrad_keeps_the_largest_second_moment():
    optimizer = tf.keras.optimizers.Adam(0.1, amsgrad=True)
    variable = tf.Variable(np.array([1.0]))
    for grad in (1.0, 0.0):
        optimizer.apply_gradients([(tf.constant(np.array([grad])), variable)])
    # step 2: m = 0.09, v = 0.999*0.001 = 0.000999 < v_hat = 0.001
    m, v_hat = 0.09, 0.001
    alpha = 0.1 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    expected = 1.0 - 0.1 - m * alpha / (math.sqrt(v_hat) + 1e-7)
    np.testing.assert_allclose(variable.numpy(), [expected], rtol=1e-6)


def test_rmsprop_reference_two_steps():
    # s1 = 0.1*4 = 0.4; p1 = 1 - 0.01*2/sqrt(0.4+1e-7); s2 = 0.9*0.4 + 0.1*4 = 0.76
    p = 1.0 - 0.01 * 2.0 / math.sqrt(0.4 + 1e-7)
    p -= 0.01 * 2.0 / math.sqrt(0.76 + 1e-7)
    result = _step(tf.keras.optimizers.RMSprop(learning_rate=0.01), [1.0], [2.0], 2)
    np.testing.assert_allclose(result, [p], rtol=1e-10)


def test_rmsprop_centered_with_momentum():
    optimizer = tf.keras.optimizers.RMSprop(0.01, rho=0.5, momentum=0.5, centered=True)
    result = _step(optimizer, [1.0], [2.0], 2)
    s = a = buf = 0.0
    p = 1.0
    for _ in range(2):
        s = 0.5 * s + 0.5 * 4.0
        a = 0.5 * a + 0.5 * 2.0
        buf = 0.5 * buf + 0.01 * 2.0 / math.sqrt(s - a * a + 1e-7)
        p -= buf
    np.testing.assert_allclose(result, [p], rtol=1e-10)


def test_weight_decay_on_sgd_is_decoupled():
    result = _step(tf.keras.optimizers.SGD(0.1, weight_decay=0.5), [2.0], [1.0])
    np.testing.assert_allclose(result, [2.0 - 2.0 * 0.5 * 0.1 - 0.1])


def test_clipvalue_clipnorm_and_global_clipnorm():
    np.testing.assert_allclose(
        _step(tf.keras.optimizers.SGD(1.0, clipvalue=0.5), [0.0, 0.0], [2.0, -0.1]), [-0.5, 0.1]
    )
    np.testing.assert_allclose(
        _step(tf.keras.optimizers.SGD(1.0, clipnorm=1.0), [0.0, 0.0], [3.0, 4.0]), [-0.6, -0.8]
    )
    optimizer = tf.keras.optimizers.SGD(1.0, global_clipnorm=5.0)
    a, b = tf.Variable([0.0]), tf.Variable([0.0])
    optimizer.apply_gradients([(tf.constant([6.0]), a), (tf.constant([8.0]), b)])
    np.testing.assert_allclose([a.numpy()[0], b.numpy()[0]], [-3.0, -4.0], rtol=1e-6)
    with pytest.raises(ValueError, match="at most one"):
        tf.keras.optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)


def test_iterations_and_learning_rate_are_settable():
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.5)
    variable = tf.Variable([1.0])
    optimizer.apply_gradients([(tf.constant([1.0]), variable)])
    assert int(optimizer.iterations) == 1
    optimizer.learning_rate = 0.25
    assert float(optimizer.learning_rate) == 0.25
    optimizer.learning_rate.assign(0.125)
    optimizer.apply_gradients([(tf.constant([1.0]), variable)])
    np.testing.assert_allclose(variable.numpy(), [1.0 - 0.5 - 0.125])
    optimizer.iterations = 10
    assert int(optimizer.iterations) == 10


def test_iterations_is_an_int64_variable_as_in_tensorflow():
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.5)
    variable = tf.Variable([1.0])
    counter = optimizer.iterations
    assert isinstance(counter, tf.Variable) and counter.dtype == tf.int64
    assert not counter.trainable
    returned = optimizer.apply_gradients([(tf.constant([1.0]), variable)])
    assert returned is counter and int(counter) == 1  # the same variable, updated in place
    counter.assign(41)
    optimizer.apply_gradients([(tf.constant([1.0]), variable)])
    assert int(optimizer.iterations) == 42
    with tf.GradientTape() as tape:  # not trainable: never watched, never differentiated
        tf.reduce_sum(variable * 2.0) + tf.cast(counter, tf.float32)
    assert tape.watched_variables() == (variable,)


def test_schedule_is_evaluated_at_each_iteration():
    schedule = tf.keras.optimizers.schedules.PiecewiseConstantDecay([1], [1.0, 0.1])
    optimizer = tf.keras.optimizers.SGD(learning_rate=schedule)
    variable = tf.Variable([0.0])
    for _ in range(3):  # steps 0, 1 use 1.0; step 2 uses 0.1
        optimizer.apply_gradients([(tf.constant([1.0]), variable)])
    np.testing.assert_allclose(variable.numpy(), [-2.1], rtol=1e-6)


def test_schedules_match_their_formulas():
    schedules = tf.keras.optimizers.schedules
    decay = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert float(decay(5)) == pytest.approx(0.1 * 0.5**0.5)
    stair = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert float(stair(15)) == pytest.approx(0.05)
    piecewise = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [float(piecewise(s)) for s in (0, 10, 11, 20, 21)] == pytest.approx(
        [1.0, 1.0, 0.5, 0.5, 0.1]
    )
    cosine = schedules.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert float(cosine(0)) == pytest.approx(1.0)
    assert float(cosine(50)) == pytest.approx(0.1 + 0.9 * 0.5)
    assert float(cosine(1000)) == pytest.approx(0.1)
    warm = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=10)
    assert float(warm(5)) == pytest.approx(0.5)
    assert float(warm(10)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one more value"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])


def test_minimize_with_function_and_with_tape():
    variable = tf.Variable(3.0)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.1)
    optimizer.minimize(lambda: variable * variable, [variable])
    assert float(variable) == pytest.approx(3.0 - 0.1 * 6.0)
    with tf.GradientTape() as tape:
        loss = variable * variable
    optimizer.minimize(loss, [variable], tape=tape)
    assert float(variable) == pytest.approx(2.4 - 0.1 * 4.8)
    with pytest.raises(ValueError, match="no tape"):
        optimizer.minimize(loss, [variable])


def test_none_gradients_are_skipped_and_all_none_is_an_error():
    a, b = tf.Variable([1.0], name="a"), tf.Variable([1.0], name="b")
    optimizer = tf.keras.optimizers.SGD(1.0)
    with pytest.warns(UserWarning, match="b"):
        optimizer.apply_gradients([(tf.constant([1.0]), a), (None, b)])
    assert a.numpy()[0] == 0.0 and b.numpy()[0] == 1.0
    with pytest.raises(ValueError, match="No gradients"):
        optimizer.apply_gradients([(None, a)])


def test_get_by_name_and_bad_names():
    assert isinstance(optimizers.get("adam"), tf.keras.optimizers.Adam)
    assert isinstance(optimizers.get("SGD"), tf.keras.optimizers.SGD)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.get("adamm")


def test_reference_updates_match_the_kernels():
    rng = np.random.default_rng(0)
    p, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    args = dict(
        learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=3, weight_decay=0.1
    )
    a, b = p.copy(), p.copy()
    m1, v1, m2, v2 = (np.full_like(p, 0.1) for _ in range(4))
    optimizers.adam_update_reference(a, g, m1, v1, **args)
    optimizers._kernel("adam_update")(b, g, m2, v2, **args)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    a, b, va, vb = p.copy(), p.copy(), np.ones_like(p), np.ones_like(p)
    optimizers.sgd_update_reference(a, g, va, 0.1, 0.9, True)
    optimizers._kernel("sgd_update")(b, g, vb, 0.1, 0.9, True)
    np.testing.assert_allclose(a, b, rtol=1e-12)
