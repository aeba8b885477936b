"""Scans and segment reductions against NumPy references written here."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def _reference_scan(x, axis, exclusive, reverse, accumulate, identity):
    if reverse:
        x = np.flip(x, axis)
    out = accumulate(x, axis=axis)
    if exclusive:
        out = np.moveaxis(out, axis, 0)
        out = np.concatenate([np.full_like(out[:1], identity), out[:-1]], 0)
        out = np.moveaxis(out, 0, axis)
    return np.flip(out, axis) if reverse else out


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, -1])
def test_cumulative_ops(axis, exclusive, reverse, device, rng):
    x = rng.uniform(-2, 2, (3, 4))
    for op, accumulate, identity in [(tf.cumsum, np.cumsum, 0.0),
                                     (tf.math.cumprod, np.cumprod, 1.0),
                                     (tf.math.cumulative_logsumexp, np.logaddexp.accumulate,
                                      -np.inf)]:
        expected = _reference_scan(x, axis, exclusive, reverse, accumulate, identity)
        np.testing.assert_allclose(op(x, axis, exclusive, reverse).numpy(), expected,
                                   rtol=1e-12, err_msg=op.__name__)


def test_cumsum_integers_and_errors(device):
    out = tf.cumsum(tf.constant([[1, 2], [3, 4]]), axis=1)
    assert out.dtype == tf.int32 and out.numpy().tolist() == [[1, 3], [3, 7]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="axis 2"):
        tf.cumsum(tf.zeros([2, 2]), axis=2)


def test_cumulative_logsumexp_does_not_overflow():
    out = tf.math.cumulative_logsumexp(tf.constant([1000.0, 1000.0], dtype=tf.float64))
    np.testing.assert_allclose(out.numpy(), [1000.0, 1000.0 + np.log(2.0)])


def _reference_segments(data, ids, num_segments, reduce, empty):
    out = []
    for s in range(num_segments):
        rows = data[ids == s]
        out.append(reduce(rows, axis=0) if len(rows) else np.full(data.shape[ids.ndim:], empty))
    return np.array(out)


@pytest.mark.parametrize("kind,reduce,empty", [
    ("sum", np.sum, 0.0), ("mean", np.mean, 0.0), ("max", np.max, 0.0),
    ("min", np.min, 0.0), ("prod", np.prod, 1.0)])
def test_sorted_segments(kind, reduce, empty, device, rng):
    data = rng.normal(size=(6, 3))
    ids = np.array([0, 0, 2, 2, 2, 4])
    out = getattr(tf.math, f"segment_{kind}")(data, ids)
    np.testing.assert_allclose(out.numpy(), _reference_segments(data, ids, 5, reduce, empty))


@pytest.mark.parametrize("kind,reduce,empty", [
    ("sum", np.sum, 0.0), ("mean", np.mean, 0.0), ("max", np.max, np.finfo(np.float64).min),
    ("min", np.min, np.finfo(np.float64).max), ("prod", np.prod, 1.0),
    ("sqrt_n", lambda r, axis: r.sum(axis) / np.sqrt(len(r)), 0.0)])
def test_unsorted_segments(kind, reduce, empty, device, rng):
    data = rng.normal(size=(2, 3, 2))
    ids = np.array([[3, 0, -1], [3, 1, 0]])
    out = getattr(tf.math, f"unsorted_segment_{kind}")(data, ids, 5)
    np.testing.assert_allclose(out.numpy(), _reference_segments(data, ids, 5, reduce, empty))


def test_segment_errors(device):
    with pytest.raises(tf.errors.InvalidArgumentError, match="sorted"):
        tf.math.segment_sum(tf.ones([3]), [1, 0, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        tf.math.unsorted_segment_sum(tf.ones([3]), [1, 0, 3], 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="prefix"):
        tf.math.unsorted_segment_sum(tf.ones([3]), [1, 0], 3)


def test_segment_max_of_integers_keeps_dtype(device):
    out = tf.math.unsorted_segment_max(tf.constant([5, 1, 7]), [0, 0, 2], 3)
    assert out.dtype == tf.int32
    assert out.numpy().tolist() == [5, np.iinfo(np.int32).min, 7]


def test_confusion_matrix(device, rng):
    labels = rng.integers(0, 4, 30)
    predictions = rng.integers(0, 4, 30)
    expected = np.zeros((5, 5), dtype=np.int32)
    for label, prediction in zip(labels, predictions):
        expected[label, prediction] += 1
    out = tf.math.confusion_matrix(labels, predictions, num_classes=5)
    assert out.dtype == tf.int32
    np.testing.assert_array_equal(out.numpy(), expected)
    weighted = tf.math.confusion_matrix([0, 1], [1, 1], weights=[0.5, 2.0], dtype=tf.float32)
    assert weighted.numpy().tolist() == [[0.0, 0.5], [0.0, 2.0]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes"):
        tf.math.confusion_matrix([0, 3], [1, 1], num_classes=3)
