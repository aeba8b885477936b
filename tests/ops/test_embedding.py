"""tf.nn.embedding_lookup, tf.IndexedSlices and the optimisers' row-wise updates."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def _table(rows=7, dim=3, seed=0):
    return np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)


def test_lookup_gives_the_rows_in_the_ids_shape():
    table = _table()
    ids = np.array([[6, 0, 6], [2, 2, 1]])
    out = tf.nn.embedding_lookup(tf.constant(table), ids)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.numpy()[1, 2], table[1])
    np.testing.assert_array_equal(out.numpy()[0, 2], table[6])


def test_the_gradient_of_a_variable_table_is_indexed_slices():
    table = tf.Variable(_table())
    ids = np.array([[6, 0], [6, 3]])
    weights = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.embedding_lookup(table, ids) * weights)
    grad = tape.gradient(loss, table)
    assert isinstance(grad, tf.IndexedSlices)
    assert grad.indices.numpy().tolist() == [6, 0, 6, 3]
    assert tuple(grad.dense_shape) == (7, 3)
    expected = np.zeros((7, 3), np.float32)
    for (i, j), row in np.ndenumerate(ids):
        expected[row] += weights[i, j]
    np.testing.assert_array_equal(tf.convert_to_tensor(grad).numpy(), expected)


def test_slices_plus_a_dense_gradient_is_dense():
    table = tf.Variable(_table())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.embedding_lookup(table, [1, 1])) + \
            tf.reduce_sum(table * table)
    grad = tape.gradient(loss, table)
    assert not isinstance(grad, tf.IndexedSlices)
    expected = 2 * table.numpy()
    expected[1] += 2
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-6)


def test_two_lookups_concatenate_their_slices():
    table = tf.Variable(_table())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.embedding_lookup(table, [4])) + \
            tf.reduce_sum(tf.nn.embedding_lookup(table, [2, 4]))
    grad = tape.gradient(loss, table)
    assert isinstance(grad, tf.IndexedSlices)
    assert sorted(grad.indices.numpy().tolist()) == [2, 4, 4]


def test_sgd_updates_only_the_looked_up_rows_and_matches_dense_sgd():
    start = _table()
    ids = np.array([5, 1, 5])
    sparse, dense = tf.Variable(start), tf.Variable(start)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.embedding_lookup(sparse, ids) ** 2)
    tf.keras.optimizers.SGD(0.1).apply_gradients([(tape.gradient(loss, sparse), sparse)])
    # the same step with a hand-made dense gradient
    grad = np.zeros_like(start)
    for row in ids:
        grad[row] += 2 * start[row]
    dense.assign_sub(0.1 * grad)
    np.testing.assert_allclose(sparse.numpy(), dense.numpy(), rtol=1e-6)
    untouched = [0, 2, 3, 4, 6]
    np.testing.assert_array_equal(sparse.numpy()[untouched], start[untouched])


def test_adam_applies_a_sparse_gradient_as_its_dense_sum():
    """As Keras 3: Adam densifies the IndexedSlices (repeated ids summed first), so rows not
    looked up move too once their moments are non-zero (no LazyAdam)."""
    start = _table()
    table = tf.Variable(start)
    optimizer = tf.keras.optimizers.Adam(0.01)
    m, v = np.zeros_like(start), np.zeros_like(start)
    expected = start.astype(np.float64)
    for step, ids in enumerate((np.array([3, 0, 3]), np.array([1])), start=1):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.embedding_lookup(table, ids) * 1.5)
        before = table.numpy()
        optimizer.apply_gradients([(tape.gradient(loss, table), table)])
        g = np.zeros_like(start)
        for row in ids:
            g[row] += 1.5
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        alpha = 0.01 * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
        expected = expected - alpha * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(table.numpy(), expected, rtol=1e-5)
    # rows 0 and 3, not looked up by the second step, moved in it; rows never looked up did not
    assert (table.numpy()[[0, 3]] != before[[0, 3]]).all()
    np.testing.assert_array_equal(table.numpy()[[2, 4, 5, 6]], start[[2, 4, 5, 6]])


def test_out_of_range_ids_are_a_clear_error():
    table = tf.constant(_table())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"id 7 is not in \[0, 7\)"):
        tf.nn.embedding_lookup(table, [0, 7])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"id -1"):
        tf.nn.embedding_lookup(table, [-1])
    with pytest.raises(TypeError, match="ids must be integers"):
        tf.nn.embedding_lookup(table, tf.constant([1.0]))
