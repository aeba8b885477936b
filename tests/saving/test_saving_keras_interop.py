"""Files written here load in real Keras 3 and predict the same.

Runs where TensorFlow can be found: ``TENSORFLOWISH_TF_PYTHON`` (a Python with TensorFlow), the
reference venv ``/tmp/tfref`` (see tests/data/keras/make_keras_files.py), or this interpreter
if it imports tensorflow. Skipped with the reason otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from keras_custom_objects import TwoBlocks

import tensorflowish as tf

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "keras")
L = tf.keras.layers


def _tensorflow_python():
    candidates = [os.environ.get("TENSORFLOWISH_TF_PYTHON"), "/tmp/tfref/bin/python"]
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            return candidate
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    return None


KERAS_SCRIPT = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, sys.argv[1])  # make_keras_files.py: registers the same custom classes
import make_keras_files  # noqa: F401
import keras, numpy as np
folder = sys.argv[2]
for name in sys.argv[3:]:
    model = keras.models.load_model(os.path.join(folder, name + ".keras"))
    data = np.load(os.path.join(folder, name + ".in.npz"))
    inputs = [data[k] for k in sorted(data.files)]
    y = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    extra = {}
    if getattr(model, "optimizer", None) is not None and model.optimizer.built:
        extra["iterations"] = np.asarray(model.optimizer.iterations.numpy())
    np.savez(os.path.join(folder, name + ".out.npz"), y=np.asarray(y), **extra)
"""


def _models(rng):
    """name -> (model, inputs): trained a little, so optimizer state is not empty."""
    models = {}
    sequential = tf.keras.Sequential([tf.keras.Input((6,)), L.Dense(8, activation="relu"),
                                      L.Dropout(0.25), L.Dense(3, activation="softmax")])
    sequential.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                       metrics=["accuracy"])
    x = rng.normal(size=(32, 6)).astype("float32")
    sequential.fit(x, rng.integers(0, 3, 32), epochs=2, batch_size=8, verbose=0)
    models["sequential"] = (sequential, [x[:5]])

    left, right = tf.keras.Input((4,), name="left"), tf.keras.Input((3,), name="right")
    a = L.Dense(5, activation="tanh")(left)
    b = L.Dense(5, activation="sigmoid")(right)
    normed = L.BatchNormalization()(L.Concatenate()([a, b]))
    functional = tf.keras.Model([left, right], L.Dense(2)(L.Add()([normed, normed])))
    functional.compile(optimizer=tf.keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    x0, x1 = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 3)).astype("float32")
    functional.layers[-3](tf.constant(rng.normal(2, 3, size=(64, 10)).astype("float32")),
                          training=True)  # BatchNormalization statistics away from 0 and 1
    models["functional"] = (functional, [x0[:5], x1[:5]])

    subclassed = TwoBlocks(6, 2)
    subclassed.compile(optimizer="rmsprop", loss="mse")
    x = rng.normal(size=(16, 5)).astype("float32")
    subclassed.fit(x, rng.normal(size=(16, 2)).astype("float32"), epochs=2, batch_size=8,
                   verbose=0)
    models["subclassed"] = (subclassed, [x[:5]])

    tokens = tf.keras.Input((7,), dtype="int32")
    hidden = L.LSTM(5, return_sequences=True)(L.Embedding(12, 4)(tokens))
    recurrent = tf.keras.Model(tokens, L.Dense(2)(L.GRU(3)(hidden)))
    for weight in recurrent.weights:
        weight.assign(rng.uniform(-0.5, 0.5, size=tuple(weight.shape)).astype("float32"))
    models["recurrent"] = (recurrent, [rng.integers(0, 12, size=(5, 7)).astype("int32")])
    images = tf.keras.Input((8, 8, 2))
    features = L.MaxPooling2D(2)(L.Conv2D(4, 3, padding="same", activation="relu")(images))
    features = L.SeparableConv2D(3, 3)(L.DepthwiseConv2D(3, padding="same")(features))
    convolutional = tf.keras.Model(images, L.Dense(2)(L.GlobalAveragePooling2D()(features)))
    for weight in convolutional.weights:
        weight.assign(rng.uniform(-0.5, 0.5, size=tuple(weight.shape)).astype("float32"))
    models["convolutional"] = (convolutional, [rng.normal(size=(3, 8, 8, 2)).astype("float32")])

    query, value = tf.keras.Input((4, 6)), tf.keras.Input((5, 6))
    attended = L.MultiHeadAttention(2, 3)(query, value)
    attention = tf.keras.Model([query, value], L.LayerNormalization()(attended))
    for weight in attention.weights:
        weight.assign(rng.uniform(-0.5, 0.5, size=tuple(weight.shape)).astype("float32"))
    models["attention"] = (attention, [rng.normal(size=(2, 4, 6)).astype("float32"),
                                       rng.normal(size=(2, 5, 6)).astype("float32")])
    return models


