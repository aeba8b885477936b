"""Callbacks that log, adapt and back up training, and tf.summary, read back with TensorBoard."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorflowish as tf

pytest.importorskip("tensorboardX", reason="the tensorboard extra is not installed")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="TensorBoard (the event reader the tests check with) is not installed",
)


def read_events(path):
    """Everything TensorBoard's own reader finds in one run folder."""
    reader = event_accumulator.EventAccumulator(
        str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
    )
    reader.Reload()
    return reader


def blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    x = (centers[y] + rng.normal(scale=0.5, size=(n, 4))).astype(np.float32)
    return x, y


def compiled(optimizer=None):
    tf.random.set_seed(0)
    model = tf.keras.Sequential(
        [tf.keras.layers.Dense(8, activation="relu", input_shape=(4,)), tf.keras.layers.Dense(3)]
    )
    model.compile(
        optimizer=optimizer or tf.keras.optimizers.Adam(0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# --- tf.summary ----------------------------------------------------------------------------


def test_summary_ops_write_what_tensorboard_reads(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "run"))
    values = np.array([0.5, 1.5, 1.5, 3.0, -2.0])
    picture = np.zeros((1, 4, 6, 3), np.float32)
    picture[0, 1, 2] = [1.0, 0.5, 0.0]
    with writer.as_default(step=7):
        assert tf.summary.scalar("loss", tf.constant(0.25))
        assert tf.summary.scalar("loss", 0.125, step=9)
        assert tf.summary.histogram("weights", values, buckets=4)
        assert tf.summary.image("picture", picture)
        assert tf.summary.text("note", "hello *world*")
    writer.close()
    events = read_events(tmp_path / "run")
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(7, 0.25), (9, 0.125)]
    histogram = events.Histograms("weights")[0].histogram_value
    assert (histogram.num, histogram.sum, histogram.min, histogram.max) == (5, 4.5, -2.0, 3.0)
    assert histogram.sum_squares == pytest.approx(float((values**2).sum()))
    image = events.Images("picture")[0]
    assert (image.width, image.height, image.step) == (6, 4, 7)
    import io

    from PIL import Image

    decoded = np.asarray(Image.open(io.BytesIO(image.encoded_image_string)))
    # TensorFlow's conversion: x * 255.5, truncated
    assert decoded.shape == (4, 6, 3) and tuple(decoded[1, 2]) == (255, 127, 0)
    assert decoded.sum() == 255 + 127
    from tensorboard.util import tensor_util

    (note,) = events.Tensors("note")
    assert note.step == 7 and tensor_util.make_ndarray(note.tensor_proto).tolist() == [
        b"hello *world*"
    ]


def test_summary_without_writer_or_step():
    assert tf.summary.scalar("loss", 1.0, step=0) is False  # no default writer: nothing written
    writer = tf.summary.create_noop_writer()
    with writer.as_default():
        assert tf.summary.scalar("loss", 1.0, step=0) is False


def test_summary_needs_a_step_and_a_scalar(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        with pytest.raises(ValueError, match="No step set"):
            tf.summary.scalar("loss", 1.0)
        tf.summary.experimental.set_step(4)
        assert tf.summary.experimental.get_step() == 4
        assert tf.summary.scalar("loss", 1.0)
        tf.summary.experimental.set_step(None)
        with pytest.raises(ValueError, match="needs a scalar"):
            tf.summary.scalar("loss", [1.0, 2.0], step=0)
        with pytest.raises(ValueError, match="channels"):
            tf.summary.image("picture", np.zeros((4, 4)), step=0)
    writer.close()
    assert [e.step for e in read_events(tmp_path).Scalars("loss")] == [4]


# --- TensorBoard ---------------------------------------------------------------------------


def test_tensorboard_callback_logs_epochs_batches_histograms_and_the_model(tmp_path):
    x, y = blobs(64)
    model = compiled()
    board = tf.keras.callbacks.TensorBoard(log_dir=tmp_path, histogram_freq=1, update_freq=2)
    history = model.fit(
        x, y, batch_size=16, epochs=3, verbose=0, validation_data=(x[:16], y[:16]),
        callbacks=[board],
    )  # fmt: skip
    train = read_events(tmp_path / "train")
    validation = read_events(tmp_path / "validation")
    logged = [event.value for event in train.Scalars("epoch_loss")]
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1, 2]
    np.testing.assert_allclose(logged, history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(
        [e.value for e in validation.Scalars("epoch_accuracy")],
        history.history["val_accuracy"], rtol=1e-6,
    )  # fmt: skip
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == pytest.approx([0.01] * 3)
    # 4 batches an epoch, written every 2nd global batch
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6, 8, 10, 12]
    kernel_tags = [t for t in train.Tags()["histograms"] if "kernel" in t]
    assert len(kernel_tags) == 2 and all(t.endswith("/histogram") for t in kernel_tags)
    last = train.Histograms(kernel_tags[0])[-1]
    kernel = model.layers[0].kernel.numpy()
    assert last.step == 2 and last.histogram_value.num == kernel.size
    assert last.histogram_value.max == pytest.approx(float(kernel.max()))
    (graph,) = train.Tensors("model")
    assert b"dense" in graph.tensor_proto.string_val[0]


