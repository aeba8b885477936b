"""`fit` per epoch, traced (the default) against `run_eagerly=True`: the digits MLP of the Keras
guide (docs/keras.md): Flatten, Dense(128, relu), Dropout(0.2), Dense(10), Adam, sparse
cross-entropy from logits, accuracy, batch 32, 1,437 training images of 8x8.

The row's "floor" is the same `fit` epoch run eagerly, so its ratio is traced / eager: below 1
is a traced epoch faster than an eager one. Both models start from the same weights; each call
of either is one more epoch (shuffled), so both keep training alike.
"""

from __future__ import annotations

from .bench import Workload

FIT_BATCH = 32


def fit_epoch(device: str) -> Workload:
    """One `fit` epoch of the digits MLP, traced, beside the same epoch run eagerly."""
    import tensorflowish as tf

    (x, y), _ = tf.keras.datasets.digits.load_data()
    x = (x / 16.0).astype("float32")
    with tf.device(device):
        models = []
        for run_eagerly in (False, True):
            tf.random.set_seed(0)
            model = tf.keras.Sequential([
                tf.keras.layers.Flatten(input_shape=(8, 8)),
                tf.keras.layers.Dense(128, activation="relu"),
                tf.keras.layers.Dropout(0.2),
                tf.keras.layers.Dense(10),
            ])
            model.compile(optimizer="adam",
                          loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"], run_eagerly=run_eagerly)
            models.append(model)
    traced, eager = models

    def epoch(model):
        def run():
            with tf.device(device):
                return model.fit(x, y, batch_size=FIT_BATCH, epochs=1, verbose=0)
        return run

    steps = -(-len(x) // FIT_BATCH)
    return Workload("fit epoch, traced / eager", f"digits MLP, {steps} steps", 0.0,
                    epoch(traced), epoch(eager))


def fit_workloads(device: str, quick: bool = False) -> list[Workload]:
    """The fit rows of `tensorflowish bench` (CPU and GPU alike)."""
    return [fit_epoch(device)]
