"""`TimeDistributed`: apply a layer to every time step (folded into the batch: one call)."""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer


class TimeDistributed(Layer):
    """Apply `layer` to each slice along axis 1 of a (batch, time, ...) input.

    The time axis is folded into the batch, so the wrapped layer runs once on
    (batch * time, ...) and shares its weights across steps.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.TimeDistributed(tf.keras.layers.Dense(3))
    >>> layer(tf.ones((2, 4, 5))).shape.as_list()
    [2, 4, 3]
    """

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed needs a Layer instance, got "
                             f"{type(layer).__name__}.")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape: Any) -> None:
        if input_shape is None or len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}' expects inputs of rank >= 3 "
                             f"(batch, time, ...), got shape {input_shape}.")
        if not self.layer.built:
            self.layer.build((None, *tuple(input_shape[2:])))
            self.layer.built = True
        self.built = True

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if inputs.ndim < 3:
            raise ValueError(f"TimeDistributed '{self.name}' expects inputs of rank >= 3 "
                             f"(batch, time, ...), got shape {tuple(inputs.shape)}.")
        batch, steps = inputs.shape[0], inputs.shape[1]
        if None in tuple(inputs.shape):  # relaxed dimensions in a tf.function: tensor sizes
            folded = tf.reshape(inputs, tf.concat([[-1], tf.shape(inputs)[2:]], 0))
            outputs = self.layer(folded, training=training)
            return tf.reshape(outputs, tf.concat([tf.shape(inputs)[:2], tf.shape(outputs)[1:]],
                                                 0))
        folded = tf.reshape(inputs, (batch * steps, *tuple(inputs.shape[2:])))
        outputs = self.layer(folded, training=training)
        return tf.reshape(outputs, (batch, steps, *tuple(outputs.shape[1:])))

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": self.layer}

    @classmethod
    def from_config(cls, config: dict) -> TimeDistributed:
        config = dict(config)
        layer = config.pop("layer")
        return cls(type(layer).from_config(layer.get_config()), **config)
