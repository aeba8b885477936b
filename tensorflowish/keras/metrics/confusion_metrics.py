"""Metrics from confusion counts at thresholds: TruePositives ... FalseNegatives, Precision,
Recall and AUC (ROC and PR curves, multi-label).

A prediction is positive where ``y_pred > threshold``; a label is positive where it is non-zero.
The counts per threshold come from one sort-free pass: each prediction's bucket (how many
thresholds it exceeds, by ``searchsorted``) is histogrammed with the (sample-weighted) positive
and negative labels, and a reversed cumulative sum turns buckets into counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.metrics.metric import Metric, _array, _same_module
from tensorflowish.tensor import Tensor


def confusion_counts(y_true: Any, y_pred: Any, thresholds: Any, sample_weight: Any = None,
                     multi_label: bool = False, label_weights: Any = None) -> Any:
    """``(4, T)`` (or ``(4, T, labels)`` with ``multi_label``) weighted counts of true positives,
    false positives, true negatives and false negatives at each of the sorted ``thresholds``."""
    xp = tf_backend.get_array_module(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(xp.float64)
    if y_pred.ndim == 0:
        y_pred = y_pred.reshape(1)
    y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {tuple(y_true.shape)} but y_pred has shape "
                         f"{tuple(y_pred.shape)}; they must match.")
    positive = (y_true != 0).astype(xp.float64)
    weight = xp.ones_like(y_pred)
    if sample_weight is not None:
        sample_weight = _same_module(_array(sample_weight), y_pred).astype(xp.float64)
        while sample_weight.ndim < y_pred.ndim:  # one weight per example
            sample_weight = sample_weight[..., None]
        weight = weight * sample_weight
    if label_weights is not None:
        weight = weight * xp.asarray(label_weights, dtype=xp.float64)
    # compared in the predictions' precision, as Keras does (0.3 in float32 is not above 0.3)
    thresholds = xp.asarray(thresholds, dtype=y_pred.dtype)
    n_thresholds = thresholds.shape[0]
    # bucket b: the prediction exceeds exactly the thresholds 0..b-1 (thresholds sorted)
    buckets = xp.searchsorted(thresholds, y_pred, side="left")
    if multi_label:
        columns = y_pred.reshape(-1, y_pred.shape[-1]).shape[1]
        buckets = buckets.reshape(-1, columns) * columns + xp.arange(columns)
        size = (n_thresholds + 1) * columns
        shape = (n_thresholds + 1, columns)
    else:
        size, shape = n_thresholds + 1, (n_thresholds + 1,)
    buckets = buckets.reshape(-1)
    histograms = [
        xp.bincount(buckets, weights=(w * weight).reshape(-1), minlength=size).reshape(shape)
        for w in (positive, 1.0 - positive)
    ]
    counts = []
    for histogram in histograms:
        # above[t]: weight of the predictions in buckets t+1.., i.e. above threshold t
        above = xp.cumsum(histogram[::-1], axis=0)[::-1][1:]
        counts.append((above, histogram.sum(axis=0) - above))
    (tp, fn), (fp, tn) = counts
    return xp.stack([tp, fp, tn, fn])


def _thresholds_argument(thresholds: Any, default: float = 0.5) -> tuple[list[float], bool]:
    if thresholds is None:
        return [default], True
    single = np.ndim(thresholds) == 0
    values = [float(t) for t in np.atleast_1d(thresholds)]
    for value in values:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"thresholds must be in [0, 1], got {value}.")
    return values, single


class _ConfusionMetric(Metric):
    """Running confusion counts at thresholds, with Keras's ``top_k`` and ``class_id``."""

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: Any = None,
                 default_threshold: float = 0.5) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        if top_k is not None and thresholds is None:
            default_threshold = float(np.finfo(np.float32).min)  # Keras: every top-k counts
            values, self._single = [default_threshold], True
        else:
            values, self._single = _thresholds_argument(thresholds, default_threshold)
        self._order = np.argsort(values, kind="stable")
        self._sorted = np.asarray(values)[self._order]
        self.thresholds = values if not self._single else values[0]
        self.reset_state()

    def reset_state(self) -> None:
        self._counts: Any = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add this batch's counts at each threshold."""
        y_pred = _array(y_pred)
        y_true = _same_module(_array(y_true), y_pred)
        xp = tf_backend.get_array_module(y_pred)
        if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
            y_true = y_true.reshape(y_pred.shape)
        if self.top_k is not None:  # only each row's k highest predictions can be positive
            kth = xp.sort(y_pred, axis=-1)[..., -min(self.top_k, y_pred.shape[-1])][..., None]
            y_pred = xp.where(y_pred >= kth, y_pred, -xp.inf)
        if self.class_id is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
        self._counts = self._counts + confusion_counts(y_true, y_pred, self._sorted,
                                                       sample_weight)

    def _count(self, index: int) -> np.ndarray:
        """One count per threshold, in the order the thresholds were given."""
        counts = tf_backend.to_numpy(self._counts) if not isinstance(self._counts, float) \
            else np.zeros((4, len(self._sorted)))
        unsorted = np.empty(len(self._sorted))
        unsorted[self._order] = counts[index]
        return unsorted

    def _value(self, values: np.ndarray) -> Tensor:
        return tf.constant(values[0] if self._single else values, dtype=self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class _SingleCount(_ConfusionMetric):
    _index = 0

    def __init__(self, thresholds: Any = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def result(self) -> Tensor:
        return self._value(self._count(self._index))


class TruePositives(_SingleCount):
    """The (weighted) number of true positives at each threshold (default 0.5)."""

    _index = 0


class FalsePositives(_SingleCount):
    """The (weighted) number of false positives at each threshold (default 0.5)."""

    _index = 1


class TrueNegatives(_SingleCount):
    """The (weighted) number of true negatives at each threshold (default 0.5)."""

    _index = 2


class FalseNegatives(_SingleCount):
    """The (weighted) number of false negatives at each threshold (default 0.5)."""

    _index = 3


def _divide_no_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), 0.0)


