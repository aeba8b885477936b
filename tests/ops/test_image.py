"""tf.image against TensorFlow 2.21's own outputs (pinned here) and hand-computed values.

`data/tf_image_resize.npz` holds `tf.image.resize` of x = (arange(20) ** 1.5 / 10) as a
[1, 4, 5, 1] float32 image, for every method, antialias False/True and sizes 3x7, 6x2, 2x3, made
with tensorflow-cpu 2.21.0: `tf.image.resize(x, size, method=m, antialias=a)[0, :, :, 0]`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tensorflowish as tf

REFERENCE = np.load(Path(__file__).parent / "data" / "tf_image_resize.npz")
RESIZE_CASES = [key for key in REFERENCE.files if key != "x"]


@pytest.mark.parametrize("key", RESIZE_CASES)
def test_resize_matches_tensorflow(key, device):
    method, antialias, size = key.split("-")
    height, width = (int(v) for v in size.split("x"))
    got = tf.image.resize(REFERENCE["x"], [height, width], method=method,
                          antialias=antialias == "True")
    assert got.dtype == tf.float32 and got.shape == (1, height, width, 1)
    np.testing.assert_allclose(got.numpy()[0, :, :, 0], REFERENCE[key], rtol=1e-5, atol=1e-5)


def test_resize_dtypes_and_shapes():
    image = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    assert tf.image.resize(image.astype(np.uint8), [2, 2], method="nearest").dtype == tf.uint8
    assert tf.image.resize(image.astype(np.uint8), [2, 2]).dtype == tf.float32
    assert tf.image.resize(image.astype(np.float64), [2, 2]).dtype == tf.float32
    assert tf.image.resize(image[0].astype(np.float32), [3, 5]).shape == (3, 5, 3)
    assert tf.image.resize(image.astype(np.float32), [2, 8],
                           preserve_aspect_ratio=True).shape == (2, 2, 2, 3)
    # nearest picks pixels: downsampling by 2 takes the odd rows and columns (half-pixel centres)
    np.testing.assert_array_equal(
        tf.image.resize(image, [2, 2], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR).numpy(),
        image[:, 1::2, 1::2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="unknown method"):
        tf.image.resize(image, [2, 2], method="cubic")
    with pytest.raises(tf.errors.InvalidArgumentError, match="3 or 4 dimensions"):
        tf.image.resize(np.zeros((4, 4)), [2, 2])


def test_resize_with_pad_matches_tensorflow():
    got = tf.image.resize_with_pad(REFERENCE["x"], 6, 6).numpy()[0, :, :, 0]
    expected_top = [[0.0, 0.075, 0.2066582, 0.3814979, 0.5897115, 0.8],
                    [1.118034, 1.381779, 1.6927208, 2.0231574, 2.3720562, 2.7],
                    [3.1622777, 3.526785, 3.944991, 4.377878, 4.8249927, 5.2383204],
                    [5.809475, 6.252369, 6.755413, 7.2707267, 7.798042, 8.281908]]
    np.testing.assert_allclose(got[:4], expected_top, rtol=1e-5)
    np.testing.assert_array_equal(got[4:], 0)


def test_geometry():
    image = np.arange(6).reshape(2, 3, 1)
    np.testing.assert_array_equal(tf.image.rot90(image).numpy()[:, :, 0], [[2, 5], [1, 4],
                                                                           [0, 3]])  # TF's
    np.testing.assert_array_equal(tf.image.rot90(image, k=3).numpy()[:, :, 0],
                                  [[3, 0], [4, 1], [5, 2]])
    np.testing.assert_array_equal(tf.image.flip_left_right(image).numpy(), image[:, ::-1])
    np.testing.assert_array_equal(tf.image.flip_up_down(image).numpy(), image[::-1])
    np.testing.assert_array_equal(tf.image.transpose(image).numpy(), image.transpose(1, 0, 2))
    big = np.arange(7 * 9).reshape(7, 9, 1)
    assert tf.image.central_crop(big, 0.5).shape == (5, 5, 1)  # TensorFlow's rounding
    np.testing.assert_array_equal(tf.image.crop_to_bounding_box(big, 1, 2, 3, 4).numpy(),
                                  big[1:4, 2:6])
    padded = tf.image.pad_to_bounding_box(image, 1, 2, 4, 6).numpy()
    expected = np.zeros((4, 6, 1), dtype=image.dtype)
    expected[1:3, 2:5] = image
    np.testing.assert_array_equal(padded, expected)
    with pytest.raises(tf.errors.InvalidArgumentError, match="height must be >= target"):
        tf.image.crop_to_bounding_box(np.ones((4, 4, 1)), 1, 1, 4, 2)


def test_random_flips_and_crops():
    images = np.arange(8 * 2 * 3).reshape(8, 2, 3, 1).astype(np.float32)
    flipped = tf.image.random_flip_left_right(images, seed=3).numpy()
    same = [np.array_equal(f, i) for f, i in zip(flipped, images)]
    mirrored = [np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, images)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(same) and any(mirrored)
    a = tf.image.stateless_random_flip_up_down(images, seed=[1, 2]).numpy()
    np.testing.assert_array_equal(a, tf.image.stateless_random_flip_up_down(images,
                                                                            [1, 2]).numpy())
    crop = tf.image.random_crop(images, [8, 1, 2, 1], seed=1).numpy()
    assert crop.shape == (8, 1, 2, 1)
    # the crop is a contiguous window of the input
    found = [(r, c) for r in range(2) for c in range(2)
             if np.array_equal(images[:, r:r + 1, c:c + 2], crop)]
    assert len(found) == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="value.shape >= size"):
        tf.image.random_crop(images, [9, 1, 1, 1])


def test_extract_patches_matches_tensorflow():
    x = np.arange(1.0, 26.0).reshape(1, 5, 5, 1)
    same = tf.image.extract_patches(x, [1, 3, 3, 1], [1, 2, 2, 1], [1, 1, 1, 1], "SAME")
    assert same.shape == (1, 3, 3, 9)
    np.testing.assert_array_equal(same.numpy()[0, :, :, 4],
                                  [[1, 3, 5], [11, 13, 15], [21, 23, 25]])
    dilated = tf.image.extract_patches(x, [1, 2, 2, 1], [1, 1, 1, 1], [1, 2, 2, 1], "VALID")
    assert dilated.shape == (1, 3, 3, 4)
    np.testing.assert_array_equal(dilated.numpy()[0, 0, 0], [1, 3, 11, 13])


COLOURS = np.array([[[0.6369617, 0.2697867, 0.0409735], [0.0165276, 0.8132702, 0.9127555],
                     [0.6066357, 0.7294965, 0.543625]],
                    [[0.9350724, 0.8158535, 0.0027385], [0.8574043, 0.0335856, 0.7296554],
                     [0.1756556, 0.8631789, 0.5414612]]], dtype=np.float32)


def test_colour_ops_match_tensorflow():
    np.testing.assert_allclose(tf.image.rgb_to_hsv(COLOURS).numpy(), [
        [[0.0639871, 0.9356735, 0.6369617], [0.5185007, 0.9818926, 0.9127555],
         [0.2768331, 0.2547943, 0.7294965]],
        [[0.1453548, 0.9970714, 0.9350724], [0.8591782, 0.9608288, 0.8574043],
         [0.4220105, 0.7965015, 0.8631789]]], rtol=1e-5)
    np.testing.assert_allclose(tf.image.hsv_to_rgb(tf.image.rgb_to_hsv(COLOURS)).numpy(),
                               COLOURS, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.image.adjust_hue(COLOURS, 0.2).numpy(), [
        [[0.2889509, 0.6369617, 0.0409735], [0.2952586, 0.0165276, 0.9127555],
         [0.543625, 0.7294965, 0.7036601]],
        [[0.0027385, 0.9350724, 0.0699864], [0.8574043, 0.3260982, 0.0335856],
         [0.1756556, 0.3598685, 0.8631789]]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.image.adjust_saturation(COLOURS, 1.7).numpy(), [
        [[0.6369617, 0.2445438, 0.0], [0.0, 0.8114357, 0.9127555],
         [0.5206332, 0.7294965, 0.4135149]],
        [[0.9350724, 0.8155034, 0.0], [0.8574043, 0.0, 0.7244472],
         [0.0, 0.8631789, 0.4592656]]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.image.adjust_contrast(COLOURS, 1.7).numpy(), [
        [[0.7062049, 0.0473674, -0.2536528], [-0.348533, 0.9712894, 1.2283766],
         [0.6546507, 0.8288741, 0.6008548]],
        [[1.2129931, 0.975681, -0.3186523], [1.0809573, -0.3541746, 0.9171065],
         [-0.0780155, 1.0561341, 0.5971763]]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.image.rgb_to_grayscale(COLOURS).numpy()[..., 0], [
        [0.3534237, 0.5863839, 0.6715112], [0.7587114, 0.3591736, 0.6209161]], rtol=1e-5)
    assert tf.image.grayscale_to_rgb(np.ones((2, 2, 1))).shape == (2, 2, 3)


def test_integer_images_and_dtype_conversion():
    assert tf.image.convert_image_dtype(tf.constant([0.0, 0.5, 1.0]), tf.uint8).numpy() \
        .tolist() == [0, 127, 255]
    np.testing.assert_allclose(
        tf.image.convert_image_dtype(tf.constant([0, 128, 255], tf.uint8), tf.float32).numpy(),
        [0.0, 0.5019608, 1.0], rtol=1e-6)
    assert tf.image.convert_image_dtype(tf.constant([0, 128, 255], tf.uint8), tf.int32) \
        .numpy().tolist() == [0, 1073741824, 2139095040]
    assert tf.image.convert_image_dtype(tf.constant([2.0, -1.0]), tf.uint8, saturate=True) \
        .numpy().tolist() == [255, 0]
    bright = tf.image.adjust_brightness(tf.constant([[[10, 250, 3]]], tf.uint8), 0.1)
    assert bright.dtype == tf.uint8 and bright.numpy().tolist() == [[[35, 255, 28]]]
    standardized = tf.image.per_image_standardization(
        tf.constant([[[1, 2, 3]], [[4, 5, 6]]], tf.uint8))
    assert standardized.dtype == tf.float32
    for dtype in (tf.float16, tf.float64):  # TensorFlow: float32 whatever comes in
        assert tf.image.per_image_standardization(tf.ones([2, 2, 1], dtype)).dtype == tf.float32
    np.testing.assert_allclose(standardized.numpy().ravel(),
                               [-1.46385, -0.87831, -0.29277, 0.29277, 0.87831, 1.46385],
                               rtol=1e-5)


def test_psnr_and_ssim_match_tensorflow():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, (2, 16, 16, 3)).astype(np.float32)
    b = np.clip(a + np.random.default_rng(2).normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(tf.image.psnr(a, b, 1.0).numpy(), [20.472845, 20.122353],
                               rtol=1e-5)
    np.testing.assert_allclose(tf.image.ssim(a, b, 1.0).numpy(), [0.9451445, 0.9364331],
                               rtol=1e-5)
    np.testing.assert_allclose(tf.image.ssim(a, b, 1.0, filter_size=7, filter_sigma=1.0)
                               .numpy(), [0.9420641, 0.926403], rtol=1e-5)
    assert float(tf.image.ssim(a[:1], a[:1], 1.0)[0]) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller than filter_size"):
        tf.image.ssim(a[:, :8, :8], b[:, :8, :8], 1.0)
