"""The metric base class (``tf.keras.metrics.Metric``) and the array helpers metrics share.

``update_state`` accumulates, ``result`` reads the current value, ``reset_state`` starts over.
The sums are kept as backend arrays (on the GPU when the data is), so updating a metric each
batch never waits for the device; only ``result`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.function import tracing
from tensorflowish.tensor import Tensor


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

    def _result_float(self) -> Any:
        """The result on the host: a float, or an array for metrics with several values
        (per threshold, per class)."""
        value = _array(self.result())
        if getattr(value, "size", 1) == 1:
            return _host_float(value)
        return np.asarray(tf_backend.to_numpy(value))

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        """Re-create a metric from :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _snake(name: str) -> str:
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


# A metric made while tracing (Keras resolves 'accuracy' at the first batch) is built outside the
# graph: the reset_state its __init__ calls is not a line of it.
tracing.run_outside_traces(Metric, ("__init__",), subclasses=True)
# Methods a metric names in `_graph_lines` (reading tensor values in Python) are one line each.
tracing.trace_graph_lines(Metric)
# Metrics keep their sums as backend arrays: inside a tf.function each method call is one graph
# line, run again at every call.
tracing.trace_as_stateful(Metric, ("__call__", "update_state", "result", "reset_state",
                                   "reset_states"), None)
