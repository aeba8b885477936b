"""Losses (``tf.keras.losses``): classes, functions and names.

A loss class called as ``loss(y_true, y_pred, sample_weight=None)`` returns a scalar (the mean
over the batch by default); the functions (``sparse_categorical_crossentropy`` ...) return one
value per example. Cross-entropies with ``from_logits=True`` go through the fused
``tf.nn.*_cross_entropy_with_logits`` ops.

    >>> import tensorflowish as tf
    >>> loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> round(float(loss([0], [[0.0, 0.0]])), 4)
    0.6931
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflowish as tf
from tensorflowish.keras import backend as keras_backend
from tensorflowish.tensor import Tensor

__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "Loss", "LossFunctionWrapper",
    "MeanAbsoluteError", "MeanSquaredError", "Reduction", "SparseCategoricalCrossentropy",
    "binary_crossentropy", "categorical_crossentropy", "get", "mean_absolute_error",
    "mean_squared_error", "sparse_categorical_crossentropy",
]  # fmt: skip


class Reduction:
    """How a loss class turns per-example losses into what it returns."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls) -> tuple:
        """The accepted names."""
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)


def _prediction(y_pred: Any) -> Tensor:
    y_pred = y_pred if isinstance(y_pred, Tensor) else tf.convert_to_tensor(y_pred)
    if not y_pred.dtype.is_floating:
        y_pred = tf.cast(y_pred, keras_backend.floatx())
    return y_pred


def _target_like(y_true: Any, y_pred: Tensor) -> Tensor:
    """y_true as a tensor of y_pred's dtype (Keras casts targets to the prediction's dtype)."""
    if not isinstance(y_true, Tensor):
        y_true = tf.convert_to_tensor(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = tf.cast(y_true, y_pred.dtype)
    return y_true


def _check_same_shape(y_true: Tensor, y_pred: Tensor, what: str) -> Tensor:
    if tuple(y_true.shape) == tuple(y_pred.shape):
        return y_true
    # (N,) targets for (N, 1) predictions and vice versa are common and unambiguous.
    if y_true.ndim == y_pred.ndim - 1 and tuple(y_pred.shape)[-1] == 1:
        return tf.reshape(y_true, tuple(y_pred.shape))
    if y_pred.ndim == y_true.ndim - 1 and tuple(y_true.shape)[-1] == 1:
        return tf.reshape(y_true, tuple(y_pred.shape))
    raise ValueError(
        f"{what}: y_true has shape {tuple(y_true.shape)} but y_pred has shape "
        f"{tuple(y_pred.shape)}; they must match. For integer class labels use "
        "SparseCategoricalCrossentropy; for one-hot labels CategoricalCrossentropy."
    )


# --- per-example loss functions ---------------------------------------------------------------


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


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# --- loss classes -----------------------------------------------------------------------------


def _reduce(losses: Tensor, sample_weight: Any, reduction: str) -> Tensor:
    if sample_weight is not None:
        weight = (
            sample_weight
            if isinstance(sample_weight, Tensor)
            else (tf.convert_to_tensor(sample_weight))
        )
        if weight.dtype != losses.dtype:
            weight = tf.cast(weight, losses.dtype)
        while weight.ndim > losses.ndim and tuple(weight.shape)[-1] == 1:
            weight = tf.reshape(weight, tuple(weight.shape)[:-1])
        losses = losses * weight
    if reduction == Reduction.NONE:
        return losses
    if reduction == Reduction.SUM:
        return tf.reduce_sum(losses)
    return tf.reduce_mean(losses)


class Loss:
    """Base class: override ``call(y_true, y_pred)`` to return one loss per example."""

    def __init__(self, reduction: str = Reduction.SUM_OVER_BATCH_SIZE, name: str | None = None):
        if reduction is None:  # Keras 3 spells "no reduction" None
            reduction = Reduction.NONE
        if reduction not in Reduction.all():
            raise ValueError(f"Unknown reduction {reduction!r}; expected one of {Reduction.all()}.")
        self.reduction = Reduction.SUM_OVER_BATCH_SIZE if reduction == "auto" else reduction
        self.name = name or type(self).__name__

    def call(self, y_true: Any, y_pred: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """The reduced loss (a scalar unless ``reduction='none'``)."""
        return _reduce(self.call(y_true, y_pred), sample_weight, self.reduction)

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"reduction": self.reduction, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class LossFunctionWrapper(Loss):
    """A loss class around a per-example function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(
        self,
        fn: Callable[..., Tensor],
        reduction: str = Reduction.SUM_OVER_BATCH_SIZE,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


class MeanSquaredError(LossFunctionWrapper):
    """Mean of the squared differences."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error"):
        super().__init__(mean_squared_error, reduction=reduction, name=name)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of the absolute differences."""

    def __init__(
        self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error"
    ) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name)


class BinaryCrossentropy(LossFunctionWrapper):
    """Cross-entropy for 0/1 targets; ``from_logits=True`` when the model outputs logits."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_crossentropy",
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


_BY_NAME: dict[str, Callable[[], Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MeanSquaredError": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MeanAbsoluteError": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "BinaryCrossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "CategoricalCrossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "SparseCategoricalCrossentropy": SparseCategoricalCrossentropy,
}


def get(identifier: Any) -> Loss:
    """A Loss from a name ('sparse_categorical_crossentropy', 'mse', ...), a Loss instance, or
    a function ``fn(y_true, y_pred)`` returning per-example losses."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(
                f"Unknown loss {identifier!r}; expected one of {sorted(_BY_NAME)}, a "
                "tf.keras.losses.Loss, or a function (y_true, y_pred) -> per-example losses."
            )
        return _BY_NAME[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"Cannot interpret {identifier!r} as a loss.")
