"""ONNX export: every supported layer, run in onnxruntime, matches the framework to 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
onnxruntime = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

layers = tf.keras.layers


def _run(path, feeds):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds)))


def _trained_batch_norm(layer, rng, shape):
    """Give a BatchNormalization non-trivial statistics and weights."""
    layer(tf.constant(rng.normal(2.0, 3.0, size=shape).astype("float32")), training=True)
    for weight in layer.weights:
        weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))


SEQUENTIAL_CASES = {  # name -> (input shape without the batch, layers, input dtype)
    "dense_activations": ((6,), lambda: [layers.Dense(7, activation=a) for a in (
        "relu", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "silu", "gelu",
        "leaky_relu", "hard_sigmoid", "relu6", "exponential", "linear")] + [
        layers.Dense(3, activation="softmax")], "float32"),
    "dropout_activation_softmax_relu": ((6,), lambda: [
        layers.Dense(6), layers.Dropout(0.5), layers.Activation("tanh"),
        layers.ReLU(max_value=0.5, negative_slope=0.1), layers.Softmax()], "float32"),
    "batch_and_layer_normalization": ((6,), lambda: [
        layers.Dense(5), layers.BatchNormalization(), layers.LayerNormalization()], "float32"),
    "flatten_reshape": ((6,), lambda: [layers.Reshape((2, 3)), layers.Flatten(),
                                       layers.Dense(2)], "float32"),
    "conv2d_pooling": ((9, 8, 3), lambda: [
        layers.Conv2D(4, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(5, (2, 3), strides=(1, 2), dilation_rate=1),
        layers.AveragePooling2D(2, strides=1, padding="same"), layers.GlobalMaxPooling2D()],
        "float32"),
    "depthwise_separable_transpose": ((6, 6, 2), lambda: [
        layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        layers.SeparableConv2D(3, 3, activation="tanh"),
        layers.Conv2DTranspose(2, 3, strides=2, padding="same"),
        layers.Conv2DTranspose(2, 2, strides=1, padding="valid"),
        layers.GlobalAveragePooling2D(keepdims=True), layers.Flatten()], "float32"),
    "padding_cropping_upsampling": ((5, 4, 2), lambda: [
        layers.ZeroPadding2D(((1, 0), (2, 1))), layers.Cropping2D(((0, 1), (1, 0))),
        layers.UpSampling2D((2, 3)), layers.SpatialDropout2D(0.3), layers.Conv2D(2, 1)],
        "float32"),
    "conv1d_pooling": ((10, 3), lambda: [
        layers.Conv1D(4, 3, padding="causal", dilation_rate=2), layers.MaxPooling1D(2),
        layers.Conv1D(2, 2, padding="same"), layers.AveragePooling1D(2),
        layers.GlobalAveragePooling1D()], "float32"),
    "embedding_lstm_gru_rnn": ((7,), lambda: [
        layers.Embedding(12, 4), layers.LSTM(5, return_sequences=True),
        layers.GRU(4, return_sequences=True, go_backwards=True),
        layers.GRU(3, reset_after=False, return_sequences=True),
        layers.SimpleRNN(3, go_backwards=True), layers.Dense(2)], "int32"),
}


@pytest.mark.parametrize("case", sorted(SEQUENTIAL_CASES))
def test_sequential_export_matches(tmp_path, rng, case):
    tf.random.set_seed(3)
    shape, make_layers, dtype = SEQUENTIAL_CASES[case]
    model = tf.keras.Sequential([tf.keras.Input(shape, dtype=dtype), *make_layers()])
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            _trained_batch_norm(layer, rng, (32, 5))
        elif layer.weights:
            for weight in layer.weights:  # non-trivial biases too
                weight.assign(rng.uniform(-0.5, 0.5, size=tuple(weight.shape)).astype(
                    weight.dtype.as_numpy_dtype))
    if dtype == "int32":
        x = rng.integers(0, 12, size=(4, *shape)).astype("int32")
    else:
        x = (rng.normal(size=(4, *shape)) * 0.5).astype("float32")
    path = tmp_path / "model.onnx"
    tf.onnx.export(model, path)
    (result,) = _run(path, [x])
    expected = model(tf.constant(x), training=False).numpy()
    np.testing.assert_allclose(result, expected, atol=1e-5, rtol=1e-5)
    # the batch dimension is dynamic
    (result,) = _run(path, [np.concatenate([x, x, x])])
    np.testing.assert_allclose(result[:4], expected, atol=1e-5, rtol=1e-5)


def test_functional_with_two_inputs_concatenate_add(tmp_path, rng):
    left, right = tf.keras.Input((4,), name="left"), tf.keras.Input((3,), name="right")
    a = layers.Dense(5, activation="tanh")(left)
    b = layers.Dense(5)(right)
    total = layers.Add()([a, b])
    joined = layers.Concatenate()([total, a])
    norm = layers.BatchNormalization()
    out = layers.Dense(2)(norm(joined))
    model = tf.keras.Model([left, right], out)
    _trained_batch_norm(norm, rng, (16, 10))
    x0, x1 = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 3)).astype("float32")
    path = tmp_path / "functional.onnx"
    model.export(str(path), format="onnx") if hasattr(model, "export") else \
        tf.onnx.export(model, path)
    checked = onnx.load(str(path))
    assert [i.name for i in checked.graph.input] == ["left", "right"]
    assert checked.opset_import[0].version >= 17
    (result,) = _run(path, [x0, x1])
    expected = model([tf.constant(x0), tf.constant(x1)], training=False).numpy()
    np.testing.assert_allclose(result, expected, atol=1e-5, rtol=1e-5)


def test_unsupported_layer_and_subclassed_model_are_named(tmp_path):
    class Custom(layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    model = tf.keras.Sequential([tf.keras.Input((2,)), Custom(name="twice")])
    with pytest.raises(tf.errors.UnimplementedError, match="'twice' \\(Custom\\)"):
        tf.onnx.export(model, tmp_path / "x.onnx")

    class Sub(tf.keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(tf.errors.UnimplementedError, match="subclassed"):
        tf.onnx.export(Sub(), tmp_path / "y.onnx")
    assert not (tmp_path / "x.onnx").exists()
