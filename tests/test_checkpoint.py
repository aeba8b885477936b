"""Weight files: round trips, atomic writes, damage detection, clear shape errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish import checkpoint


def make_model(hidden=8, seed=0):
    tf.random.set_seed(seed)
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(hidden, activation="relu", input_shape=(4,)),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.Dense(3),
        ]
    )


def test_model_round_trip_on_each_backend(tmp_path, device):
    model = make_model(seed=1)
    model.layers[1].moving_mean.assign(np.arange(8, dtype=np.float32))
    path = tmp_path / "weights.safetensors"
    model.save_weights(path)
    fresh = make_model(seed=2)
    fresh.load_weights(path)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), fresh.predict(x, verbose=0))


def test_files_are_plain_safetensors_with_named_tensors(tmp_path):
    from safetensors.numpy import load_file

    path = tmp_path / "w.safetensors"
    make_model().save_weights(path)
    names = sorted(load_file(path))
    assert names[0].startswith("0000/dense") and names[0].endswith("/kernel")
    assert any(name.endswith("/moving_variance") for name in names)
    assert checkpoint.read_metadata(path)["format"] == checkpoint.FORMAT


def test_non_contiguous_arrays_round_trip(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "t.safetensors"
    checkpoint.save_arrays(path, {"transposed": base.T, "strided": base[:, ::2]})
    loaded = checkpoint.load_arrays(path)
    np.testing.assert_array_equal(loaded["transposed"], base.T)
    np.testing.assert_array_equal(loaded["strided"], base[:, ::2])


def test_a_flipped_byte_is_detected(tmp_path):
    path = tmp_path / "w.safetensors"
    model = make_model()
    model.save_weights(path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01  # inside the last tensor's values
    path.write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError, match="does not match its stored SHA-256"):
        make_model().load_weights(path)


def test_every_single_byte_flip_is_detected(tmp_path):
    path = tmp_path / "w.safetensors"
    checkpoint.save_arrays(path, {"a": np.arange(6, dtype=np.float32), "b": np.ones(2)})
    original = path.read_bytes()
    for position in range(len(original)):
        damaged = bytearray(original)
        damaged[position] ^= 0x04
        path.write_bytes(bytes(damaged))
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.load_arrays(path)


def test_truncated_and_garbage_files_are_detected(tmp_path):
    path = tmp_path / "w.safetensors"
    make_model().save_weights(path)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 5, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(checkpoint.CheckpointError, match="damaged"):
            make_model().load_weights(path)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load_arrays(path)


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    checkpoint.save_arrays(path, {"a": np.zeros(3)})
    before = path.read_bytes()

    def crash(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_arrays(path, {"a": np.ones(3)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]  # the temporary file was removed


def test_a_process_killed_mid_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "w.safetensors"
    checkpoint.save_arrays(path, {"a": np.zeros(1000)})
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import os, numpy as np
        from tensorflowish import checkpoint
        real_write = os.fdopen
        class Dying:
            def __init__(self, handle): self.handle = handle
            def __enter__(self): return self
            def __exit__(self, *a): pass
            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                os._exit(9)  # killed half-way through the write
        os.fdopen = lambda fd, mode: Dying(real_write(fd, mode))
        checkpoint.save_arrays({str(path)!r}, {{"a": np.ones(1000)}})
    """)
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == 9
    assert path.read_bytes() == before
    np.testing.assert_array_equal(checkpoint.load_arrays(path)["a"], np.zeros(1000))


def test_shape_mismatch_names_the_layer_and_both_shapes(tmp_path):
    path = tmp_path / "w.safetensors"
    make_model(hidden=8).save_weights(path)
    other = make_model(hidden=16)
    before = [w.copy() for w in other.get_weights()]
    with pytest.raises(ValueError) as error:
        other.load_weights(path)
    message = str(error.value)
    assert f"layer '{other.layers[0].name}'" in message
    assert "(4, 8)" in message and "(4, 16)" in message
    for a, b in zip(before, other.get_weights()):  # nothing was half-loaded
        np.testing.assert_array_equal(a, b)
    smaller = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="holds 8 weights.*model has 2"):
        smaller.load_weights(path)


def test_unbuilt_models_and_missing_files_are_clear(tmp_path):
    unbuilt = tf.keras.Sequential([tf.keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="no weights yet"):
        unbuilt.save_weights(tmp_path / "w.safetensors")
    with pytest.raises(FileNotFoundError, match="No weight file"):
        make_model().load_weights(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="must end in .keras"):
        make_model().save(tmp_path / "model.pkl")
    with pytest.raises(ValueError, match=r"\.weights\.h5.*\.safetensors"):
        make_model().save_weights(tmp_path / "weights.bin")


def test_foreign_safetensors_files_need_verify_false(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"x": np.ones(2, np.float32)}, str(path))
    with pytest.raises(checkpoint.CheckpointError, match="verify=False"):
        checkpoint.load_arrays(path)
    assert checkpoint.load_arrays(path, verify=False)["x"].tolist() == [1.0, 1.0]
