"""Running means of the losses: cross-entropies, KL divergence, Poisson and the hinges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorflowish.keras import losses as keras_losses
from tensorflowish.keras.metrics.reduction_metrics import MeanMetricWrapper
from tensorflowish.tensor import Tensor


def _loss_values(fn: Callable[..., Tensor]) -> Callable[..., Any]:
    def values(y_true: Any, y_pred: Any, **kwargs: Any) -> Any:
        return fn(y_true, y_pred, **kwargs).array

    values.__name__ = fn.__name__
    return values



class BinaryCrossentropy(MeanMetricWrapper):
    """Running mean of the binary cross-entropy."""

    def __init__(
        self, name: str = "binary_crossentropy", dtype: Any = None, from_logits: bool = False,
        label_smoothing: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(
            _loss_values(keras_losses.binary_crossentropy), name=name, dtype=dtype,
            from_logits=from_logits, label_smoothing=label_smoothing,
        )  # fmt: skip


class CategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of the categorical cross-entropy."""

    def __init__(
        self, name: str = "categorical_crossentropy", dtype: Any = None,
        from_logits: bool = False, label_smoothing: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(
            _loss_values(keras_losses.categorical_crossentropy), name=name, dtype=dtype,
            from_logits=from_logits, label_smoothing=label_smoothing,
        )  # fmt: skip


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of the sparse categorical cross-entropy."""

    def __init__(
        self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
        from_logits: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(
            _loss_values(keras_losses.sparse_categorical_crossentropy), name=name, dtype=dtype,
            from_logits=from_logits,
        )  # fmt: skip



class KLDivergence(MeanMetricWrapper):
    """Running mean of the Kullback-Leibler divergence."""

    def __init__(self, name: str = "kl_divergence", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.kl_divergence), name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Running mean of the Poisson loss."""

    def __init__(self, name: str = "poisson", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.poisson), name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """Running mean of the hinge loss."""

    def __init__(self, name: str = "hinge", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.hinge), name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """Running mean of the squared hinge loss."""

    def __init__(self, name: str = "squared_hinge", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.squared_hinge), name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Running mean of the categorical hinge loss."""

    def __init__(self, name: str = "categorical_hinge", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.categorical_hinge), name=name, dtype=dtype)
