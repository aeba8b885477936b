"""``Normalization``: standardise features with a mean and variance given or learned by
``adapt()``; ``invert=True`` undoes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.data import Dataset
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


def _host(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.numpy()
    return np.asarray(tf_backend.to_numpy(value) if hasattr(value, "get") else value)


def batches_of(data: Any) -> Any:
    """The arrays ``adapt`` reads: one array, or each batch of a dataset (the features only,
    when it yields (x, y) pairs)."""
    if isinstance(data, Dataset):
        for batch in data:
            if isinstance(batch, tuple):
                batch = batch[0]
            yield _host(batch)
    else:
        yield _host(data)


class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per feature along ``axis`` (the last by default; a tuple
    keeps several axes; None gives one mean and variance for everything). Give ``mean`` and
    ``variance``, or call ``adapt(data)`` with an array or a ``tf.data.Dataset`` before use.
    ``invert=True`` computes ``mean + x * sqrt(variance)`` instead.

    >>> import numpy as np, tensorflowish as tf
    >>> norm = tf.keras.layers.Normalization()
    >>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> norm(np.array([[1.0, 20.0]])).numpy().tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, axis: int | Sequence[int] | None = -1, mean: Any = None,
                 variance: Any = None, invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis is None:
            self.axis: tuple[int, ...] = ()
        elif isinstance(axis, int):
            self.axis = (axis,)
        else:
            self.axis = tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither (and call "
                             f"adapt()); got mean={mean!r}, variance={variance!r}.")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.adapt_mean = self.adapt_variance = None
        self._broadcast_shape: tuple[int, ...] | None = None
        self._adapted = mean is not None

    def _keep_axes(self, rank: int) -> tuple[int, ...]:
        keep = []
        for axis in self.axis:
            if not -rank <= axis < rank:
                raise ValueError(f"Normalization '{self.name}': axis {axis} is out of range for "
                                 f"inputs of rank {rank}.")
            keep.append(axis % rank)
        if 0 in keep and rank > 1:
            raise ValueError(f"Normalization '{self.name}': axis {self.axis} includes the batch "
                             "axis 0; normalise along feature axes.")
        return tuple(sorted(keep))

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        keep = self._keep_axes(rank)
        for axis in keep:
            if input_shape[axis] is None:
                raise ValueError(f"Normalization '{self.name}': axis {axis} of the inputs "
                                 f"{tuple(input_shape)} must have a known size.")
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(rank))
        shape = tuple(int(input_shape[d]) for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight("mean", shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight("variance", shape, initializer="ones",
                                                  trainable=False)
        self.built = True

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the mean and (population) variance of ``data``: an array or tensor, or a
        dataset of batches (combined batch by batch, so it need not fit in memory)."""
        if self.input_mean is not None:
            raise ValueError(f"Normalization '{self.name}' was given mean and variance; it "
                             "cannot also adapt.")
        count, mean, m2 = 0, None, None
        for index, batch in enumerate(batches_of(data)):
            if steps is not None and index >= steps:
                break
            batch = batch.astype(np.float64)
            if batch.ndim == 1:
                batch = batch[:, None] if self.axis else batch
            if not self.built:
                self._maybe_build(tf.zeros((1, *batch.shape[1:])))
            keep = self._keep_axes(batch.ndim)
            reduce = tuple(d for d in range(batch.ndim) if d not in keep)
            n = int(np.prod([batch.shape[d] for d in reduce])) if reduce else 1
            batch_mean = batch.mean(axis=reduce)
            batch_m2 = ((batch - batch.mean(axis=reduce, keepdims=True)) ** 2).sum(axis=reduce)
            if mean is None:
                count, mean, m2 = n, batch_mean, batch_m2
            else:  # Chan et al.: combine two sets' means and squared deviations
                delta = batch_mean - mean
                total = count + n
                mean = mean + delta * n / total
                m2 = m2 + batch_m2 + delta**2 * count * n / total
                count = total
        if mean is None:
            raise ValueError(f"Normalization '{self.name}'.adapt got no data.")
        self.adapt_mean.assign(np.reshape(mean, self.adapt_mean.shape).astype(np.float32))
        self.adapt_variance.assign(np.reshape(m2 / count, self.adapt_variance.shape)
                                   .astype(np.float32))
        self._adapted = True

    @property
    def mean(self) -> Tensor | None:
        """The mean in the inputs' broadcast shape (e.g. (1, features)), as Keras exposes it
        once the layer is built or adapted."""
        return self._broadcast_statistic(self.input_mean, self.adapt_mean)

    @property
    def variance(self) -> Tensor | None:
        """The variance in the inputs' broadcast shape."""
        return self._broadcast_statistic(self.input_variance, self.adapt_variance)

    def _broadcast_statistic(self, given: Any, adapted: Any) -> Tensor | None:
        if self._broadcast_shape is None:
            return None if given is None else tf.constant(np.asarray(given, np.float32))
        if given is not None:
            return tf.constant(np.broadcast_to(np.asarray(given, np.float32),
                                               self._broadcast_shape))
        return tf.reshape(adapted, self._broadcast_shape)

    def _statistics(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        shape = self._broadcast_shape
        if self.input_mean is not None:
            mean = np.broadcast_to(np.asarray(self.input_mean, np.float64), shape)
            variance = np.broadcast_to(np.asarray(self.input_variance, np.float64), shape)
            xp = tf_backend.get_array_module(inputs.array)
            return (Tensor(xp.asarray(mean, dtype=inputs.array.dtype)),
                    Tensor(xp.asarray(variance, dtype=inputs.array.dtype)))
        mean = tf.cast(tf.reshape(self.adapt_mean, shape), inputs.dtype)
        variance = tf.cast(tf.reshape(self.adapt_variance, shape), inputs.dtype)
        return mean, variance

    def call(self, inputs: Tensor) -> Tensor:
        if not inputs.dtype.is_floating:
            inputs = tf.cast(inputs, self.dtype)
        mean, variance = self._statistics(inputs)
        scale = tf.maximum(tf.sqrt(variance), keras_backend.epsilon())
        if self.invert:
            return mean + inputs * scale
        return (inputs - mean) / scale

    def get_config(self) -> dict:
        config = {**super().get_config(), "invert": self.invert,
                  "axis": None if not self.axis else (self.axis[0] if len(self.axis) == 1
                                                       else self.axis),
                  "mean": _listed(self.input_mean), "variance": _listed(self.input_variance)}
        return config


def _listed(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    return np.asarray(_host(value)).tolist()
