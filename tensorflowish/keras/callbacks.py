"""Callbacks (``tf.keras.callbacks``): hooks that ``fit``/``evaluate``/``predict`` call.

>>> import tensorflowish as tf
>>> stop = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tensorflowish.keras.utils import Progbar

__all__ = [
    "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "TerminateOnNaN",
]  # fmt: skip


class Callback:
    """Base class: override any of the ``on_*`` methods. ``self.model`` is the model."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        """Attach the model being trained."""
        self.model = model

    def set_params(self, params: dict) -> None:
        """Receive ``epochs``, ``steps`` and ``verbose``."""
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once before training."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once after training."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of each epoch (``epoch`` counts from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of each epoch with its metrics (``val_`` ones too)."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each training batch."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each training batch with the running metrics."""

    def on_test_begin(self, logs: dict | None = None) -> None:
        """Called before evaluation."""

    def on_test_end(self, logs: dict | None = None) -> None:
        """Called after evaluation."""

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each evaluation batch."""

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each evaluation batch."""

    def on_predict_begin(self, logs: dict | None = None) -> None:
        """Called before prediction."""

    def on_predict_end(self, logs: dict | None = None) -> None:
        """Called after prediction."""

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each prediction batch."""

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each prediction batch."""

    # TensorFlow's older names for the training batch hooks.
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Alias of ``on_train_batch_begin``."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Alias of ``on_train_batch_end``."""


_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _overrides(callback: Callback, method: str) -> bool:
    bound = getattr(callback, method, None)
    return getattr(bound, "__func__", bound) is not getattr(Callback, method, None)


class CallbackList:
    """Calls every callback in order; skips batch hooks nobody overrides (they cost time)."""

    def __init__(self, callbacks: Iterable[Callback], model: Any, params: dict) -> None:
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be tf.keras.callbacks.Callback instances, got "
                    f"{type(callback).__name__}."
                )
            callback.set_model(model)
            callback.set_params(params)
        self._wants_batches = {
            mode: any(_overrides(c, m) for c in self.callbacks for m in methods)
            for mode, methods in _BATCH_HOOKS.items()
        }

    def wants_batch_hooks(self, mode: str) -> bool:
        """Whether any callback implements a batch hook of ``mode`` ('train', 'test', ...)."""
        return self._wants_batches[mode]

    def _call(self, method: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, method)(*args)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._wants_batches["train"]:
            for callback in self.callbacks:
                callback.on_train_batch_begin(batch, logs)
                callback.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._wants_batches["train"]:
            for callback in self.callbacks:
                callback.on_train_batch_end(batch, logs)
                callback.on_batch_end(batch, logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._wants_batches["test"]:
            self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._wants_batches["test"]:
            self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._wants_batches["predict"]:
            self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._wants_batches["predict"]:
            self._call("on_predict_batch_end", batch, logs)


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


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss becomes NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


def _monitor_op(mode: str, monitor: str) -> Callable[[float, float], bool]:
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"Mode {mode!r} is unknown, falling back to 'auto'.", stacklevel=3)
        mode = "auto"
    if mode == "auto":
        higher_is_better = any(
            token in monitor for token in ("acc", "auc", "precision", "recall", "fmeasure")
        )
        mode = "max" if higher_is_better else "min"
    return np.greater if mode == "max" else np.less


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model gets the weights of its best epoch back.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.monitor_op = _monitor_op(mode, monitor)
        self.min_delta = abs(min_delta) if self.monitor_op is np.greater else -abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float = math.inf
        self.best_weights: list | None = None
        self.best_epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -math.inf if self.monitor_op is np.greater else math.inf
        self.best_weights = None
        self.best_epoch = 0

    def _improves(self, value: float, reference: float) -> bool:
        return bool(self.monitor_op(value - self.min_delta, reference))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"EarlyStopping is conditioned on '{self.monitor}', which is not available. "
                f"Available metrics: {', '.join(logs or {})}.",
                stacklevel=2,
            )
            return
        if epoch < self.start_from_epoch:
            return
        current = float(current)
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose > 0:
                    print(
                        f"Restoring model weights from the end of the best epoch: "
                        f"{self.best_epoch + 1}."
                    )
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(Callback):
    """Save the weights (safetensors, atomically) after every epoch, or only when ``monitor``
    improved (``save_best_only``). ``filepath`` may contain ``{epoch:02d}`` and log keys such as
    ``{val_loss:.3f}``. Only weights are saved, whatever ``save_weights_only`` says."""

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint supports save_freq='epoch' only, got {save_freq!r}.")
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.monitor_op = _monitor_op(mode, monitor)
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = -math.inf if self.monitor_op is np.greater else math.inf

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from tensorflowish import distribute

        if distribute.size() > 1 and not distribute.is_chief():
            return  # data-parallel training: rank 0 alone writes checkpoints
        logs = dict(logs or {})
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint filepath {self.filepath!r} refers to {error}, which is not "
                f"in the logs ({', '.join(logs)})."
            ) from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(
                    f"Can save best model only with {self.monitor} available, skipping.",
                    stacklevel=2,
                )
                return
            if not self.monitor_op(float(current), self.best):
                if self.verbose > 0:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                    f"{float(current):.5f}, saving model to {path}"
                )
            self.best = float(current)
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        self.model.save_weights(path)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``)."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        current = float(optimizer._current_learning_rate())
        try:
            rate = self.schedule(epoch, current)
        except TypeError:  # a schedule of the epoch only
            rate = self.schedule(epoch)
        rate = float(rate.numpy() if hasattr(rate, "numpy") else rate)
        if not math.isfinite(rate):
            raise ValueError(f"The learning-rate schedule returned {rate} for epoch {epoch}.")
        optimizer.learning_rate = rate
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer._current_learning_rate())


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks: Callable[..., None]) -> None:
        super().__init__()
        allowed = {name for name in dir(Callback) if name.startswith("on_")}
        for name, function in hooks.items():
            if name not in allowed:
                raise TypeError(f"LambdaCallback got unknown hook {name!r}.")
            setattr(self, name, function)
