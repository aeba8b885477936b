"""Hinge losses, for maximum-margin ("SVM") classifiers."""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras.losses.loss import LossFunctionWrapper, _pair
from tensorflowish.tensor import Tensor


def _signed_labels(y_true: Tensor) -> Tensor:
    """Keras's rule: labels that are all 0 or 1 become -1 or 1; others are used as given."""
    values = y_true.numpy()
    if ((values == 0) | (values == 1)).all():
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels are read as -1/1."""
    y_true, y_pred = _pair(y_true, y_pred, "hinge")
    return tf.reduce_mean(tf.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0)**2, axis=-1)``; 0/1 labels are read as -1/1."""
    y_true, y_pred = _pair(y_true, y_pred, "squared_hinge")
    margin = tf.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0)
    return tf.reduce_mean(tf.square(margin), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` for one-hot targets."""
    y_true, y_pred = _pair(y_true, y_pred, "categorical_hinge")
    positive = tf.reduce_sum(y_true * y_pred, axis=-1)
    negative = tf.reduce_max((1.0 - y_true) * y_pred, axis=-1)
    return tf.maximum(negative - positive + 1.0, 0.0)


class Hinge(LossFunctionWrapper):
    """The hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "hinge",
                 dtype: Any = None) -> None:
        super().__init__(hinge, reduction=reduction, name=name)


class SquaredHinge(LossFunctionWrapper):
    """The squared hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "squared_hinge",
                 dtype: Any = None) -> None:
        super().__init__(squared_hinge, reduction=reduction, name=name)


class CategoricalHinge(LossFunctionWrapper):
    """The hinge loss for one-hot targets over several classes."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "categorical_hinge",
                 dtype: Any = None) -> None:
        super().__init__(categorical_hinge, reduction=reduction, name=name)
