"""Accuracy metrics: exact, binary, categorical, sparse categorical and top-k."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorflowish import backend as tf_backend
from tensorflowish.keras.metrics.metric import _array, _same_module
from tensorflowish.keras.metrics.reduction_metrics import MeanMetricWrapper
from tensorflowish.tensor import Tensor


def _accuracy_values(y_true: Any, y_pred: Any) -> Any:
    y_true, y_pred = _array(y_true), _array(y_pred)
    y_true = _same_module(y_true, y_pred)
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    return y_true == y_pred


def _binary_accuracy_values(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Any:
    y_true, y_pred = _array(y_true), _array(y_pred)
    y_true = _same_module(y_true, y_pred)
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    predicted = y_pred > threshold
    return (
        (predicted == (y_true > 0.5)).mean(axis=-1)
        if y_pred.ndim > 1
        else (predicted == (y_true > 0.5))
    )


def _categorical_accuracy_values(y_true: Any, y_pred: Any) -> Any:
    y_true, y_pred = _array(y_true), _array(y_pred)
    y_true = _same_module(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"categorical_accuracy expects one-hot y_true of shape {y_pred.shape}, got "
            f"{y_true.shape}; for integer labels use sparse_categorical_accuracy."
        )
    return y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)


def _sparse_categorical_accuracy_values(y_true: Any, y_pred: Any) -> Any:
    y_true, y_pred = _array(y_true), _array(y_pred)
    y_true = _same_module(y_true, y_pred)
    batch_shape = y_pred.shape[:-1]
    if y_true.shape != batch_shape:
        if y_true.size == int(np.prod(batch_shape)):
            y_true = y_true.reshape(batch_shape)
        else:
            raise ValueError(
                f"sparse_categorical_accuracy expects integer labels of shape {batch_shape} for "
                f"predictions of shape {y_pred.shape}, got labels of shape {y_true.shape}."
            )
    return y_true.astype(np.int64, copy=False) == y_pred.argmax(axis=-1)


def _as_float_tensor(values: Any) -> Tensor:
    xp = tf_backend.get_array_module(values)
    return Tensor(xp.asarray(values, dtype=np.float32))


def accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """1.0 where ``y_true == y_pred`` else 0.0, element-wise."""
    return _as_float_tensor(_accuracy_values(y_true, y_pred))


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Tensor:
    """Per example: the fraction of ``y_pred > threshold`` that matches the 0/1 targets."""
    return _as_float_tensor(_binary_accuracy_values(y_true, y_pred, threshold))


def categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """Per example: 1.0 when the arg-max of one-hot ``y_true`` and ``y_pred`` agree."""
    return _as_float_tensor(_categorical_accuracy_values(y_true, y_pred))


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """Per example: 1.0 when the integer label equals the arg-max of ``y_pred``."""
    return _as_float_tensor(_sparse_categorical_accuracy_values(y_true, y_pred))



class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly."""

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(_accuracy_values, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 targets."""

    def __init__(
        self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5
    ) -> None:
        super().__init__(_binary_accuracy_values, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of ``y_pred`` matches that of one-hot ``y_true``."""

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(_categorical_accuracy_values, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of ``y_pred`` equals the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(_sparse_categorical_accuracy_values, name=name, dtype=dtype)



def _in_top_k(scores: Any, labels: Any, k: int) -> Any:
    """Whether each row's label is among its k highest scores (ties count in, as TF's
    in_top_k): fewer than k scores are strictly higher than the label's."""
    xp = tf_backend.get_array_module(scores)
    scores = scores.reshape(-1, scores.shape[-1])
    labels = labels.reshape(-1).astype(np.int64, copy=False)
    target = xp.take_along_axis(scores, labels[:, None], axis=-1)
    return (scores > target).sum(axis=-1) < k


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Tensor:
    """Per example: 1.0 when the arg-max of one-hot ``y_true`` is among the top ``k``."""
    return _as_float_tensor(_top_k_values(y_true, y_pred, k))


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> Tensor:
    """Per example: 1.0 when the integer label is among the top ``k`` predictions."""
    return _as_float_tensor(_sparse_top_k_values(y_true, y_pred, k, from_sorted_ids))


def _top_k_values(y_true: Any, y_pred: Any, k: int = 5) -> Any:
    y_true, y_pred = _array(y_true), _array(y_pred)
    y_true = _same_module(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"top_k_categorical_accuracy expects one-hot y_true of shape {y_pred.shape}, got "
            f"{y_true.shape}; for integer labels use sparse_top_k_categorical_accuracy."
        )
    hits = _in_top_k(y_pred, y_true.argmax(axis=-1), k)
    return hits.reshape(y_pred.shape[:-1])


def _sparse_top_k_values(y_true: Any, y_pred: Any, k: int = 5,
                         from_sorted_ids: bool = False) -> Any:
    y_true, y_pred = _array(y_true), _array(y_pred)
    y_true = _same_module(y_true, y_pred)
    if from_sorted_ids:  # y_pred holds the ids of the top classes, best first
        labels = y_true.reshape(-1, 1).astype(np.int64, copy=False)
        ids = y_pred.reshape(labels.shape[0], -1)[:, :k]
        return (ids == labels).any(axis=-1).reshape(y_true.shape[:1] or (-1,))
    batch_shape = y_pred.shape[:-1]
    if y_true.size != int(np.prod(batch_shape)):
        raise ValueError(
            f"sparse_top_k_categorical_accuracy expects integer labels of shape {batch_shape} "
            f"for predictions of shape {y_pred.shape}, got labels of shape {y_true.shape}."
        )
    return _in_top_k(y_pred, y_true, k).reshape(batch_shape)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the ``k`` highest predictions."""

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy",
                 dtype: Any = None) -> None:
        super().__init__(_top_k_values, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest predictions (``from_sorted_ids``:
    ``y_pred`` already holds the top class ids, best first)."""

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy",
                 dtype: Any = None, from_sorted_ids: bool = False) -> None:
        super().__init__(_sparse_top_k_values, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
