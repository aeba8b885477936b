"""ONNX export of tf.function graphs: run in onnxruntime, matched against hand-written NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

import tensorflowish as tf

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
onnxruntime = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


def _run(path, *feeds):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds)))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_mlp_with_variables_dynamic_batch(tmp_path, rng):
    w1 = tf.Variable(rng.normal(size=(5, 8)).astype("float32"), name="w1")
    b1 = tf.Variable(rng.normal(size=(8,)).astype("float32"), name="b1")
    w2 = tf.Variable(rng.normal(size=(3, 8)).astype("float32"), name="w2")

    @tf.function
    def mlp(x):
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        h = tf.nn.bias_add(tf.nn.dense(h, tf.ones([8, 8]) * 0.1, activation="tanh"), b1)
        return tf.matmul(h, w2, transpose_b=True)

    path = tmp_path / "mlp.onnx"
    tf.onnx.export(mlp, path, input_signature=[tf.TensorSpec([None, 5], tf.float32, name="x")])
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    W1, B1, W2 = w1.numpy(), b1.numpy(), w2.numpy()
    for batch in (1, 4, 9):  # the batch dimension stays dynamic
        x = rng.normal(size=(batch, 5)).astype("float32")
        h = np.maximum(x @ W1 + B1, 0)
        expected = (np.tanh(h @ np.full((8, 8), 0.1, "float32")) + B1) @ W2.T
        (got,) = _run(path, x)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got, mlp(tf.constant(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_plain_python_elementwise_chain_two_inputs(tmp_path, rng):
    def chain(a, b):
        y = (a * 2.0 - b) / (tf.abs(b) + 1.0)
        y = tf.nn.gelu(y) + tf.sigmoid(a) * tf.nn.elu(b) - tf.exp(-tf.abs(a))
        y = tf.maximum(tf.nn.leaky_relu(y, alpha=0.3), tf.nn.silu(b) - 1.0)
        return tf.transpose(tf.concat([y, tf.reshape(a, [-1, 3, 4])], axis=1), [0, 2, 1])

    path = tmp_path / "chain.onnx"
    tf.onnx.export(chain, path, input_signature=[tf.TensorSpec([None, 3, 4], tf.float32),
                                                 tf.TensorSpec([None, 3, 4], tf.float32)])
    a = rng.normal(size=(2, 3, 4)).astype("float32")
    b = rng.normal(size=(2, 3, 4)).astype("float32")
    y = (a * 2.0 - b) / (np.abs(b) + 1.0)
    gelu = 0.5 * y * (1 + erf(y / np.sqrt(2.0)))
    elu = np.where(b > 0, b, np.expm1(b))
    y = gelu + elu / (1 + np.exp(-a)) - np.exp(-np.abs(a))
    y = np.maximum(np.where(y > 0, y, 0.3 * y), b / (1 + np.exp(-b)) - 1.0)
    expected = np.concatenate([y, a], axis=1).transpose(0, 2, 1)
    (got,) = _run(path, a, b)
    assert got.shape == (2, 4, 6)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_softmax_head_with_reductions_and_two_outputs(tmp_path, rng):
    kernel = tf.Variable(rng.normal(size=(6, 4)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32)])
    def head(x):
        logits = tf.matmul(x - tf.reduce_mean(x, axis=1, keepdims=True), kernel)
        return tf.nn.softmax(logits), tf.reduce_sum(tf.nn.log_softmax(logits), axis=-1)

    path = tmp_path / "head.onnx"
    tf.onnx.export(head, path)  # the signature comes from the tf.function
    x = rng.normal(size=(7, 6)).astype("float32")
    logits = (x - x.mean(axis=1, keepdims=True)) @ kernel.numpy()
    probabilities, total = _run(path, x)
    np.testing.assert_allclose(probabilities, _softmax(logits), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(total, np.log(_softmax(logits)).sum(-1), rtol=1e-5, atol=1e-5)


def test_unsupported_op_and_missing_signature(tmp_path):
    def uses_cumsum(x):
        return tf.cumsum(x, axis=1)

    with pytest.raises(tf.errors.UnimplementedError, match="'cumsum'"):
        tf.onnx.export(uses_cumsum, tmp_path / "f.onnx",
                       input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="input_signature"):
        tf.onnx.export(uses_cumsum, tmp_path / "f.onnx")
    assert not (tmp_path / "f.onnx").exists()


def test_integer_division_is_true_division(tmp_path, rng):
    def ratio(a, b):
        return tf.divide(a, b) + 1.0

    path = tmp_path / "ratio.onnx"
    tf.onnx.export(ratio, path, input_signature=[tf.TensorSpec([None], tf.int32),
                                                 tf.TensorSpec([None], tf.int32)])
    a = rng.integers(-20, 20, size=6).astype("int32")
    b = rng.integers(1, 7, size=6).astype("int32")
    (got,) = _run(path, a, b)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, a.astype("float64") / b + 1.0, rtol=1e-12)
