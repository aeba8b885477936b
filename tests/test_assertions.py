"""tf.debugging.assert_*: passing cases return None, failing ones raise tf.errors' classes."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

PASS_FAIL = [
    ("assert_equal", ([1, 2], [1, 2]), ([1, 2], [1, 3]), "x == y"),
    ("assert_none_equal", ([1, 2], [3, 4]), ([1, 2], [3, 2]), "x != y"),
    ("assert_less", ([1, 2], 3), ([1, 3], 3), "x < y"),
    ("assert_less_equal", ([1, 3], 3), ([1, 4], 3), "x <= y"),
    ("assert_greater", ([4, 5], 3), ([4, 3], 3), "x > y"),
    ("assert_greater_equal", ([3, 5], 3), ([2, 5], 3), "x >= y"),
    ("assert_positive", ([1.0, 2.0],), ([1.0, 0.0],), "x > 0"),
    ("assert_negative", ([-1.0],), ([-1.0, 0.0],), "x < 0"),
    ("assert_non_negative", ([0, 2],), ([0, -2],), "x >= 0"),
    ("assert_non_positive", ([0, -2],), ([0, 2],), "x <= 0"),
    ("assert_near", ([1.0, 2.0], [1.0, 2.0 + 1e-9]), ([1.0, 2.0], [1.0, 2.1]), "near"),
]


@pytest.mark.parametrize("name,passing,failing,condition", PASS_FAIL)
def test_value_assertions(name, passing, failing, condition):
    check = getattr(tf.debugging, name)
    assert check(*passing) is None
    with pytest.raises(tf.errors.InvalidArgumentError, match=condition):
        check(*failing, message="context")
    with pytest.raises(ValueError, match="context"):
        check(*failing, message="context")


def test_failure_names_first_bad_entries():
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        tf.debugging.assert_equal(tf.constant([[1, 2], [3, 4]]), tf.constant([[1, 0], [3, 0]]))
    assert "[[0, 1], [1, 1]]" in str(info.value) and "[2, 4]" in str(info.value)


def test_rank_and_scalar_assertions():
    x = tf.zeros([2, 3])
    tf.debugging.assert_rank(x, 2)
    tf.debugging.assert_rank_at_least(x, 1)
    tf.debugging.assert_rank_in(x, [1, 2])
    tf.debugging.assert_scalar(tf.constant(1.0))
    with pytest.raises(ValueError, match="must have rank 3.*rank 2"):
        tf.debugging.assert_rank(x, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 3"):
        tf.debugging.assert_rank_at_least(x, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"rank in \[0, 1\]"):
        tf.debugging.assert_rank_in(x, [0, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="scalar"):
        tf.debugging.assert_scalar(x)
    assert tf.assert_rank is tf.debugging.assert_rank


def test_assert_shapes_symbols():
    tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", "Q")), (tf.zeros([2]), ("N",)),
                                (tf.zeros([5, 2, 3]), ("*", "N", 3)), (tf.zeros([]), ())])
    with pytest.raises(ValueError, match="'N' is 2 .* but 3"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", "Q")), (tf.zeros([3]), ("N",))])
    with pytest.raises(tf.errors.InvalidArgumentError, match="size 4"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3]), (None, 4))])
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank 1"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N",))])


def test_dtype_assertions_and_finite():
    tf.debugging.assert_type(tf.zeros([2]), tf.float32)
    with pytest.raises(TypeError, match="tf.int32"):
        tf.debugging.assert_type(tf.zeros([2]), tf.int32)
    tf.debugging.assert_integer(tf.constant([1]))
    with pytest.raises(TypeError, match="integer"):
        tf.debugging.assert_integer(tf.zeros([1]))
    assert tf.debugging.assert_same_float_dtype([tf.zeros([1], tf.float64)]) == tf.float64
    with pytest.raises(ValueError, match="float64"):
        tf.debugging.assert_same_float_dtype([tf.zeros([1]), tf.zeros([1], tf.float64)])
    tf.debugging.assert_proper_iterable([1, 2])
    with pytest.raises(TypeError, match="proper"):
        tf.debugging.assert_proper_iterable(np.zeros(2))
    finite = tf.constant([1.0, 2.0])
    assert tf.debugging.assert_all_finite(finite, "ok") is finite
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad : Tensor had 1 NaN"):
        tf.debugging.assert_all_finite(tf.constant([1.0, np.nan]), "bad")
    assert tf.debugging.is_numeric_tensor(finite) and not tf.debugging.is_numeric_tensor([1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="assertion failed"):
        tf.debugging.Assert(tf.constant(False), [finite])
