"""Callbacks (``tf.keras.callbacks``): hooks that ``fit``/``evaluate``/``predict`` call.

One module per family, as Keras lays them out: the base class and list (``callback``), records
of training (``history``), callbacks that watch a metric (``monitors``), that change the learning
rate (``learning_rate``), that write state to disk (``checkpoints``) and ``tensorboard``.
``RemoteMonitor`` is left out on purpose (it posts to a web server).

>>> import tensorflowish as tf
>>> stop = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)
"""

from tensorflowish.keras.callbacks.callback import Callback, CallbackList, LambdaCallback
from tensorflowish.keras.callbacks.checkpoints import BackupAndRestore, ModelCheckpoint
from tensorflowish.keras.callbacks.history import CSVLogger, History, ProgbarLogger
from tensorflowish.keras.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from tensorflowish.keras.callbacks.monitors import EarlyStopping, TerminateOnNaN
from tensorflowish.keras.callbacks.tensorboard import TensorBoard

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
    "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger",
    "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN",
]  # fmt: skip