def test_tensorboard_rejects_what_it_cannot_do(tmp_path):
    with pytest.raises(ValueError, match="update_freq"):
        tf.keras.callbacks.TensorBoard(tmp_path, update_freq="sometimes")
    with pytest.raises(NotImplementedError, match="profil"):
        tf.keras.callbacks.TensorBoard(tmp_path, profile_batch=3)


def test_summary_names_the_extra_when_tensorboardx_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"tensorflowish\[tensorboard\]"):
        tf.summary.create_file_writer("unused")


# --- CSVLogger, ReduceLROnPlateau, TerminateOnNaN + EarlyStopping, LambdaCallback --------------


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    x, y = blobs(32)
    model = compiled()
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[tf.keras.callbacks.CSVLogger(path)])
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert [float(row["loss"]) for row in rows] == pytest.approx(history.history["loss"])
    assert rows[0]["val_loss"] == "NA"
    logger = tf.keras.callbacks.CSVLogger(path, separator=";", append=True)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[3].startswith("0;")  # no second header


def test_reduce_lr_on_plateau_reduces_after_patience_and_cools_down():
    x, y = blobs(32)
    model = compiled(optimizer=tf.keras.optimizers.SGD(0.1))
    # min_delta larger than any change: every epoch after the first is a plateau
    reduce = tf.keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, min_delta=10.0, cooldown=1, min_lr=0.02
    )
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[reduce])
    # (Keras 3.15 gives the same sequence.) Epoch 0 sets best; 1 reduces 0.1 -> 0.05; in 2 the
    # one-epoch cooldown runs out before the check, so it reduces to 0.025; 3 would reach 0.0125
    # but min_lr holds it at 0.02, where it stays.
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.02, 0.02])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="factor"):
        tf.keras.callbacks.ReduceLROnPlateau(factor=1.5)


def test_terminate_on_nan_with_early_stopping_keeps_the_last_finite_weights(capsys):
    x, y = blobs(64)
    model = compiled()
    snapshots = {}

    def poison_after_epoch_one(epoch, logs):
        snapshots[epoch] = [w.copy() for w in model.get_weights()]
        if epoch == 1:
            model.layers[0].kernel.assign(np.full((4, 8), np.nan, np.float32))

    stopper = tf.keras.callbacks.EarlyStopping(
        monitor="loss", patience=5, restore_best_weights=True
    )
    history = model.fit(
        x, y, batch_size=16, epochs=5, verbose=0,
        callbacks=[
            stopper,
            tf.keras.callbacks.LambdaCallback(on_epoch_end=poison_after_epoch_one),
            tf.keras.callbacks.TerminateOnNaN(),
        ],
    )  # fmt: skip
    assert history.epoch == [0, 1, 2] and math.isnan(history.history["loss"][2])
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out
    for restored, expected in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(restored, expected)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_terminate_on_nan_can_raise():
    x, y = blobs(16)
    x[0] = np.nan
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        compiled().fit(
            x, y, verbose=0, callbacks=[tf.keras.callbacks.TerminateOnNaN(raise_error=True)]
        )


