"""The loss base class (``tf.keras.losses.Loss``), its reductions and the wrapper that turns a
per-example function into a loss class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflowish as tf
from tensorflowish.keras import backend as keras_backend
from tensorflowish.tensor import Tensor


class Reduction:
    """How a loss class turns per-example losses into what it returns."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"
    MEAN = "mean"
    MEAN_WITH_SAMPLE_WEIGHT = "mean_with_sample_weight"

    @classmethod
    def all(cls) -> tuple:
        """The accepted names (and None, the same as "none")."""
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE, cls.MEAN,
                cls.MEAN_WITH_SAMPLE_WEIGHT, None)


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


def _pair(y_true: Any, y_pred: Any, what: str) -> tuple[Tensor, Tensor]:
    """(y_true, y_pred) as float tensors of one dtype and one shape."""
    y_pred = _prediction(y_pred)
    return _check_same_shape(_target_like(y_true, y_pred), y_pred, what), y_pred


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



def _reduce(losses: Tensor, sample_weight: Any, reduction: str | None) -> Tensor:
    """Keras 3's reduction: weight, then sum ("sum"), sum / number of values
    ("sum_over_batch_size", "mean"), sum / sum of weights ("mean_with_sample_weight") or
    nothing ("none", None)."""
    weight = None
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
    if reduction in (Reduction.NONE, None) or losses.ndim == 0:
        return losses
    if reduction == Reduction.SUM:
        return tf.reduce_sum(losses)
    if reduction == Reduction.MEAN_WITH_SAMPLE_WEIGHT and weight is not None:
        total = tf.reduce_sum(tf.broadcast_to(weight, tuple(losses.shape)))
        nonzero = tf.not_equal(total, 0.0)  # Keras's divide_no_nan: 0 when all weights are 0
        return tf.where(nonzero, tf.reduce_sum(losses) / tf.where(nonzero, total, 1.0), 0.0)
    return tf.reduce_mean(losses)


class Loss:
    """Base class: override ``call(y_true, y_pred)`` to return one loss per example."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        if name in Reduction.all() and reduction == Reduction.SUM_OVER_BATCH_SIZE and \
                name is not None:  # Loss("sum"): the TensorFlow 2 (Keras 2) argument order
            name, reduction = None, name
        if reduction not in Reduction.all():
            raise ValueError(f"Unknown reduction {reduction!r}; expected one of {Reduction.all()}.")
        self.reduction = Reduction.SUM_OVER_BATCH_SIZE if reduction == "auto" else reduction
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype

    def call(self, y_true: Any, y_pred: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """The reduced loss (a scalar unless ``reduction='none'``)."""
        return _reduce(self.call(y_true, y_pred), sample_weight, self.reduction)

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        """Re-create a loss from :meth:`get_config`."""
        return cls(**config)

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
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is LossFunctionWrapper:  # as Keras: the function, by its name
            config["fn"] = self.fn
        return config

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        if cls is LossFunctionWrapper and not callable(config.get("fn")):
            raise TypeError("A LossFunctionWrapper is re-created from a config holding its "
                            "function ('fn'); deserialize the config with "
                            "tf.keras.saving.deserialize_keras_object.")
        return cls(**config)


def _snake(name: str) -> str:
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()

