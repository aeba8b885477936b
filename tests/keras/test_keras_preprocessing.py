"""Preprocessing layers: Normalization and Discretization against NumPy, the image layers
against hand-made expectations, and the projective transform against numbers Keras 3.15
(TensorFlow's ImageProjectiveTransformV3) printed for the same image and matrix."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras import layers
from tensorflowish.keras.layers.preprocessing import image_utils

RNG = np.random.default_rng(0)


def test_normalization_adapt_on_arrays_and_datasets():
    data = RNG.normal(3.0, 2.0, size=(64, 3)).astype(np.float32)
    norm = layers.Normalization()
    norm.adapt(data)
    np.testing.assert_allclose(norm.adapt_mean.numpy(), data.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(norm.adapt_variance.numpy(), data.var(axis=0), rtol=1e-5)
    out = norm(data).numpy()
    np.testing.assert_allclose(out, (data - data.mean(0)) / data.std(0), rtol=1e-4, atol=1e-5)
    streamed = layers.Normalization()
    streamed.adapt(tf.data.Dataset.from_tensor_slices(data).batch(10))  # uneven batches
    np.testing.assert_allclose(streamed.adapt_mean.numpy(), data.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(streamed.adapt_variance.numpy(), data.var(axis=0), rtol=1e-5)
    assert [w.name.split("/")[-1] for w in norm.weights] == ["mean:0", "variance:0"]
    assert not norm.trainable_weights


def test_normalization_axis_none_invert_and_given_statistics():
    data = RNG.normal(size=(20, 4)).astype(np.float32) * 5
    scalar = layers.Normalization(axis=None)
    scalar.adapt(data[:, 0])  # one feature as a vector, as TensorFlow's regression tutorial
    assert scalar.adapt_mean.shape == ()
    np.testing.assert_allclose(float(scalar.adapt_mean), data[:, 0].mean(), rtol=1e-5)
    given = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    np.testing.assert_allclose(given(np.array([[3.0, 8.0]])).numpy(), [[1.0, 2.0]])
    inverse = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    np.testing.assert_allclose(inverse(np.array([[1.0, 2.0]])).numpy(), [[3.0, 8.0]])
    images = RNG.normal(size=(5, 3, 3, 2)).astype(np.float32)
    channels = layers.Normalization(axis=-1)
    channels.adapt(images)
    np.testing.assert_allclose(channels.adapt_mean.numpy(), images.mean(axis=(0, 1, 2)),
                               rtol=1e-5, atol=1e-6)
    per_pixel = layers.Normalization(axis=(1, 2))
    per_pixel.adapt(images)
    assert per_pixel.adapt_mean.shape == (3, 3)
    with pytest.raises(ValueError, match="both mean and variance"):
        layers.Normalization(mean=[1.0])


def test_normalization_in_a_regression_model_trains():
    x = RNG.normal(50.0, 10.0, size=(128, 2)).astype(np.float32)
    y = (x @ np.array([[0.5], [-0.2]], np.float32) + 3.0).astype(np.float32)
    norm = layers.Normalization()
    norm.adapt(x)
    model = tf.keras.Sequential([tf.keras.Input((2,)), norm, layers.Dense(1)])
    model.compile(tf.keras.optimizers.Adam(0.3), "mean_absolute_error")
    history = model.fit(x, y, epochs=40, verbose=0, batch_size=16)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


def test_discretization_by_boundaries_and_adapt():
    layer = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    np.testing.assert_array_equal(layer([[-1.5, 0.0, 0.5], [1.0, 2.5, 1.99]]).numpy(),
                                  [[0, 1, 1], [2, 3, 2]])
    adapted = layers.Discretization(num_bins=4)
    adapted.adapt(np.arange(100, dtype=np.float32))
    np.testing.assert_allclose(adapted.bin_boundaries, np.quantile(np.arange(100), [.25, .5, .75]))
    counts = layers.Discretization([0.0, 1.0], output_mode="count")
    np.testing.assert_array_equal(counts([[-1.0, 0.5, 0.7], [2.0, 2.0, 3.0]]).numpy(),
                                  [[1, 2, 0], [0, 0, 3]])
    one_hot = layers.Discretization([0.0, 1.0], output_mode="one_hot")
    np.testing.assert_array_equal(one_hot([[-1.0], [0.5]]).numpy(), [[1, 0, 0], [0, 1, 0]])


def test_rescaling_resizing_center_crop():
    images = RNG.uniform(0, 255, size=(2, 6, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(layers.Rescaling(1 / 127.5, offset=-1)(images).numpy(),
                               images / 127.5 - 1, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(layers.CenterCrop(4, 4)(images).numpy(), images[:, 1:5, 2:6])
    same = layers.Resizing(6, 8)(images).numpy()
    np.testing.assert_allclose(same, images, rtol=1e-6, atol=1e-4)
    # crop_to_aspect_ratio: the centred 6x6 window, then 3x3 by halving (bilinear: the mean of
    # each 2x2 block, as TensorFlow's half-pixel centres give)
    cropped = layers.Resizing(3, 3, crop_to_aspect_ratio=True)(images).numpy()
    window = images[:, :, 1:7]
    blocks = window.reshape(2, 3, 2, 3, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(cropped, blocks, rtol=1e-5)
    padded = layers.Resizing(8, 8, pad_to_aspect_ratio=True, fill_value=-1.0)(images).numpy()
    assert padded.shape == (2, 8, 8, 3) and (padded[:, 0] == -1.0).all()
    one = layers.CenterCrop(2, 2)(images[0])  # a single HWC image
    assert tuple(one.shape) == (2, 2, 3)


# TensorFlow's ImageProjectiveTransformV3 (through keras.ops.image.affine_transform) on a 4x5
# image (values 1, 2.5, 4, ...) with the transform [1.3, 0.1, -1.7, -0.2, 0.9, 2.4, 0, 0]
KERAS_TRANSFORM = {
    ("reflect", "bilinear"): [[20.05, 17.5, 17.35, 17.8, 18.25], [24.4, 23.5, 24.25, 24.7, 25.15],
                              [22.75, 23.5, 25.15, 27.1, 29.05], [15.85, 16.75, 20.05, 23.5,
                                                                  26.95]],
    ("reflect", "nearest"): [[17.5, 16.0, 17.5, 19.0, 20.5], [25.0, 23.5, 25.0, 26.5, 29.5],
                             [25.0, 23.5, 25.0, 26.5, 29.5], [16.0, 16.0, 17.5, 26.5, 29.5]],
    ("wrap", "bilinear"): [[23.95, 23.5, 17.35, 17.8, 18.25], [6.1, 7.0, 24.25, 24.7, 25.15],
                           [7.75, 7.0, 2.65, 4.6, 6.55], [14.65, 13.75, 8.05, 8.5, 8.95]],
    ("wrap", "nearest"): [[20.5, 22.0, 17.5, 19.0, 20.5], [5.5, 7.0, 25.0, 26.5, 29.5],
                          [7.0, 7.0, 2.5, 4.0, 7.0], [14.5, 14.5, 10.0, 11.5, 7.0]],
}


@pytest.mark.parametrize("fill_mode, interpolation", sorted(KERAS_TRANSFORM))
def test_projective_transform_matches_tensorflow(fill_mode, interpolation):
    image = tf.constant(np.arange(20, dtype=np.float32).reshape(1, 4, 5, 1) * 1.5 + 1)
    matrix = [[1.3, 0.1, -1.7, -0.2, 0.9, 2.4, 0.0, 0.0]]
    out = image_utils.transform(image, matrix, fill_mode, interpolation, -3.0).numpy()
    np.testing.assert_allclose(out[0, :, :, 0], KERAS_TRANSFORM[fill_mode, interpolation],
                               atol=1e-4)


def test_transform_fill_modes_by_hand():
    image = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5, 1)  # one row: 1 2 3 4 5
    shift = [[1, 0, -2, 0, 1, 0, 0, 0]]  # output x reads input x - 2
    row = {mode: image_utils.transform(tf.constant(image), shift, mode, "nearest",
                                       0.0).numpy().ravel().tolist()
           for mode in ("constant", "nearest", "reflect", "wrap")}
    assert row["constant"] == [0, 0, 1, 2, 3]
    assert row["nearest"] == [1, 1, 1, 2, 3]
    assert row["reflect"] == [2, 1, 1, 2, 3]  # d c b a | a b c d
    assert row["wrap"] == [4, 5, 1, 2, 3]


def test_random_layers_are_seeded_and_idle_at_inference():
    images = RNG.uniform(0, 255, size=(4, 8, 8, 3)).astype(np.float32)
    for make in (lambda: layers.RandomFlip(seed=3), lambda: layers.RandomRotation(0.2, seed=3),
                 lambda: layers.RandomZoom(0.3, seed=3),
                 lambda: layers.RandomTranslation(0.2, 0.2, seed=3),
                 lambda: layers.RandomContrast(0.5, seed=3),
                 lambda: layers.RandomBrightness(0.3, seed=3)):
        first, second = make(), make()
        out = first(images, training=True).numpy()
        np.testing.assert_array_equal(out, second(images, training=True).numpy())
        assert not np.array_equal(out, images)
        np.testing.assert_array_equal(first(images, training=False).numpy(), images)


def test_random_flip_rotation_and_crop_by_hand():
    images = RNG.uniform(size=(16, 5, 5, 1)).astype(np.float32)
    flipped = layers.RandomFlip("horizontal", seed=0)(images).numpy()
    for original, out in zip(images, flipped):
        assert np.array_equal(out, original) or np.array_equal(out, original[:, ::-1])
    # a quarter turn, exactly: out[y, x] = in[x, 4 - y] by Keras's rotation matrix (cos 0,
    # sin 1, offsets 4 and 0): NumPy's rot90 on a square image
    quarter = layers.RandomRotation((0.25, 0.25), interpolation="nearest")(images).numpy()
    np.testing.assert_array_equal(quarter, np.rot90(images, k=1, axes=(1, 2)))
    crop = layers.RandomCrop(3, 2, seed=1)
    out = crop(images).numpy()
    assert out.shape == (16, 3, 2, 1)
    found = [(top, left) for top in range(3) for left in range(4)
             if np.array_equal(out, images[:, top:top + 3, left:left + 2])]
    assert found  # a window of the input
    # Keras 3.15 passes images through at inference, and crops small ones from the corner
    np.testing.assert_array_equal(crop(images, training=False).numpy(), images)
    small = layers.RandomCrop(5, 8)(images).numpy()
    np.testing.assert_allclose(small, tf.image.resize(images, [5, 8]).numpy(), rtol=1e-6)


def test_contrast_and_brightness_formulas():
    images = RNG.uniform(50, 200, size=(3, 4, 4, 3)).astype(np.float32)
    contrast = layers.RandomContrast((0.5, 0.5))(images).numpy()  # factor exactly 1.5
    mean = images.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(contrast, np.clip((images - mean) * 1.5 + mean, 0, 255),
                               rtol=1e-5)
    brighter = layers.RandomBrightness((0.1, 0.1), value_range=(0, 255))(images).numpy()
    np.testing.assert_allclose(brighter, np.clip(images + 25.5, 0, 255), rtol=1e-6)


def test_augmentation_runs_in_fit_not_in_predict():
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), layers.RandomFlip(seed=1),
                                 layers.RandomRotation(0.1, seed=1), layers.Flatten(),
                                 layers.Dense(2)])
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = RNG.normal(size=(8, 6, 6, 1)).astype(np.float32)
    model.fit(x, np.arange(8) % 2, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("layer", [
    layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 4.0], invert=True),
    layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="count"),
    layers.Rescaling(0.5, offset=1.0), layers.Resizing(4, 5, crop_to_aspect_ratio=True),
    layers.CenterCrop(3, 2), layers.RandomFlip("vertical", seed=2),
    layers.RandomRotation(0.1, fill_mode="constant", fill_value=1.0),
    layers.RandomZoom(0.1, (-0.2, 0.1)), layers.RandomTranslation(0.1, 0.2, fill_mode="wrap"),
    layers.RandomContrast(0.2), layers.RandomBrightness(0.1, value_range=(0, 1)),
    layers.RandomCrop(3, 3, seed=4),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    again = type(layer).from_config(config).get_config()
    config.pop("name"), again.pop("name")
    assert again == config


def test_basic_regression_tutorial_flow():
    """TensorFlow's "Basic regression" tutorial, its calls as written (NumPy for pandas)."""
    features = RNG.uniform(45, 230, size=(80, 3))
    labels = 50 - 0.1 * features[:, 0] + RNG.normal(0, 1, 80)
    horsepower = features[:, 0]
    horsepower_normalizer = layers.Normalization(input_shape=[1, ], axis=None)
    horsepower_normalizer.adapt(horsepower)
    model = tf.keras.Sequential([horsepower_normalizer, layers.Dense(units=1)])
    assert model.predict(horsepower[:10], verbose=0).shape == (10, 1)  # (N,) read as (N, 1)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.1),
                  loss="mean_absolute_error")
    history = model.fit(horsepower, labels, epochs=5, verbose=0, validation_split=0.2)
    assert set(history.history) == {"loss", "val_loss"} and history.epoch == [0, 1, 2, 3, 4]
    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(np.array(features))
    assert normalizer.mean.shape == (1, 3)
    np.testing.assert_allclose(normalizer.mean.numpy()[0], features.mean(axis=0), rtol=1e-5)
    dnn = tf.keras.Sequential([normalizer, layers.Dense(8, activation="relu"), layers.Dense(1)])
    assert dnn.built  # from the adapted normalizer's input shape, so summary() works
    assert dnn.layers[1].kernel.shape == (3, 8)
