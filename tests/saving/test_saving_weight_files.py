"""save_weights/load_weights in Keras's HDF5 layout, and the safety of every file written."""

from __future__ import annotations

import os
import zipfile

import h5py
import numpy as np
import pytest

import tensorflowish as tf

L = tf.keras.layers


def _model(units=4):
    return tf.keras.Sequential([tf.keras.Input((3,)), L.Dense(units, activation="relu"),
                                L.BatchNormalization(), L.Dense(2)])


def _randomize(model, rng):
    for weight in model.weights:
        weight.assign(rng.uniform(0.5, 1.5, size=tuple(weight.shape)).astype("float32"))


def test_weights_h5_layout_and_round_trip(tmp_path, rng):
    model = _model()
    _randomize(model, rng)
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as handle:
        # Keras's layout: by class and position, trainable variables first
        np.testing.assert_array_equal(handle["layers/dense/vars/0"][()],
                                      model.layers[0].kernel.numpy())
        np.testing.assert_array_equal(handle["layers/batch_normalization/vars/3"][()],
                                      model.layers[1].moving_variance.numpy())
        assert handle["layers/dense_1/vars"].attrs["name"] == model.layers[2].name
        assert handle["layers/dense/vars/0"].fletcher32
    fresh = _model()
    fresh.load_weights(path)
    for a, b in zip(fresh.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_flipped_byte_in_an_h5_weight_is_detected(tmp_path, rng):
    model = _model(units=64)
    _randomize(model, rng)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as handle:
        offset = handle["layers/dense/vars/0"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 100] ^= 0x10
    path.write_bytes(bytes(data))
    fresh = _model(units=64)
    before = [w.numpy() for w in fresh.weights]
    with pytest.raises(tf.errors.DataLossError, match="w.weights.h5"):
        fresh.load_weights(path)
    for value, weight in zip(before, fresh.weights):
        np.testing.assert_array_equal(weight.numpy(), value)  # untouched


def test_mismatched_model_is_refused_and_untouched(tmp_path, rng):
    model = _model(units=4)
    _randomize(model, rng)
    model.save_weights(tmp_path / "w.weights.h5")
    other = _model(units=5)
    before = [w.numpy() for w in other.weights]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\(3, 5\) in the model, \(3, 4\)"):
        other.load_weights(tmp_path / "w.weights.h5")
    for value, weight in zip(before, other.weights):
        np.testing.assert_array_equal(weight.numpy(), value)
    with pytest.raises(ValueError, match=r"\.weights\.h5.*\.safetensors"):
        model.save_weights(tmp_path / "w.bin")
    with pytest.raises(ValueError, match="legacy HDF5"):
        model.save(tmp_path / "m.h5")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)
    tf.keras.Sequential([L.Dense(2)], name="later").save(tmp_path / "unbuilt.keras")
    unbuilt = tf.keras.models.load_model(tmp_path / "unbuilt.keras")  # as in Keras: no weights
    assert unbuilt.name == "later" and not unbuilt.weights
    assert unbuilt(tf.ones((1, 3))).shape == (1, 2)


def test_files_get_the_umask_mode(tmp_path):
    model = _model()
    previous = os.umask(0o077)
    try:
        model.save(tmp_path / "a.keras")
        model.save_weights(tmp_path / "a.weights.h5")
    finally:
        os.umask(previous)
    previous = os.umask(0o002)
    try:
        model.save(tmp_path / "b.keras")
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "a.keras").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "a.weights.h5").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "b.keras").st_mode & 0o777 == 0o664


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch, rng):
    model = _model()
    path = tmp_path / "m.keras"
    model.save(path)
    old = path.read_bytes()
    _randomize(model, rng)
    real = zipfile.ZipFile.writestr

    def failing(self, name, data, *args, **kwargs):
        if name == "model.weights.h5":
            raise OSError("disk full")
        return real(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # no temporary file left behind


def test_keras_file_weights_load_into_a_model_in_code(tmp_path, rng):
    model = _model()
    _randomize(model, rng)
    model.save(tmp_path / "m.keras")
    fresh = _model()
    fresh.load_weights(tmp_path / "m.keras")
    x = tf.constant(rng.normal(size=(2, 3)).astype("float32"))
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


def test_model_checkpoint_writes_keras_files(tmp_path, rng):
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    callback = tf.keras.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    loaded = tf.keras.models.load_model(tmp_path / "m-2.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


def test_save_load_and_checkpoint_on_every_backend(tmp_path, device, rng):
    """One body for NumPy and CuPy: weights on a GPU are copied to the host to be written and
    come back onto the current device."""
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    path = tf.train.Checkpoint(model=model, optimizer=model.optimizer).save(
        str(tmp_path / "ckpt"))
    fresh = _model()
    fresh.compile(optimizer="adam", loss="mse")
    tf.train.Checkpoint(model=fresh, optimizer=fresh.optimizer).restore(path).assert_consumed()
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
