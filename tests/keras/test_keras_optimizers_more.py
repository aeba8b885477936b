"""The optimisers beyond SGD/Adam/RMSprop, and the options every optimiser shares (weight decay,
use_ema, gradient accumulation, constraints), against hand-computed first steps and against
numbers Keras 3.15 (tensorflow-cpu 2.21) printed for the same three steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import optimizers

W0 = [[1.0, -2.0, 0.5], [0.3, 0.0, -1.5]]
B0 = [0.5, -0.5, 1.0]
GRADS = [
    ([[0.1, -0.2, 0.3], [-0.4, 0.5, 0.0]], [0.1, -0.3, 0.2]),
    ([[0.2, 0.1, -0.3], [0.05, -0.5, 1.0]], [-0.2, 0.4, 0.1]),
    ([[-0.1, 0.3, 0.2], [0.4, 0.1, -0.2]], [0.3, 0.3, -0.3]),
]

# keras.optimizers.<name>(**kwargs), three apply_gradients on float32 (w, b), printed by Keras
KERAS = {
    "Adagrad": ({"learning_rate": 0.1},
                [[0.94320905, -2.03360486, 0.45251459], [0.30714899, -0.03276939, -1.57661462]],
                [0.46025145, -0.54401433, 0.98196507]),
    "Adadelta": ({"learning_rate": 1.0},
                 [[0.99790651, -2.00127101, 0.49894491], [0.29972181, -0.00033665, -1.50101221]],
                 [0.49821943, -0.50154644, 0.99944538]),
    "Adamax": ({"learning_rate": 0.1},
               [[0.7939499, -1.90697050, 0.38396269], [0.42966792, -0.09879991, -1.57848763]],
               [0.40422425, -0.45561245, 0.83214635]),
    "Nadam": ({"learning_rate": 0.1},
              [[0.83259773, -2.01684952, 0.41584155], [0.33013564, -0.05348878, -1.58961189]],
              [0.39871499, -0.52806079, 0.92084813]),
    "Ftrl": ({"learning_rate": 0.1, "l1_regularization_strength": 0.01,
              "l2_regularization_strength": 0.02, "l2_shrinkage_regularization_strength": 0.03,
              "beta": 0.1},
             [[-0.01950828, -0.24013659, 0.0640599], [0.09140752, -0.02426262, -0.04866412]],
             [-0.02049071, -0.14321236, 0.09363066]),
    "Lion": ({"learning_rate": 0.1},
             [[0.9, -2.1, 0.4], [0.2, -0.1, -1.5]], [0.4, -0.6, 0.9]),
    "Adafactor": ({"learning_rate": 0.1},
                  [[0.84846544, -2.1488874, 0.31558752], [0.25984943, -0.03588232, -1.59355521]],
                  [0.43365544, -0.54782051, 0.96116781]),
    "AdamW": ({"learning_rate": 0.1, "weight_decay": 0.1},
              [[0.73473376, -1.85516202, 0.36877555], [0.43216041, -0.09772169, -1.5729866]],
              [0.38906297, -0.45200551, 0.78820527]),
    "Lion-decay": ({"learning_rate": 0.1, "weight_decay": 0.5},
                   [[0.77212495, -1.81949997, 0.3334375], [0.15246251, -0.09525, -1.28106248]],
                   [0.3334375, -0.53343749, 0.77212495]),
    "Adam-ema": ({"learning_rate": 0.1, "use_ema": True, "ema_momentum": 0.9},
                 [[0.76147968, -1.91230774, 0.38168871], [0.44363317, -0.09965903, -1.61828208]],
                 [0.40228960, -0.46505955, 0.81498414]),
    "SGD-accumulate": ({"learning_rate": 0.1, "gradient_accumulation_steps": 2},
                       [[0.985, -1.995, 0.5], [0.3175, 0.0, -1.55]], [0.505, -0.505, 0.985]),
}


def _run(optimizer, dtype=np.float32):
    w, b = tf.Variable(np.array(W0, dtype)), tf.Variable(np.array(B0, dtype))
    for gw, gb in GRADS:
        optimizer.apply_gradients([(tf.constant(np.array(gw, dtype)), w),
                                   (tf.constant(np.array(gb, dtype)), b)])
    return w, b


@pytest.mark.parametrize("case", sorted(KERAS))
def test_three_steps_match_keras(case):
    kwargs, w_want, b_want = KERAS[case]
    optimizer = getattr(tf.keras.optimizers, case.split("-")[0])(**kwargs)
    w, b = _run(optimizer)
    np.testing.assert_allclose(w.numpy(), w_want, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(b.numpy(), b_want, rtol=2e-5, atol=2e-6)
    assert int(optimizer.iterations) == 3
    again = type(optimizer).from_config(optimizer.get_config())
    w2, b2 = _run(again)  # the config holds every setting that changes the steps
    np.testing.assert_array_equal(w2.numpy(), w.numpy())


def test_ema_final_values_match_keras():
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.1, use_ema=True, ema_momentum=0.9)
    w, b = _run(optimizer)
    optimizer.finalize_variable_values([w, b])
    np.testing.assert_allclose(
        w.numpy(), [[0.87746495, -1.89883566, 0.39864409], [0.40951473, -0.09949104, -1.51852524]],
        rtol=2e-5)
    np.testing.assert_allclose(b.numpy(), [0.40352723, -0.40824905, 0.88311106], rtol=2e-5)


def test_first_steps_by_hand():
    # Adagrad: a = 0.1 + 0.25 = 0.35; p = 1 - 0.1 * 0.5 / sqrt(0.35 + 1e-7)
    w = tf.Variable([1.0], dtype=tf.float64)
    tf.keras.optimizers.Adagrad(0.1).apply_gradients([(tf.constant([0.5], tf.float64), w)])
    assert float(w[0]) == pytest.approx(1 - 0.05 / math.sqrt(0.35 + 1e-7), rel=1e-12)
    # Lion: sign(0.9 * 0 + 0.1 * g) = sign(g); zero gradient: no step
    w = tf.Variable([1.0, 1.0, 1.0], dtype=tf.float64)
    tf.keras.optimizers.Lion(0.01).apply_gradients([(tf.constant([3.0, -1e-9, 0.0],
                                                                 tf.float64), w)])
    np.testing.assert_allclose(w.numpy(), [0.99, 1.01, 1.0])
    # Adamax: m = 0.1 g; u = |g|; p -= lr * m / ((1 - 0.9) * (u + eps)) = lr * sign(g)
    w = tf.Variable([2.0], dtype=tf.float64)
    tf.keras.optimizers.Adamax(0.1).apply_gradients([(tf.constant([-4.0], tf.float64), w)])
    assert float(w[0]) == pytest.approx(2.0 + 0.1 * 4.0 / (4.0 + 1e-7), rel=1e-12)
    # Nadam: u1 = 0.9 * (1 - 0.5 * 0.96), u2 = 0.9 * (1 - 0.5 * 0.96^2); m = 0.1 g, v = 0.001 g^2
    u1, u2 = 0.9 * (1 - 0.5 * 0.96), 0.9 * (1 - 0.5 * 0.96**2)
    g = 2.0
    m_hat = u2 * 0.1 * g / (1 - u1 * u2) + (1 - u1) * g / (1 - u1)
    expected = 1.0 - 0.01 * m_hat / (math.sqrt(0.001 * g * g / 0.001) + 1e-7)
    w = tf.Variable([1.0], dtype=tf.float64)
    tf.keras.optimizers.Nadam(0.01).apply_gradients([(tf.constant([g], tf.float64), w)])
    assert float(w[0]) == pytest.approx(expected, rel=1e-12)


def test_adafactor_keeps_factored_state_for_matrices():
    optimizer = tf.keras.optimizers.Adafactor()
    w, b = _run(optimizer)
    slots = optimizer._slots_for(w)
    assert slots["r"].shape == (2,) and slots["c"].shape == (3,)
    assert set(optimizer._slots_for(b)) == {"v"}


def test_gradient_accumulation_updates_every_nth_step_with_the_mean():
    optimizer = tf.keras.optimizers.SGD(1.0, gradient_accumulation_steps=3)
    w = tf.Variable([0.0])
    for step, grad in enumerate([1.0, 2.0, 6.0, 1.0], start=1):
        optimizer.apply_gradients([(tf.constant([grad]), w)])
        assert int(optimizer.iterations) == step
        assert float(w[0]) == (0.0 if step < 3 else -3.0)  # the mean of 1, 2 and 6
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        tf.keras.optimizers.SGD(gradient_accumulation_steps=1)


def test_ema_overwrite_frequency_writes_the_average_into_the_variable():
    optimizer = tf.keras.optimizers.SGD(1.0, use_ema=True, ema_momentum=0.5,
                                        ema_overwrite_frequency=2)
    w = tf.Variable([0.0])
    optimizer.apply_gradients([(tf.constant([-2.0]), w)])  # w = 2, average = 2 (first step)
    assert float(w[0]) == 2.0
    optimizer.apply_gradients([(tf.constant([-2.0]), w)])  # w = 4, average = 3, overwritten
    assert float(w[0]) == 3.0


def test_constraint_is_applied_after_the_update():
    w = tf.Variable([1.0, -1.0])
    w.constraint = lambda value: tf.maximum(value, 0.0)
    tf.keras.optimizers.SGD(1.0).apply_gradients([(tf.constant([0.5, -0.5]), w)])
    np.testing.assert_allclose(w.numpy(), [0.5, 0.0])


@pytest.mark.parametrize("name", ["adagrad", "adadelta", "adamax", "nadam", "ftrl", "lion",
                                  "adafactor"])
def test_get_by_name_and_serialize(name):
    optimizer = optimizers.get(name)
    assert type(optimizer).__name__.lower() == name
    config = optimizers.serialize(optimizer)
    assert config["module"] == "keras.optimizers"
    assert type(optimizers.deserialize(config)) is type(optimizer)


def test_every_optimizer_trains_a_small_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    for cls, lr in [(optimizers.Adagrad, 0.5), (optimizers.Adadelta, 30.0),
                    (optimizers.Adamax, 0.1), (optimizers.Nadam, 0.1), (optimizers.Ftrl, 0.5),
                    (optimizers.Lion, 0.05), (optimizers.Adafactor, 0.1)]:
        # not zeros: Adafactor's steps scale with the weights' RMS
        w = tf.Variable(np.full((3, 1), 0.5, np.float32))
        optimizer = cls(learning_rate=lr)
        for _ in range(60):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(tf.matmul(tf.constant(x), w) - y))
            optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        assert float(loss) < 0.2 * 6.5, (cls.__name__, float(loss))  # about 6.5 at the start
