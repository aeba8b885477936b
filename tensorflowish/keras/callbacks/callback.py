"""The callback base class, the list that calls callbacks, and ``LambdaCallback``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Callback", "CallbackList", "LambdaCallback"]


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


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks: Callable[..., None]) -> None:
        super().__init__()
        allowed = {name for name in dir(Callback) if name.startswith("on_")}
        for name, function in hooks.items():
            if name not in allowed:
                raise TypeError(f"LambdaCallback got unknown hook {name!r}.")
            setattr(self, name, function)
