"""Keras 3's serialized form of one object: ``{"module", "class_name", "config",
"registered_name"}``, shared by the ``serialize`` functions of losses, metrics, initializers,
constraints and regularizers (``keras.optimizers``, a lower folder, writes its own)."""

from __future__ import annotations

from typing import Any


def keras_object_config(obj: Any, module: str) -> dict:
    """``obj`` (anything with ``get_config()``) as Keras writes it, under ``module``
    (``"keras.losses"``, ...)."""
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(),
            "registered_name": None}