class Precision(_ConfusionMetric):
    """``TP / (TP + FP)`` at each threshold (default 0.5); ``top_k`` counts only each row's k
    highest predictions as positive; ``class_id`` looks at one column."""

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str = "precision", dtype: Any = None) -> None:
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name,
                         dtype=dtype)

    def result(self) -> Tensor:
        tp, fp = self._count(0), self._count(1)
        return self._value(_divide_no_nan(tp, tp + fp))

    def get_config(self) -> dict:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(_ConfusionMetric):
    """``TP / (TP + FN)`` at each threshold (default 0.5), with ``top_k`` and ``class_id`` as in
    :class:`Precision`."""

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str = "recall", dtype: Any = None) -> None:
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name,
                         dtype=dtype)

    def result(self) -> Tensor:
        tp, fn = self._count(0), self._count(3)
        return self._value(_divide_no_nan(tp, tp + fn))

    def get_config(self) -> dict:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts at ``num_thresholds``
    evenly spaced thresholds (Keras's Riemann sums: "interpolation", "minoring", "majoring"; for
    PR, "interpolation" is Davis & Goadrich's interpolation). ``multi_label``: one curve per
    column, averaged (weighted by ``label_weights``); otherwise every column's predictions are
    pooled into one curve."""

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None,
                 dtype: Any = None, thresholds: Any = None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False) -> None:
        super().__init__(name=name or "auc", dtype=dtype)
        curve = curve.upper() if isinstance(curve, str) else curve
        if curve not in ("ROC", "PR"):
            raise ValueError(f'curve must be "ROC" or "PR", got {curve!r}.')
        summation_method = summation_method.lower()
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError('summation_method must be "interpolation", "minoring" or '
                             f'"majoring", got {summation_method!r}.')
        if thresholds is not None:
            values = sorted(float(t) for t in thresholds)
            self._init_from_thresholds = True
        else:
            if num_thresholds <= 1:
                raise ValueError(f"num_thresholds must be > 1, got {num_thresholds}.")
            values = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._init_from_thresholds = False
        eps = keras_backend.epsilon()
        self._thresholds = np.array([0.0 - eps, *values, 1.0 + eps])
        self.num_thresholds = len(self._thresholds)
        self.curve, self.summation_method = curve, summation_method
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights,
                                                                           dtype=np.float64)
        if self.label_weights is not None and (self.label_weights < 0).any():
            raise ValueError("label_weights must be non-negative.")
        self.from_logits = bool(from_logits)
        self.reset_state()

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, including the two end points just outside [0, 1]."""
        return self._thresholds.tolist()

    def reset_state(self) -> None:
        self._counts: Any = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add this batch's confusion counts at every threshold."""
        y_pred = _array(y_pred)
        y_true = _same_module(_array(y_true), y_pred)
        xp = tf_backend.get_array_module(y_pred)
        if self.from_logits:
            y_pred = 1.0 / (1.0 + xp.exp(-y_pred.astype(xp.float64)))
        if self.multi_label and y_pred.ndim < 2:
            raise ValueError(f"AUC(multi_label=True) expects y_pred of shape (batch, labels), "
                             f"got {tuple(y_pred.shape)}.")
        label_weights = None if self.multi_label else self.label_weights
        counts = confusion_counts(y_true, y_pred, self._thresholds, sample_weight,
                                  multi_label=self.multi_label, label_weights=label_weights)
        self._counts = counts if self._counts is None else self._counts + counts

    def _by_label(self, values: np.ndarray) -> float:
        if not self.multi_label:
            return float(values.sum())
        by_label = values.sum(axis=0)
        if self.label_weights is None:
            return float(by_label.mean())
        return float(_divide_no_nan(np.sum(by_label * self.label_weights),
                                    np.sum(self.label_weights)))

    def result(self) -> Tensor:
        if self._counts is None:
            return tf.constant(0.0, dtype=self.dtype)
        tp, fp, tn, fn = tf_backend.to_numpy(self._counts)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return tf.constant(self._interpolated_pr_auc(tp, fp, fn), dtype=self.dtype)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return tf.constant(self._by_label((x[:-1] - x[1:]) * heights), dtype=self.dtype)

    def _interpolated_pr_auc(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
        # Davis & Goadrich (2006): precision interpolated between thresholds, as Keras does
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        increment = _divide_no_nan(slope * (dtp + intercept * log_ratio),
                                   np.maximum(tp[1:] + fn[1:], 0))
        return self._by_label(increment)

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
