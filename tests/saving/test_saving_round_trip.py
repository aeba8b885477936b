"""Every layer class exported in tf.keras.layers survives save -> load (same predictions, same
config), and every Keras object in the package survives get_config -> from_config.

The tables below are checked against the namespaces: a new layer (or initializer, optimizer,
...) without an entry fails ``test_every_layer_class_has_a_sample`` and friends, so it cannot
be added without being shown to serialize.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.saving import deserialize_keras_object, serialize_keras_object

L = tf.keras.layers


def _rnn(cell):
    return lambda: L.RNN(cell(), return_sequences=True)


# class name -> (factory, input shapes without the batch, input dtype)
LAYER_SAMPLES = {
    "Activation": (lambda: L.Activation("tanh"), [(5,)], "float32"),
    "Add": (lambda: L.Add(), [(3,), (3,)], "float32"),
    "BatchNormalization": (lambda: L.BatchNormalization(momentum=0.9, epsilon=1e-2),
                           [(4,)], "float32"),
    "Bidirectional": (lambda: L.Bidirectional(L.LSTM(3, return_sequences=True)),
                      [(5, 4)], "float32"),
    "Concatenate": (lambda: L.Concatenate(axis=-1), [(3,), (2,)], "float32"),
    "Dense": (lambda: L.Dense(3, activation="relu", kernel_regularizer=tf.keras.regularizers.L2(
        0.01), bias_initializer="ones", kernel_constraint=tf.keras.constraints.MaxNorm(2.0)),
        [(4,)], "float32"),
    "Dropout": (lambda: L.Dropout(0.3, seed=2), [(4,)], "float32"),
    "Embedding": (lambda: L.Embedding(10, 3), [(5,)], "int32"),
    "Flatten": (lambda: L.Flatten(), [(3, 2)], "float32"),
    "GRU": (lambda: L.GRU(3, return_sequences=True), [(5, 4)], "float32"),
    "GRUCell": (_rnn(lambda: L.GRUCell(3)), [(5, 4)], "float32"),
    "LSTM": (lambda: L.LSTM(3), [(5, 4)], "float32"),
    "LSTMCell": (_rnn(lambda: L.LSTMCell(3)), [(5, 4)], "float32"),
    "Layer": (lambda: L.Layer(), [(3,)], "float32"),
    "LayerNormalization": (lambda: L.LayerNormalization(epsilon=1e-2), [(5,)], "float32"),
    "Masking": (lambda: L.Masking(mask_value=0.5), [(4, 3)], "float32"),
    "RNN": (_rnn(lambda: L.SimpleRNNCell(3)), [(5, 4)], "float32"),
    "ReLU": (lambda: L.ReLU(max_value=1.0, negative_slope=0.1), [(4,)], "float32"),
    "Reshape": (lambda: L.Reshape((3, 2)), [(6,)], "float32"),
    "SimpleRNN": (lambda: L.SimpleRNN(3, activation="relu"), [(5, 4)], "float32"),
    "SimpleRNNCell": (_rnn(lambda: L.SimpleRNNCell(3)), [(5, 4)], "float32"),
    "Softmax": (lambda: L.Softmax(axis=-1), [(4,)], "float32"),
    "StackedRNNCells": (lambda: L.RNN(L.StackedRNNCells([L.SimpleRNNCell(3), L.GRUCell(2)])),
                        [(5, 4)], "float32"),
    "TimeDistributed": (lambda: L.TimeDistributed(L.Dense(2)), [(5, 4)], "float32"),
    "Attention": (lambda: L.Attention(use_scale=True), [(4, 3), (5, 3)], "float32"),
    "MultiHeadAttention": (lambda: L.MultiHeadAttention(2, 3), [(4, 6), (5, 6)], "float32"),
    "Conv1D": (lambda: L.Conv1D(3, 2, strides=2, padding="same", activation="relu"),
               [(7, 2)], "float32"),
    "Conv2D": (lambda: L.Conv2D(3, (3, 2), padding="valid", dilation_rate=(1, 2)),
               [(6, 7, 2)], "float32"),
    "Conv2DTranspose": (lambda: L.Conv2DTranspose(2, 3, strides=2), [(4, 4, 3)], "float32"),
    "DepthwiseConv2D": (lambda: L.DepthwiseConv2D(3, depth_multiplier=2), [(5, 5, 2)],
                        "float32"),
    "SeparableConv2D": (lambda: L.SeparableConv2D(4, 3, padding="same"), [(5, 5, 2)],
                        "float32"),
    "Cropping2D": (lambda: L.Cropping2D(((1, 0), (0, 2))), [(5, 6, 2)], "float32"),
    "ZeroPadding2D": (lambda: L.ZeroPadding2D((1, 2)), [(3, 3, 2)], "float32"),
    "UpSampling2D": (lambda: L.UpSampling2D((2, 1)), [(3, 3, 2)], "float32"),
    "SpatialDropout2D": (lambda: L.SpatialDropout2D(0.4), [(3, 3, 2)], "float32"),
    "MaxPooling1D": (lambda: L.MaxPooling1D(2), [(6, 3)], "float32"),
    "MaxPooling2D": (lambda: L.MaxPooling2D((2, 2), strides=1), [(4, 4, 3)], "float32"),
    "AveragePooling1D": (lambda: L.AveragePooling1D(3, padding="same"), [(7, 2)], "float32"),
    "AveragePooling2D": (lambda: L.AveragePooling2D(2), [(4, 4, 3)], "float32"),
    "GlobalMaxPooling1D": (lambda: L.GlobalMaxPooling1D(), [(6, 3)], "float32"),
    "GlobalMaxPooling2D": (lambda: L.GlobalMaxPooling2D(keepdims=True), [(4, 4, 3)],
                           "float32"),
    "GlobalAveragePooling1D": (lambda: L.GlobalAveragePooling1D(), [(6, 3)], "float32"),
    "GlobalAveragePooling2D": (lambda: L.GlobalAveragePooling2D(), [(4, 4, 3)], "float32"),
    "ActivityRegularization": (lambda: L.ActivityRegularization(l1=0.1), [(4,)], "float32"),
    "AlphaDropout": (lambda: L.AlphaDropout(0.2, seed=1), [(4,)], "float32"),
    "Average": (lambda: L.Average(), [(3,), (3,)], "float32"),
    "Cropping1D": (lambda: L.Cropping1D((1, 2)), [(6, 2)], "float32"),
    "Dot": (lambda: L.Dot(axes=1, normalize=True), [(3,), (3,)], "float32"),
    "ELU": (lambda: L.ELU(alpha=0.5), [(4,)], "float32"),
    "GaussianDropout": (lambda: L.GaussianDropout(0.3), [(4,)], "float32"),
    "GaussianNoise": (lambda: L.GaussianNoise(0.2), [(4,)], "float32"),
    "GroupNormalization": (lambda: L.GroupNormalization(groups=2, epsilon=1e-2), [(3, 4)],
                           "float32"),
    "Identity": (lambda: L.Identity(), [(4,)], "float32"),
    "LeakyReLU": (lambda: L.LeakyReLU(negative_slope=0.1), [(4,)], "float32"),
    "Maximum": (lambda: L.Maximum(), [(3,), (3,)], "float32"),
    "Minimum": (lambda: L.Minimum(), [(3,), (3,)], "float32"),
    "Multiply": (lambda: L.Multiply(), [(3,), (3,)], "float32"),
    "PReLU": (lambda: L.PReLU(shared_axes=[1]), [(3, 4)], "float32"),
    "Permute": (lambda: L.Permute((2, 1)), [(3, 4)], "float32"),
    "RepeatVector": (lambda: L.RepeatVector(3), [(4,)], "float32"),
    "Subtract": (lambda: L.Subtract(), [(3,), (3,)], "float32"),
    "UnitNormalization": (lambda: L.UnitNormalization(), [(4,)], "float32"),
    "Normalization": (lambda: L.Normalization(), [(4,)], "float32"),
    "Discretization": (lambda: L.Discretization([0.0, 0.5, 1.0]), [(4,)], "float32"),
    "Rescaling": (lambda: L.Rescaling(0.5, offset=0.1), [(4,)], "float32"),
    "Resizing": (lambda: L.Resizing(3, 2, crop_to_aspect_ratio=True), [(5, 4, 2)], "float32"),
    "CenterCrop": (lambda: L.CenterCrop(2, 3), [(4, 5, 2)], "float32"),
    "RandomFlip": (lambda: L.RandomFlip("horizontal", seed=1), [(4, 4, 2)], "float32"),
    "RandomRotation": (lambda: L.RandomRotation(0.1, seed=1), [(4, 4, 2)], "float32"),
    "RandomZoom": (lambda: L.RandomZoom(0.1, seed=1), [(4, 4, 2)], "float32"),
    "RandomTranslation": (lambda: L.RandomTranslation(0.1, 0.2), [(4, 4, 2)], "float32"),
    "RandomContrast": (lambda: L.RandomContrast(0.2), [(4, 4, 2)], "float32"),
    "RandomBrightness": (lambda: L.RandomBrightness(0.1), [(4, 4, 2)], "float32"),
    "RandomCrop": (lambda: L.RandomCrop(2, 3, seed=1), [(4, 4, 2)], "float32"),
    "CategoryEncoding": (lambda: L.CategoryEncoding(num_tokens=10, output_mode="count"),
                         [(5,)], "int32"),
    "Hashing": (lambda: L.Hashing(num_bins=7), [(5,)], "int32"),
    "IntegerLookup": (lambda: L.IntegerLookup(vocabulary=[3, 7, 1], num_oov_indices=2),
                      [(5,)], "int32"),
}
# Layers of string inputs: this build has no string tensors yet, so these are shown to survive
# a .keras file as configs (an unbuilt model), not by predictions.
CONFIG_ONLY_SAMPLES = {
    "StringLookup": lambda: L.StringLookup(vocabulary=["a", "b", "c"], mask_token=""),
    "TextVectorization": lambda: L.TextVectorization(
        max_tokens=20, vocabulary=["the", "cat", "sat"], output_sequence_length=4,
        ngrams=2, standardize="lower"),
}
# Not layers one puts in a model on their own: the input (tested through every model here)
# and Lambda (tested below, because loading it needs safe_mode=False).
COVERED_ELSEWHERE = {"InputLayer", "Lambda"}
CALLED_WITH_SEPARATE_ARGUMENTS = {"MultiHeadAttention"}  # mha(query, value)


def _layer_classes():
    """The class names of every layer class exported (aliases such as Conv2D/Convolution2D
    count once)."""
    return sorted({getattr(L, name).__name__ for name in dir(L)
                   if inspect.isclass(getattr(L, name)) and issubclass(getattr(L, name), L.Layer)})


def test_every_layer_class_has_a_sample():
    missing = [name for name in _layer_classes() if name not in LAYER_SAMPLES
               and name not in CONFIG_ONLY_SAMPLES and name not in COVERED_ELSEWHERE]
    assert not missing, (
        f"tf.keras.layers exports {missing} without a sample in LAYER_SAMPLES: add one (a small "
        "instance and its input shape) so the layer is shown to survive save/load.")


def _inputs(shapes, dtype, rng, batch=3):
    if dtype == "int32":
        return [rng.integers(0, 10, size=(batch, *s)).astype("int32") for s in shapes]
    return [rng.normal(size=(batch, *s)).astype("float32") for s in shapes]


def _randomize(model, rng):
    for weight in model.weights:  # so loaded values cannot be mistaken for a fresh init
        value = rng.uniform(0.5, 1.5, size=tuple(weight.shape))
        weight.assign(value.astype(weight.dtype.as_numpy_dtype))


def _call(model, arrays):
    values = [tf.constant(a) for a in arrays]
    return model(values if len(values) > 1 else values[0], training=False).numpy()


def _strip_build(config):
    if isinstance(config, dict):
        return {k: _strip_build(v) for k, v in config.items() if k != "build_config"}
    if isinstance(config, list):
        return [_strip_build(v) for v in config]
    return config


@pytest.mark.parametrize("name", sorted(LAYER_SAMPLES))
def test_layer_round_trips_through_a_keras_file(tmp_path, rng, name):
    factory, shapes, dtype = LAYER_SAMPLES[name]
    inputs = [tf.keras.Input(shape, dtype=dtype) for shape in shapes]
    layer = factory()
    if name in CALLED_WITH_SEPARATE_ARGUMENTS:
        outputs = layer(*inputs)
    else:
        outputs = layer(inputs if len(inputs) > 1 else inputs[0])
    model = tf.keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs)
    _randomize(model, rng)
    arrays = _inputs(shapes, dtype, rng)
    expected = _call(model, arrays)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(_call(loaded, arrays), expected)
    assert _strip_build(loaded.get_config()) == _strip_build(model.get_config())
    assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("name", ["Dense", "LSTM", "BatchNormalization", "Embedding"])
def test_layer_round_trips_in_a_sequential_model(tmp_path, rng, name):
    factory, shapes, dtype = LAYER_SAMPLES[name]
    model = tf.keras.Sequential([tf.keras.Input(shapes[0], dtype=dtype), factory()])
    _randomize(model, rng)
    arrays = _inputs(shapes, dtype, rng)
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(_call(loaded, arrays), _call(model, arrays))


@pytest.mark.parametrize("name", sorted(CONFIG_ONLY_SAMPLES))
def test_string_layer_config_round_trips_through_a_keras_file(tmp_path, name):
    layer = CONFIG_ONLY_SAMPLES[name]()
    tf.keras.Sequential([layer]).save(tmp_path / f"{name}.keras")
    loaded = tf.keras.models.load_model(tmp_path / f"{name}.keras").layers[0]
    assert type(loaded) is type(layer)
    assert serialize_keras_object(loaded) == serialize_keras_object(layer)


def test_lambda_needs_safe_mode_false(tmp_path):
    inputs = tf.keras.Input((3,))
    model = tf.keras.Model(inputs, L.Lambda(lambda x: x * 3.0 + 1.0)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        tf.keras.models.load_model(tmp_path / "lambda.keras")
    loaded = tf.keras.models.load_model(tmp_path / "lambda.keras", safe_mode=False)
    np.testing.assert_allclose(loaded(tf.constant([[1.0, 2.0, 3.0]])).numpy(), [[4, 7, 10]])


# --- every other serializable object -----------------------------------------------------------

K = tf.keras
OBJECT_ARGUMENTS = {  # classes whose constructor needs arguments
    ("initializers", "Constant"): {"value": 0.5},
    ("losses", "LossFunctionWrapper"): {"fn": tf.keras.losses.mean_squared_error},
    ("metrics", "IoU"): {"num_classes": 3, "target_class_ids": [0, 2]},
    ("metrics", "MeanIoU"): {"num_classes": 3},
    ("metrics", "MeanMetricWrapper"): {"fn": tf.keras.losses.mean_absolute_error},
    ("optimizers", "LossScaleOptimizer"): {"inner_optimizer": "sgd", "initial_scale": 8.0},
    ("schedules", "ExponentialDecay"): dict(initial_learning_rate=0.1, decay_steps=10,
                                            decay_rate=0.5),
    ("schedules", "PiecewiseConstantDecay"): dict(boundaries=[10], values=[0.1, 0.01]),
    ("schedules", "CosineDecay"): dict(initial_learning_rate=0.1, decay_steps=10),
    ("schedules", "InverseTimeDecay"): dict(initial_learning_rate=0.1, decay_steps=10,
                                            decay_rate=0.5),
    ("schedules", "PolynomialDecay"): dict(initial_learning_rate=0.1, decay_steps=10),
}


def _classes(namespace_name, base_name):
    namespace = getattr(K, namespace_name)
    base = getattr(namespace, base_name)
    return [(namespace_name, name) for name in sorted(dir(namespace))
            if inspect.isclass(getattr(namespace, name))
            and issubclass(getattr(namespace, name), base)
            and getattr(namespace, name) is not base and not name.startswith("_")]


OBJECTS = (_classes("initializers", "Initializer") + _classes("regularizers", "Regularizer")
           + _classes("constraints", "Constraint")
           + _classes("optimizers", "Optimizer") + _classes("losses", "Loss")
           + _classes("metrics", "Metric") + _classes("schedules", "LearningRateSchedule"))


@pytest.mark.parametrize("namespace,name", OBJECTS)
def test_object_round_trips_through_its_config(namespace, name):
    cls = getattr(getattr(K, namespace), name)
    try:
        obj = cls(**OBJECT_ARGUMENTS.get((namespace, name), {}))
    except TypeError as error:
        pytest.fail(f"{namespace}.{name} needs constructor arguments: add them to "
                    f"OBJECT_ARGUMENTS ({error})")
    config = serialize_keras_object(obj)
    assert config["module"].startswith("keras."), config
    again = deserialize_keras_object(config)
    assert type(again) is cls
    assert serialize_keras_object(again) == config


def test_registered_custom_layer_and_clone_and_json(tmp_path, rng):
    @tf.keras.saving.register_keras_serializable(package="round_trip")
    class Offset(L.Layer):
        def __init__(self, amount=1.0, **kwargs):
            super().__init__(**kwargs)
            self.amount = amount

        def build(self, input_shape):
            self.shift = self.add_weight(shape=(input_shape[-1],), name="shift",
                                         initializer="ones")

        def call(self, inputs):
            return inputs * self.amount + self.shift

    model = tf.keras.Sequential([tf.keras.Input((3,)), Offset(2.0), L.Dense(2)])
    _randomize(model, rng)
    config = model.get_config()
    assert config["layers"][1]["registered_name"] == "round_trip>Offset"
    assert config["layers"][1]["config"]["amount"] == 2.0
    x = rng.normal(size=(2, 3)).astype("float32")
    model.save(tmp_path / "custom.keras")
    loaded = tf.keras.models.load_model(tmp_path / "custom.keras")
    np.testing.assert_array_equal(_call(loaded, [x]), _call(model, [x]))

    clone = tf.keras.models.clone_model(model)
    assert clone is not model and clone.get_config() == config
    assert not np.allclose(clone.layers[0].shift.numpy(), model.layers[0].shift.numpy())
    rebuilt = tf.keras.models.model_from_json(model.to_json())
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]
    with tf.keras.saving.custom_object_scope({"Other": Offset}):
        assert tf.keras.saving.get_registered_object("Other") is Offset
