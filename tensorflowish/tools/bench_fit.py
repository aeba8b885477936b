"""`fit` per epoch, traced (the default) against `run_eagerly=True`: the digits MLP of the Keras
guide (docs/keras.md): Flatten, Dense(128, relu), Dropout(0.2), Dense(10), Adam, sparse
cross-entropy from logits, accuracy, batch 32, 1,437 training images of 8x8.

The row's "floor" is the same `fit` epoch run eagerly, so its ratio is traced / eager: below 1
is a traced epoch faster than an eager one. Both models start from the same weights; each call
of either is one more epoch (shuffled), so both keep training alike.

The second row times the traced epoch with `steps_per_execution=STEPS_PER_EXECUTION` (each call
of the train function runs that many steps as one traced graph) against the traced epoch with
`steps_per_execution=1`: below 1 is what running Python once per execution saves.
"""

from __future__ import annotations

from .bench import Workload

FIT_BATCH = 32
STEPS_PER_EXECUTION = 16  # 45 steps: executions of 16, 16 and 13 (the last with 29 rows)


def _digits_models(device: str, settings: list[dict]) -> tuple:
    """The training images and one digits MLP per compile setting, all from the same weights."""
    import tensorflowish as tf

    (x, y), _ = tf.keras.datasets.digits.load_data()
    x = (x / 16.0).astype("float32")
    with tf.device(device):
        models = []
        for setting in settings:
            tf.random.set_seed(0)
            model = tf.keras.Sequential([
                tf.keras.layers.Flatten(input_shape=(8, 8)),
                tf.keras.layers.Dense(128, activation="relu"),
                tf.keras.layers.Dropout(0.2),
                tf.keras.layers.Dense(10),
            ])
            model.compile(optimizer="adam",
                          loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"], **setting)
            models.append(model)
    return x, y, models


def _epoch(model, x, y, device: str):
    import tensorflowish as tf

    def run():
        with tf.device(device):
            return model.fit(x, y, batch_size=FIT_BATCH, epochs=1, verbose=0)
    return run


def fit_epoch(device: str) -> Workload:
    """One `fit` epoch of the digits MLP, traced, beside the same epoch run eagerly."""
    x, y, (traced, eager) = _digits_models(device, [{"run_eagerly": False},
                                                    {"run_eagerly": True}])
    steps = -(-len(x) // FIT_BATCH)
    return Workload("fit epoch, traced / eager", f"digits MLP, {steps} steps", 0.0,
                    _epoch(traced, x, y, device), _epoch(eager, x, y, device))


def fit_epoch_steps_per_execution(device: str) -> Workload:
    """The traced epoch with ``steps_per_execution=STEPS_PER_EXECUTION`` beside the traced
    epoch with one step per execution."""
    x, y, (multi, single) = _digits_models(
        device, [{"steps_per_execution": STEPS_PER_EXECUTION}, {}])
    steps = -(-len(x) // FIT_BATCH)
    return Workload(f"fit epoch, steps_per_execution={STEPS_PER_EXECUTION} / 1",
                    f"digits MLP, {steps} steps", 0.0, _epoch(multi, x, y, device),
                    _epoch(single, x, y, device))


def fit_workloads(device: str, quick: bool = False) -> list[Workload]:
    """The fit rows of `tensorflowish bench` (CPU and GPU alike)."""
    return [fit_epoch(device), fit_epoch_steps_per_execution(device)]
