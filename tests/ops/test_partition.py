"""Partitioning, sequence and shape helpers against NumPy references written here."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def test_dynamic_partition_and_stitch_round_trip(device, rng):
    data = rng.normal(size=(6, 2))
    partitions = np.array([2, 0, 1, 2, 0, 2])
    parts = tf.dynamic_partition(data, partitions, 3)
    for p in range(3):
        np.testing.assert_array_equal(parts[p].numpy(), data[partitions == p])
    positions = [np.flatnonzero(partitions == p) for p in range(3)]
    stitched = tf.dynamic_stitch(positions, parts)
    np.testing.assert_array_equal(stitched.numpy(), data)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 3\)"):
        tf.dynamic_partition(data, [0, 1, 2, 3, 0, 0], 3)


def test_dynamic_stitch_later_duplicate_wins(device):
    out = tf.dynamic_stitch([[0, 1], [1]], [[1.0, 2.0], [9.0]])
    assert out.numpy().tolist() == [1.0, 9.0]


@pytest.mark.parametrize("seq_axis,batch_axis", [(1, 0), (0, 1), (0, 2), (2, 1)])
def test_reverse_sequence(seq_axis, batch_axis, device, rng):
    x = rng.normal(size=(3, 4, 5))
    lengths = rng.integers(0, x.shape[seq_axis] + 1, x.shape[batch_axis])
    expected = np.moveaxis(x, (batch_axis, seq_axis), (0, 1)).copy()
    for b, length in enumerate(lengths):
        expected[b, :length] = expected[b, :length][::-1]
    expected = np.moveaxis(expected, (0, 1), (batch_axis, seq_axis))
    out = tf.reverse_sequence(x, lengths, seq_axis=seq_axis, batch_axis=batch_axis)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_sequence_mask_unravel_invert(device):
    assert tf.sequence_mask([1, 3]).numpy().tolist() == [[True, False, False],
                                                         [True, True, True]]
    mask = tf.sequence_mask([[2], [0]], maxlen=3, dtype=tf.float32)
    assert mask.dtype == tf.float32 and mask.numpy().tolist() == [[[1.0, 1.0, 0.0]],
                                                                   [[0.0, 0.0, 0.0]]]
    coordinates = tf.unravel_index([5, 7, 11], [3, 4])
    assert coordinates.numpy().tolist() == [[1, 1, 2], [1, 3, 3]]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 12\)"):
        tf.unravel_index([12], [3, 4])
    assert tf.math.invert_permutation([3, 4, 0, 2, 1]).numpy().tolist() == [2, 4, 3, 0, 1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="permutation"):
        tf.math.invert_permutation([0, 0, 1])


def test_monotonic_checks_and_histograms(device, rng):
    assert bool(tf.math.is_non_decreasing([[1, 2], [2, 3]]))
    assert not bool(tf.math.is_strictly_increasing([1, 2, 2]))
    values = rng.uniform(-2, 2, 200)
    counts = tf.histogram_fixed_width(values, [-1.0, 1.0], nbins=8)
    bins = np.clip(np.floor((values + 1.0) / 2.0 * 8), 0, 7).astype(int)
    np.testing.assert_array_equal(counts.numpy(), np.bincount(bins, minlength=8))
    np.testing.assert_array_equal(
        tf.histogram_fixed_width_bins(values, [-1.0, 1.0], nbins=8).numpy(), bins)


def test_shape_helpers(device):
    shapes = tf.shape_n([tf.zeros([2, 3]), tf.zeros([4])])
    assert [s.numpy().tolist() for s in shapes] == [[2, 3], [4]]
    x = tf.zeros([2, 3])
    assert tf.ensure_shape(x, [None, 3]) is x
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible"):
        tf.ensure_shape(x, [2, 4])
    assert tf.broadcast_static_shape(tf.TensorShape([2, 1]), tf.TensorShape([3])) == (2, 3)
    assert tf.broadcast_dynamic_shape([2, 1, 3], [4, 1]).numpy().tolist() == [2, 4, 3]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible"):
        tf.broadcast_static_shape([2], [3])
