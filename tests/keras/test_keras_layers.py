"""Layers: shapes, building, training/inference behaviour, gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import activations, initializers


def numeric_gradient(function, array, eps=1e-6):
    """Central differences of the scalar function() with respect to `array` (changed in place)."""
    gradient = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = function()
        array[index] = original - eps
        minus = function()
        array[index] = original
        gradient[index] = (plus - minus) / (2 * eps)
    return gradient


def check_layer_gradients(layer, x, training=None, weights_of_output=None):
    """Compare tape gradients of sum(w * layer(x)) with finite differences, in float64."""
    x_var = tf.Variable(x)
    out = layer(x_var, training=training)
    w = (
        weights_of_output
        if weights_of_output is not None
        else np.random.default_rng(1).normal(size=out.shape)
    )
    w_t = tf.constant(w)

    def loss_value():
        return float(tf.reduce_sum(layer(x_var, training=training) * w_t).numpy())

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x_var, training=training) * w_t)
    sources = [x_var, *layer.trainable_variables]
    grads = tape.gradient(loss, sources)
    for source, grad in zip(sources, grads):
        expected = numeric_gradient(loss_value, source.array)
        np.testing.assert_allclose(
            grad.numpy(),
            expected,
            rtol=1e-5,
            atol=1e-7,
            err_msg=f"gradient of {getattr(source, 'name', 'x')}",
        )


@pytest.mark.parametrize(
    "activation", [None, "relu", "sigmoid", "tanh", "gelu", "leaky_relu", "softplus"]
)
def test_dense_gradients_match_finite_differences(activation):
    tf.random.set_seed(0)
    layer = tf.keras.layers.Dense(
        3, activation=activation, dtype="float64", bias_initializer="random_normal"
    )
    x = np.random.default_rng(0).normal(size=(4, 5))
    check_layer_gradients(layer, x)


def test_dense_builds_from_the_first_input_and_names_weights():
    layer = tf.keras.layers.Dense(4, name="hidden")
    assert not layer.built and layer.weights == []
    y = layer(np.ones((2, 3), dtype=np.float32))
    assert y.shape.as_list() == [2, 4] and layer.built
    assert [v.name for v in layer.weights] == ["hidden/kernel:0", "hidden/bias:0"]
    assert layer.kernel.shape.as_list() == [3, 4] and layer.count_params() == 16
    assert layer(tf.ones((5, 7, 3))).shape.as_list() == [5, 7, 4]


def test_dense_matches_numpy_and_uses_the_activation():
    layer = tf.keras.layers.Dense(
        2,
        activation="relu",
        kernel_initializer="ones",
        bias_initializer=tf.keras.initializers.Constant(-1.0),
    )
    x = np.array([[1.0, -2.0], [0.5, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(
        layer(x).numpy(), np.maximum(x.sum(1, keepdims=True) - 1, 0) * np.ones((1, 2))
    )
    no_bias = tf.keras.layers.Dense(2, use_bias=False)
    no_bias(x)
    assert len(no_bias.weights) == 1


def test_dense_errors_are_clear():
    layer = tf.keras.layers.Dense(2)
    layer(tf.ones((1, 3)))
    with pytest.raises(ValueError, match="last dimension 3.*shape \\(1, 4\\)"):
        layer(tf.ones((1, 4)))
    with pytest.raises(ValueError, match="positive integer"):
        tf.keras.layers.Dense(0)
    with pytest.raises(ValueError, match="Unknown activation 'rellu'"):
        tf.keras.layers.Dense(2, activation="rellu")
    with pytest.raises(TypeError, match="unexpected keyword arguments: unitz"):
        tf.keras.layers.Dense(2, unitz=3)


def test_dense_casts_float64_and_integer_inputs_to_its_dtype():
    layer = tf.keras.layers.Dense(2)
    assert layer(np.ones((1, 3))).dtype == tf.float32
    assert layer(np.ones((1, 3), dtype=np.int64)).dtype == tf.float32


def test_dropout_only_in_training_and_scales_kept_units():
    tf.random.set_seed(1)
    layer = tf.keras.layers.Dropout(0.5)
    x = tf.ones((200, 50))
    assert layer(x) is x or np.array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.45 < (y == 0).mean() < 0.55
    with pytest.raises(ValueError, match="rate"):
        tf.keras.layers.Dropout(1.0)


def test_dropout_is_reproducible_with_a_seed_and_differentiable():
    tf.random.set_seed(3)
    a = tf.keras.layers.Dropout(0.3, seed=7)(tf.ones((4, 4)), training=True).numpy()
    tf.random.set_seed(3)
    b = tf.keras.layers.Dropout(0.3, seed=7)(tf.ones((4, 4)), training=True).numpy()
    np.testing.assert_array_equal(a, b)
    x = tf.Variable(np.ones((3, 3)))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.keras.layers.Dropout(0.5, dtype="float64")(x, training=True))
    grad = tape.gradient(y, x).numpy()
    assert set(np.unique(grad)) <= {0.0, 2.0}


def test_training_flag_reaches_nested_layers_through_a_model():
    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.drop = tf.keras.layers.Dropout(0.9)

        def call(self, x):
            return self.drop(x)

    tf.random.set_seed(0)
    net = Net()
    x = tf.ones((10, 10))
    assert (net(x, training=True).numpy() == 0).mean() > 0.5
    np.testing.assert_array_equal(net(x).numpy(), x.numpy())


def test_flatten_reshape_activation_softmax_relu():
    x = tf.reshape(tf.range(24.0), (2, 3, 4))
    assert tf.keras.layers.Flatten()(x).shape.as_list() == [2, 12]
    assert tf.keras.layers.Reshape((4, 3))(x).shape.as_list() == [2, 4, 3]
    np.testing.assert_allclose(tf.keras.layers.Activation("tanh")(x).numpy(), np.tanh(x.numpy()))
    probabilities = tf.keras.layers.Softmax()(x).numpy()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        tf.keras.layers.ReLU(max_value=5.0)(x - 3.0).numpy(), np.clip(x.numpy() - 3.0, 0, 5)
    )


def test_batch_normalization_training_uses_batch_statistics_and_updates_moving():
    layer = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 4)).astype(np.float32)
    y = layer(x, training=True).numpy()
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), np.sqrt(x.var(0) / (x.var(0) + 1e-3)), rtol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * x.var(0), rtol=1e-5)
    inference = layer(x, training=False).numpy()
    expected = (x - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(inference, expected, rtol=1e-5, atol=1e-6)
    assert [v.name.split("/")[-1] for v in layer.trainable_weights] == ["gamma:0", "beta:0"]
    assert len(layer.non_trainable_weights) == 2


def test_batch_normalization_defaults_are_tensorflows():
    layer = tf.keras.layers.BatchNormalization()
    assert (layer.momentum, layer.epsilon) == (0.99, 1e-3)


@pytest.mark.parametrize("training", [True, False])
def test_batch_normalization_gradients_match_finite_differences(training):
    layer = tf.keras.layers.BatchNormalization(
        dtype="float64",
        gamma_initializer="random_normal",
        beta_initializer="random_normal",
        momentum=0.0,
    )
    x = np.random.default_rng(2).normal(size=(6, 3))
    layer(x, training=False)  # build
    check_layer_gradients(layer, x, training=training)


def test_batch_normalization_on_images_normalises_the_channel_axis():
    layer = tf.keras.layers.BatchNormalization(dtype="float64")
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 5)) * 4 + 1
    y = layer(x, training=True).numpy()
    assert layer.gamma.shape.as_list() == [5]
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-10)


def test_frozen_batch_normalization_runs_in_inference_mode():
    layer = tf.keras.layers.BatchNormalization()
    layer(tf.ones((4, 2)))
    layer.trainable = False
    layer(tf.ones((4, 2)) * 5.0, training=True)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), [0.0, 0.0])
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_layer_normalization_normalises_each_example():
    y = tf.keras.layers.LayerNormalization(epsilon=1e-6)(tf.constant([[1.0, 2.0, 3.0]])).numpy()
    np.testing.assert_allclose(y, [[-1.2247, 0.0, 1.2247]], atol=1e-3)


def test_custom_layer_with_add_weight_and_nested_tracking():
    class Scale(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.factor = self.add_weight(
                name="factor", shape=(input_shape[-1],), initializer="ones"
            )

        def call(self, inputs):
            return inputs * self.factor

    class Block(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.parts = [tf.keras.layers.Dense(3), Scale()]
            self.extra = {"bias": tf.Variable(0.0, name="extra")}

        def call(self, x):
            for part in self.parts:
                x = part(x)
            return x + self.extra["bias"]

    block = Block()
    block(tf.ones((2, 2)))
    names = [v.name for v in block.weights]
    assert len(names) == 4 and names[0] == "extra:0"  # own weights first, as Keras
    assert len(block.submodules) == 2
    block.trainable = False
    assert block.trainable_weights == [] and not block.parts[0].trainable


def test_regularizers_add_losses():
    layer = tf.keras.layers.Dense(
        2, kernel_initializer="ones", kernel_regularizer=tf.keras.regularizers.l2(0.5)
    )
    layer(tf.ones((1, 3)))
    assert float(layer.losses[0]) == pytest.approx(0.5 * 6)


def test_initializers_by_name_and_class_have_the_right_statistics():
    tf.random.set_seed(0)
    shape = (400, 600)
    glorot = initializers.get("glorot_uniform")(shape).numpy()
    limit = np.sqrt(6 / 1000)
    assert np.abs(glorot).max() <= limit and glorot.std() == pytest.approx(
        limit / np.sqrt(3), rel=0.02
    )
    he = initializers.HeNormal()(shape).numpy()
    assert he.std() == pytest.approx(np.sqrt(2 / 400), rel=0.03)
    assert np.abs(he).max() <= 2 * np.sqrt(2 / 400) / 0.8796 + 1e-6
    assert initializers.get("GlorotNormal")(shape).numpy().std() == pytest.approx(
        np.sqrt(2 / 1000), rel=0.03
    )
    he_uniform = initializers.get("he_uniform")(shape).numpy()
    assert np.abs(he_uniform).max() <= np.sqrt(6 / 400)
    assert initializers.get("zeros")((2,)).numpy().tolist() == [0.0, 0.0]
    assert initializers.Ones()((2,), dtype="float64").dtype == tf.float64
    normal = initializers.RandomNormal(mean=1.0, stddev=0.1)(shape).numpy()
    assert normal.mean() == pytest.approx(1.0, abs=1e-3)
    uniform = initializers.RandomUniform(-1, 1)(shape).numpy()
    assert uniform.min() >= -1 and uniform.max() <= 1
    q = initializers.Orthogonal()((5, 5)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-5)
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'"):
        initializers.get("glorot")


def test_seeded_initializers_are_reproducible_after_set_seed():
    tf.random.set_seed(5)
    a = initializers.GlorotUniform(seed=1)((3, 3)).numpy()
    tf.random.set_seed(5)
    b = initializers.GlorotUniform(seed=1)((3, 3)).numpy()
    np.testing.assert_array_equal(a, b)


def test_activations_by_name():
    x = tf.constant([-1.0, 0.0, 2.0])
    assert activations.get("relu")(x).numpy().tolist() == [0.0, 0.0, 2.0]
    assert activations.get(None)(x) is x
    np.testing.assert_allclose(
        tf.keras.activations.sigmoid(x).numpy(), 1 / (1 + np.exp([1, 0, -2])), rtol=1e-6
    )
    np.testing.assert_allclose(activations.get("softmax")(x).numpy().sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(activations.get("elu")(x).numpy(), [np.exp(-1) - 1, 0, 2], rtol=1e-6)
    np.testing.assert_allclose(
        activations.get("swish")(x).numpy(), x.numpy() / (1 + np.exp(-x.numpy())), rtol=1e-6
    )
    assert activations.fused_name(activations.get("relu")) == "relu"
    assert activations.fused_name(tf.nn.tanh) == "tanh"
    assert activations.fused_name(activations.softplus) is None


def test_forgetting_super_init_is_a_clear_error():
    class Forgetful(tf.keras.Model):
        def __init__(self):
            self.dense = tf.keras.layers.Dense(2)

    with pytest.raises(RuntimeError, match="super\\(\\).__init__\\(\\) first in your Model"):
        Forgetful()
