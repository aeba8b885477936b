"""The Keras convolution, pooling and reshaping layers: weight shapes, output shapes and values as
Keras 3 computes them (a table printed by Keras), gradients against finite differences, a CNN
that learns the digits, and TensorFlow's "advanced quickstart" with only its import changed."""

from __future__ import annotations

import re

import numpy as np
import pytest
from keras_conv_reference import KERAS_LAYERS

import tensorflowish as tf


def _input(shape):
    return (np.sin(np.arange(np.prod(shape)) * 0.7).reshape(shape)).astype("float32")


def _weights(shapes):
    return [(np.cos(np.arange(int(np.prod(s))) * 0.37 + i).reshape(s) * 0.3).astype("float32")
            for i, s in enumerate(shapes)]


@pytest.mark.parametrize("name,kwargs,shape,weight_shapes,out_shape,total,probed,params",
                         KERAS_LAYERS, ids=[f"{row[0]}-{i}" for i, row in enumerate(KERAS_LAYERS)])
def test_layer_matches_keras(name, kwargs, shape, weight_shapes, out_shape, total, probed, params):
    layer = getattr(tf.keras.layers, name)(**kwargs)
    layer.build(shape)
    assert [tuple(w.shape) for w in layer.weights] == [tuple(s) for s in weight_shapes]
    if weight_shapes:
        layer.set_weights(_weights(weight_shapes))
    y = layer(_input(shape)).numpy().astype(np.float64)
    assert y.shape == tuple(out_shape)
    probe = np.cos(np.arange(y.size)).reshape(y.shape)
    np.testing.assert_allclose(y.sum(), total, rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose((y * probe).sum(), probed, rtol=1e-4, atol=2e-4)
    assert layer.count_params() == params


LAYERS_TO_DIFFERENTIATE = [
    (lambda: tf.keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="tanh"),
     (2, 5, 4, 2)),
    (lambda: tf.keras.layers.Conv1D(2, 3, padding="causal", dilation_rate=2), (2, 6, 2)),
    (lambda: tf.keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same"), (1, 3, 2, 2)),
    (lambda: tf.keras.layers.DepthwiseConv2D(2, depth_multiplier=2, activation="sigmoid"),
     (1, 4, 3, 2)),
    (lambda: tf.keras.layers.SeparableConv2D(2, 3, padding="same"), (1, 4, 3, 2)),
    (lambda: tf.keras.layers.UpSampling2D(2, interpolation="bilinear"), (1, 3, 2, 2)),
]


@pytest.mark.parametrize("make,shape", LAYERS_TO_DIFFERENTIATE)
def test_layer_gradients_match_finite_differences(make, shape):
    layer = make()
    layer._dtype = tf.float64  # float64 for a tight finite-difference check
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, shape))
    layer.build(shape)
    for weight in layer.weights:
        weight.assign(np.random.default_rng(1).uniform(-1, 1, weight.shape))
    sources = [x, *layer.weights]
    probe = None

    def objective():
        nonlocal probe
        y = layer(x)
        if probe is None:
            probe = tf.constant(np.cos(np.arange(int(np.prod(y.shape)))).reshape(y.shape))
        return tf.reduce_sum(y * probe)

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = objective()
    grads = tape.gradient(value, sources)
    eps = 1e-6
    for source, grad in zip(sources, grads):
        base = source.numpy().copy()
        numeric = np.zeros_like(base)
        for index in np.ndindex(*base.shape):
            for sign in (1, -1):
                bumped = base.copy()
                bumped[index] += sign * eps
                if isinstance(source, tf.Variable):
                    source.assign(bumped)
                else:
                    x = tf.constant(bumped)
                numeric[index] += sign * float(objective()) / (2 * eps)
            if isinstance(source, tf.Variable):
                source.assign(base)
            else:
                x = tf.constant(base)
        np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-5, atol=1e-7)


def test_spatial_dropout_drops_whole_feature_maps():
    layer = tf.keras.layers.SpatialDropout2D(0.5, seed=3)
    y = layer(tf.ones([4, 5, 5, 8]), training=True).numpy()
    per_map = y.reshape(4, 25, 8)
    assert np.all((per_map == 0).all(axis=1) | (per_map == 2).all(axis=1))
    assert 0 < (per_map[:, 0] == 0).mean() < 1
    np.testing.assert_array_equal(layer(tf.ones([1, 2, 2, 3])).numpy(), np.ones([1, 2, 2, 3]))


def test_summary_shows_shapes_and_parameter_counts():
    model = tf.keras.Sequential([
        tf.keras.layers.Input((8, 8, 1)),
        tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(10),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert re.search(r"conv2d(_\d+)? \(Conv2D\) +\(None, 8, 8, 16\) +160\n", text)
    assert re.search(r"max_pooling2d.*\(None, 4, 4, 16\) +0\n", text)  # Keras cuts long names
    assert "2,570" in text and "Total params: 2,730" in text  # 160 + 256 * 10 + 10


def _digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn ships the digits")
    images, labels = datasets.load_digits(return_X_y=True)
    images = (images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], labels[order]
    return (images[:-400], labels[:-400]), (images[-400:], labels[-400:])


def test_a_keras_cnn_learns_the_digits():
    (x_train, y_train), (x_test, y_test) = _digits()
    tf.random.set_seed(0)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((8, 8, 1)),
        tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(10),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95


def test_tensorflow_advanced_quickstart_runs_and_learns():
    """https://www.tensorflow.org/tutorials/quickstart/advanced, on the digits, import changed."""
    import tensorflowish as tf  # the only change: `import tensorflow as tf`
    from tensorflowish.keras import Model
    from tensorflowish.keras.layers import Conv2D, Dense, Flatten

    (x_train, y_train), (x_test, y_test) = _digits()
    tf.random.set_seed(1)
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(32)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)

    class MyModel(Model):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(32, 3, activation="relu")
            self.flatten = Flatten()
            self.d1 = Dense(128, activation="relu")
            self.d2 = Dense(10)

        def call(self, x):
            x = self.conv1(x)
            x = self.flatten(x)
            x = self.d1(x)
            return self.d2(x)

    model = MyModel()
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()
    train_loss = tf.keras.metrics.Mean(name="train_loss")
    test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="test_accuracy")

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)

    @tf.function
    def test_step(images, labels):
        test_accuracy(labels, model(images, training=False))

    for _ in range(3):
        train_loss.reset_state()
        test_accuracy.reset_state()
        for images, labels in train_ds:
            train_step(images, labels)
        for test_images, test_labels in test_ds:
            test_step(test_images, test_labels)
    assert float(test_accuracy.result()) >= 0.95


def test_constraints_and_activity_regularizer_apply():
    layer = tf.keras.layers.Conv2D(3, 3, kernel_constraint=tf.keras.constraints.NonNeg(),
                                   activity_regularizer="l2")
    model = tf.keras.Sequential([tf.keras.Input((5, 5, 2)), layer, tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.SGD(1.0), loss="mse")
    x = np.random.default_rng(0).uniform(-1, 1, (4, 5, 5, 2)).astype("float32")
    model.fit(x, np.ones((4, 1), "float32"), epochs=2, verbose=0)
    assert layer.kernel.numpy().min() >= 0
    assert len(layer.losses) == 1 and float(layer.losses[0]) > 0
