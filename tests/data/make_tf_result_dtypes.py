"""Regenerate tf_result_dtypes.json: the result dtype TensorFlow gives (or the error it raises)
for each elementwise, reduction and activation op on int32, float32 and float16 inputs.

Run with a Python that has TensorFlow (never a dependency of tensorflowish):
    python tests/data/make_tf_result_dtypes.py > tests/data/tf_result_dtypes.json
"""

import json

import numpy as np
import tensorflow as tf

UNARY = ["abs", "exp", "identity", "math.cos", "math.cumprod", "math.cumsum",
         "math.cumulative_logsumexp", "math.erf", "math.expm1", "math.log", "math.log1p",
         "math.reciprocal", "math.reduce_variance", "math.reduce_std", "math.rsqrt", "math.sin",
         "negative", "nn.elu", "nn.gelu", "nn.l2_loss", "nn.leaky_relu", "nn.log_softmax",
         "nn.relu", "nn.relu6", "nn.selu", "nn.silu", "nn.softmax", "nn.softplus",
         "reduce_logsumexp", "reduce_max", "reduce_mean", "reduce_min", "reduce_prod",
         "reduce_sum", "sigmoid", "sqrt", "square", "tanh", "transpose", "math.floor",
         "math.ceil", "math.round", "math.sign", "argmax", "argmin", "math.is_nan",
         "math.is_finite", "reduce_any", "reduce_all", "squeeze", "reshape_flat", "stop_gradient",
         "ones_like", "zeros_like"]
BINARY = ["add", "subtract", "multiply", "divide", "math.floordiv", "math.floormod", "maximum",
          "minimum", "pow", "nn.bias_add", "equal", "not_equal", "less", "less_equal",
          "greater", "greater_equal", "math.truediv", "math.squared_difference"]


def resolve(name):
    if name == "reshape_flat":
        return lambda x: tf.reshape(x, [-1])
    target = tf
    for part in name.split("."):
        target = getattr(target, part)
    return target


def main():
    x = np.array([[1, 2, 3], [4, 5, 6]])
    y = np.array([[2, 1, 2], [1, 2, 1]])
    table = {}
    for dtype in ("int32", "float32", "float16"):
        for name in UNARY + BINARY:
            function = resolve(name)
            args = [tf.constant(x, dtype)]
            if name in BINARY:
                args.append(tf.constant(y[0] if name == "nn.bias_add" else y, dtype))
            try:
                result = function(*args)
                table.setdefault(name, {})[dtype] = result.dtype.name
            except Exception as error:  # noqa: BLE001 - the class is what the table records
                table.setdefault(name, {})[dtype] = "error"
                del error
    print(json.dumps(table, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
