"""Activation functions by name (``tf.keras.activations``).

``get('relu')`` returns the function; the names Dense can fuse into its kernel
(``FUSED``) are passed to ``tf.nn.dense`` by name instead of being applied separately.

    >>> import tensorflowish as tf
    >>> tf.keras.activations.get("relu")(tf.constant([-1.0, 2.0])).numpy().tolist() == [0, 2]
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflowish as tf

__all__ = [
    "elu", "exponential", "gelu", "get", "hard_sigmoid", "leaky_relu", "linear", "log_softmax",
    "relu", "relu6", "selu", "serialize", "sigmoid", "silu", "softmax", "softplus", "softsign",
    "swish", "tanh",
]  # fmt: skip

# Activations tf.nn.dense applies inside its fused kernel.
FUSED = ("linear", "relu", "sigmoid", "tanh", "gelu", "leaky_relu")


def linear(x: Any) -> Any:
    """The identity: ``linear(x) = x``."""
    return x


def relu(x: Any, alpha: float = 0.0, max_value: float | None = None, threshold: float = 0.0):
    """``max(x, 0)``; with ``alpha`` a leaky slope below ``threshold``, clipped at ``max_value``."""
    if alpha == 0.0 and max_value is None and threshold == 0.0:
        return tf.nn.relu(x)
    x = tf.convert_to_tensor(x)
    if threshold != 0.0:
        negative = alpha * (x - threshold)
        result = tf.where(x > threshold, x, negative)
    elif alpha != 0.0:
        result = tf.nn.leaky_relu(x, alpha=alpha)
    else:
        result = tf.nn.relu(x)
    if max_value is not None:
        result = tf.minimum(result, max_value)
    return result


def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``."""
    return tf.minimum(tf.nn.relu(x), 6.0)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    """``x`` for positive inputs, ``negative_slope * x`` otherwise (Keras's default 0.2)."""
    return tf.nn.leaky_relu(x, alpha=negative_slope)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``."""
    return tf.nn.sigmoid(x)


def hard_sigmoid(x: Any) -> Any:
    """A piecewise-linear sigmoid: ``clip(x / 6 + 0.5, 0, 1)``."""
    return tf.clip_by_value(x / 6.0 + 0.5, 0.0, 1.0)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return tf.nn.tanh(x)


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along ``axis``."""
    return tf.nn.softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """``log(softmax(x))``, computed stably."""
    return tf.nn.log_softmax(x, axis=axis)


def gelu(x: Any, approximate: bool = False) -> Any:
    """Gaussian error linear unit (exact erf form unless ``approximate``)."""
    return tf.nn.gelu(x, approximate=approximate)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """``x`` if positive else ``alpha * (exp(x) - 1)``."""
    if alpha == 1.0:
        return tf.nn.elu(x)
    x = tf.convert_to_tensor(x)
    return tf.where(x > 0, x, alpha * (tf.exp(tf.minimum(x, 0.0)) - 1.0))


def selu(x: Any) -> Any:
    """Scaled ELU with the self-normalising constants."""
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    x = tf.convert_to_tensor(x)
    return scale * tf.where(x > 0, x, alpha * (tf.exp(tf.minimum(x, 0.0)) - 1.0))


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``."""
    return tf.nn.softplus(x)


def softsign(x: Any) -> Any:
    """``x / (1 + |x|)``."""
    return x / (1.0 + tf.abs(x))


def silu(x: Any) -> Any:
    """``x * sigmoid(x)`` (also called swish)."""
    return x * tf.nn.sigmoid(x)


swish = silu


def exponential(x: Any) -> Any:
    """``exp(x)``."""
    return tf.exp(x)


_BY_NAME: dict[str, Callable] = {
    "linear": linear, "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu,
    "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax, "gelu": gelu, "elu": elu, "selu": selu, "softplus": softplus,
    "softsign": softsign, "silu": silu, "swish": swish, "exponential": exponential,
}  # fmt: skip


def get(identifier: str | Callable | None) -> Callable:
    """The activation function for a name, a function, or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier]
        except KeyError:
            raise ValueError(
                f"Unknown activation {identifier!r}; expected one of {sorted(_BY_NAME)} or a "
                "function of one tensor."
            ) from None
    if callable(identifier):
        return identifier
    raise TypeError(f"An activation must be a name or a function, got {type(identifier).__name__}.")


def serialize(activation: Callable | None) -> str | None:
    """The name of a built-in activation (None for a custom function)."""
    if activation is None:
        return "linear"
    for name, function in _BY_NAME.items():
        if function is activation:
            return name
    for name in FUSED + ("softmax", "elu", "softplus"):
        if getattr(tf.nn, name, None) is activation:
            return name
    return getattr(activation, "__name__", None)


def fused_name(activation: Callable) -> str | None:
    """The name ``tf.nn.dense`` understands for ``activation``, or None if it must run apart."""
    if activation is linear:
        return "linear"
    if activation in (relu, sigmoid, tanh):
        return activation.__name__
    if activation is gelu:
        return "gelu"
    if activation is leaky_relu:  # Keras's default slope 0.2 is tf.nn.dense's alpha
        return "leaky_relu"
    for name in ("relu", "sigmoid", "tanh", "leaky_relu"):
        if getattr(tf.nn, name, None) is activation:
            return name
    return None