def test_lambda_callback_hooks_and_unknown_names():
    x, y = blobs(32)
    calls = []
    callback = tf.keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_epoch_end=lambda epoch, logs: calls.append((epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append("end"),
    )
    compiled().fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert calls == ["begin", (0, ["accuracy", "loss"]), (1, ["accuracy", "loss"]), "end"]
    with pytest.raises(TypeError, match="unknown hook"):
        tf.keras.callbacks.LambdaCallback(on_epoch_finish=print)


# --- BackupAndRestore: a killed fit resumes -----------------------------------------------

_TRAINING_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import tensorflowish as tf

    backup, kill_after, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=48)
    tf.random.set_seed(0)
    model = tf.keras.Sequential(
        [tf.keras.layers.Dense(8, activation="relu", input_shape=(4,)), tf.keras.layers.Dense(3)]
    )
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def maybe_die(epoch, logs):
        if epoch == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no on_train_end

    callbacks = [tf.keras.callbacks.LambdaCallback(on_epoch_end=maybe_die)]
    if backup != "-":
        callbacks.insert(0, tf.keras.callbacks.BackupAndRestore(backup))
    history = model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0,
                        callbacks=callbacks)
    np.savez(out, epochs=np.array(history.epoch), *model.get_weights())
    """
)


def _train(tmp_path, backup, kill_after, out):
    script = tmp_path / "train.py"
    script.write_text(_TRAINING_SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), backup, str(kill_after), str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_backup_and_restore_resumes_a_killed_fit(tmp_path):
    backup = tmp_path / "backup"
    killed = _train(tmp_path, str(backup), 2, tmp_path / "never.npz")
    assert killed.returncode == -9, killed.stderr  # SIGKILL after the backup of epoch 3
    assert os.listdir(backup) == ["backup.safetensors"]
    resumed = _train(tmp_path, str(backup), -1, tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    straight = _train(tmp_path, "-", -1, tmp_path / "straight.npz")
    assert straight.returncode == 0, straight.stderr
    resumed_run = np.load(tmp_path / "resumed.npz")
    straight_run = np.load(tmp_path / "straight.npz")
    assert resumed_run["epochs"].tolist() == [3, 4]  # epochs 0-2 were done before the kill
    assert straight_run["epochs"].tolist() == [0, 1, 2, 3, 4]
    weights = [k for k in straight_run.files if k.startswith("arr_")]
    for key in weights:  # weights and Adam's moments came back: the same result as no kill
        np.testing.assert_allclose(resumed_run[key], straight_run[key], rtol=1e-6, atol=1e-7)
    assert not backup.exists()  # deleted when training finished


def test_backup_and_restore_detects_a_damaged_backup(tmp_path):
    x, y = blobs(16)
    model = compiled()
    backup = tmp_path / "backup"
    model.fit(
        x, y, epochs=1, verbose=0,
        callbacks=[tf.keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)],
    )  # fmt: skip
    path = backup / "backup.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum|damaged|corrupt"):
        restore = tf.keras.callbacks.BackupAndRestore(backup)
        model.fit(x, y, epochs=2, verbose=0, callbacks=[restore])
    with pytest.raises(ValueError, match="save_freq"):
        tf.keras.callbacks.BackupAndRestore(backup, save_freq="sometimes")


def test_backup_every_few_batches_restarts_the_interrupted_epoch(tmp_path):
    x, y = blobs(64)
    backup = tmp_path / "backup"

    class Crash(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 6:
                raise KeyboardInterrupt  # as a Ctrl-C in the middle of epoch 1

    model = compiled()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[
            tf.keras.callbacks.BackupAndRestore(backup, save_freq=2), Crash()])  # fmt: skip
    assert (backup / "backup.safetensors").exists()  # no on_train_end: the backup stays
    resumed = compiled()
    resumed.build((None, 4))
    history = resumed.fit(x, y, batch_size=16, epochs=3, verbose=0,
                          callbacks=[tf.keras.callbacks.BackupAndRestore(backup)])  # fmt: skip
    # the backup after 6 steps was taken in epoch 1 (steps 4-7): epoch 1 runs again
    assert history.epoch == [1, 2]
    assert int(resumed.optimizer.iterations.numpy()) == 6 + 8


def test_summary_record_if_and_closed_writers(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(6):
            with tf.summary.record_if(lambda step=step: step % 2 == 0):
                tf.summary.scalar("loss", float(step), step=step)
        with tf.summary.record_if(False):
            assert not tf.summary.should_record_summaries()
            assert tf.summary.scalar("loss", 9.0, step=9) is False
        assert tf.summary.should_record_summaries()
    writer.close()
    assert [e.step for e in read_events(tmp_path).Scalars("loss")] == [0, 2, 4]
    with writer.as_default(), pytest.raises(RuntimeError, match="closed"):
        tf.summary.scalar("loss", 1.0, step=0)
