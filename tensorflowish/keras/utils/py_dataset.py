"""``keras.utils.PyDataset`` (also ``keras.utils.Sequence``): a Python object that gives batches
by index, for ``fit``/``evaluate``/``predict``.

    >>> import numpy as np, tensorflowish as tf
    >>> class Batches(tf.keras.utils.PyDataset):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, index):
    ...         x = np.full((4, 2), index, np.float32)
    ...         return x, x.sum(axis=1)
    >>> len(Batches()), Batches()[2][1].tolist()
    (3, [4.0, 4.0, 4.0, 4.0])
"""

from __future__ import annotations

from typing import Any

__all__ = ["PyDataset", "Sequence"]


class PyDataset:
    """Base class for data given batch by batch: override ``__len__`` (the number of batches)
    and ``__getitem__(index)`` (batch ``index`` as ``x``, ``(x, y)`` or ``(x, y,
    sample_weight)``); ``on_epoch_end()`` runs after every epoch (e.g. to reshuffle).

    ``workers > 1`` loads that many batches at once in a thread pool, ahead of training (at most
    ``max_queue_size`` batches in flight): NumPy and file reading release the GIL, so loading
    overlaps training. ``use_multiprocessing=True`` is accepted but runs in threads too: worker
    processes would need the dataset to be picklable and copy every batch between processes.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"PyDataset workers must be a positive integer, got {workers!r}.")
        if not isinstance(max_queue_size, int) or max_queue_size < 1:
            raise ValueError(f"PyDataset max_queue_size must be a positive integer, got "
                             f"{max_queue_size!r}.")
        self._workers, self._use_multiprocessing = workers, bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        """How many batches are loaded at once (threads)."""
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        """Accepted for Keras compatibility; loading always uses threads here."""
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        """How many batches may be loaded ahead of training."""
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index).")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__().")

    @property
    def num_batches(self) -> int | None:
        """The number of batches (``len(self)``)."""
        return len(self)

    def on_epoch_end(self) -> None:
        """Called after each epoch."""


Sequence = PyDataset  # the Keras 2 name
