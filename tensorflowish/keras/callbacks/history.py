"""Records of training: ``History``, ``ProgbarLogger`` and ``CSVLogger``."""

from __future__ import annotations

import collections
import csv
import os
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from tensorflowish.keras.callbacks.callback import Callback
from tensorflowish.keras.utils import Progbar

__all__ = ["CSVLogger", "History", "ProgbarLogger"]


class History(Callback):
    """Records each epoch's logs: ``history.history['loss']`` is a list, one per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints progress: a bar per epoch on a terminal, one line per epoch otherwise.

    ``verbose=1`` (or 'auto') draws the bar; ``verbose=2`` prints one line per epoch always.
    """

    def __init__(self, verbose: int = 1, stream: Any = None) -> None:
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self._bar: Progbar | None = None
        self._epochs = 1
        self._seen = 0

    def _stream(self) -> Any:
        return self.stream if self.stream is not None else sys.stdout

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._epochs = self.params.get("epochs", 1)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        prefix = f"Epoch {epoch + 1}/{self._epochs}"
        self._bar = Progbar(self.params.get("steps"), verbose=self.verbose, stream=self._stream())
        if self._bar.dynamic:
            self._stream().write(prefix + "\n")
        else:
            self._bar.prefix = prefix + " - "
        self._seen = 0

    def update_train(self, step: int, logs: Any) -> None:
        """Advance the bar after training step ``step`` (0-based)."""
        self._seen = step + 1
        if self._bar is not None and self._bar.dynamic:
            self._bar.update(self._seen, logs, finalize=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._seen, logs or {}, finalize=True)

    def test_bar(self, steps: int | None) -> Progbar:
        """A bar for ``evaluate`` / ``predict``."""
        return Progbar(steps, verbose=self.verbose, stream=self._stream())


class CSVLogger(Callback):
    """Stream each epoch's logs to a CSV file (``epoch`` first, then the keys sorted).

    ``append=True`` continues an existing file (its header is kept); the file is flushed after
    every row, so a killed run keeps the epochs it finished.
    """

    def __init__(
        self, filename: str | os.PathLike, separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer: Any = None
        self.keys: list[str] | None = None
        self.append_header = True
        self.csv_file: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as existing:
                    self.append_header = not bool(len(existing.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")  # noqa: SIM115
        self.writer = None
        self.keys = None

    @staticmethod
    def _cell(value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
            return '"[' + ", ".join(map(str, value)) + ']"'
        return value

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            # Keras reserves val_ columns when the first epoch had no validation yet
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])
        if self.writer is None:

            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=Dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((key, self._cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
