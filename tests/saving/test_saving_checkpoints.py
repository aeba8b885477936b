"""tf.train.Checkpoint / CheckpointManager / latest_checkpoint."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tensorflowish as tf


def _model():
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4),
                                 tf.keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _train(model, rng):
    x = rng.normal(size=(16, 3)).astype("float32")
    model.fit(x, rng.normal(size=(16, 2)).astype("float32"), epochs=2, batch_size=8, verbose=0)


def test_save_restore_model_and_optimizer(tmp_path, rng):
    model = _model()
    _train(model, rng)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    assert path == str(tmp_path / "ckpt-1")
    saved = [w.numpy() for w in model.weights]
    kernel = model.layers[0].kernel
    saved_m = model.optimizer._slots_for(kernel)["m"].copy()
    assert saved_m.any()

    fresh = _model()
    restored = tf.train.Checkpoint(model=fresh, optimizer=fresh.optimizer)
    restored.restore(tf.train.latest_checkpoint(str(tmp_path))).assert_consumed()
    for value, weight in zip(saved, fresh.weights):
        np.testing.assert_array_equal(weight.numpy(), value)
    assert int(fresh.optimizer.iterations.numpy()) == 4
    # the optimizer's slots did not exist yet: they are created from the checkpoint
    np.testing.assert_array_equal(fresh.optimizer._slots_for(fresh.layers[0].kernel)["m"],
                                  saved_m)
    assert int(restored.save_counter.numpy()) == 1


def test_write_read_and_partial_restore(tmp_path):
    v, w = tf.Variable([1.0, 2.0]), tf.Variable(3.0)
    prefix = tf.train.Checkpoint(v=v, w=w).write(str(tmp_path / "exact"))
    assert prefix == str(tmp_path / "exact")
    assert os.path.exists(prefix + ".index") and os.path.exists(prefix + ".safetensors")
    assert not os.path.exists(tmp_path / "checkpoint")  # write() keeps no state file
    only_v = tf.Variable([0.0, 0.0])
    status = tf.train.Checkpoint(v=only_v).read(prefix)
    np.testing.assert_array_equal(only_v.numpy(), [1.0, 2.0])
    with pytest.raises(AssertionError, match="'w'"):
        status.assert_consumed()
    status.expect_partial()
    status.assert_existing_objects_matched()
    extra = tf.Variable(0.0)
    status = tf.train.Checkpoint(v=tf.Variable([0.0, 0.0]), extra=extra).read(prefix)
    with pytest.raises(AssertionError, match="extra"):
        status.assert_existing_objects_matched()


def test_modules_are_tracked_through_attributes_lists_and_dicts(tmp_path):
    class Block(tf.Module):
        def __init__(self, value):
            super().__init__()
            self.weights_list = [tf.Variable(value), tf.Variable(value + 1.0)]
            self.table = {"bias": tf.Variable([value])}

    root = Block(1.0)
    path = tf.train.Checkpoint(block=root).save(str(tmp_path / "m"))
    other = Block(7.0)
    tf.train.Checkpoint(block=other).restore(path).assert_consumed()
    assert [float(v.numpy()) for v in other.weights_list] == [1.0, 2.0]
    np.testing.assert_array_equal(other.table["bias"].numpy(), [1.0])


def test_shape_mismatch_changes_nothing(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]), w=tf.Variable(5.0)).save(
        str(tmp_path / "c"))
    v, w = tf.Variable([0.0, 0.0, 0.0]), tf.Variable(0.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"'v' has shape \(3,\)"):
        tf.train.Checkpoint(v=v, w=w).restore(path)
    assert float(w.numpy()) == 0.0  # all-or-nothing


def test_damaged_and_foreign_checkpoints(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable(np.arange(64, dtype=np.float32))).save(
        str(tmp_path / "c"))
    data = bytearray(open(path + ".safetensors", "rb").read())
    data[-5] ^= 0x01
    open(path + ".safetensors", "wb").write(bytes(data))
    with pytest.raises(tf.errors.DataLossError, match="checksum"):
        tf.train.Checkpoint(v=tf.Variable(np.zeros(64, np.float32))).restore(path)
    tf_prefix = tmp_path / "tf-ckpt-1"
    (tmp_path / "tf-ckpt-1.index").write_bytes(b"\x00\x01binary leveldb table")
    (tmp_path / "tf-ckpt-1.data-00000-of-00001").write_bytes(b"\x00")
    with pytest.raises(tf.errors.UnimplementedError, match="TensorFlow"):
        tf.train.Checkpoint(v=tf.Variable(0.0)).restore(str(tf_prefix))
    with pytest.raises(tf.errors.NotFoundError):
        tf.train.Checkpoint(v=tf.Variable(0.0)).restore(str(tmp_path / "nothing-1"))


def test_manager_rotation_and_recovery(tmp_path):
    v = tf.Variable(0.0)
    checkpoint = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=2)
    assert manager.latest_checkpoint is None
    assert manager.restore_or_initialize() is None
    for step in range(4):
        v.assign(float(step))
        manager.save()
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-3", "ckpt-4"]
    assert not os.path.exists(tmp_path / "ckpt-1.index")
    assert not os.path.exists(tmp_path / "ckpt-2.safetensors")
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-4")
    state = (tmp_path / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-4"' in state
    # a new manager over the same folder picks the list up again
    again = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(9.0)), str(tmp_path),
                                       max_to_keep=2)
    assert [os.path.basename(p) for p in again.checkpoints] == ["ckpt-3", "ckpt-4"]
    target = tf.Variable(-1.0)
    tf.train.Checkpoint(v=target).restore(again.latest_checkpoint)
    assert float(target.numpy()) == 3.0
    path = manager.save(checkpoint_number=100)
    assert path.endswith("ckpt-100")
    with pytest.raises(ValueError, match="max_to_keep"):
        tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=0)


def test_checkpoint_files_respect_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        path = tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / "u"))
    finally:
        os.umask(previous)
    for suffix in (".index", ".safetensors"):
        assert os.stat(path + suffix).st_mode & 0o777 == 0o640
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_manager_keeps_one_checkpoint_per_period(tmp_path, monkeypatch):
    from tensorflowish.saving import tf_checkpoint

    clock = [1000.0]
    monkeypatch.setattr(tf_checkpoint.time, "time", lambda: clock[0])
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(0.0)), str(tmp_path),
                                         max_to_keep=1, keep_checkpoint_every_n_hours=1.0)
    manager.save()
    clock[0] += 3600.0  # an hour later: ckpt-1 is kept for good when it leaves the list
    manager.save()
    manager.save()  # ckpt-2 leaves the list within the same hour: deleted
    assert [os.path.basename(p) for p in manager.checkpoints] == ["ckpt-3"]
    assert os.path.exists(tmp_path / "ckpt-1.index")
    assert not os.path.exists(tmp_path / "ckpt-2.index")


def test_values_for_layers_not_built_yet_are_restored_when_they_build(tmp_path, rng):
    """TensorFlow's checkpoint guide restores into a model before its first call."""

    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.l1 = tf.keras.layers.Dense(5)

        def call(self, x):
            return self.l1(x)

    net = Net()
    x = tf.constant(rng.normal(size=(2, 3)).astype("float32"))
    expected = net(x).numpy()
    path = tf.train.Checkpoint(net=net).save(str(tmp_path / "ckpt"))
    fresh = Net()  # no variables yet
    status = tf.train.Checkpoint(net=fresh).restore(path)
    with pytest.raises(AssertionError, match="net/l1/kernel"):
        status.assert_consumed()  # as in TensorFlow: pending until the layer builds
    np.testing.assert_array_equal(fresh(x).numpy(), expected)
