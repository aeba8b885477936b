"""Every op's result dtype for int32, float32 and float16 inputs, against what TensorFlow 2.21
gives (tests/data/tf_result_dtypes.json, written by tests/data/make_tf_result_dtypes.py with
TensorFlow installed). "error" means TensorFlow refuses the dtype: tensorflowish must raise too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tensorflowish as tf

TABLE = json.loads((Path(__file__).parent / "data" / "tf_result_dtypes.json").read_text())
BINARY = {"add", "subtract", "multiply", "divide", "math.floordiv", "math.floormod", "maximum",
          "minimum", "pow", "nn.bias_add", "equal", "not_equal", "less", "less_equal",
          "greater", "greater_equal", "math.truediv", "math.squared_difference"}


def _resolve(name):
    if name == "reshape_flat":
        return lambda x: tf.reshape(x, [-1])
    target = tf
    for part in name.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("name,dtype", [(name, dtype) for name in sorted(TABLE)
                                        for dtype in ("int32", "float32", "float16")])
def test_result_dtype_matches_tensorflow(name, dtype):
    expected = TABLE[name][dtype]
    x = np.array([[1, 2, 3], [4, 5, 6]])
    y = np.array([[2, 1, 2], [1, 2, 1]])
    args = [tf.constant(x, dtype)]
    if name in BINARY:
        args.append(tf.constant(y[0] if name == "nn.bias_add" else y, dtype))
    function = _resolve(name)
    if expected == "error":
        with pytest.raises((TypeError, ValueError)):
            function(*args)
        return
    with np.errstate(all="ignore"):
        result = function(*args)
    assert result.dtype.name == expected, f"tf.{name}({dtype}) gives {expected} in TensorFlow"
