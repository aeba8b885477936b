"""The trainer of Keras models (``fit``, ``evaluate``, ``predict``) and what ``compile`` builds."""

from tensorflowish.keras.trainers.compile_utils import LossesContainer, MetricsContainer
from tensorflowish.keras.trainers.trainer import Trainer
