"""The tensorflowish command: train (the main job) and info."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tensorflowish import checkpoint
from tensorflowish.datasets import idx
from tensorflowish.tools import cli


def run_command(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tensorflowish", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=600,  # a hang fails the test; speed is the benchmarks' business
    )


def test_default_train_reaches_97_percent_on_held_out_digits_quickly(tmp_path):
    out = tmp_path / "digits.safetensors"
    result = run_command("train", "--out", str(out))
    assert result.returncode == 0, result.stderr
    match = re.search(r"test accuracy: ([\d.]+)% \((\d+)/360", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) >= 97.0, result.stdout
    # progress: one line per epoch when the output is not a terminal
    assert len(re.findall(r"^Epoch \d+/30 - 45/45 ", result.stdout, re.M)) == 30
    assert "\r" not in result.stdout
    weights = checkpoint.load_arrays(out)
    assert sorted(weights)[0].startswith("0000/") and len(weights) == 4


def test_train_in_process_with_options(tmp_path, capsys):
    out = tmp_path / "w.safetensors"
    status = cli.main(
        [
            "train",
            "--epochs",
            "2",
            "--hidden",
            "32,16",
            "--batch-size",
            "64",
            "--lr",
            "0.01",
            "--seed",
            "3",
            "--verbose",
            "0",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "test accuracy:" in text and "Epoch" not in text
    shapes = sorted((k, v.shape) for k, v in checkpoint.load_arrays(out).items())
    assert [s for _, s in shapes] == [(64, 32), (32,), (32, 16), (16,), (16, 10), (10,)]


def test_train_on_mnist_format_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "mnist"
    data.mkdir()
    for prefix, n in (("train", 40), ("t10k", 10)):
        idx.write_idx(
            data / f"{prefix}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        )
        idx.write_idx(
            data / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8)
        )
    status = cli.main(
        [
            "train",
            "--dataset",
            "mnist",
            "--data-dir",
            str(data),
            "--epochs",
            "1",
            "--verbose",
            "2",
            "--out",
            str(tmp_path / "m.safetensors"),
        ]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "40 train / 10 test images of 28x28" in text and "784 -> 256 (relu) -> 10" in text


def test_errors_are_one_clear_line(tmp_path, capsys):
    status = cli.main(["train", "--dataset", "fashion_mnist", "--data-dir", str(tmp_path)])
    assert status == 1
    assert "No Fashion-MNIST IDX files in" in capsys.readouterr().err
    status = cli.main(["train", "--backend", "cupy"])
    from tensorflowish import backend

    if backend.gpu_unavailable_reason() is not None:
        assert status == 1
        err = capsys.readouterr().err
        assert "cannot be used" in err and "--backend numpy" in err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--hidden", "12,x"])
    assert exit_info.value.code == 2
    assert "--hidden expects layer sizes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--epochs", "0"])
    assert cli.main([]) == 2


def test_info_prints_versions_backends_and_gpu_status():
    result = run_command("info")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("tensorflowish ") and "numpy " in text
    assert "backends available: numpy" in text
    assert re.search(r"^GPU: (usable|not usable: .+)$", text, re.M)
    assert "dataset fashion_mnist:" in text


def test_console_script_entry_point_is_main():
    from tensorflowish.__main__ import main

    assert main(["info"]) == 0


@pytest.mark.slow
def test_train_cnn_reaches_98_5_percent_on_held_out_digits(tmp_path):
    out = tmp_path / "digits_cnn.safetensors"
    result = run_command("train", "--model", "cnn", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "training a CNN on digits (7185 train / 360 test images of 8x8)" in result.stdout
    match = re.search(r"test accuracy: ([\d.]+)% \((\d+)/360", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) >= 98.5, result.stdout
    assert len(checkpoint.load_arrays(out)) == 6  # two conv kernels + biases, dense + bias


def test_train_saves_a_keras_file_that_predict_loads(tmp_path, capsys):
    out = tmp_path / "digits_mlp.keras"
    status = cli.main(["train", "--epochs", "3", "--verbose", "0", "--out", str(out)])
    assert status == 0
    trained = re.search(r"test accuracy: ([\d.]+)% \((\d+)/360", capsys.readouterr().out)
    assert trained and out.exists()
    status = cli.main(["predict", str(out)])
    assert status == 0
    text = capsys.readouterr().out
    scored = re.search(r"test accuracy: ([\d.]+)% \((\d+)/360 held-out digits images\)", text)
    assert scored, text
    assert scored.group(2) == trained.group(2)  # the saved model predicts as the trained one
    status = cli.main(["predict", str(tmp_path / "missing.keras")])
    assert status == 1 and "No file" in capsys.readouterr().err


def test_train_writes_tensorboard_logs_that_tensorboard_reads(tmp_path, capsys):
    pytest.importorskip("tensorboardX", reason="the tensorboard extra is not installed")
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="TensorBoard (the reader this test checks with) is not installed",
    )
    logs = tmp_path / "logs"
    status = cli.main(["train", "--epochs", "2", "--verbose", "0", "--tensorboard", str(logs),
                       "--out", str(tmp_path / "w.safetensors")])  # fmt: skip
    assert status == 0 and f"tensorboard --logdir {logs}" in capsys.readouterr().out
    train = accumulator.EventAccumulator(str(logs / "train"), size_guidance={"scalars": 0})
    train.Reload()
    validation = accumulator.EventAccumulator(str(logs / "validation"))
    validation.Reload()
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1]
    assert [e.step for e in validation.Scalars("epoch_accuracy")] == [0, 1]
    assert validation.Scalars("epoch_accuracy")[-1].value > 0.8
    assert train.Scalars("batch_loss") and train.Tags()["histograms"]
