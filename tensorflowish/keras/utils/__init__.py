"""Helpers (``tf.keras.utils``): the progress bar, ``to_categorical``, ``set_random_seed``."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

import numpy as np

__all__ = [
    "Progbar", "PyDataset", "Sequence", "get_file", "image_dataset_from_directory",
    "model_to_dot", "plot_model",
    "set_random_seed", "split_dataset", "text_dataset_from_directory",
    "timeseries_dataset_from_array", "to_categorical",
]  # fmt: skip


def to_categorical(y: Any, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot encode integer labels: ``to_categorical([0, 2])`` has shape (2, 3)."""
    labels = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical needs labels >= 0, got {labels.min()}.")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"to_categorical: label {labels.max()} does not fit num_classes={num_classes}."
        )
    result = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(result, labels[..., None], 1, axis=-1)
    return result


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy and tensorflowish at once (``tf.keras.utils.set_random_seed``)."""
    import random

    from tensorflowish import random as tf_random

    random.seed(seed)
    np.random.seed(seed)
    tf_random.set_seed(seed)


def _is_interactive(stream: TextIO) -> bool:
    if os.environ.get("TENSORFLOWISH_PROGRESS", "").lower() in ("0", "off", "lines"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _format_value(value: float) -> str:
    magnitude = abs(value)
    if magnitude and (magnitude < 1e-3 or magnitude >= 1e5):
        return f"{value:.4e}"
    return f"{value:.4f}"


def _format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def _format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """A Keras-style progress bar.

    On a terminal it redraws one line in place (at most every ``interval`` seconds); otherwise
    (a pipe, a log file, CI) it prints only one line when the target is reached.

    >>> bar = Progbar(3, stream=None)
    >>> for step in range(1, 4):
    ...     bar.update(step, {"loss": 0.5})
    """

    def __init__(
        self,
        target: int | None,
        width: int = 30,
        verbose: int = 1,
        interval: float = 0.05,
        stream: TextIO | None = sys.stdout,
        prefix: str = "",
    ) -> None:
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.stream, self.prefix = interval, stream, prefix
        self.dynamic = stream is not None and verbose == 1 and _is_interactive(stream)
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._finished = False

    def _line(self, current: int, values: Mapping[str, Any], final: bool) -> str:
        elapsed = time.perf_counter() - self.start
        parts = []
        if self.target is not None:
            count = f"{current}/{self.target}"
            if self.verbose == 1 and self.dynamic:
                filled = int(self.width * min(current, self.target) / max(self.target, 1))
                bar = "=" * max(filled - 1, 0) + (">" if filled < self.width else "=")
                bar = bar[: self.width] if filled else ""
                count = f"{count} [{bar}{'.' * (self.width - len(bar))}]"
        else:
            count = f"{current}"
        parts.append(self.prefix + count)
        per_step = elapsed / max(current, 1)
        if final or self.target is None:
            parts.append(f"{_format_duration(elapsed)} {_format_per_step(per_step)}")
        else:
            eta = per_step * (self.target - current)
            parts.append(f"ETA: {_format_duration(eta)}")
        for key, value in values.items():
            try:
                parts.append(f"{key}: {_format_value(float(value))}")
            except (TypeError, ValueError):
                parts.append(f"{key}: {value}")
        return " - ".join(parts)

    def update(
        self, current: int, values: Mapping[str, Any] | None = None, finalize: bool | None = None
    ) -> None:
        """Show progress ``current`` with ``values`` (read only when a line is drawn)."""
        if self.stream is None or self.verbose == 0 or self._finished:
            return
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.perf_counter()
        if not finalize and (not self.dynamic or now - self._last_draw < self.interval):
            return
        self._last_draw = now
        line = self._line(current, values or {}, finalize)
        if self.dynamic:
            self.stream.write("\r" + line + "\033[K" + ("\n" if finalize else ""))
        elif finalize:
            self.stream.write(line + "\n")
        self.stream.flush()
        if finalize:
            self._finished = True


from tensorflowish.keras.utils.dataset_utils import (  # noqa: E402 - after the progress bar
    image_dataset_from_directory,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)
from tensorflowish.keras.utils.file_utils import get_file  # noqa: E402
from tensorflowish.keras.utils.model_visualization import model_to_dot, plot_model  # noqa: E402
from tensorflowish.keras.utils.py_dataset import PyDataset, Sequence  # noqa: E402
