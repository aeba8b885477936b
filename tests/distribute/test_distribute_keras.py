"""Keras fit and the train CLI, data-parallel over 2 MPI processes on loopback."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from mpi_helpers import requires_mpi

import tensorflowish as tf

FIT_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflowish as tf
from tensorflowish import distribute
from sklearn.datasets import load_digits

digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)
y = digits.target.astype(np.int64)
tf.keras.utils.set_random_seed(distribute.rank())  # different seeds: broadcast must align them
model = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"),
                             tf.keras.layers.Dense(10)])
model.compile(optimizer=tf.keras.optimizers.SGD(0.1),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"], run_eagerly=sys.argv[2] == "eager")
history = model.fit(x[:1400], y[:1400], batch_size=16, epochs=4, verbose=1,
                    callbacks=[tf.keras.callbacks.ModelCheckpoint(
                        sys.argv[1] + "/ckpt.safetensors")])
_, accuracy = model.evaluate(x[1400:], y[1400:], verbose=0)
weights = [w.tolist() for w in model.get_weights()]
with open(f"{sys.argv[1]}/{sys.argv[2]}{distribute.rank()}.json", "w") as f:
    json.dump({"weights": weights, "history": history.history, "accuracy": accuracy,
               "traces": model.train_function.tracing_count}, f)
"""


@requires_mpi
def test_fit_trains_data_parallel_with_identical_weights(tmp_path, capfd):
    import json

    from tensorflowish import distribute

    script = tmp_path / "fit.py"
    script.write_text(FIT_SCRIPT)
    code = distribute.launch(2, [sys.executable, str(script), str(tmp_path), "eager"],
                             timeout=180, collective_timeout=60)
    assert code == 0, capfd.readouterr().out
    eager = [json.loads((tmp_path / f"eager{r}.json").read_text()) for r in (0, 1)]
    capfd.readouterr()
    code = distribute.launch(2, [sys.executable, str(script), str(tmp_path), "traced"],
                             timeout=180, collective_timeout=60)
    output = capfd.readouterr().out
    assert code == 0, output
    ranks = [json.loads((tmp_path / f"traced{r}.json").read_text()) for r in (0, 1)]
    # fit's traced steps (the allreduce one line of the graph) train as the eager ones
    # 700 rows per rank in batches of 16: full batches and a last one of 12
    assert [rank["traces"] for rank in ranks] == [2, 2] and eager[0]["traces"] == 0
    assert ranks[0]["history"] == eager[0]["history"]
    for a, b in zip(ranks[0]["weights"], eager[0]["weights"]):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    for a, b in zip(ranks[0]["weights"], ranks[1]["weights"]):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert ranks[0]["history"] == ranks[1]["history"]  # metrics averaged over the ranks
    assert ranks[0]["accuracy"] > 0.85
    assert output.count("Epoch 4/4") == 1  # only rank 0 prints progress
    assert (tmp_path / "ckpt.safetensors").exists()


@requires_mpi
def test_train_cli_with_two_workers_reaches_the_accuracy_band(tmp_path):
    out = tmp_path / "w.safetensors"
    result = subprocess.run([sys.executable, "-m", "tensorflowish", "train", "--workers", "2",
                             "--verbose", "0", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", result.stdout).group(1))
    assert accuracy >= 96.0, result.stdout
    assert result.stdout.count("test accuracy") == 1
    assert out.exists()


def test_fit_in_one_process_does_not_communicate(monkeypatch):
    from tensorflowish import distribute

    def forbidden(*args, **kwargs):
        raise AssertionError("a single process must not call allreduce")

    monkeypatch.setattr(distribute, "allreduce_gradients", forbidden)
    model = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3), np.float32), np.ones((8, 2), np.float32), epochs=1, verbose=0)
