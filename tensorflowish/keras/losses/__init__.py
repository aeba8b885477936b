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

from collections.abc import Callable
from typing import Any

from tensorflowish.keras.losses.hinge import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from tensorflowish.keras.losses.loss import Loss, LossFunctionWrapper, Reduction
from tensorflowish.keras.losses.probabilistic import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from tensorflowish.keras.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from tensorflowish.keras.object_config import keras_object_config

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

_CLASSES = (
    BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
    CategoricalFocalCrossentropy, CategoricalHinge, CosineSimilarity, Hinge, Huber, KLDivergence,
    LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
    MeanSquaredLogarithmicError, Poisson, SparseCategoricalCrossentropy, SquaredHinge,
)  # fmt: skip
_FUNCTIONS = (
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
    categorical_focal_crossentropy, categorical_hinge, cosine_similarity, hinge, huber,
    kl_divergence, log_cosh, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_error, mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy,
    squared_hinge,
)  # fmt: skip

__all__ = [
    "Loss", "LossFunctionWrapper", "Reduction", "deserialize", "get", "serialize",
    *(cls.__name__ for cls in _CLASSES), *(fn.__name__ for fn in _FUNCTIONS),
]  # fmt: skip

# A name in compile(loss=...) gives the class with its defaults (Keras gives the function; the
# class computes the same values and carries a name and a reduction).
_BY_NAME: dict[str, Callable[[], Loss]] = {cls.__name__: cls for cls in _CLASSES}
for _cls in _CLASSES:
    _BY_NAME[_cls().name] = _cls
for _alias, _cls in (("mse", MeanSquaredError), ("mae", MeanAbsoluteError),
                     ("mape", MeanAbsolutePercentageError), ("msle", MeanSquaredLogarithmicError),
                     ("kld", KLDivergence), ("huber", Huber), ("logcosh", LogCosh)):
    _BY_NAME[_alias] = _cls


def get(identifier: Any) -> Loss:
    """A Loss from a name ('sparse_categorical_crossentropy', 'mse', ...), a Loss instance, or
    a function ``fn(y_true, y_pred)`` returning per-example losses."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
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


def serialize(loss: Loss) -> dict:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` form."""
    return keras_object_config(loss, "keras.losses")


def deserialize(config: dict) -> Loss:
    """The loss :func:`serialize` described."""
    cls = {c.__name__: c for c in _CLASSES}.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown loss class {config.get('class_name')!r}; expected one of "
                         f"{sorted(c.__name__ for c in _CLASSES)}.")
    return cls.from_config(config.get("config", {}))
