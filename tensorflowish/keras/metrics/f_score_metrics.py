"""F-scores: FBetaScore and F1Score, per class or averaged (micro, macro, weighted)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.metrics.metric import Metric, _array, _same_module
from tensorflowish.tensor import Tensor


class FBetaScore(Metric):
    """``(1 + beta^2) * precision * recall / (beta^2 * precision + recall)`` for multi-class or
    multi-label one-hot targets of shape (batch, classes).

    A prediction is positive where it exceeds ``threshold``; with ``threshold=None`` the
    highest prediction of each row is the positive one. ``average``: None (one score per
    class), "micro" (counts pooled over classes), "macro" (the mean of the class scores) or
    "weighted" (class scores weighted by how often the class is true).
    """

    def __init__(self, average: str | None = None, beta: float = 1.0,
                 threshold: float | None = None, name: str = "fbeta_score",
                 dtype: Any = None) -> None:
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("average must be one of None, 'micro', 'macro', 'weighted'; got "
                             f"{average!r}.")
        if not isinstance(beta, (int, float)) or beta <= 0.0:
            raise ValueError(f"beta must be a positive number, got {beta!r}.")
        if threshold is not None and not (isinstance(threshold, (int, float))
                                          and 0.0 < threshold <= 1.0):
            raise ValueError(f"threshold must be a float in (0, 1] or None, got {threshold!r}.")
        super().__init__(name=name, dtype=dtype)
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self.reset_state()

    def reset_state(self) -> None:
        self._sums: Any = None  # true positives, false positives, false negatives, true count

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add this batch's counts per class."""
        y_pred = _array(y_pred)
        y_true = _same_module(_array(y_true), y_pred)
        xp = tf_backend.get_array_module(y_pred)
        if y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__} expects y_true and y_pred of one shape (batch, classes), "
                f"got {tuple(y_true.shape)} and {tuple(y_pred.shape)}."
            )
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(xp.float64)
        if self.threshold is None:
            # the row maximum is positive; an all-zero row stays all negative
            positive = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (xp.abs(y_pred) > 1e-9)
        else:
            positive = y_pred > self.threshold
        predicted = positive.astype(xp.float64)
        y_true = y_true.astype(xp.float64)
        if sample_weight is not None:
            weight = _same_module(_array(sample_weight), y_pred).astype(xp.float64)
            weight = weight.reshape(-1, 1)
        else:
            weight = 1.0
        axis = None if self.average == "micro" else 0
        sums = xp.stack([
            xp.asarray((predicted * y_true * weight).sum(axis=axis)),
            xp.asarray((predicted * (1.0 - y_true) * weight).sum(axis=axis)),
            xp.asarray(((1.0 - predicted) * y_true * weight).sum(axis=axis)),
            xp.asarray((y_true * weight).sum(axis=axis)),
        ])
        self._sums = sums if self._sums is None else self._sums + sums

    def result(self) -> Tensor:
        if self._sums is None:
            return tf.constant(0.0, dtype=self.dtype)
        tp, fp, fn, true_count = tf_backend.to_numpy(self._sums)
        eps = keras_backend.epsilon()
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        beta2 = self.beta**2
        score = precision * recall / (beta2 * precision + recall + eps) * (1.0 + beta2)
        if self.average == "weighted":
            score = np.sum(score * true_count / (np.sum(true_count) + eps))
        elif self.average is not None:
            score = np.mean(score)
        return tf.constant(np.asarray(score), dtype=self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F-score with ``beta = 1``: the harmonic mean of precision and recall."""

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str = "f1_score", dtype: Any = None) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
