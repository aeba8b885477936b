"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh, cosine."""

from __future__ import annotations

import math
from typing import Any

import tensorflowish as tf
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.losses.loss import (
    LossFunctionWrapper,
    _check_same_shape,
    _pair,
    _prediction,
    _target_like,
)
from tensorflowish.tensor import Tensor


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((y_true - y_pred)**2, axis=-1)`` per example."""
    y_pred = _prediction(y_pred)
    y_true = _check_same_shape(_target_like(y_true, y_pred), y_pred, "mean_squared_error")
    return tf.reduce_mean(tf.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(|y_true - y_pred|, axis=-1)`` per example."""
    y_pred = _prediction(y_pred)
    y_true = _check_same_shape(_target_like(y_true, y_pred), y_pred, "mean_absolute_error")
    return tf.reduce_mean(tf.abs(y_pred - y_true), axis=-1)



def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon), axis=-1)`` per example."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_absolute_percentage_error")
    scale = tf.maximum(tf.abs(y_true), keras_backend.epsilon())
    return 100.0 * tf.reduce_mean(tf.abs((y_true - y_pred) / scale), axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_squared_logarithmic_error")
    eps = keras_backend.epsilon()
    first = tf.math.log(tf.maximum(y_pred, eps) + 1.0)
    second = tf.math.log(tf.maximum(y_true, eps) + 1.0)
    return tf.reduce_mean(tf.square(first - second), axis=-1)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """Quadratic for errors up to ``delta``, linear beyond: ``0.5 e^2`` if ``|e| <= delta`` else
    ``delta * |e| - 0.5 delta^2``, averaged over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred, "huber")
    error = y_pred - y_true
    absolute = tf.abs(error)
    quadratic = 0.5 * tf.square(error)
    linear = delta * absolute - 0.5 * delta * delta
    return tf.reduce_mean(tf.where(absolute <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed as ``x + softplus(-2x) - log 2``
    so that large errors do not overflow."""
    y_true, y_pred = _pair(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    return tf.reduce_mean(x + tf.nn.softplus(-2.0 * x) - math.log(2.0), axis=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """The negative cosine similarity along ``axis``: -1 for the same direction, 0 for
    orthogonal, 1 for opposite (a loss to minimise)."""
    y_true, y_pred = _pair(y_true, y_pred, "cosine_similarity")
    return -tf.reduce_sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    squares = tf.reduce_sum(tf.square(x), axis=axis, keepdims=True)
    return x * tf.math.rsqrt(tf.maximum(squares, 1e-12))


class MeanSquaredError(LossFunctionWrapper):
    """Mean of the squared differences."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error",
                 dtype: Any = None) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of the absolute differences."""

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error (0-100 and more)."""

    def __init__(self, reduction: str = "sum_over_batch_size",
                 name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared error of ``log(1 + x)``."""

    def __init__(self, reduction: str = "sum_over_batch_size",
                 name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name)


class Huber(LossFunctionWrapper):
    """Huber loss: squared error for small errors, absolute error beyond ``delta``."""

    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: Any = None) -> None:
        super().__init__(huber, reduction=reduction, name=name, delta=float(delta))


class LogCosh(LossFunctionWrapper):
    """``log(cosh(error))``: about ``e^2 / 2`` for small errors, ``|e| - log 2`` for large."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "log_cosh",
                 dtype: Any = None) -> None:
        super().__init__(log_cosh, reduction=reduction, name=name)


class CosineSimilarity(LossFunctionWrapper):
    """The negative cosine similarity between targets and predictions along ``axis``."""

    def __init__(self, axis: int = -1, reduction: str = "sum_over_batch_size",
                 name: str = "cosine_similarity", dtype: Any = None) -> None:
        super().__init__(cosine_similarity, reduction=reduction, name=name, axis=axis)
