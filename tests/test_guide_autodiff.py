"""TensorFlow's autodiff guide, run unchanged except for its import line."""

from __future__ import annotations

import pathlib
import runpy

import pytest


def test_autodiff_guide_script(capsys):
    script = pathlib.Path(__file__).parent / "scripts" / "autodiff_guide.py"
    source = script.read_text()
    assert "import tensorflowish as tf" in source and "import tensorflow as" not in source
    with pytest.warns(UserWarning, match="must be floating"):  # the guide's int32 example
        runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines["dy_dx"] == "6.0"
    assert lines["shapes"] == "(3, 2) (3, 2)"
    assert "kernel" in out and "shape: (3, 2)" in out and "shape: (2,)" in out
    watched = [line for line in out.splitlines() if line.startswith("watched_grad")]
    assert watched[0].endswith("tf.Tensor(6.0, shape=(), dtype=float32)")
    assert [w.split(" ", 1)[1] for w in watched[1:]] == ["None", "None", "None"]
    assert lines["watched"] == "['x0:0']"
    assert lines["watch"] == "6.0"
    assert lines["dy/dx0:"] == "None"
    assert lines["dy/dx1:"].startswith("0.99995")
    assert lines["intermediate"] == "18.0"
    assert lines["persistent"] == "[  4. 108.] [2. 6.]"
    assert lines["dict_target"] == "3.75"
    assert lines["summed"] == "7.0"
    assert abs(float(lines["sigmoid_peak"]) - 0.25) < 1e-6
    assert lines["control_flow"] == "tf.Tensor(1.0, shape=(), dtype=float32) None"
    assert lines["control_flow_x"] == "None"
    assert "Variable : tf.Tensor(1.0, shape=(), dtype=float32)" in out
    assert "Tensor : None" in out
    assert lines["numpy_roundtrip"] == "None"
    assert lines["integer"] == "None"
    assert lines["stateful"] == "None"
    assert lines["zeros"] == "tf.Tensor([0. 0.], shape=(2,), dtype=float32)"
