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

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras import losses as keras_losses
from tensorflowish.tensor import Tensor

__all__ = [
    "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "CategoricalAccuracy",
    "CategoricalCrossentropy", "Mean", "MeanAbsoluteError", "MeanMetricWrapper",
    "MeanSquaredError", "Metric", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
    "Sum", "accuracy", "binary_accuracy", "categorical_accuracy", "get",
    "sparse_categorical_accuracy",
]  # fmt: skip


def _array(value: Any) -> Any:
    """A raw backend array for any tensor-like value."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "__cuda_array_interface__") or isinstance(value, np.ndarray):
        return value
    return tf.convert_to_tensor(value).array


def _host_float(value: Any) -> float:
    """A Python float from a number, a NumPy scalar/array, or a device array."""
    if isinstance(value, (int, float, np.generic, np.ndarray)):
        return float(value)
    return float(tf_backend.to_numpy(value))


def _same_module(y_true: Any, y_pred: Any) -> Any:
    xp = tf_backend.get_array_module(y_pred)
    if tf_backend.get_array_module(y_true) is not xp:
        y_true = xp.asarray(tf_backend.to_numpy(y_true))
    return y_true


# --- per-example metric functions on raw arrays -------------------------------------------------


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


# --- metric classes -----------------------------------------------------------------------------


class Metric:
    """Base class: override ``update_state``, ``result`` and ``reset_state``."""

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or "float32"

    def update_state(self, *args: Any, **kwargs: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_states(self) -> None:
        """Same as ``reset_state`` (the TensorFlow 2.0-2.4 name)."""
        self.reset_state()

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        """Update with this batch and return the running result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def _result_float(self) -> float:
        return _host_float(_array(self.result()))

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"name": self.name, "dtype": self.dtype}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _snake(name: str) -> str:
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


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


def _loss_values(fn: Callable[..., Tensor]) -> Callable[..., Any]:
    def values(y_true: Any, y_pred: Any, **kwargs: Any) -> Any:
        return fn(y_true, y_pred, **kwargs).array

    values.__name__ = fn.__name__
    return values


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of the squared error."""

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.mean_squared_error), name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of the absolute error."""

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(_loss_values(keras_losses.mean_absolute_error), name=name, dtype=dtype)


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


_BY_NAME: dict[str, Callable[..., Metric]] = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
for _cls in (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
    Mean,
    Sum,
):
    _BY_NAME[_cls.__name__] = _cls


def get(identifier: Any) -> Metric:
    """A Metric from a name, an instance, a class, or a per-example function.

    The names 'accuracy'/'acc' depend on the loss and shapes; ``Model.compile`` resolves them.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return Accuracy(name=identifier)
        if identifier not in _BY_NAME:
            raise ValueError(
                f"Unknown metric {identifier!r}; expected 'accuracy' or one of "
                f"{sorted(_BY_NAME)}, a tf.keras.metrics.Metric, or a function."
            )
        return _BY_NAME[identifier](name=identifier)
    if callable(identifier):

        def values(y_true: Any, y_pred: Any) -> Any:
            return _array(identifier(y_true, y_pred))

        return MeanMetricWrapper(values, name=getattr(identifier, "__name__", "metric"))
    raise TypeError(f"Cannot interpret {identifier!r} as a metric.")
