"""tf.saved_model.save / load for tf.Modules."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


class _Spec:
    """What tf.TensorSpec carries (a shape and a dtype), for input_signature."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.name = shape, tf.as_dtype(dtype), None


class Affine(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        self.parts = [tf.Module()]
        self.parts[0].b = tf.Variable([0.5, -0.5])
        self.label = "affine"

    @tf.function(input_signature=[_Spec([None, 2], "float32")])
    def __call__(self, x):
        return tf.matmul(x, self.w) + self.parts[0].b

    @tf.function
    def scaled(self, x, factor):
        return x * factor * self.w[0, 0]


def test_save_and_load_a_module(tmp_path):
    module = Affine()
    tf.saved_model.save(module, str(tmp_path))
    module.w.assign([[0.0, 0.0], [0.0, 0.0]])  # the file keeps the saved values
    loaded = tf.saved_model.load(str(tmp_path))
    x = tf.constant([[1.0, 1.0]])
    np.testing.assert_allclose(loaded(x).numpy(), [[4.5, 5.5]])
    assert loaded.label == "affine"
    assert len(loaded.trainable_variables) == 2
    assert float(loaded.scaled(tf.constant(2.0), 3.0).numpy()) == 6.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="matching concrete function"):
        loaded(tf.constant([1.0, 1.0, 1.0]))


def test_loaded_variables_are_trainable(tmp_path):
    tf.saved_model.save(Affine(), str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(loaded(tf.constant([[1.0, 2.0]])))
    gradient = tape.gradient(y, loaded.w)
    np.testing.assert_allclose(gradient.numpy(), [[1.0, 1.0], [2.0, 2.0]])


def test_tensorflow_savedmodel_is_refused_with_the_reason(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\x08\x01")
    with pytest.raises(tf.errors.UnimplementedError, match="saved_model.pb"):
        tf.saved_model.load(str(tmp_path))


def test_keras_model_through_saved_model_and_export(tmp_path, rng):
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    x = rng.normal(size=(2, 3)).astype("float32")
    model.export(str(tmp_path / "exported"), format="tf_saved_model")
    loaded = tf.saved_model.load(str(tmp_path / "exported"))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="onnx"):
        model.export(str(tmp_path / "x"), format="tflite")


def test_unimportable_class_keeps_variables_and_explains_calls(tmp_path):
    tf.saved_model.save(Affine(), str(tmp_path))
    document = (tmp_path / "saved_model.json").read_text()
    (tmp_path / "saved_model.json").write_text(document.replace(
        '"module": "' + Affine.__module__ + '"', '"module": "no_such_module_here"'))
    loaded = tf.saved_model.load(str(tmp_path))
    np.testing.assert_array_equal(loaded.w.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(tf.errors.UnimplementedError, match="not importable"):
        loaded.scaled(tf.constant(1.0), 2.0)


def test_signatures_are_exposed_after_load(tmp_path):
    module = Affine()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.__call__})
    loaded = tf.saved_model.load(str(tmp_path))
    serve = loaded.signatures["serving_default"]
    np.testing.assert_allclose(serve(tf.constant([[1.0, 1.0]])).numpy(), [[4.5, 5.5]])
