"""Normalisation layers: ``BatchNormalization``, ``LayerNormalization``, ``GroupNormalization``,
``UnitNormalization``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish.keras import constraints, initializers, regularizers
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor, Variable


def _normalise_axes(axis: int | Sequence[int], rank: int, layer: Layer) -> list:
    axes = [axis] if isinstance(axis, int) else list(axis)
    result = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"Layer '{layer.name}': axis {a} is out of range for inputs of rank {rank}."
            )
        result.append(a % rank)
    return result


class BatchNormalization(Layer):
    """Normalise each feature with the batch's statistics while training, and with moving
    averages of them at inference (``training`` False or not given).

    ``moving = moving * momentum + batch_statistic * (1 - momentum)``; TensorFlow's defaults
    momentum=0.99, epsilon=1e-3. The batch variance is the biased one (divided by N), as in
    Keras 3. A frozen layer (``trainable = False``) always runs in inference mode.
    """

    # methods a tf.function trace records as one graph line each (True: skipped in spec-only
    # traces); tensorflowish.function.tracing patches them while it traces
    _graph_lines = {"_update_moving": True}

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        self._axes = _normalise_axes(self.axis, rank, self)
        param_shape = tuple(int(input_shape[a]) for a in self._axes)
        if any(d is None for d in param_shape):
            raise ValueError(f"Layer '{self.name}': the normalised axis must have a known size.")
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", param_shape, initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
            )  # fmt: skip
        if self.center:
            self.beta = self.add_weight(
                "beta", param_shape, initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
            )  # fmt: skip
        self.moving_mean = self.add_weight(
            "moving_mean", param_shape, initializer=self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", param_shape, initializer=self.moving_variance_initializer,
            trainable=False,
        )  # fmt: skip
        self.built = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        rank = inputs.ndim
        reduce_axes = tuple(a for a in range(rank) if a not in self._axes)
        broadcast = [1] * rank
        for a in self._axes:
            broadcast[a] = inputs.shape[a]

        def expand(variable: Any) -> Tensor:
            return tf.reshape(variable, broadcast)

        if training and self._trainable:
            mean = tf.reduce_mean(inputs, axis=reduce_axes, keepdims=True)
            variance = tf.reduce_mean(tf.square(inputs - mean), axis=reduce_axes, keepdims=True)
            self._update_moving(self.moving_mean, mean)
            self._update_moving(self.moving_variance, variance)
        else:
            mean, variance = expand(self.moving_mean), expand(self.moving_variance)
        inverse = tf.math.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inverse = inverse * expand(self.gamma)
        outputs = (inputs - mean) * inverse
        if self.beta is not None:
            outputs = outputs + expand(self.beta)
        return outputs

    def _update_moving(self, moving: Variable, statistic: Tensor) -> None:
        # Raw in-place arithmetic: the moving statistics are not part of the gradient. In a
        # traced graph this is one line, run at every replay (skipped in spec-only traces).
        value = statistic.array.reshape(moving.array.shape)
        buffer = moving._writable_array()  # copy-on-write: a snapshot of it keeps its value
        buffer *= self.momentum
        buffer += (1.0 - self.momentum) * value

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class LayerNormalization(Layer):
    """Normalise each example over ``axis`` (the last by default), then scale and shift."""

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis, self.epsilon = axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma = self.beta = None

    def build(self, input_shape: Any) -> None:
        self._axes = _normalise_axes(self.axis, len(input_shape), self)
        shape = tuple(int(input_shape[a]) for a in self._axes)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, initializer=self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", shape, initializer=self.beta_initializer)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        axes = tuple(self._axes)
        broadcast = [inputs.shape[a] if a in axes else 1 for a in range(inputs.ndim)]
        mean = tf.reduce_mean(inputs, axis=axes, keepdims=True)
        variance = tf.reduce_mean(tf.square(inputs - mean), axis=axes, keepdims=True)
        outputs = (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            outputs = outputs * tf.reshape(self.gamma, broadcast)
        if self.beta is not None:
            outputs = outputs + tf.reshape(self.beta, broadcast)
        return outputs


class UnitNormalization(Layer):
    """Scale each example to unit L2 norm along ``axis``: ``x / sqrt(max(sum(x**2), 1e-12))``."""

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else tuple(axis)
        self.supports_masking = True

    def call(self, inputs: Tensor) -> Tensor:
        axes = _normalise_axes(self.axis, inputs.ndim, self)
        squares = tf.reduce_sum(tf.square(inputs), axis=axes, keepdims=True)
        return inputs * tf.math.rsqrt(tf.maximum(squares, 1e-12))

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class GroupNormalization(Layer):
    """Normalise each example over groups of channels: the ``axis`` channels are split into
    ``groups`` and each group (with all other non-batch axes) gets zero mean and unit
    variance, then a per-channel ``gamma`` and ``beta`` (Wu & He, 2018). ``groups=1`` is layer
    normalisation over all features; ``groups = channels`` is instance normalisation."""

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"GroupNormalization groups must be a positive integer, got "
                             f"{groups!r}.")
        self.groups, self.axis, self.epsilon = groups, int(axis), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None
        self.supports_masking = True

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        axis = _normalise_axes(self.axis, rank, self)[0]
        channels = input_shape[axis]
        if axis == 0 or channels is None:
            raise ValueError(f"GroupNormalization '{self.name}': axis {self.axis} of inputs of "
                             f"shape {tuple(input_shape)} must be a known non-batch axis.")
        if channels % self.groups:
            raise ValueError(f"GroupNormalization '{self.name}': {channels} channels cannot be "
                             f"split into {self.groups} groups of equal size; choose groups "
                             f"dividing {channels}.")
        if self.scale:
            self.gamma = self.add_weight("gamma", (channels,), initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", (channels,), initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        rank = inputs.ndim
        axis = _normalise_axes(self.axis, rank, self)[0]
        shape = tuple(inputs.shape)
        channels = shape[axis]
        # (..., channels, ...) -> (..., groups, channels/groups, ...): statistics over every
        # non-batch axis except the group axis
        grouped = tf.reshape(inputs, (*shape[:axis], self.groups, channels // self.groups,
                                      *shape[axis + 1:]))
        axes = [i for i in range(1, rank + 1) if i != axis]
        mean, variance = tf.nn.moments(grouped, axes=axes, keepdims=True)
        normalised = tf.reshape((grouped - mean) * tf.math.rsqrt(variance + self.epsilon), shape)
        broadcast = [1] * rank
        broadcast[axis] = channels
        if self.gamma is not None:
            normalised = normalised * tf.reshape(self.gamma, broadcast)
        if self.beta is not None:
            normalised = normalised + tf.reshape(self.beta, broadcast)
        return normalised

    def get_config(self) -> dict:
        return {**super().get_config(), "groups": self.groups, "axis": self.axis,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale}
