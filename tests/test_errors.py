"""Bad input gets an error that says what was expected, what came, and what to do."""

from __future__ import annotations

import pytest

import tensorflowish as tf


def test_matmul_inner_dimensions():
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: \[2,3\] @ \[4,5\]"):
        tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5]))
    with pytest.raises(ValueError, match=r"rank >= 2"):
        tf.matmul(tf.zeros([3]), tf.zeros([3, 2]))


def test_dtype_mismatch_names_both():
    with pytest.raises(TypeError, match=r"add: operands have different dtypes: float32 .* "
                                        r"and float64 .*tf\.cast"):
        tf.constant([1.0]) + tf.constant([1.0], tf.float64)
    with pytest.raises(TypeError, match="a tensor of dtype int32 with the float 1.5"):
        tf.constant([1, 2]) + 1.5


def test_broadcast_mismatch_names_the_op_and_shapes():
    with pytest.raises(ValueError,
                       match=r"multiply: shapes \[2,3\] and \[4\] are not broadcastable"):
        tf.zeros([2, 3]) * tf.zeros([4])


def test_reshape_and_axis_errors():
    with pytest.raises(ValueError,
                       match=r"cannot reshape a tensor of shape \[2,3\] \(6 elements\)"):
        tf.reshape(tf.zeros([2, 3]), [4])
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor of rank 2"):
        tf.reduce_sum(tf.zeros([2, 3]), axis=2)


def test_dense_and_loss_errors():
    with pytest.raises(ValueError,
                       match=r"dense: inner dimensions differ: x \[4,3\] @ kernel \[2,5\]"):
        tf.nn.dense(tf.zeros([4, 3]), tf.zeros([2, 5]))
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        tf.nn.dense(tf.zeros([4, 3]), tf.zeros([3, 5]), activation="swishy")
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), got values from 0 to 5"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 5], logits=tf.zeros([2, 3]))
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0.0, 1.0], logits=tf.zeros([2, 3]))
    with pytest.raises(ValueError, match=r"same shape, got labels \[2,4\] and logits \[2,3\]"):
        tf.nn.softmax_cross_entropy_with_logits(labels=tf.zeros([2, 4]), logits=tf.zeros([2, 3]))


def test_float_ops_reject_integers():
    with pytest.raises(TypeError, match=r"exp: expects a floating-point tensor, got int32"):
        tf.exp(tf.constant([1, 2]))


def test_gather_out_of_range():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices must be in \[0, 3\)"):
        tf.gather(tf.zeros([3]), [0, 3])
