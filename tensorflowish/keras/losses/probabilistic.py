"""Probabilistic losses: cross-entropies (plain and focal), Kullback-Leibler, Poisson."""

from __future__ import annotations

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


def binary_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Binary cross-entropy averaged over ``axis``; targets are 0/1 (or probabilities)."""
    y_pred = _prediction(y_pred)
    y_true = _check_same_shape(_target_like(y_true, y_pred), y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        eps = keras_backend.epsilon()
        p = tf.clip_by_value(y_pred, eps, 1.0 - eps)
        losses = -(y_true * tf.math.log(p) + (1.0 - y_true) * tf.math.log(1.0 - p))
    return tf.reduce_mean(losses, axis=axis)


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Cross-entropy between one-hot (or probability) targets and predictions, per example."""
    y_pred = _prediction(y_pred)
    y_true = _target_like(y_true, y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        hint = (
            " The targets look like integer class labels: use SparseCategoricalCrossentropy."
            if y_true.ndim == y_pred.ndim - 1 or tuple(y_true.shape)[-1:] == (1,)
            else ""
        )
        raise ValueError(
            f"categorical_crossentropy: y_true has shape {tuple(y_true.shape)} but y_pred has "
            f"shape {tuple(y_pred.shape)}; one-hot targets must match the predictions.{hint}"
        )
    if label_smoothing:
        classes = float(y_pred.shape[axis])
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    if from_logits:
        if axis not in (-1, y_pred.ndim - 1):
            raise ValueError("categorical_crossentropy with from_logits supports axis=-1 only.")
        return tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    eps = keras_backend.epsilon()
    p = y_pred / tf.reduce_sum(y_pred, axis=axis, keepdims=True)
    p = tf.clip_by_value(p, eps, 1.0 - eps)
    return -tf.reduce_sum(y_true * tf.math.log(p), axis=axis)


def _integer_labels(y_true: Any, y_pred: Tensor) -> Tensor:
    if not isinstance(y_true, Tensor):
        y_true = tf.convert_to_tensor(y_true)
    batch_shape = tuple(y_pred.shape)[:-1]
    if tuple(y_true.shape) != batch_shape:
        if tuple(y_true.shape) == (*batch_shape, 1):
            y_true = tf.reshape(y_true, batch_shape)
        else:
            one_hot = tuple(y_true.shape) == tuple(y_pred.shape)
            raise ValueError(
                f"sparse_categorical_crossentropy: expected integer labels of shape "
                f"{batch_shape} for predictions of shape {tuple(y_pred.shape)}, got labels of "
                f"shape {tuple(y_true.shape)}."
                + (" They look one-hot: use CategoricalCrossentropy." if one_hot else "")
            )
    if y_true.dtype not in (tf.int32, tf.int64):
        y_true = tf.cast(y_true, tf.int64)
    return y_true


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    axis: int = -1,
    ignore_class: int | None = None,
) -> Tensor:
    """Cross-entropy between integer class labels and predictions, per example."""
    y_pred = _prediction(y_pred)
    if axis not in (-1, y_pred.ndim - 1):
        raise ValueError("sparse_categorical_crossentropy supports axis=-1 only.")
    labels = _integer_labels(y_true, y_pred)
    if from_logits:
        logits = y_pred
    else:
        # As Keras does: log of the normalised, clipped probabilities are logits whose softmax
        # is those probabilities, so the fused op computes -log(p[label]).
        eps = keras_backend.epsilon()
        p = y_pred / tf.reduce_sum(y_pred, axis=-1, keepdims=True)
        logits = tf.math.log(tf.clip_by_value(p, eps, 1.0 - eps))
    keep = None
    if ignore_class is not None:
        keep = tf.cast(tf.not_equal(labels, ignore_class), y_pred.dtype)
        labels = tf.where(tf.equal(labels, ignore_class), tf.zeros_like(labels), labels)
    batch_shape = tuple(logits.shape)[:-1]
    if logits.ndim != 2:
        labels = tf.reshape(labels, (-1,))
        logits = tf.reshape(logits, (-1, logits.shape[-1]))
    try:
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    except ValueError as error:
        classes = logits.shape[-1]
        largest = int(labels.numpy().max()) if labels.shape[0] else 0
        if largest < classes:
            raise
        raise ValueError(
            f"{error} The predictions have {classes} classes but a label is {largest}: give "
            f"the model's last layer one unit per class (Dense({largest + 1}) or more)."
        ) from None
    if len(batch_shape) != 1:
        losses = tf.reshape(losses, batch_shape)
    return losses if keep is None else losses * keep



