"""tf.map_fn, tf.scan, tf.foldl, tf.foldr: values against Python loops, gradients flow."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def test_map_fn_over_nested_elems(rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4,))
    out = tf.map_fn(lambda pair: pair[0] * pair[1], (tf.constant(x), tf.constant(y)))
    np.testing.assert_allclose(out.numpy(), x * y[:, None])
    both = tf.map_fn(lambda row: (row, tf.reduce_sum(row)), tf.constant(x))
    np.testing.assert_allclose(both[1].numpy(), x.sum(axis=1))


def test_scan_forward_reverse_and_initializer():
    x = tf.constant([1, 2, 3, 4])
    assert tf.scan(lambda a, v: a + v, x).numpy().tolist() == [1, 3, 6, 10]
    assert tf.scan(lambda a, v: a + v, x, reverse=True).numpy().tolist() == [10, 9, 7, 4]
    sums, products = tf.scan(lambda a, v: (a[0] + v, a[1] * v), x,
                             initializer=(tf.constant(0), tf.constant(1)))
    assert sums.numpy().tolist() == [1, 3, 6, 10] and products.numpy().tolist() == [1, 2, 6, 24]


def test_folds():
    x = tf.constant([1, 2, 3])
    assert int(tf.foldl(lambda a, v: a * 10 + v, x)) == 123
    assert int(tf.foldr(lambda a, v: a * 10 + v, x)) == 321
    assert int(tf.foldl(lambda a, v: a - v, x, initializer=tf.constant(10))) == 4
    with pytest.raises(tf.errors.InvalidArgumentError, match="first dimension"):
        tf.foldl(lambda a, v: a, (tf.zeros([2]), tf.zeros([3])))


def test_scan_is_differentiable():
    w = tf.Variable([0.5, 2.0, -1.0])
    with tf.GradientTape() as tape:
        products = tf.scan(lambda a, v: a * v, w, initializer=tf.constant(1.0))
        loss = tf.reduce_sum(products)
    # loss = w0 + w0 w1 + w0 w1 w2
    w0, w1, w2 = 0.5, 2.0, -1.0
    expected = [1 + w1 + w1 * w2, w0 + w0 * w2, w0 * w1]
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), expected)
