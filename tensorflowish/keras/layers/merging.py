"""Merging layers: ``Concatenate``, ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``, ``Dot``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


class Concatenate(Layer):
    """Join a list of inputs along ``axis`` (the last by default)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"Concatenate '{self.name}' needs a list of at least two inputs.")
        return tf.concat(list(inputs), axis=self.axis)


class Add(Layer):
    """Sum a list of inputs of the same shape."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"Add '{self.name}' needs a list of at least two inputs.")
        total = inputs[0]
        for item in inputs[1:]:
            total = total + item
        return total


def _inputs_list(layer: Layer, inputs: Any, exactly: int | None = None) -> list:
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' needs a list of at least two "
                         f"inputs, got {type(inputs).__name__}.")
    if exactly is not None and len(inputs) != exactly:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' needs exactly {exactly} "
                         f"inputs, got {len(inputs)}.")
    return list(inputs)


class Subtract(Layer):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        first, second = _inputs_list(self, inputs, exactly=2)
        return first - second


class Multiply(Layer):
    """The element-wise product of a list of inputs."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        items = _inputs_list(self, inputs)
        product = items[0]
        for item in items[1:]:
            product = product * item
        return product


class Average(Layer):
    """The element-wise mean of a list of inputs."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        items = _inputs_list(self, inputs)
        total = items[0]
        for item in items[1:]:
            total = total + item
        return total / float(len(items))


class Maximum(Layer):
    """The element-wise maximum of a list of inputs."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        items = _inputs_list(self, inputs)
        result = items[0]
        for item in items[1:]:
            result = tf.maximum(result, item)
        return result


class Minimum(Layer):
    """The element-wise minimum of a list of inputs."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        items = _inputs_list(self, inputs)
        result = items[0]
        for item in items[1:]:
            result = tf.minimum(result, item)
        return result


def batch_dot(x: Tensor, y: Tensor, axes: tuple[int, int]) -> Tensor:
    """Per example, contract axis ``axes[0]`` of ``x`` with axis ``axes[1]`` of ``y`` (axes count
    the batch as 0): the result has x's other axes, then y's (a (batch,) result gets a trailing
    axis of 1, as in Keras)."""
    ax, ay = axes
    x_rest = [d for i, d in enumerate(x.shape) if i not in (0, ax)]
    y_rest = [d for i, d in enumerate(y.shape) if i not in (0, ay)]
    # x to (batch, rest, n), y to (batch, n, rest): then one batched matmul
    x_order = [0, *[i for i in range(1, x.ndim) if i != ax], ax]
    y_order = [0, ay, *[i for i in range(1, y.ndim) if i != ay]]
    batch, n = x.shape[0], x.shape[ax]
    x2 = tf.reshape(tf.transpose(x, x_order), (batch, -1, n))
    y2 = tf.reshape(tf.transpose(y, y_order), (batch, n, -1))
    out = tf.reshape(tf.matmul(x2, y2), (batch, *x_rest, *y_rest))
    return tf.reshape(out, (batch, 1)) if out.ndim == 1 else out


class Dot(Layer):
    """The dot product of two inputs along ``axes`` (an int for both, or one per input; the
    batch is axis 0), per example; ``normalize=True`` gives the cosine similarity."""

    def __init__(self, axes: int | Sequence[int], normalize: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axes, int):
            axes = (axes, axes)
        axes = tuple(int(a) for a in axes)
        if len(axes) != 2:
            raise ValueError(f"Dot axes must be an int or a pair of ints, got {axes}.")
        self.axes, self.normalize = axes, bool(normalize)

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        x, y = _inputs_list(self, inputs, exactly=2)
        axes = []
        for tensor, axis in ((x, self.axes[0]), (y, self.axes[1])):
            if not -tensor.ndim <= axis < tensor.ndim or axis % tensor.ndim == 0:
                raise ValueError(f"Dot '{self.name}': axis {axis} is not a non-batch axis of an "
                                 f"input of shape {tuple(tensor.shape)}.")
            axes.append(axis % tensor.ndim)
        if x.shape[axes[0]] != y.shape[axes[1]]:
            raise ValueError(f"Dot '{self.name}': the inputs' axes {tuple(axes)} have sizes "
                             f"{x.shape[axes[0]]} and {y.shape[axes[1]]}; they must match.")
        if self.normalize:
            x = tf.math.l2_normalize(x, axis=axes[0])
            y = tf.math.l2_normalize(y, axis=axes[1])
        return batch_dot(x, y, (axes[0], axes[1]))

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}
