"""``TensorBoard``: training curves, weight histograms and the model as text, for TensorBoard.

Written through ``tf.summary`` (tensorboardX underneath, the ``tensorboard`` extra), in Keras's
layout: ``log_dir/train`` and ``log_dir/validation``, scalars ``epoch_loss``,
``epoch_accuracy``... per epoch and ``batch_loss``... every ``update_freq`` batches.
"""

from __future__ import annotations

import io
import os
import time
from contextlib import redirect_stdout

from tensorflowish import summary
from tensorflowish.keras.callbacks.callback import Callback

__all__ = ["TensorBoard"]


class TensorBoard(Callback):
    """Log metrics (and optionally weight histograms) for TensorBoard.

    ``update_freq='epoch'`` writes once per epoch; an integer ``N`` also writes the running
    metrics as ``batch_<name>`` every N training batches (step = global batch number).
    ``histogram_freq=N`` writes a histogram of every weight every N epochs.
    ``write_graph`` writes the model's summary as text (tag ``model``) at step 0.
    Profiling and embeddings are not supported: ``profile_batch`` must stay 0 and
    ``embeddings_freq`` 0.

    >>> import tensorflowish as tf
    >>> board = tf.keras.callbacks.TensorBoard(log_dir="logs")  # then fit(..., callbacks=[board])
    """

    def __init__(
        self,
        log_dir: str | os.PathLike = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: dict | None = None,
    ) -> None:
        super().__init__()
        summary._tensorboardx()  # fail now, with the install hint, not after an epoch
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(
                f"TensorBoard(update_freq=...) must be 'epoch' or a positive integer, got "
                f"{update_freq!r}."
            )
        if profile_batch not in (0, None, (0, 0)) or embeddings_freq:
            raise NotImplementedError(
                "TensorBoard: profiling (profile_batch) and embeddings (embeddings_freq) are not "
                "supported by tensorflowish; leave them at 0."
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self._writers: dict[str, summary.SummaryWriter] = {}
        self._train_step = 0
        self._epoch_started = 0.0
        self._epoch_batches = 0

    def _writer(self, kind: str) -> summary.SummaryWriter:
        if kind not in self._writers:
            path = os.path.join(self.log_dir, kind)
            self._writers[kind] = summary.create_file_writer(path)
        return self._writers[kind]

    def _write_model_text(self) -> None:
        buffer = io.StringIO()
        try:
            with redirect_stdout(buffer):
                self.model.summary()
        except ValueError:  # a model not built yet has no summary
            return
        text = "```\n" + buffer.getvalue() + "\n```"
        with self._writer("train").as_default(step=0):
            summary.text("model", text)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._train_step = 0
        if self.write_graph:
            self._write_model_text()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started = time.perf_counter()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._train_step += 1
        self._epoch_batches += 1
        if self.update_freq == "epoch" or self._train_step % self.update_freq:
            return
        with self._writer("train").as_default(step=self._train_step):
            for name, value in (logs or {}).items():
                summary.scalar(f"batch_{name}", value)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if self.write_steps_per_second and self._epoch_batches:
            seconds = time.perf_counter() - self._epoch_started
            train["steps_per_second"] = self._epoch_batches / max(seconds, 1e-12)
        optimizer = getattr(self.model, "optimizer", None)
        if "learning_rate" not in train and hasattr(optimizer, "_current_learning_rate"):
            train["learning_rate"] = float(optimizer._current_learning_rate())
        with self._writer("train").as_default(step=epoch):
            for name, value in train.items():
                summary.scalar(f"epoch_{name}", value)
            if self.histogram_freq and epoch % self.histogram_freq == 0:
                self._log_weights()
        if validation:
            with self._writer("validation").as_default(step=epoch):
                for name, value in validation.items():
                    summary.scalar(f"epoch_{name}", value)

    def _log_weights(self) -> None:
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.name.split(":")[0].replace(":", "_")
                if not name.startswith(layer.name + "/"):
                    name = f"{layer.name}/{name}"
                summary.histogram(f"{name}/histogram", weight)
                if self.write_images and len(weight.shape) == 2:
                    values = weight.numpy()
                    span = float(values.max() - values.min()) or 1.0
                    picture = ((values - values.min()) / span)[None, :, :, None]
                    summary.image(f"{name}/image", picture)

    def on_test_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
