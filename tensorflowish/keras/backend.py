"""Keras-wide settings: the default float type of new layers, the fuzz factor, name counters."""

from __future__ import annotations

import re

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_NAME_COUNTS: dict[str, int] = {}


def floatx() -> str:
    """The dtype new layers create their weights in (``'float32'`` by default)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype of new layers: ``'float16'``, ``'float32'`` or ``'float64'``."""
    global _FLOATX
    name = np.dtype(value).name
    if name not in ("float16", "float32", "float64"):
        raise ValueError(f"floatx must be float16, float32 or float64, got {value!r}.")
    _FLOATX = name


def epsilon() -> float:
    """The small constant that keeps logs and divisions finite in losses and metrics (1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by :func:`epsilon`."""
    global _EPSILON
    _EPSILON = float(value)


def to_snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case``, the base of a layer's default name and of its group in
    a weights file: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``,
    ``HTTPServer`` -> ``http_server``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2``, ...: Keras's automatic layer names."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Reset automatic layer names (``dense``, ``dense_1`` ... start over)."""
    _NAME_COUNTS.clear()
