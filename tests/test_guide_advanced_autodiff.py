"""TensorFlow's guides "Advanced automatic differentiation" and "Random number generation", run
unchanged except for their import line (tests/scripts/; the cells left out are listed there)."""

from __future__ import annotations

import pathlib
import runpy

import pytest

SCRIPTS = pathlib.Path(__file__).parent / "scripts"


def _run(name: str, capsys) -> dict[str, list[str]]:
    """Each printed label with the values printed after it (a value may span lines)."""
    script = SCRIPTS / name
    source = script.read_text()
    assert "import tensorflowish as tf" in source and "import tensorflow as" not in source
    runpy.run_path(str(script), run_name="__main__")
    lines: dict[str, list[str]] = {}
    key = None
    for line in capsys.readouterr().out.splitlines():
        if line.startswith((" ", "[")) and key is not None:  # a tensor's continuation lines
            lines[key][-1] += "\n" + line
            continue
        key, _, value = line.partition(" ")
        lines.setdefault(key, []).append(value)
    return lines


def test_advanced_autodiff_guide(capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    lines = _run("advanced_autodiff_guide.py", capsys)
    assert lines["dz/dx:"] == ["tf.Tensor(4.0, shape=(), dtype=float32)"]
    assert lines["dz/dy:"] == ["None"]
    assert lines["reset_dz/dy:"] == ["None"] and lines["stop_dz/dy:"] == ["None"]
    assert lines["clipped"] == ["tf.Tensor(2.0, shape=(), dtype=float32)"]  # TensorFlow's
    assert lines["tape0"] == ["1.0"] and lines["tape1"] == ["0.25"]
    assert lines["dy_dx:"] == ["3.0"] and lines["d2y_dx2:"] == ["6.0"]
    assert lines["regularization"] == ["[TensorShape([5, 10]), TensorShape([10])]"]
    assert lines["j.shape:"] == ["(7, 10, 5, 10)", "(7, 6, 7, 5)"]
    assert lines["h.shape:"] == ["(5, 8, 5, 8)"]
    assert lines["jb"] == ["(7, 6, 5)"] and lines["j_select"] == ["(7, 6, 5)"]
    assert float(lines["error"][0]) < 1e-3
    assert lines["jb.shape:"] == ["(7, 6, 5)"]


def test_random_numbers_guide(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the guide writes ./checkpoint
    lines = _run("random_numbers_guide.py", capsys)
    assert lines["first"] == lines["reset"] == lines["parent"] == lines["function"]
    assert lines["second"][0] != lines["first"][0]
    assert len(set(lines["child"])) == 3
    assert lines["lazy"][0] == lines["first"][0] and lines["lazy"][1] == lines["second"][0]
    assert lines["num_traces"] == ["2"]
    assert lines["after_restore"] == lines["after_save"]
    assert lines["stateless"][0] == lines["stateless"][1] and "shape=(2, 3)" in \
        lines["stateless"][0]
    assert lines["g1"] == lines["philox"] and lines["g1"] != lines["g2"]
