"""``tf.summary``: TensorBoard logs from custom training loops.

The event files are written by tensorboardX (the ``tensorboard`` extra), a writer library
that needs no TensorFlow; TensorBoard reads them as it reads TensorFlow's own.

    >>> import tensorflowish as tf
    >>> writer = tf.summary.create_file_writer("logs/run1")      # doctest: +SKIP
    >>> with writer.as_default(step=0):                            # doctest: +SKIP
    ...     tf.summary.scalar("loss", 0.25)
    True

As in TensorFlow, a summary op with no default writer does nothing and returns False, and a
step must be given (``step=``, ``as_default(step=...)`` or ``tf.summary.experimental.set_step``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "SummaryWriter", "create_file_writer", "create_noop_writer", "experimental", "flush",
    "histogram", "image", "record_if", "scalar", "should_record_summaries", "text",
]  # fmt: skip

_INSTALL_HINT = 'pip install "tensorflowish[tensorboard]"'


def _tensorboardx() -> Any:
    try:
        import tensorboardX
    except ImportError as error:
        raise ImportError(
            "TensorBoard logs are written with tensorboardX, which is not installed; "
            f"install the extra: {_INSTALL_HINT}"
        ) from error
    return tensorboardX


class _State(threading.local):
    def __init__(self) -> None:
        self.writers: list[SummaryWriter] = []
        self.step: int | None = None
        self.record: list = []  # record_if conditions, innermost last


_state = _State()


class SummaryWriter:
    """Writes summaries to one TensorBoard log directory (``tf.summary.create_file_writer``).

    Use it as the default writer with ``with writer.as_default():`` or ``set_as_default()``.
    """

    def __init__(
        self,
        logdir: str | os.PathLike | None,
        max_queue: int | None = None,
        flush_millis: int | None = None,
        filename_suffix: str | None = None,
    ) -> None:
        self.logdir = None if logdir is None else os.fspath(logdir)
        self._writer: Any = None
        if self.logdir is not None:
            tensorboardx = _tensorboardx()
            self._writer = tensorboardx.SummaryWriter(
                logdir=self.logdir,
                max_queue=10 if max_queue is None else int(max_queue),
                flush_secs=120 if flush_millis is None else max(1, int(flush_millis) // 1000),
                filename_suffix=filename_suffix or "",
            )

    @contextlib.contextmanager
    def as_default(self, step: int | None = None) -> Iterator[SummaryWriter]:
        """Make this the default writer inside the block (and ``step`` the default step)."""
        _state.writers.append(self)
        previous_step = _state.step
        if step is not None:
            _state.step = _as_step(step)
        try:
            yield self
        finally:
            _state.writers.pop()
            if step is not None:
                _state.step = previous_step
            self.flush()

    def set_as_default(self, step: int | None = None) -> None:
        """Make this the default writer from now on (and ``step`` the default step)."""
        _state.writers[:] = [self]
        if step is not None:
            _state.step = _as_step(step)

    def init(self) -> None:
        """Accepted for compatibility: the file is created when the writer is."""

    def flush(self) -> None:
        """Write pending events to disk."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file; later summaries to this writer are an error."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._closed = True

    _closed = False

    def _target(self) -> Any:
        if self._closed:
            raise RuntimeError(
                f"The summary writer for {self.logdir!r} is closed; create a new one with "
                "tf.summary.create_file_writer."
            )
        return self._writer


def create_file_writer(
    logdir: str | os.PathLike,
    max_queue: int | None = None,
    flush_millis: int | None = None,
    filename_suffix: str | None = None,
    name: str | None = None,
    experimental_trackable: bool = False,
    experimental_mesh: Any = None,
) -> SummaryWriter:
    """A writer of event files under ``logdir`` (created if missing)."""
    return SummaryWriter(logdir, max_queue, flush_millis, filename_suffix)


def create_noop_writer() -> SummaryWriter:
    """A writer that writes nothing (summary ops under it return False)."""
    return SummaryWriter(None)


def _as_step(step: Any) -> int:
    value = np.asarray(step.numpy() if hasattr(step, "numpy") else step)
    if value.ndim != 0 or not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"A summary step must be an integer scalar, got {step!r}.")
    return int(value)


@contextlib.contextmanager
def record_if(condition: Any) -> Iterator[None]:
    """Inside the block, summaries are written only while ``condition`` (a bool, or a function
    returning one, asked at each summary) is true."""
    _state.record.append(condition)
    try:
        yield
    finally:
        _state.record.pop()


