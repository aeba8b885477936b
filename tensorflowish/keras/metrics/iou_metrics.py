"""Intersection-over-union metrics for segmentation: IoU (chosen classes) and MeanIoU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras.metrics.metric import Metric, _array, _same_module
from tensorflowish.tensor import Tensor


class IoU(Metric):
    """``TP / (TP + FP + FN)`` per class from a running confusion matrix, averaged over
    ``target_class_ids`` (classes that never occur in targets or predictions are left out of
    the mean). Labels are class ids (``sparse_y_true``/``sparse_y_pred``) or scores whose arg-max
    along ``axis`` is taken; ``ignore_class`` drops the pixels labelled with it."""

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: Any = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
        if max(target_class_ids, default=0) >= num_classes:
            raise ValueError(f"target_class_ids {list(target_class_ids)} must be class ids below "
                             f"num_classes={num_classes}.")
        super().__init__(name=name, dtype=dtype)
        self.num_classes, self.target_class_ids = int(num_classes), list(target_class_ids)
        self.ignore_class, self.axis = ignore_class, axis
        self.sparse_y_true, self.sparse_y_pred = sparse_y_true, sparse_y_pred
        self.reset_state()

    def reset_state(self) -> None:
        self._matrix: Any = None  # rows: true class, columns: predicted class

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add this batch to the confusion matrix."""
        y_pred = _array(y_pred)
        y_true = _same_module(_array(y_true), y_pred)
        xp = tf_backend.get_array_module(y_pred)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(axis=self.axis)
        if not self.sparse_y_true:
            y_true = y_true.argmax(axis=self.axis)
        y_true = y_true.reshape(-1).astype(xp.int64)
        y_pred = y_pred.reshape(-1).astype(xp.int64)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}.")
        weight = xp.ones(y_true.shape, xp.float64) if sample_weight is None else xp.broadcast_to(
            _same_module(_array(sample_weight), y_pred).astype(xp.float64).reshape(-1),
            y_true.shape)
        if self.ignore_class is not None:
            keep = y_true != self.ignore_class
            y_true, y_pred, weight = y_true[keep], y_pred[keep], weight[keep]
        for labels, what in ((y_true, "y_true"), (y_pred, "y_pred")):
            if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
                raise ValueError(f"{what} holds class ids outside [0, {self.num_classes}).")
        n = self.num_classes
        matrix = xp.bincount(y_true * n + y_pred, weights=weight, minlength=n * n).reshape(n, n)
        self._matrix = matrix if self._matrix is None else self._matrix + matrix

    def _per_class(self) -> tuple[np.ndarray, np.ndarray]:
        if self._matrix is None:
            zeros = np.zeros(self.num_classes)
            return zeros, zeros
        matrix = tf_backend.to_numpy(self._matrix)
        true_positives = np.diag(matrix)
        union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(union != 0, true_positives / np.where(union != 0, union, 1.0), 0.0)
        return iou, union

    def result(self) -> Tensor:
        iou, union = self._per_class()
        ids = self.target_class_ids
        valid = np.sum(union[ids] != 0)
        value = float(np.sum(iou[ids]) / valid) if valid else 0.0
        return tf.constant(value, dtype="float32")

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class MeanIoU(IoU):
    """The mean IoU over all ``num_classes`` classes (those present in targets or
    predictions)."""

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1) -> None:
        super().__init__(num_classes, list(range(num_classes)), name=name or "mean_iou",
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config
