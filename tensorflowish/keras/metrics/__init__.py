"""Metrics (``tf.keras.metrics``): running statistics over batches.

``update_state`` accumulates, ``result`` reads the current value, ``reset_state`` starts over.
The sums are kept as backend arrays (on the GPU when the data is), so updating a metric each
batch never waits for the device; only ``result`` does.

    >>> import tensorflowish as tf
    >>> m = tf.keras.metrics.SparseCategoricalAccuracy()
    >>> m.update_state([1, 0], [[0.1, 0.9], [0.2, 0.8]])
    >>> float(m.result())
    0.5
"""

from typing import Any

from tensorflowish.keras.metrics.accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from tensorflowish.keras.metrics.confusion_metrics import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from tensorflowish.keras.metrics.f_score_metrics import F1Score, FBetaScore
from tensorflowish.keras.metrics.iou_metrics import IoU, MeanIoU
from tensorflowish.keras.metrics.metric import Metric, _array
from tensorflowish.keras.metrics.probabilistic_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from tensorflowish.keras.metrics.reduction_metrics import Mean, MeanMetricWrapper, Reduce, Sum
from tensorflowish.keras.metrics.regression_metrics import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)
from tensorflowish.keras.object_config import keras_object_config

_CLASSES = (
    AUC, Accuracy, BinaryAccuracy, BinaryCrossentropy, CategoricalAccuracy,
    CategoricalCrossentropy, CategoricalHinge, CosineSimilarity, F1Score, FBetaScore,
    FalseNegatives, FalsePositives, Hinge, IoU, KLDivergence, LogCoshError, Mean,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanIoU, MeanMetricWrapper, MeanSquaredError,
    MeanSquaredLogarithmicError, Poisson, Precision, R2Score, Recall, RootMeanSquaredError,
    SparseCategoricalAccuracy, SparseCategoricalCrossentropy, SparseTopKCategoricalAccuracy,
    SquaredHinge, Sum, TopKCategoricalAccuracy, TrueNegatives, TruePositives,
)  # fmt: skip

__all__ = [
    "Metric", "Reduce", "accuracy", "binary_accuracy", "categorical_accuracy", "deserialize",
    "get", "serialize", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy", *(cls.__name__ for cls in _CLASSES),
]  # fmt: skip

# Names accepted by compile(metrics=[...]): Keras's function names, their short forms and the
# class names; each gives the class with its defaults (named as asked).
_BY_NAME: dict[str, Any] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "root_mean_squared_error": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "poisson": Poisson,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "cosine_similarity": CosineSimilarity,
    "logcosh": LogCoshError,
    "log_cosh": LogCoshError,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "f1_score": F1Score,
    "r2_score": R2Score,
})
_NEED_ARGUMENTS = ("IoU", "MeanIoU", "MeanMetricWrapper")


def get(identifier: Any) -> Metric:
    """A Metric from a name, a config from :func:`serialize`, an instance, a class, or a
    per-example function.

    The names 'accuracy'/'acc' depend on the loss and shapes; ``Model.compile`` resolves them.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return Accuracy(name=identifier)
        if identifier not in _BY_NAME or identifier in _NEED_ARGUMENTS:
            raise ValueError(
                f"Unknown metric {identifier!r}; expected 'accuracy' or one of "
                f"{sorted(set(_BY_NAME) - set(_NEED_ARGUMENTS))}, a tf.keras.metrics.Metric, "
                "or a function."
            )
        return _BY_NAME[identifier](name=identifier)
    if callable(identifier):

        def values(y_true: Any, y_pred: Any) -> Any:
            return _array(identifier(y_true, y_pred))

        return MeanMetricWrapper(values, name=getattr(identifier, "__name__", "metric"))
    raise TypeError(f"Cannot interpret {identifier!r} as a metric.")


def serialize(metric: Metric) -> dict:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` form."""
    return keras_object_config(metric, "keras.metrics")


def deserialize(config: dict) -> Metric:
    """The metric :func:`serialize` described."""
    cls = {c.__name__: c for c in _CLASSES}.get(config.get("class_name"))
    if cls is None or cls is MeanMetricWrapper:
        raise ValueError(f"Unknown metric class {config.get('class_name')!r}; expected one of "
                         f"{sorted(c.__name__ for c in _CLASSES if c is not MeanMetricWrapper)}.")
    return cls.from_config(config.get("config", {}))
