"""Sorting and sets against NumPy references (ties, dtypes, errors)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_sort_and_argsort(axis, device, rng):
    x = rng.integers(0, 4, (5, 6)).astype(np.float64)  # many ties
    np.testing.assert_array_equal(tf.sort(x, axis=axis).numpy(), np.sort(x, axis=axis))
    np.testing.assert_array_equal(tf.sort(x, axis, "DESCENDING").numpy(),
                                  -np.sort(-x, axis=axis))
    order = tf.argsort(x, axis=axis)
    assert order.dtype == tf.int32
    np.testing.assert_array_equal(order.numpy(), np.argsort(x, axis=axis, kind="stable"))
    descending = tf.argsort(x, axis=axis, direction="DESCENDING").numpy()
    np.testing.assert_array_equal(descending, np.argsort(-x, axis=axis, kind="stable"))


def test_sort_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="axis 2"):
        tf.sort(tf.zeros([2, 2]), axis=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="direction"):
        tf.sort(tf.zeros([2]), direction="UP")


def test_top_k_ties_and_unsorted(device, rng):
    x = np.array([[1.0, 5.0, 3.0, 5.0, 0.0], [2.0, 2.0, 2.0, 1.0, 9.0]])
    values, indices = tf.math.top_k(x, k=3)
    assert indices.dtype == tf.int32
    assert indices.numpy().tolist() == [[1, 3, 2], [4, 0, 1]]
    assert values.numpy().tolist() == [[5.0, 5.0, 3.0], [9.0, 2.0, 2.0]]
    y = rng.normal(size=(4, 7))
    result = tf.math.top_k(y, k=4, sorted=False)
    np.testing.assert_array_equal(np.sort(result.values.numpy(), axis=1),
                                  np.sort(y, axis=1)[:, -4:])
    np.testing.assert_array_equal(np.take_along_axis(y, result.indices.numpy(), 1),
                                  result.values.numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="k=8"):
        tf.math.top_k(y, k=8)


def test_in_top_k_boundary_ties(device):
    predictions = [[0.1, 0.5, 0.5], [0.3, 0.2, 0.2], [0.1, np.nan, 0.0]]
    assert tf.math.in_top_k([2, 2, 1], predictions, 1).numpy().tolist() == [True, False, False]
    assert tf.math.in_top_k([2, 2, 0], predictions, 2).numpy().tolist() == [True, True, True]


def test_unique_keeps_first_appearance_order(device):
    x = [7, 1, 7, 3, 1, 9, 7]
    y, idx = tf.unique(x)
    assert y.numpy().tolist() == [7, 1, 3, 9]
    assert idx.numpy().tolist() == [0, 1, 0, 2, 1, 3, 0] and idx.dtype == tf.int32
    y, idx, count = tf.unique_with_counts(tf.constant(x), out_idx=tf.int64)
    assert count.numpy().tolist() == [3, 2, 1, 1] and idx.dtype == tf.int64
    with pytest.raises(tf.errors.InvalidArgumentError, match="1-D"):
        tf.unique([[1, 2]])


def test_bincount(device, rng):
    values = rng.integers(0, 6, 40)
    weights = rng.normal(size=40)
    np.testing.assert_array_equal(tf.math.bincount(values).numpy(), np.bincount(values))
    np.testing.assert_allclose(tf.math.bincount(values, weights, minlength=9).numpy(),
                               np.bincount(values, weights, minlength=9))
    assert tf.math.bincount(values, maxlength=3).numpy().tolist() == \
        np.bincount(values)[:3].tolist()
    rows = rng.integers(0, 4, (3, 5))
    expected = np.stack([np.bincount(r, minlength=4) for r in rows])
    np.testing.assert_array_equal(tf.math.bincount(rows, axis=-1, minlength=4).numpy(), expected)
    np.testing.assert_array_equal(
        tf.math.bincount(rows, axis=-1, minlength=4, binary_output=True).numpy(),
        (expected > 0).astype(np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative"):
        tf.math.bincount([1, -1])


def test_count_nonzero(device, rng):
    x = rng.integers(-1, 2, (3, 4, 5))
    out = tf.math.count_nonzero(x, axis=[0, 2])
    assert out.dtype == tf.int64
    np.testing.assert_array_equal(out.numpy(), np.count_nonzero(x, axis=(0, 2)))
    assert int(tf.math.count_nonzero(x)) == np.count_nonzero(x)


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(side, device, rng):
    sequence = np.sort(rng.integers(0, 10, (3, 8)), axis=1)
    values = rng.integers(-1, 11, (3, 5))
    out = tf.searchsorted(sequence, values, side=side)
    assert out.dtype == tf.int32
    expected = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(sequence, values)])
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_top_k_partition_path_ties_by_lower_index(k, device, rng):
    x = rng.integers(0, 6, (5, 40)).astype(np.float32)  # k << n: the partition path, many ties
    values, indices = tf.math.top_k(x, k=k)
    expected = np.argsort(-x, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(indices.numpy(), expected)
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(x, expected, 1))
    integers = tf.math.top_k(x.astype(np.int64), k=k)
    np.testing.assert_array_equal(integers.indices.numpy(), expected)
