"""The custom classes of tests/data/keras/make_keras_files.py, written against tensorflowish
(same registered names), for the tests that exchange files with real Keras."""

from __future__ import annotations

import tensorflowish as tf


@tf.keras.saving.register_keras_serializable(package="tfish_test")
class ScaledDense(tf.keras.layers.Layer):
    """``scale * (x @ kernel)``, with the scale a trainable scalar."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, inputs):
        return self.scale * tf.matmul(inputs, self.kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@tf.keras.saving.register_keras_serializable(package="tfish_test")
class TwoBlocks(tf.keras.Model):
    """A subclassed model made of the custom layer and a Dense layer."""

    def __init__(self, hidden, outputs, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.outputs_ = hidden, outputs
        self.block = ScaledDense(hidden)
        self.head = tf.keras.layers.Dense(outputs)

    def call(self, inputs):
        return self.head(tf.tanh(self.block(inputs)))

    def get_config(self):
        return {"hidden": self.hidden, "outputs": self.outputs_, "name": self.name}
