"""Losses (classes, functions, names) and metrics (standalone and by name) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import losses, metrics

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 4))
LABELS = np.array([0, 3, 1, 2, 3, 0])
ONE_HOT = np.eye(4)[LABELS]


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_sparse_and_categorical_crossentropy_from_logits_and_probabilities():
    expected = -np.log(softmax(LOGITS)[np.arange(6), LABELS])
    probabilities = softmax(LOGITS)
    cases = [
        (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS),
        (losses.SparseCategoricalCrossentropy(), LABELS, probabilities),
        (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS[:, None], LOGITS),
        (losses.CategoricalCrossentropy(from_logits=True), ONE_HOT, LOGITS),
        (losses.CategoricalCrossentropy(), ONE_HOT, probabilities),
    ]
    for loss, y_true, y_pred in cases:
        assert float(loss(y_true, y_pred)) == pytest.approx(expected.mean(), rel=1e-6)
    per_example = losses.sparse_categorical_crossentropy(LABELS, LOGITS, from_logits=True)
    np.testing.assert_allclose(per_example.numpy(), expected, rtol=1e-6)


def test_binary_crossentropy_and_mse():
    y_true = np.array([[1.0], [0.0], [1.0]])
    logits = np.array([[0.3], [-1.2], [2.0]])
    p = 1 / (1 + np.exp(-logits))
    expected = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean()
    assert float(losses.BinaryCrossentropy(from_logits=True)(y_true, logits)) == pytest.approx(
        expected, rel=1e-6
    )
    assert float(losses.BinaryCrossentropy()(y_true, p)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.MeanSquaredError()([[1.0, 2.0]], [[3.0, 2.0]])) == pytest.approx(2.0)
    assert float(losses.get("mae")([[1.0, 2.0]], [[3.0, 2.0]])) == pytest.approx(1.0)
    np.testing.assert_allclose(
        losses.mse([[1.0, 2.0], [0, 0]], [[3.0, 2.0], [0, 0]]).numpy(), [2.0, 0.0]
    )


def test_reductions_and_sample_weight():
    loss = losses.MeanSquaredError(reduction="none")
    np.testing.assert_allclose(loss([[1.0], [2.0]], [[0.0], [0.0]]).numpy(), [1.0, 4.0])
    summed = losses.MeanSquaredError(reduction="sum")
    assert float(summed([[1.0], [2.0]], [[0.0], [0.0]])) == pytest.approx(5.0)
    weighted = losses.MeanSquaredError()([[1.0], [2.0]], [[0.0], [0.0]], sample_weight=[1.0, 0.0])
    assert float(weighted) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="Unknown reduction"):
        losses.MeanSquaredError(reduction="avg")


def test_label_smoothing_matches_keras():
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    smoothed = ONE_HOT * 0.9 + 0.1 / 4
    expected = -(smoothed * np.log(softmax(LOGITS))).sum(-1).mean()
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-6)


def test_loss_gradients_flow_to_the_logits():
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        value = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, logits)
    np.testing.assert_allclose(
        tape.gradient(value, logits).numpy(), (softmax(LOGITS) - ONE_HOT) / 6, rtol=1e-6, atol=1e-12
    )


def test_loss_errors_name_the_fix():
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy"):
        losses.CategoricalCrossentropy(from_logits=True)(LABELS, LOGITS)
    with pytest.raises(ValueError, match="one-hot: use CategoricalCrossentropy"):
        losses.SparseCategoricalCrossentropy(from_logits=True)(ONE_HOT, LOGITS)
    with pytest.raises(ValueError, match="Unknown loss 'cross_entropy'"):
        losses.get("cross_entropy")
    assert isinstance(
        losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy
    )


def test_accuracy_metrics_standalone():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state([1, 0], [[0.1, 0.9], [0.2, 0.8]])
    assert float(m.result()) == 0.5
    m.update_state([[1]], [[0.0, 1.0]])
    assert float(m.result()) == pytest.approx(2 / 3)
    m.reset_state()
    assert float(m.result()) == 0.0

    c = metrics.CategoricalAccuracy()
    c.update_state(ONE_HOT, LOGITS)
    assert float(c.result()) == pytest.approx((LOGITS.argmax(1) == LABELS).mean())

    b = metrics.BinaryAccuracy(threshold=0.5)
    b.update_state([[1], [0], [1], [0]], [[0.9], [0.4], [0.2], [0.6]])
    assert float(b.result()) == 0.5

    a = metrics.Accuracy()
    assert float(a([1, 2, 3, 4], [1, 2, 0, 4])) == 0.75


def test_mean_metric_with_weights_and_names():
    m = metrics.Mean()
    m.update_state([1.0, 3.0])
    m.update_state([10.0], sample_weight=[2.0])
    assert float(m.result()) == pytest.approx((1 + 3 + 20) / 4)
    assert m.name == "mean"
    assert metrics.get("mse").name == "mse"
    assert isinstance(metrics.get("sparse_categorical_accuracy"), metrics.SparseCategoricalAccuracy)
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.get("acuracy")


def test_functional_metrics_return_per_example_tensors():
    values = metrics.sparse_categorical_accuracy(LABELS, LOGITS)
    np.testing.assert_array_equal(values.numpy(), (LOGITS.argmax(1) == LABELS).astype(np.float32))
    assert isinstance(values, tf.Tensor)


def test_labels_beyond_the_output_size_name_the_fix():
    with pytest.raises(ValueError, match="a label is 4.*Dense\\(5\\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True)([0, 4], LOGITS[:2])