def binary_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Binary cross-entropy scaled by ``(1 - p_t)**gamma`` (Lin et al.), where ``p_t`` is the
    probability given to the true label; with ``apply_class_balancing`` also by ``alpha`` for
    positives and ``1 - alpha`` for negatives."""
    y_true, y_pred = _pair(y_true, y_pred, "binary_focal_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = tf.sigmoid(y_pred)
    eps = keras_backend.epsilon()
    p = tf.clip_by_value(y_pred, eps, 1.0 - eps)
    cross_entropy = -(y_true * tf.math.log(p) + (1.0 - y_true) * tf.math.log(1.0 - p))
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = tf.pow(1.0 - p_t, gamma) * cross_entropy
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return tf.reduce_mean(focal, axis=axis)


def categorical_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Categorical cross-entropy with each class's term scaled by ``alpha * (1 - p)**gamma``."""
    y_true, y_pred = _pair(y_true, y_pred, "categorical_focal_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / float(y_pred.shape[axis])
    if from_logits:
        y_pred = tf.nn.softmax(y_pred, axis=axis)
    eps = keras_backend.epsilon()
    p = tf.clip_by_value(y_pred / tf.reduce_sum(y_pred, axis=axis, keepdims=True), eps, 1.0 - eps)
    focal = alpha * tf.pow(1.0 - p, gamma) * (-y_true * tf.math.log(p))
    return tf.reduce_sum(focal, axis=axis)


def kl_divergence(y_true: Any, y_pred: Any) -> Tensor:
    """``sum(y_true * log(y_true / y_pred), axis=-1)``, both clipped to ``[epsilon, 1]``."""
    y_true, y_pred = _pair(y_true, y_pred, "kl_divergence")
    eps = keras_backend.epsilon()
    y_true = tf.clip_by_value(y_true, eps, 1.0)
    y_pred = tf.clip_by_value(y_pred, eps, 1.0)
    return tf.reduce_sum(y_true * tf.math.log(y_true / y_pred), axis=-1)


def poisson(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)``, for count targets."""
    y_true, y_pred = _pair(y_true, y_pred, "poisson")
    return tf.reduce_mean(y_pred - y_true * tf.math.log(y_pred + keras_backend.epsilon()),
                          axis=-1)


class BinaryCrossentropy(LossFunctionWrapper):
    """Cross-entropy for 0/1 targets; ``from_logits=True`` when the model outputs logits."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            binary_crossentropy, reduction=reduction, name=name, from_logits=from_logits,
            label_smoothing=label_smoothing, axis=axis,
        )  # fmt: skip
        self.from_logits = from_logits


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot targets; ``from_logits=True`` when the model outputs logits."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            categorical_crossentropy, reduction=reduction, name=name, from_logits=from_logits,
            label_smoothing=label_smoothing, axis=axis,
        )  # fmt: skip
        self.from_logits = from_logits


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels; ``from_logits=True`` for logit outputs."""

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
        axis: int = -1,
    ) -> None:
        super().__init__(
            sparse_categorical_crossentropy, reduction=reduction, name=name,
            from_logits=from_logits, ignore_class=ignore_class, axis=axis,
        )  # fmt: skip
        self.from_logits = from_logits


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy that down-weights easy examples by ``(1 - p_t)**gamma``."""

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            binary_focal_crossentropy, reduction=reduction, name=name, from_logits=from_logits,
            label_smoothing=label_smoothing, axis=axis,
            apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
        )  # fmt: skip
        self.from_logits = from_logits


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Categorical cross-entropy that down-weights well-classified examples."""

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "categorical_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            categorical_focal_crossentropy, reduction=reduction, name=name, alpha=alpha,
            gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )  # fmt: skip
        self.from_logits = from_logits


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence from the predicted to the true distribution."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "kl_divergence",
                 dtype: Any = None) -> None:
        super().__init__(kl_divergence, reduction=reduction, name=name)


class Poisson(LossFunctionWrapper):
    """The Poisson negative log-likelihood (up to a constant), for count targets."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "poisson",
                 dtype: Any = None) -> None:
        super().__init__(poisson, reduction=reduction, name=name)
