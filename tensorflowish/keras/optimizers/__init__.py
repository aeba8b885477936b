"""Optimisers (``tf.keras.optimizers``): SGD, Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad,
Adadelta, Ftrl, Lion, Adafactor.

Updates are written in place into each variable's array (one fused pass per variable through
``tensorflowish.kernels`` for SGD, Adam/AdamW, Adagrad, Nadam and Lion), with Keras's formulas and
defaults, gradient clipping (``clipvalue``, ``clipnorm``, ``global_clipnorm``), decoupled
``weight_decay``, ``gradient_accumulation_steps`` and ``use_ema`` on every optimiser.

    >>> import tensorflowish as tf
    >>> w = tf.Variable([1.0, 2.0])
    >>> opt = tf.keras.optimizers.SGD(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(tf.constant([1.0, 1.0]), w)])
    >>> [round(v, 6) for v in w.numpy().tolist()]
    [0.9, 1.9]
"""

from typing import Any

from tensorflowish.keras.optimizers import capture_lowering as _capture_lowering  # noqa: F401
from tensorflowish.keras.optimizers import plan_lowering as _plan_lowering  # noqa: F401 - registers
from tensorflowish.keras.optimizers import schedules
from tensorflowish.keras.optimizers.adafactor import Adafactor
from tensorflowish.keras.optimizers.adagrad import Adadelta, Adagrad
from tensorflowish.keras.optimizers.adam import Adam, Adamax, AdamW, Nadam, adam_update_reference
from tensorflowish.keras.optimizers.ftrl import Ftrl
from tensorflowish.keras.optimizers.lion import Lion
from tensorflowish.keras.optimizers.loss_scale_optimizer import LossScaleOptimizer
from tensorflowish.keras.optimizers.optimizer import Optimizer, _kernel, gradients_and_variables
from tensorflowish.keras.optimizers.rmsprop import RMSprop
from tensorflowish.keras.optimizers.sgd import SGD, sgd_update_reference

__all__ = [
    "SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lion", "Nadam",
    "Optimizer", "RMSprop", "deserialize", "get", "schedules", "serialize",
]  # fmt: skip

_BY_NAME = {
    cls.__name__.lower(): cls
    for cls in (SGD, Adadelta, Adafactor, Adagrad, Adam, AdamW, Adamax, Ftrl, Lion, Nadam, RMSprop)
}


def get(identifier: Any) -> Optimizer:
    """An optimiser from a name ('adam', 'sgd', 'nadam', ...: default settings), a config from
    :func:`serialize`, a class or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {identifier!r}; expected one of {sorted(_BY_NAME)} or a "
                "tf.keras.optimizers.Optimizer instance."
            )
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(f"Cannot interpret {identifier!r} as an optimizer.")



def serialize(optimizer: Optimizer) -> dict:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` form."""
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict) -> Optimizer:
    """The optimiser :func:`serialize` described."""
    cls = _BY_NAME.get(str(config.get("class_name", "")).lower())
    if cls is None and config.get("class_name") == "LossScaleOptimizer":
        cls = LossScaleOptimizer
    if cls is None:
        raise ValueError(
            f"Unknown optimizer class {config.get('class_name')!r}; expected one of "
            f"{sorted(c.__name__ for c in _BY_NAME.values())}."
        )
    return cls.from_config(config.get("config", {}))
