"""Weight penalties added to the loss (``tf.keras.regularizers``): L1, L2, L1L2."""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras.object_config import keras_object_config

__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2", "serialize"]


class Regularizer:
    """Base class: ``regularizer(weight)`` returns a scalar penalty tensor."""

    def __call__(self, weight: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight: Any) -> Any:
        penalty = None
        if self.l1:
            penalty = self.l1 * tf.reduce_sum(tf.abs(weight))
        if self.l2:
            term = self.l2 * tf.reduce_sum(tf.square(weight))
            penalty = term if penalty is None else penalty + term
        return penalty if penalty is not None else tf.zeros((), dtype=weight.dtype)

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)`` (default 0.01)."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w**2)`` (default 0.01)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2'), an instance or a function."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, dict):  # serialize()'s form
        classes = {"L1": L1, "L2": L2, "L1L2": L1L2}
        if identifier.get("class_name") not in classes:
            raise ValueError(f"Unknown regularizer class {identifier.get('class_name')!r}.")
        return classes[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, str):
        table = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}
        if identifier not in table:
            raise ValueError(f"Unknown regularizer {identifier!r}; expected 'l1', 'l2', 'l1_l2'.")
        return table[identifier]()
    raise TypeError(f"Cannot interpret {identifier!r} as a regularizer.")


def serialize(regularizer: Any) -> dict | None:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` form (None stays
    None)."""
    if regularizer is None:
        return None
    if not isinstance(regularizer, Regularizer):
        raise TypeError(f"Only tf.keras.regularizers.Regularizer objects can be serialized, got "
                        f"{regularizer!r}; subclass Regularizer and give it get_config().")
    return keras_object_config(regularizer, "keras.regularizers")
