"""Keras 3 `.keras` files written by real Keras (tests/data/keras, made by
make_keras_files.py with TensorFlow 2.21) load here and predict what Keras predicted."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import h5py
import keras_custom_objects  # noqa: F401 - registers the custom classes of the files
import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.saving import load_model

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "keras")


def _inputs(reference):
    if "x0" in reference:
        return [tf.constant(reference["x0"]), tf.constant(reference["x1"])]
    return tf.constant(reference["x"])


@pytest.mark.parametrize("name", ["sequential", "functional", "subclassed", "sequences_and_images"])
def test_keras_written_file_predicts_as_keras(name):
    model = load_model(os.path.join(DATA, f"{name}.keras"))
    reference = np.load(os.path.join(DATA, f"{name}.npz"))
    predicted = model(_inputs(reference), training=False).numpy()
    np.testing.assert_allclose(predicted, reference["y"], atol=1e-5, rtol=0)


def test_keras_file_restores_optimizer_state_and_compile():
    model = load_model(os.path.join(DATA, "sequential.keras"))
    assert isinstance(model.optimizer, tf.keras.optimizers.Adam)
    with zipfile.ZipFile(os.path.join(DATA, "sequential.keras")) as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            stored = [weights[f"optimizer/vars/{i}"][()] for i in range(len(weights[
                "optimizer/vars"]))]
    assert int(model.optimizer.iterations.numpy()) == int(stored[0]) == 8
    # Adam's first moment of the first kernel is Keras's optimizer/vars/2
    kernel = model.layers[0].kernel
    np.testing.assert_array_equal(model.optimizer._slots_for(kernel)["m"], stored[2])
    np.testing.assert_array_equal(model.optimizer._slots_for(kernel)["v"], stored[3])
    assert model.compiled_loss is not None


def test_compile_false_leaves_model_uncompiled():
    model = load_model(os.path.join(DATA, "sequential.keras"), compile=False)
    assert model.optimizer is None


def test_batch_normalization_statistics_come_from_file():
    model = load_model(os.path.join(DATA, "functional.keras"))
    norm = [layer for layer in model.layers
            if isinstance(layer, tf.keras.layers.BatchNormalization)][0]
    with zipfile.ZipFile(os.path.join(DATA, "functional.keras")) as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            moving_variance = weights["layers/batch_normalization/vars/3"][()]
    np.testing.assert_array_equal(norm.moving_variance.numpy(), moving_variance)
    assert not np.allclose(moving_variance, 1.0)  # trained, not the initial value


def _rewrite(source, target, change):
    """Copy a .keras file, letting ``change(name, data) -> data`` alter its members."""
    with zipfile.ZipFile(source) as archive:
        members = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            archive.writestr(name, change(name, data))


def test_flipped_byte_is_detected_by_the_zip_crc(tmp_path):
    path = tmp_path / "damaged.keras"
    shutil.copy(os.path.join(DATA, "sequential.keras"), path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    data[info.header_offset + 30 + len(info.filename) + info.file_size // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(tf.errors.DataLossError, match="CRC.*model.weights.h5"):
        load_model(path)


def test_truncated_and_garbage_files(tmp_path):
    whole = open(os.path.join(DATA, "sequential.keras"), "rb").read()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(tf.errors.DataLossError, match="truncated.keras"):
        load_model(truncated)
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip at all" * 10)
    with pytest.raises(tf.errors.DataLossError, match="not a .keras file"):
        load_model(garbage)
    with pytest.raises(tf.errors.NotFoundError):
        load_model(tmp_path / "missing.keras")


def test_truncated_weights_inside_a_valid_zip(tmp_path):
    path = tmp_path / "short_h5.keras"
    _rewrite(os.path.join(DATA, "sequential.keras"), path,
             lambda name, data: data[: len(data) // 3] if name == "model.weights.h5" else data)
    with pytest.raises(tf.errors.DataLossError, match="damaged or is not a Keras HDF5"):
        load_model(path)


def test_wrong_shapes_and_missing_layers_are_refused(tmp_path):
    def widen(name, data):
        if name != "config.json":
            return data
        config = json.loads(data)
        config["config"]["layers"][3]["config"]["units"] = 5  # the output Dense
        return json.dumps(config).encode()

    path = tmp_path / "wide.keras"
    _rewrite(os.path.join(DATA, "sequential.keras"), path, widen)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"shape \(8, 5\) in the model, \(8, 3\)"):
        load_model(path)

    def drop_layer(name, data):
        if name != "config.json":
            return data
        config = json.loads(data)
        del config["config"]["layers"][3]  # the output Dense
        return json.dumps(config).encode()

    path = tmp_path / "fewer.keras"
    _rewrite(os.path.join(DATA, "sequential.keras"), path, drop_layer)
    with pytest.raises(tf.errors.InvalidArgumentError, match="layers/dense_1.*match no layer"):
        load_model(path)


def test_unregistered_custom_class_names_the_fix(tmp_path):
    def rename(name, data):
        if name != "config.json":
            return data
        return data.replace(b"tfish_test>TwoBlocks", b"elsewhere>TwoBlocks").replace(
            b'"TwoBlocks"', b'"Unknown"')

    path = tmp_path / "unknown.keras"
    _rewrite(os.path.join(DATA, "subclassed.keras"), path, rename)
    with pytest.raises(tf.errors.NotFoundError, match="register_keras_serializable"):
        load_model(path)
