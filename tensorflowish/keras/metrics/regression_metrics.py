"""Regression metrics: MSE, MAE, RMSE, MAPE, MSLE, cosine similarity, log-cosh, R2."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras import losses as keras_losses
from tensorflowish.keras.metrics.metric import Metric, _array, _same_module
from tensorflowish.keras.metrics.probabilistic_metrics import _loss_values
from tensorflowish.keras.metrics.reduction_metrics import Mean, MeanMetricWrapper
from tensorflowish.tensor import Tensor


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of the squared error."""

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.mean_squared_error), name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of the absolute error."""

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.mean_absolute_error), name=name, dtype=dtype)



class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Running mean of the absolute percentage error."""

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.mean_absolute_percentage_error), name=name,
                         dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Running mean of the squared logarithmic error."""

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.mean_squared_logarithmic_error), name=name,
                         dtype=dtype)


def _cosine_similarity_values(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    # the loss is the negative similarity; the metric is the similarity itself
    return -keras_losses.cosine_similarity(y_true, y_pred, axis=axis).array


class CosineSimilarity(MeanMetricWrapper):
    """Running mean of the cosine similarity along ``axis`` (1 for the same direction)."""

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(_cosine_similarity_values, name=name, dtype=dtype, axis=axis)


class LogCoshError(MeanMetricWrapper):
    """Running mean of ``log(cosh(y_pred - y_true))``."""

    def __init__(self, name: str = "logcosh", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.log_cosh), name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the running (weighted) mean of the squared errors, over all elements."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add this batch's squared errors."""
        y_pred = _array(y_pred)
        y_true = _same_module(_array(y_true), y_pred)
        if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
            y_true = y_true.reshape(y_pred.shape)
        error = y_pred.astype(np.float64) - y_true
        super().update_state(error * error, sample_weight)

    def result(self) -> Tensor:
        return tf.constant(Mean._result_float(self) ** 0.5, dtype=self.dtype)

    def _result_float(self) -> float:
        return Mean._result_float(self) ** 0.5


class R2Score(Metric):
    """The coefficient of determination, ``1 - SS_res / SS_tot`` per output, aggregated by
    ``class_aggregation`` ("uniform_average", "variance_weighted_average" or None for one score
    per output); ``num_regressors > 0`` gives the adjusted R2."""

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score", dtype: Any = None) -> None:
        if class_aggregation not in ("uniform_average", "variance_weighted_average", None):
            raise ValueError(
                "class_aggregation must be 'uniform_average', 'variance_weighted_average' or "
                f"None, got {class_aggregation!r}."
            )
        if num_regressors < 0:
            raise ValueError(f"num_regressors must be >= 0, got {num_regressors}.")
        super().__init__(name=name, dtype=dtype)
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self.reset_state()

    def reset_state(self) -> None:
        self._sums: Any = None  # sum, squared sum, residual sum, weight per output
        self._num_samples = 0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add a batch of targets and predictions of shape (batch, outputs) or (batch,)."""
        y_pred = _array(y_pred)
        y_true = _same_module(_array(y_true), y_pred)
        xp = tf_backend.get_array_module(y_pred)
        y_true, y_pred = y_true.astype(xp.float64), y_pred.astype(xp.float64)
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        if y_true.ndim == 1:
            y_true = y_true[:, None]
        if y_true.shape != y_pred.shape or y_true.ndim != 2:
            raise ValueError(
                f"R2Score expects y_true and y_pred of one shape (batch, outputs), got "
                f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}."
            )
        weight = xp.ones_like(y_true) if sample_weight is None else _same_module(
            _array(sample_weight), y_true).astype(xp.float64)
        if weight.ndim == 1:
            weight = weight[:, None]
        weight = xp.broadcast_to(weight, y_true.shape)
        sums = xp.stack([
            (y_true * weight).sum(axis=0),
            (y_true * y_true * weight).sum(axis=0),
            ((y_true - y_pred) ** 2 * weight).sum(axis=0),
            weight.sum(axis=0),
        ])
        if self._sums is not None and self._sums.shape != sums.shape:
            raise ValueError(
                f"R2Score was built for {self._sums.shape[1]} outputs but got "
                f"{sums.shape[1]}; use one R2Score per output shape."
            )
        self._sums = sums if self._sums is None else self._sums + sums
        self._num_samples += y_true.size

    def result(self) -> Tensor:
        if self._sums is None:
            return tf.constant(0.0, dtype=self.dtype)
        total, squares, residual, count = tf_backend.to_numpy(self._sums)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / count
            variation = squares - total * mean
            scores = 1.0 - residual / variation
        scores = np.where(np.isinf(scores), 0.0, scores)
        if self.class_aggregation == "uniform_average":
            score = scores.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (variation * scores).sum() / variation.sum()
        else:
            score = scores
        n, p = self._num_samples, self.num_regressors
        if p and p >= n - 1:
            warnings.warn(f"R2Score: num_regressors ({p}) must be smaller than the number of "
                          f"samples minus one ({n - 1}); the R2 score is not adjusted.",
                          stacklevel=2)
        elif p:  # n counts values (batch * outputs), as Keras counts them
            score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return tf.constant(np.asarray(score), dtype=self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