@pytest.mark.slow
def test_files_written_here_predict_the_same_in_keras(tmp_path, rng):
    python = _tensorflow_python()
    if python is None:
        pytest.skip("TensorFlow is not available (set TENSORFLOWISH_TF_PYTHON to a Python with "
                    "tensorflow, e.g. a venv with tensorflow-cpu==2.21.0)")
    models = _models(rng)
    expected = {}
    for name, (model, inputs) in models.items():
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}.in.npz", **{f"x{i}": v for i, v in enumerate(inputs)})
        values = [tf.constant(v) for v in inputs]
        expected[name] = model(values if len(values) > 1 else values[0], training=False).numpy()
    script = tmp_path / "load_in_keras.py"
    script.write_text(KERAS_SCRIPT)
    result = subprocess.run([python, str(script), os.path.abspath(DATA), str(tmp_path),
                             *models], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, (model, _) in models.items():
        out = np.load(tmp_path / f"{name}.out.npz")
        np.testing.assert_allclose(out["y"], expected[name], atol=1e-5, rtol=0,
                                   err_msg=f"{name}: Keras predicts differently")
        if "iterations" in out.files:
            assert int(out["iterations"]) == int(model.optimizer.iterations.numpy())


OPTIMIZER_SCRIPT = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np
folder = sys.argv[1]
data = np.load(os.path.join(folder, "data.npz"))
x, y = data["x"], data["y"]
optimizers = {
    "adam_amsgrad": keras.optimizers.Adam(0.01, amsgrad=True),
    "adamw": keras.optimizers.AdamW(0.01),
    "nadam": keras.optimizers.Nadam(0.01),
    "adamax": keras.optimizers.Adamax(0.01),
    "adagrad": keras.optimizers.Adagrad(0.05),
    "adadelta": keras.optimizers.Adadelta(1.0),
    "rmsprop": keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "sgd": keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "ftrl": keras.optimizers.Ftrl(0.05),
    "lion": keras.optimizers.Lion(0.003),
    "adafactor": keras.optimizers.Adafactor(0.05),
}
for name, optimizer in optimizers.items():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    model.save(os.path.join(folder, name + ".keras"))
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.save(os.path.join(folder, name + ".npy"), model.predict(x, verbose=0))
"""


@pytest.mark.slow
def test_optimizer_state_from_keras_continues_training_as_keras(tmp_path, rng):
    """Keras trains, saves, trains one more epoch; the file loaded here and trained the same
    epoch predicts what Keras did, so every optimizer slot went to the right place."""
    python = _tensorflow_python()
    if python is None:
        pytest.skip("TensorFlow is not available (set TENSORFLOWISH_TF_PYTHON)")
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    script = tmp_path / "train_in_keras.py"
    script.write_text(OPTIMIZER_SCRIPT)
    result = subprocess.run([python, str(script), str(tmp_path)], capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    failures = []
    for path in sorted(tmp_path.glob("*.keras")):
        model = tf.keras.models.load_model(path)
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        expected = np.load(path.with_suffix(".npy"))
        error = float(np.abs(model.predict(x, verbose=0) - expected).max())
        if error > 1e-4:
            failures.append(f"{path.stem}: {error:.2e}")
    assert not failures, failures
