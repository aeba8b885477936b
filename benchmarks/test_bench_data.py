"""tf.data: does loading overlap training? One epoch of an image pipeline whose map is
deliberately slow (a 2 ms read, as from a disk or network, then NumPy augmentation), feeding a
small Keras model, three ways:

- ``sequential``: ``map(load)`` then ``batch``: loading and training take turns;
- ``parallel``: ``map(load, num_parallel_calls=AUTOTUNE)`` + ``prefetch(AUTOTUNE)``;
- ``floor``: the same work hand-written with a ``ThreadPoolExecutor`` and NumPy batches.

    pytest benchmarks/test_bench_data.py --benchmark-enable

Without ``--benchmark-enable`` (the default) each runs once, untimed, and the test checks that
all three produce the same batches, so the benchmark stays correct.
"""

from __future__ import annotations

import concurrent.futures
import os
import time

import numpy as np
import pytest

import tensorflowish as tf

IMAGES, SIDE, BATCH, READ_SECONDS = 128, 32, 16, 0.002
VARIANTS = ["sequential", "parallel", "floor"]


def _pictures():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(IMAGES, SIDE, SIDE, 3), dtype=np.uint8)


def _load(picture: np.ndarray) -> np.ndarray:
    """The slow part of a real pipeline: wait for the bytes, then decode/augment in NumPy."""
    time.sleep(READ_SECONDS)  # releases the GIL, as file and socket reads do
    image = picture.astype(np.float32) / 255.0
    image = (image - image.mean(axis=(0, 1))) / (image.std(axis=(0, 1)) + 1e-6)
    return image[:, ::-1].reshape(-1)  # flip left-right, flatten for the dense model


def _model():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(64, activation="relu", input_shape=(SIDE * SIDE * 3,)),
        tf.keras.layers.Dense(10),
    ])  # fmt: skip
    model.compile(optimizer=tf.keras.optimizers.SGD(0.01),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _pipeline(pictures, labels, parallel: bool):
    def load(picture, label):
        return _load(picture.numpy()), label

    calls = tf.data.AUTOTUNE if parallel else None
    dataset = tf.data.Dataset.from_tensor_slices((pictures, labels)).map(
        load, num_parallel_calls=calls
    ).batch(BATCH)
    return dataset.prefetch(tf.data.AUTOTUNE) if parallel else dataset


def _floor_batches(pictures, labels):
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        images = pool.map(_load, pictures)
        pending = []
        for index, image in enumerate(images):
            pending.append(image)
            if len(pending) == BATCH or index == len(pictures) - 1:
                start = index + 1 - len(pending)
                yield np.stack(pending), labels[start:index + 1]
                pending = []


def _epoch(variant, pictures, labels, model, seen):
    if variant == "floor":
        batches = _floor_batches(pictures, labels)
    else:
        dataset = _pipeline(pictures, labels, parallel=variant != "sequential")
        batches = ((x.numpy(), y.numpy()) for x, y in dataset)
    for x, y in batches:
        seen.append(x.sum())
        model.train_on_batch(x, y)


@pytest.mark.parametrize("variant", VARIANTS)
def test_image_pipeline_epoch(benchmark, variant):
    pictures = _pictures()
    labels = np.arange(IMAGES) % 10
    model = _model()
    seen: list = []
    benchmark.group = f"tf.data epoch: {IMAGES} images {SIDE}x{SIDE}, 2 ms read, batch {BATCH}"
    benchmark(_epoch, variant, pictures, labels, model, seen)
    expected = [
        np.stack([_load(p) for p in pictures[i:i + BATCH]]).sum()
        for i in range(0, IMAGES, BATCH)
    ]
    np.testing.assert_allclose(seen[: len(expected)], expected, rtol=1e-5)
