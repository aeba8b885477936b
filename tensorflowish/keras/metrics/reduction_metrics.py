"""Reductions of values over batches: Sum, Mean, and the mean of a per-example function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras.metrics.metric import Metric, _array, _host_float, _same_module
from tensorflowish.tensor import Tensor


class Reduce(Metric):
    """Running sum of values and of weights (base of Sum and Mean)."""

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self._total: Any = 0.0
        self._count: Any = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Add ``values`` (any shape) to the running sum, optionally weighted."""
        values = _array(values)
        xp = tf_backend.get_array_module(values)
        if sample_weight is None:
            self._total = self._total + values.sum(dtype=xp.float64)
            self._count = self._count + values.size
            return
        weight = _same_module(_array(sample_weight), values).astype(xp.float64)
        while weight.ndim > values.ndim and weight.shape[-1] == 1:
            weight = weight.reshape(weight.shape[:-1])
        while values.ndim > weight.ndim:  # per-example weights for per-element values
            values = values.mean(axis=-1)
        weight = xp.broadcast_to(weight, values.shape)
        self._total = self._total + (values * weight).sum(dtype=xp.float64)
        self._count = self._count + weight.sum()


class Sum(Reduce):
    """Running (weighted) sum."""

    def result(self) -> Tensor:
        return tf.constant(_host_float(self._total), dtype=self.dtype)


class Mean(Reduce):
    """Running (weighted) mean: ``Mean()([1, 3])`` is 2."""

    def result(self) -> Tensor:
        return tf.constant(self._result_float(), dtype=self.dtype)

    def _result_float(self) -> float:
        count = _host_float(self._count)
        if count == 0.0:
            return 0.0
        return _host_float(self._total) / count


class MeanMetricWrapper(Mean):
    """The running mean of a per-example function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "metric"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Evaluate the function on this batch and add the values to the running mean."""
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:  # as Keras: the function, by its name
            config["fn"] = self._fn
        return config

