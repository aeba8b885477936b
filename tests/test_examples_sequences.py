"""The sequence examples run, with small settings, and learn (examples/*.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_read_row_by_row_by_an_lstm(capsys):
    accuracy = _load("digits_lstm").main(["--epochs", "8", "--units", "32"])
    assert accuracy > 0.85
    assert "test accuracy" in capsys.readouterr().out


def test_character_language_model_learns_and_samples(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40)
    perplexity = _load("char_lm").main(["--text", str(text), "--steps", "60", "--units", "32",
                                        "--length", "24", "--sample", "30"])
    assert perplexity < 3.0  # a uniform guess over the 11 characters would be 11
    out = capsys.readouterr().out
    assert "held-out perplexity" in out and "sample: the cat sat on the" in out


def test_transformer_encoder_learns_word_order(capsys):
    accuracy = _load("transformer_encoder").main(["--epochs", "8", "--train", "2000"])
    assert accuracy > 0.9


def test_train_command_with_an_lstm_reads_digits_row_by_row(tmp_path, capsys):
    import re

    from tensorflowish.tools import cli

    out = tmp_path / "digits_lstm.keras"
    assert cli.main(["train", "--model", "lstm", "--hidden", "32", "--epochs", "15",
                     "--verbose", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", printed).group(1))
    assert accuracy > 85, printed
    assert cli.main(["predict", str(out)]) == 0
    assert f"test accuracy: {accuracy:.2f}%" in capsys.readouterr().out
