"""Models (``tf.keras.Model``, ``tf.keras.Sequential``) and the training loop.

>>> import numpy as np, tensorflowish as tf
>>> model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"),
...                              tf.keras.layers.Dense(2)])
>>> model.compile(optimizer="adam",
...               loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
...               metrics=["accuracy"])
>>> x, y = np.random.rand(64, 4).astype("float32"), np.random.randint(0, 2, 64)
>>> history = model.fit(x, y, epochs=2, verbose=0)
>>> sorted(history.history)
['accuracy', 'loss']
"""


from tensorflowish.keras.models.model import Model
from tensorflowish.keras.models.sequential import Sequential
from tensorflowish.keras.trainers.compile_utils import LossesContainer, MetricsContainer
from tensorflowish.saving import clone_model, load_model, model_from_json, save_model

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
