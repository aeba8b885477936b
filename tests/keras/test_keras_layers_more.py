"""The everyday layers beyond Dense/Dropout, constraints, add_loss and activity regularisers:
forward values against NumPy written here, gradients through the layers, configs."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 6)).astype(np.float32)


def test_activation_layers():
    np.testing.assert_allclose(layers.LeakyReLU()(X).numpy(), np.where(X > 0, X, 0.3 * X),
                               rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU(negative_slope=0.1)(X).numpy(),
                               np.where(X > 0, X, 0.1 * X), rtol=1e-6)
    np.testing.assert_allclose(layers.ELU(alpha=0.5)(X).numpy(),
                               np.where(X > 0, X, 0.5 * np.expm1(X)), rtol=1e-6, atol=1e-7)
    prelu = layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(0.25))
    np.testing.assert_allclose(prelu(X).numpy(), np.where(X > 0, X, 0.25 * X), rtol=1e-6)
    assert prelu.alpha.shape == (6,)
    images = RNG.normal(size=(2, 3, 3, 4)).astype(np.float32)
    shared = layers.PReLU(shared_axes=[1, 2])
    assert tuple(shared(images).shape) == images.shape and shared.alpha.shape == (1, 1, 4)


def test_prelu_learns_its_slope():
    prelu = layers.PReLU()
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(prelu(x))
    grad = tape.gradient(loss, prelu.alpha).numpy()
    np.testing.assert_allclose(grad, np.minimum(X, 0).sum(axis=0), rtol=1e-5)


def test_identity_keeps_the_tensor():
    x = tf.constant(X)
    assert layers.Identity()(x) is x


def test_merging_layers():
    a, b, c = X, X[::-1].copy(), X * 2
    np.testing.assert_allclose(layers.Subtract()([a, b]).numpy(), a - b)
    np.testing.assert_allclose(layers.Multiply()([a, b, c]).numpy(), a * b * c, rtol=1e-6)
    np.testing.assert_allclose(layers.Average()([a, b, c]).numpy(), (a + b + c) / 3, rtol=1e-6)
    np.testing.assert_allclose(layers.Maximum()([a, b, c]).numpy(), np.maximum(np.maximum(a, b),
                                                                               c))
    np.testing.assert_allclose(layers.Minimum()([a, b]).numpy(), np.minimum(a, b))
    with pytest.raises(ValueError, match="exactly 2"):
        layers.Subtract()([a, b, c])
    with pytest.raises(ValueError, match="at least two"):
        layers.Multiply()(a)


def test_dot_layer():
    a, b = X, X[::-1].copy()
    np.testing.assert_allclose(layers.Dot(axes=1)([a, b]).numpy(),
                               (a * b).sum(axis=1, keepdims=True), rtol=1e-5)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(layers.Dot(axes=1, normalize=True)([a, b]).numpy()[:, 0], cosine,
                               rtol=1e-5)
    x3 = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    y3 = RNG.normal(size=(2, 5, 4)).astype(np.float32)
    got = layers.Dot(axes=(2, 2))([x3, y3]).numpy()
    np.testing.assert_allclose(got, np.einsum("bik,bjk->bij", x3, y3), rtol=1e-5, atol=1e-6)
    got = layers.Dot(axes=(1, 1))([x3, RNG.normal(size=(2, 3, 2)).astype(np.float32)])
    assert tuple(got.shape) == (2, 4, 2)
    with pytest.raises(ValueError, match="sizes"):
        layers.Dot(axes=1)([x3, y3])


def test_reshaping_layers():
    x3 = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(layers.Permute((2, 1))(x3).numpy(), x3.transpose(0, 2, 1))
    repeated = layers.RepeatVector(3)(X).numpy()
    assert repeated.shape == (4, 3, 6)
    np.testing.assert_array_equal(repeated[:, 2], X)
    np.testing.assert_array_equal(layers.Cropping1D((1, 2))(x3).numpy(), x3[:, 1:3])
    np.testing.assert_array_equal(layers.Cropping1D(1)(x3).numpy(), x3[:, 1:4])
    with pytest.raises(ValueError, match="permutation"):
        layers.Permute((1, 3))


def test_noise_layers_are_identity_at_inference_and_random_in_training():
    x = tf.constant(np.ones((200, 50), np.float32))
    for layer in (layers.GaussianNoise(0.5, seed=1), layers.GaussianDropout(0.3, seed=1),
                  layers.AlphaDropout(0.3, seed=1)):
        assert layer(x) is x or np.array_equal(layer(x).numpy(), x.numpy())
        noisy = layer(x, training=True).numpy()
        assert not np.array_equal(noisy, x.numpy())
    noisy = layers.GaussianNoise(0.5, seed=2)(x, training=True).numpy() - 1.0
    assert abs(noisy.mean()) < 0.02 and abs(noisy.std() - 0.5) < 0.02
    noisy = layers.GaussianDropout(0.3, seed=3)(x, training=True).numpy()
    assert abs(noisy.mean() - 1.0) < 0.02 and abs(noisy.std() - np.sqrt(0.3 / 0.7)) < 0.02


def test_alpha_dropout_keeps_mean_and_variance_of_selu_activations():
    x = tf.constant(RNG.normal(size=(400, 100)).astype(np.float32))
    out = layers.AlphaDropout(0.2, seed=4)(x, training=True).numpy()
    assert abs(out.mean()) < 0.03 and abs(out.std() - 1.0) < 0.03
    # a dropped unit has the value a * alpha_p + b
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.2) * (1 + 0.2 * alpha_p**2)) ** -0.5
    b = -a * alpha_p * 0.2
    assert np.isclose(out, a * alpha_p + b, atol=1e-5).mean() == pytest.approx(0.2, abs=0.01)


def test_unit_and_group_normalization():
    np.testing.assert_allclose(layers.UnitNormalization()(X).numpy(),
                               X / np.linalg.norm(X, axis=-1, keepdims=True), rtol=1e-5)
    images = RNG.normal(size=(2, 3, 3, 4)).astype(np.float32)
    out = layers.GroupNormalization(groups=2)(images).numpy()
    grouped = images.reshape(2, 3, 3, 2, 2)
    mean = grouped.mean(axis=(1, 2, 4), keepdims=True)
    var = grouped.var(axis=(1, 2, 4), keepdims=True)
    want = ((grouped - mean) / np.sqrt(var + 1e-3)).reshape(images.shape)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    channels_first = layers.GroupNormalization(groups=4, axis=1)(images.transpose(0, 3, 1, 2))
    assert tuple(channels_first.shape) == (2, 4, 3, 3)
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=3)(images)


def test_group_normalization_trains():
    layer = layers.GroupNormalization(groups=2)
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * tf.constant(X[::-1].copy()))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 2 and all(np.isfinite(g.numpy()).all() for g in grads)


def test_activity_regularization_adds_a_loss_per_call():
    layer = layers.ActivityRegularization(l1=0.1, l2=0.01)
    x = tf.constant(X)
    assert layer(x) is x
    want = 0.1 * np.abs(X).sum() + 0.01 * (X**2).sum()
    assert [float(v) for v in layer.losses] == pytest.approx([want], rel=1e-5)
    layer(x)  # a new forward pass replaces the previous pass's loss
    assert len(layer.losses) == 1
    dense = layers.Dense(3, activity_regularizer="l2")
    dense(x)
    assert len(dense.losses) == 1


def test_add_loss_inside_call_is_per_forward_pass_and_trains():
    class Penalised(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, inputs):
            outputs = self.dense(inputs)
            self.add_loss(0.5 * tf.reduce_mean(tf.square(outputs)))
            return outputs

    model = tf.keras.Sequential([tf.keras.Input((6,)), Penalised()])
    for _ in range(3):
        model(X)
    assert len(model.losses) == 1
    model.compile("sgd", "mse")
    y = np.zeros((4, 1), np.float32)
    history = model.fit(X, y, epochs=1, batch_size=4, verbose=0)
    # the reported loss includes the penalty: mse + 0.5 * mse
    prediction = model.predict(X, verbose=0)
    assert history.history["loss"][0] > 0
    assert float(model.evaluate(X, y, verbose=0)) == pytest.approx(
        1.5 * float(np.mean(prediction**2)), rel=1e-4)


def test_constraints_by_hand():
    constraints = tf.keras.constraints
    w = tf.constant([[3.0, 0.1], [4.0, -0.2]])
    np.testing.assert_allclose(constraints.MaxNorm(1.0)(w).numpy(),
                               [[0.6, 0.1], [0.8, -0.2]], rtol=1e-5)
    np.testing.assert_allclose(constraints.NonNeg()(w).numpy(), [[3.0, 0.1], [4.0, 0.0]])
    norms = np.sqrt([25.0, 0.05])
    np.testing.assert_allclose(constraints.UnitNorm()(w).numpy(), w.numpy() / norms, rtol=1e-5)
    # norms 5 -> 2 and 0.2236 -> 0.5 at rate 1; half way at rate 0.5
    minmax = constraints.MinMaxNorm(0.5, 2.0, rate=0.5)(w).numpy()
    np.testing.assert_allclose(np.linalg.norm(minmax, axis=0), [3.5, (0.5 + 0.2236068) / 2],
                               rtol=1e-5)
    assert isinstance(constraints.get("non_neg"), constraints.NonNeg)
    config = constraints.serialize(constraints.MaxNorm(3.0, axis=1))
    assert constraints.deserialize(config).get_config() == {"max_value": 3.0, "axis": 1}


def test_kernel_constraint_is_applied_by_fit():
    dense = layers.Dense(2, kernel_constraint=tf.keras.constraints.NonNeg(),
                         bias_constraint="max_norm")
    model = tf.keras.Sequential([tf.keras.Input((6,)), dense])
    model.compile(tf.keras.optimizers.SGD(0.5), "mse")
    model.fit(X, -np.ones((4, 2), np.float32) * 10, epochs=3, verbose=0)
    assert (dense.kernel.numpy() >= 0).all()
    assert np.linalg.norm(dense.bias.numpy()) <= 2.0 + 1e-5
    assert dense.get_config()["kernel_constraint"]["class_name"] == "NonNeg"


@pytest.mark.parametrize("layer", [
    layers.LeakyReLU(0.2), layers.ELU(0.7), layers.PReLU(shared_axes=[1]),
    layers.Dot(axes=(1, 2), normalize=True), layers.Permute((2, 1)), layers.RepeatVector(4),
    layers.Cropping1D((2, 0)), layers.GaussianNoise(0.1, seed=3), layers.GaussianDropout(0.2),
    layers.AlphaDropout(0.1, seed=5), layers.ActivityRegularization(l1=0.5),
    layers.UnitNormalization(axis=(1, 2)), layers.GroupNormalization(groups=4, epsilon=1e-5),
    layers.Identity(), layers.Subtract(),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    again = type(layer).from_config(config)
    config.pop("name")
    again_config = again.get_config()
    again_config.pop("name")
    assert again_config == config


def test_metrics_held_by_layers_are_logged():
    class Tracked(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)
            self.magnitude = tf.keras.metrics.Mean(name="magnitude")

        def call(self, inputs):
            outputs = self.dense(inputs)
            self.magnitude.update_state(tf.abs(outputs))
            return outputs

    model = tf.keras.Sequential([tf.keras.Input((6,)), Tracked()])
    model.compile("sgd", "mse")
    history = model.fit(X, np.zeros((4, 1), np.float32), epochs=2, verbose=0)
    assert "magnitude" in history.history and len(history.history["magnitude"]) == 2
    prediction = model.predict(X, verbose=0)
    model.reset_metrics()
    model.evaluate(X, np.zeros((4, 1), np.float32), verbose=0)
    assert float(model.metrics[-1].result()) == pytest.approx(np.abs(prediction).mean(),
                                                                  rel=1e-5)


def test_global_average_pooling_1d_averages_the_unmasked_steps():
    """Keras 3: with a mask (here a mask_zero embedding's), the mean of the kept steps only; a
    sequence with none left gives NaN (0 / 0); GlobalMaxPooling1D ignores the mask."""
    table = np.arange(12, dtype="float32").reshape(6, 2)
    ids = np.array([[1, 2, 0, 0], [3, 0, 5, 0], [0, 0, 0, 0]])
    embedding = tf.keras.layers.Embedding(6, 2, mask_zero=True)
    model = tf.keras.Sequential([tf.keras.Input((4,), dtype="int32"), embedding,
                                 tf.keras.layers.GlobalAveragePooling1D()])
    embedding.set_weights([table])
    with np.errstate(invalid="ignore"):
        got = model(ids).numpy()
    kept = ids != 0
    for row, keep in zip(range(2), kept):
        np.testing.assert_allclose(got[row], table[ids[row][keep]].mean(axis=0))
    assert np.isnan(got[2]).all()
    pooled = tf.keras.Sequential([tf.keras.Input((4,), dtype="int32"), embedding,
                                  tf.keras.layers.GlobalMaxPooling1D()])(ids).numpy()
    np.testing.assert_array_equal(pooled, table[ids].max(axis=1))
    unmasked = tf.keras.layers.GlobalAveragePooling1D(keepdims=True)(tf.constant(table[ids]))
    np.testing.assert_allclose(unmasked.numpy(), table[ids].mean(axis=1, keepdims=True))
