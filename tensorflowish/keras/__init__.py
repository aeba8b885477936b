"""``tf.keras``: layers, models, losses, metrics, optimisers and callbacks on tensorflowish.

>>> import tensorflowish as tf
>>> model = tf.keras.Sequential([
...     tf.keras.layers.Flatten(input_shape=(8, 8)),
...     tf.keras.layers.Dense(128, activation="relu"),
...     tf.keras.layers.Dropout(0.2),
...     tf.keras.layers.Dense(10),
... ])
>>> model.compile(optimizer="adam",
...               loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
...               metrics=["accuracy"])
"""

from tensorflowish import (
    datasets,  # tf.keras.datasets: the loaders that need no download
    saving,  # tf.keras.saving: .keras files, (de)serialization
)
from tensorflowish.keras import (
    activations,
    backend,
    callbacks,
    constraints,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    optimizers,
    regularizers,
    utils,
)
from tensorflowish.keras.layers import Input
from tensorflowish.keras.models import Model, Sequential
from tensorflowish.keras.optimizers import schedules

__all__ = [
    "Input", "Model", "Sequential", "activations", "backend", "callbacks", "constraints",
    "datasets", "initializers", "layers", "losses", "metrics", "mixed_precision", "models",
    "optimizers",
    "regularizers", "saving", "schedules", "utils",
]  # fmt: skip
