"""TensorFlow's "Tensor slicing" guide, run unchanged except for its import line (the string,
ragged and sparse cells are left out: see the script's header)."""

from __future__ import annotations

import pathlib
import runpy


def test_tensor_slicing_guide_script(capsys):
    script = pathlib.Path(__file__).parent / "scripts" / "tensor_slicing_guide.py"
    source = script.read_text()
    assert "import tensorflowish as tf" in source and "import tensorflow as" not in source
    runpy.run_path(str(script), run_name="__main__")
    lines = dict(line.split(" ", 1) for line in capsys.readouterr().out.splitlines())
    # the values the guide shows, computed by hand
    assert lines["slice_t1"] == "[1, 2, 3]"
    assert lines["t1_1_4"] == "[1, 2, 3]"
    assert lines["t1_last3"] == "[5, 6, 7]"
    assert lines["t2_slice"] == "[[1, 2], [6, 7], [11, 12]]"
    assert lines["slice_t3"] == "[[[25, 27]]]"
    assert lines["gather_t1"] == "[0, 3, 6]"
    assert lines["t1_step3"] == "[0, 3, 6]"
    assert lines["gather_nd_t4"] == "[[2, 7], [3, 8], [0, 5]]"
    assert lines["gather_nd_t5"] == "[0, 16]"
    assert lines["two_matrices"] == "[[[0, 1, 2], [6, 7, 8]], [[9, 10, 11], [15, 16, 17]]]"
    assert lines["one_matrix"] == "[[0, 1, 2], [6, 7, 8], [9, 10, 11], [15, 16, 17]]"
    assert lines["scatter_nd"] == "[0, 2, 0, 4, 0, 6, 0, 8, 0, 10]"
    assert lines["t8"] == ("[[0, 0, 2, 0, 0], [0, 0, 0, 0, 0], [0, 11, 0, 0, 0], "
                           "[0, 0, 0, 18, 0]]")
    assert lines["t12"] == "[[2, 7, 6], [9, 5, 1], [4, 3, 8]]"
    assert lines["t13"] == "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]"
    assert lines["t15"] == "[[-2, -7, -6], [-9, -5, 1], [-4, -3, -8]]"
    assert lines["t16"] == "[[-2, -7, 6], [-9, 5, 1], [4, -3, -8]]"
