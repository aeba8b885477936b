"""Regenerate the `.keras` files in this folder with real Keras 3 (TensorFlow 2.21).

Run it with a Python that has TensorFlow, never with the project's own environment:

    python -m venv /tmp/tfref && /tmp/tfref/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfref/bin/python tests/data/keras/make_keras_files.py

Each model is trained for a few steps (so optimizer slots and BatchNormalization statistics are
not their initial values), saved as NAME.keras, and its predictions on a fixed batch are stored
in NAME.npz (``x`` or ``x0``/``x1``, and ``y``) for the tests to compare against.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@keras.saving.register_keras_serializable(package="tfish_test")
class ScaledDense(keras.layers.Layer):
    """A custom layer: ``scale * (x @ kernel)``, with the scale a trainable scalar."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, inputs):
        return self.scale * keras.ops.matmul(inputs, self.kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="tfish_test")
class TwoBlocks(keras.Model):
    """A subclassed model made of a registered custom layer and a Dense layer."""

    def __init__(self, hidden, outputs, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.outputs_ = hidden, outputs
        self.block = ScaledDense(hidden)
        self.head = keras.layers.Dense(outputs)

    def call(self, inputs):
        return self.head(keras.ops.tanh(self.block(inputs)))

    def get_config(self):
        return {"hidden": self.hidden, "outputs": self.outputs_, "name": self.name}


def sequential(rng):
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(32, 6)).astype("float32")
    model.fit(x, rng.integers(0, 3, 32), epochs=2, batch_size=8, verbose=0)
    return model, {"x": x[:5]}


def functional(rng):
    left, right = keras.Input((4,), name="left"), keras.Input((3,), name="right")
    a = keras.layers.Dense(5, activation="tanh")(left)
    b = keras.layers.Dense(5, activation="sigmoid")(right)
    joined = keras.layers.Concatenate()([a, b])
    normed = keras.layers.BatchNormalization()(joined)
    out = keras.layers.Dense(2)(normed)
    model = keras.Model([left, right], out)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    x0 = rng.normal(size=(32, 4)).astype("float32")
    x1 = rng.normal(size=(32, 3)).astype("float32")
    model.fit([x0, x1], rng.normal(size=(32, 2)), epochs=3, batch_size=8, verbose=0)
    return model, {"x0": x0[:5], "x1": x1[:5]}


def subclassed(rng):
    model = TwoBlocks(6, 2)
    model.compile(optimizer="rmsprop", loss="mse")
    x = rng.normal(size=(16, 5)).astype("float32")
    model.fit(x, rng.normal(size=(16, 2)), epochs=2, batch_size=8, verbose=0)
    return model, {"x": x[:5]}


def sequences_and_images(rng):
    """Embedding, Conv1D, LSTM, GRU and Bidirectional on token ids; Conv2D, depthwise and
    separable convolutions, pooling and MultiHeadAttention on images."""
    tokens = keras.Input((9,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 6)(tokens)
    x = keras.layers.MaxPooling1D(2)(keras.layers.Conv1D(5, 3, padding="causal")(x))
    x = keras.layers.LSTM(4, return_sequences=True)(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True))(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    images = keras.Input((6, 6, 2), name="images")
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(images)
    y = keras.layers.SeparableConv2D(4, 3)(keras.layers.DepthwiseConv2D(3, padding="same")(y))
    y = keras.layers.Reshape((16, 4))(y)
    y = keras.layers.MultiHeadAttention(2, 3)(y, y)
    y = keras.layers.GlobalMaxPooling1D()(keras.layers.LayerNormalization()(y))
    out = keras.layers.Dense(3)(keras.layers.Concatenate()([x, y]))
    model = keras.Model([tokens, images], out)
    model.compile(optimizer="adam", loss="mse")
    x0 = rng.integers(0, 20, size=(16, 9)).astype("int32")
    x1 = rng.normal(size=(16, 6, 6, 2)).astype("float32")
    model.fit([x0, x1], rng.normal(size=(16, 3)), epochs=1, batch_size=8, verbose=0)
    return model, {"x0": x0[:4], "x1": x1[:4]}


def main():
    for name, make in (("sequential", sequential), ("functional", functional),
                       ("subclassed", subclassed), ("sequences_and_images",
                                                    sequences_and_images)):
        keras.utils.set_random_seed(1234)
        model, inputs = make(np.random.default_rng(1234))
        args = [inputs["x0"], inputs["x1"]] if "x0" in inputs else inputs["x"]
        y = np.asarray(model.predict(args, verbose=0))
        model.save(os.path.join(HERE, f"{name}.keras"))
        np.savez(os.path.join(HERE, f"{name}.npz"), y=y, **inputs)
        print(f"{name}.keras: predictions {y.shape}")


if __name__ == "__main__":
    main()