def should_record_summaries() -> bool:
    """Whether a summary written now would be recorded (a default writer, record_if true)."""
    if not _state.writers or _state.writers[-1]._writer is None:
        return False
    if not _state.record:
        return True
    condition = _state.record[-1]
    value = condition() if callable(condition) else condition
    return bool(value.numpy() if hasattr(value, "numpy") else value)


def _resolve(name: str, step: Any) -> tuple[Any, int] | None:
    """The tensorboardX writer and step to use, or None when nothing is to be written."""
    if not _state.writers:
        return None
    writer = _state.writers[-1]._target()  # a closed writer is an error, not silence
    if writer is None or not should_record_summaries():
        return None
    if step is None:
        step = _state.step
    if step is None:
        raise ValueError(
            f"No step set for summary {name!r}: pass step=..., or use "
            "writer.as_default(step=...) or tf.summary.experimental.set_step(step)."
        )
    return writer, _as_step(step)


def _host(data: Any) -> np.ndarray:
    from tensorflowish import backend

    if hasattr(data, "array"):
        return backend.to_numpy(data.array)
    return np.asarray(data)


def scalar(name: str, data: Any, step: int | None = None, description: str | None = None) -> bool:
    """Log one number under ``name``; returns False when there is no default writer."""
    target = _resolve(name, step)
    if target is None:
        return False
    value = _host(data)
    if value.size != 1:
        raise ValueError(f"tf.summary.scalar({name!r}) needs a scalar, got shape {value.shape}.")
    writer, step = target
    writer.add_scalar(name, float(value.reshape(())), global_step=step)
    return True


def histogram(
    name: str,
    data: Any,
    step: int | None = None,
    buckets: int | None = None,
    description: str | None = None,
) -> bool:
    """Log the distribution of ``data``'s values in ``buckets`` (default 30) equal buckets."""
    target = _resolve(name, step)
    if target is None:
        return False
    writer, step = target
    values = _host(data).astype(np.float64).ravel()
    writer.add_histogram(name, values, global_step=step, bins=30 if buckets is None else buckets)
    return True


def image(
    name: str,
    data: Any,
    step: int | None = None,
    max_outputs: int = 3,
    description: str | None = None,
) -> bool:
    """Log up to ``max_outputs`` images from ``data`` of shape [k, height, width, channels].

    Floats are taken in [0, 1], integers in [0, 255]; channels are 1 (grey), 3 (RGB) or 4 (RGBA).
    Several images go under ``name/image/0``, ``name/image/1``... (TensorFlow 1's tags).
    """
    target = _resolve(name, step)
    if target is None:
        return False
    images = _host(data)
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"tf.summary.image({name!r}) needs [k, height, width, channels] with 1, 3 or 4 "
            f"channels, got shape {images.shape}."
        )
    if np.issubdtype(images.dtype, np.floating):
        # TensorFlow's convert_image_dtype: scale by 255.5, then truncate
        images = (np.clip(images, 0.0, 1.0) * 255.5).astype(np.uint8)
    else:
        images = np.clip(images, 0, 255).astype(np.uint8)
    writer, step = target
    chosen = images[: int(max_outputs)]
    for index, picture in enumerate(chosen):
        tag = name if len(chosen) == 1 else f"{name}/image/{index}"
        writer.add_image(tag, picture, global_step=step, dataformats="HWC")
    return True


def text(name: str, data: Any, step: int | None = None, description: str | None = None) -> bool:
    """Log a string (Markdown is rendered by TensorBoard's text dashboard)."""
    target = _resolve(name, step)
    if target is None:
        return False
    writer, step = target
    value = data.numpy() if hasattr(data, "numpy") else data
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, np.ndarray):
        value = "\n\n".join(
            item.decode("utf-8") if isinstance(item, bytes) else str(item) for item in value.ravel()
        )
    # tensorboardX's add_text would rename the tag to name/text_summary; TensorFlow keeps name
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    tensor = TensorProto(
        dtype="DT_STRING",
        string_val=[str(value).encode("utf-8")],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    event = Summary(value=[Summary.Value(tag=name, metadata=metadata, tensor=tensor)])
    writer._get_file_writer().add_summary(event, step)
    return True


def flush(writer: SummaryWriter | None = None, name: str | None = None) -> None:
    """Flush ``writer`` (or the default writer)."""
    if writer is None and _state.writers:
        writer = _state.writers[-1]
    if writer is not None:
        writer.flush()


def _set_step(step: Any) -> None:
    """Set the default step for summaries written without ``step=``."""
    _state.step = None if step is None else _as_step(step)


def _get_step() -> int | None:
    """The default step (None if unset)."""
    return _state.step


experimental = types.SimpleNamespace(set_step=_set_step, get_step=_get_step)
