"""Callbacks that write training state to disk: ``ModelCheckpoint`` and ``BackupAndRestore``."""

from __future__ import annotations

import math
import os
import shutil
import warnings
from typing import Any

import numpy as np

from tensorflowish import checkpoint
from tensorflowish.keras.callbacks.callback import Callback
from tensorflowish.keras.callbacks.monitors import _monitor_op

__all__ = ["BackupAndRestore", "ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when ``monitor`` improved
    (``save_best_only``), atomically. The file name says what is saved, as in Keras 3:
    ``*.keras`` the whole model (unless ``save_weights_only``), ``*.weights.h5`` or
    ``*.safetensors`` the weights. ``filepath`` may contain ``{epoch:02d}`` and log keys such
    as ``{val_loss:.3f}``."""

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
        if path.endswith(".keras") and not self.save_weights_only:
            self.model.save(path)
        else:
            self.model.save_weights(path)


class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` so that a killed ``fit`` resumes where it was.

    After every epoch (or every ``save_freq`` batches) the model's weights, the optimiser's
    state and the number of finished epochs go into ONE checksummed file written atomically
    (``backup_dir/backup.safetensors``), so a kill at any moment leaves either the old backup
    or the new one. When ``fit`` starts with the callback and a backup exists, the model and
    optimiser get their state back and training continues at the next epoch (a backup taken
    mid-epoch restarts that epoch). ``delete_checkpoint=True`` removes the folder when training
    ends normally; ``double_checkpoint=True`` keeps the previous backup as a fallback for a
    backup that fails its checksum.
    """

    FILENAME = "backup.safetensors"

    def __init__(
        self,
        backup_dir: str | os.PathLike,
        save_freq: str | int = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(
                "Invalid value for argument `save_freq`. "
                f"Received: save_freq={save_freq}. Expected either 'epoch' or an integer value."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, self.FILENAME)
        self._previous_path = self._path + ".bkp"
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch_seen = -1

    # --- what a backup holds ---------------------------------------------------------------

    def _optimizer_state(self) -> tuple[Any, list]:
        """The optimiser and its per-variable slot dicts, in the model's variable order."""
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "_slots_for"):
            return optimizer, []
        optimizer.build(self.model.trainable_variables)
        return optimizer, [optimizer._slots_for(v) for v in self.model.trainable_variables]

    def _save(self, epoch: int) -> None:
        arrays: dict[str, Any] = {}
        for index, weight in enumerate(self.model.get_weights()):
            arrays[f"model/{index:04d}"] = weight
        optimizer, slots = self._optimizer_state()
        if optimizer is not None and hasattr(optimizer, "iterations"):
            arrays["optimizer/iterations"] = np.asarray(optimizer.iterations.numpy())
        for index, slot in enumerate(slots):
            for name, array in slot.items():
                arrays[f"optimizer/{index:04d}/{name}"] = array
        if self.double_checkpoint and os.path.exists(self._path):
            shutil.copyfile(self._path, self._previous_path)
        checkpoint.save_arrays(self._path, arrays, metadata={"epoch": str(epoch)})

    def _load(self, path: str) -> None:
        stored = checkpoint.load_arrays(path)
        epoch = int(checkpoint.read_metadata(path)["epoch"])
        weights = [stored[key] for key in sorted(k for k in stored if k.startswith("model/"))]
        self.model.set_weights(weights)
        optimizer, slots = self._optimizer_state()
        if "optimizer/iterations" in stored and optimizer is not None:
            optimizer.iterations.assign(stored["optimizer/iterations"].reshape(()))
        from tensorflowish import backend

        for index, slot in enumerate(slots):
            for name in slot:
                key = f"optimizer/{index:04d}/{name}"
                if key not in stored:
                    raise checkpoint.CheckpointError(
                        f"{path} has no optimiser state {key!r}; it was written for another "
                        "model or optimiser. Delete the backup folder to start afresh."
                    )
                # a fresh array in place of the old one: nothing else that held it changes
                slot[name] = backend.get_array_module(slot[name]).asarray(stored[key])
        self.model._initial_epoch = epoch

    # --- hooks -----------------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not os.path.exists(self._path):
            return
        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, your model must be built before you call "
                f"`fit()`. Model {self.model.name} is unbuilt: call it on a batch of data first."
            )
        try:
            self._load(self._path)
        except (checkpoint.CheckpointError, OSError, ValueError):
            if not os.path.exists(self._previous_path):
                raise
            warnings.warn(
                f"The backup {self._path} is damaged; resuming from the previous one.",
                stacklevel=2,
            )
            self._load(self._previous_path)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch
        self._last_batch_seen = -1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save(epoch + 1)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        # the steps since the last call: k with steps_per_execution=k (batch numbers jump by k)
        self._batches_since_save += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch)  # restarts this epoch on resume

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
