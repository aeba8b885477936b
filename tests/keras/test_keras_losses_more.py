"""The losses beyond the cross-entropies and MSE/MAE: values worked out by hand on a few
numbers, and checked against what Keras 3.15 printed for the same inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import losses

ONE_HOT = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
PROBS = [[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]
REG_TRUE = [[1.0, 2.0], [3.0, -1.0]]
REG_PRED = [[1.5, 0.5], [2.0, 1.0]]
BIN_TRUE = [[0.0, 1.0], [1.0, 0.0]]
BIN_PRED = [[0.3, 0.8], [0.6, 0.4]]



def _per_example(loss, y_true, y_pred):
    return loss(tf.constant(y_true), tf.constant(y_pred)).numpy()


def test_huber_by_hand():
    # errors 0.5, -1.5 | -1, 2: 0.5*0.25 = 0.125, 1.5 - 0.5 = 1 -> 0.5625; 0.5, 1.5 -> 1.0
    loss = losses.Huber(reduction="none")
    np.testing.assert_allclose(_per_example(loss, REG_TRUE, REG_PRED), [0.5625, 1.0])
    # delta 0.5: 0.5*0.5-0.125 = 0.125, 0.75-0.125 = 0.625; 0.375, 0.875 -> mean 0.5 (Keras)
    assert float(losses.Huber(delta=0.5)(REG_TRUE, REG_PRED)) == pytest.approx(0.5)


def test_log_cosh_by_hand_and_large_errors():
    want = [np.mean(np.log(np.cosh([0.5, -1.5]))), np.mean(np.log(np.cosh([-1.0, 2.0])))]
    np.testing.assert_allclose(_per_example(losses.LogCosh(reduction="none"), REG_TRUE,
                                            REG_PRED), want, rtol=1e-6)
    np.testing.assert_allclose(want, [0.48777729, 0.87939179], rtol=1e-6)  # Keras
    # cosh(1000) overflows float32; the loss is |e| - log 2
    assert float(losses.log_cosh([[0.0]], [[1000.0]])[0]) == pytest.approx(1000 - math.log(2))


def test_kl_divergence_and_poisson_by_hand():
    # only the true class counts: log(1/0.7), log(1/0.6)
    np.testing.assert_allclose(_per_example(losses.KLDivergence(reduction="none"), ONE_HOT,
                                            PROBS), [math.log(1 / 0.7), math.log(1 / 0.6)],
                               rtol=1e-5)
    true, pred = np.abs(REG_TRUE), np.abs(REG_PRED)
    want = np.mean(pred - true * np.log(pred + 1e-7), axis=-1)
    np.testing.assert_allclose(_per_example(losses.Poisson(reduction="none"), true, pred), want,
                               rtol=1e-6)
    np.testing.assert_allclose(want, [1.49041438, 0.4602792], rtol=1e-6)  # Keras


def test_cosine_similarity_is_negative_cosine():
    # (1, 2).(1.5, 0.5) = 2.5 / (sqrt 5 * sqrt 2.5) = 0.7071; (3,-1).(2,1) = 5/(sqrt10 sqrt5)
    np.testing.assert_allclose(_per_example(losses.CosineSimilarity(reduction="none"),
                                            REG_TRUE, REG_PRED), [-0.70710677, -0.70710677],
                               rtol=1e-6)
    assert float(losses.cosine_similarity([[1.0, 0.0]], [[0.0, 3.0]])[0]) == 0.0


def test_hinge_losses_by_hand():
    pred = np.array(BIN_PRED) - 0.5  # [-0.2, 0.3], [0.1, -0.1]; labels become -1/1
    # hinge: max(1 - y p, 0): [0.8, 0.7] -> 0.75; [0.9, 0.9] -> 0.9
    np.testing.assert_allclose(_per_example(losses.Hinge(reduction="none"), BIN_TRUE, pred),
                               [0.75, 0.9], rtol=1e-6)
    np.testing.assert_allclose(_per_example(losses.SquaredHinge(reduction="none"), BIN_TRUE,
                                            pred), [(0.64 + 0.49) / 2, 0.81], rtol=1e-6)
    # categorical: max(neg - pos + 1, 0): 0.2 - 0.7 + 1 = 0.5; 0.3 - 0.6 + 1 = 0.7
    np.testing.assert_allclose(_per_example(losses.CategoricalHinge(reduction="none"), ONE_HOT,
                                            PROBS), [0.5, 0.7], rtol=1e-6)


def test_mape_and_msle_by_hand():
    # |0.5/1|, |1.5/2| -> 62.5%; |1/3|, |2/1| -> 116.67%
    np.testing.assert_allclose(_per_example(losses.MeanAbsolutePercentageError(reduction="none"),
                                            REG_TRUE, REG_PRED), [62.5, 116.666667], rtol=1e-6)
    true, pred = np.array(REG_TRUE), np.array(REG_PRED)
    want = np.mean((np.log(np.maximum(pred, 1e-7) + 1) - np.log(np.maximum(true, 1e-7) + 1))
                   ** 2, axis=-1)
    np.testing.assert_allclose(_per_example(losses.MeanSquaredLogarithmicError(reduction="none"),
                                            REG_TRUE, REG_PRED), want, rtol=1e-5)
    np.testing.assert_allclose(want, [0.26512301, 0.28160691], rtol=1e-5)  # Keras


def test_binary_focal_crossentropy_by_hand():
    t, p = np.array(BIN_TRUE), np.array(BIN_PRED)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = t * p + (1 - t) * (1 - p)
    want = np.mean((1 - p_t) ** 2 * bce, axis=-1)
    got = _per_example(losses.BinaryFocalCrossentropy(reduction="none"), BIN_TRUE, BIN_PRED)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(got, [0.0205132, 0.0817321], rtol=1e-5)  # Keras
    balanced = losses.BinaryFocalCrossentropy(reduction="none", apply_class_balancing=True,
                                              gamma=1.0, label_smoothing=0.1)
    np.testing.assert_allclose(_per_example(balanced, BIN_TRUE, BIN_PRED),
                               [0.0555376, 0.1088753], rtol=1e-5)  # Keras
    logits = losses.BinaryFocalCrossentropy(reduction="none", from_logits=True)
    np.testing.assert_allclose(_per_example(logits, BIN_TRUE, np.array(BIN_PRED) * 4 - 2),
                               [0.0248878, 0.0826219], rtol=1e-5)  # Keras


def test_categorical_focal_crossentropy_by_hand():
    # one term per example: 0.25 * (1 - p)^2 * -log p with p = 0.7, 0.6
    want = [0.25 * 0.09 * -math.log(0.7), 0.25 * 0.16 * -math.log(0.6)]
    got = _per_example(losses.CategoricalFocalCrossentropy(reduction="none"), ONE_HOT, PROBS)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    smoothed = losses.CategoricalFocalCrossentropy(reduction="none", from_logits=True,
                                                   label_smoothing=0.2)
    np.testing.assert_allclose(_per_example(smoothed, ONE_HOT, np.array(PROBS) * 3),
                               [0.0545549, 0.0535194], rtol=1e-5)  # Keras


def test_label_smoothing_matches_keras():
    np.testing.assert_allclose(
        _per_example(losses.CategoricalCrossentropy(label_smoothing=0.1, reduction="none"),
                     ONE_HOT, PROBS), [0.4632974, 0.5936558], rtol=1e-5)
    np.testing.assert_allclose(
        _per_example(losses.BinaryCrossentropy(label_smoothing=0.1, reduction="none"),
                     BIN_TRUE, BIN_PRED), [0.3457491, 0.5310988], rtol=1e-5)


def test_reductions_with_sample_weight():
    # per-example MSE 1.25 and 2.5; weights 1 and 2 -> weighted 1.25 and 5
    weights = tf.constant([1.0, 2.0])
    mse = losses.MeanSquaredError
    assert float(mse(reduction="sum")(REG_TRUE, REG_PRED, sample_weight=weights)) == 6.25
    assert float(mse()(REG_TRUE, REG_PRED, sample_weight=weights)) == 3.125
    assert float(mse(reduction="mean")(REG_TRUE, REG_PRED, sample_weight=weights)) == 3.125
    assert float(mse(reduction="mean_with_sample_weight")(
        REG_TRUE, REG_PRED, sample_weight=weights)) == pytest.approx(6.25 / 3)
    np.testing.assert_allclose(mse(reduction=None)(REG_TRUE, REG_PRED).numpy(), [1.25, 2.5])
    with pytest.raises(ValueError, match="Unknown reduction"):
        mse(reduction="average")


@pytest.mark.parametrize("name", ["huber", "log_cosh", "kld", "poisson", "hinge",
                                  "squared_hinge", "categorical_hinge", "mape", "msle",
                                  "binary_focal_crossentropy", "categorical_focal_crossentropy",
                                  "cosine_similarity"])
def test_by_name_config_round_trip_and_gradient(name):
    loss = losses.get(name)
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    y_true = tf.constant(np.abs(ONE_HOT))
    y_pred = tf.Variable(PROBS)
    with tf.GradientTape() as tape:
        value = loss(y_true, y_pred)
    grad = tape.gradient(value, y_pred)
    assert grad is not None and np.isfinite(grad.numpy()).all()


def test_configs_carry_keras_names_and_options():
    assert losses.Huber().get_config() == {"name": "huber_loss",
                                           "reduction": "sum_over_batch_size", "delta": 1.0}
    config = losses.BinaryFocalCrossentropy().get_config()
    assert {k: config[k] for k in ("name", "alpha", "gamma", "apply_class_balancing")} == {
        "name": "binary_focal_crossentropy", "alpha": 0.25, "gamma": 2.0,
        "apply_class_balancing": False}
    assert losses.Huber.from_config({"delta": 2.0, "name": "h"}).get_config()["delta"] == 2.0
