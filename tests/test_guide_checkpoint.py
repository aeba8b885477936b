"""TensorFlow's "Training checkpoints" guide runs (tests/scripts/checkpoint_guide.py) and prints
what TensorFlow prints."""

from __future__ import annotations

import pathlib
import runpy

SCRIPT = pathlib.Path(__file__).parent / "scripts" / "checkpoint_guide.py"


def test_checkpoint_guide(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Initializing from scratch."
    assert "Saved checkpoint for step 50: ./tf_ckpts/ckpt-5" in out
    assert "Restored from ./tf_ckpts/ckpt-5" in out  # the second run continues the first
    assert "Saved checkpoint for step 100: ./tf_ckpts/ckpt-10" in out
    assert "['./tf_ckpts/ckpt-8', './tf_ckpts/ckpt-9', './tf_ckpts/ckpt-10']" in out
    losses = [float(line.split()[1]) for line in out if line.startswith("loss ")]
    assert losses[-1] < losses[0] / 5
    zeros, restored = out[out.index("['./tf_ckpts/ckpt-8', './tf_ckpts/ckpt-9', "
                                    "'./tf_ckpts/ckpt-10']") + 1:][:2]
    assert zeros == "[0. 0. 0. 0. 0.]" and "0. 0. 0." not in restored
    assert "Shape: [1, 5]" in out and "Dtype: float32" in out
    assert sorted(p.name for p in (tmp_path / "tf_ckpts").iterdir()) == [
        "checkpoint", "ckpt-10.index", "ckpt-10.safetensors", "ckpt-8.index",
        "ckpt-8.safetensors", "ckpt-9.index", "ckpt-9.safetensors"]
