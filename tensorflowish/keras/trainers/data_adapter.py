"""How the trainer reads data: batches unpacked into (x, y, sample_weight), batch sizes,
outputs gathered back to the host, Python generators and ``keras.utils.PyDataset`` read as
batches (in a thread pool when the PyDataset has ``workers > 1``), and class weights folded
into the sample weights."""

from __future__ import annotations

import concurrent.futures
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from tensorflowish import backend as tf_backend
from tensorflowish import random as tf_random
from tensorflowish.data import Dataset
from tensorflowish.keras.utils.py_dataset import PyDataset
from tensorflowish.tensor import Tensor


def _batch_size(value: Any) -> int:
    if isinstance(value, Tensor):
        return int(value.shape[0]) if value.ndim else 1
    if isinstance(value, dict):
        return _batch_size(next(iter(value.values())))
    if isinstance(value, (list, tuple)):
        return _batch_size(value[0])
    return len(value)


def _unpack(data: Any) -> tuple[Any, Any, Any]:
    """(x, y, sample_weight) from a batch: a tuple of 1-3 parts, or x alone."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(
            f"A batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of "
            f"{len(data)} parts."
        )
    return data, None, None


def _is_batched(dataset: Dataset) -> bool | None:
    """Whether a dataset yields batches: False for plain slices, None when it cannot tell."""
    from tensorflowish import data

    node: Any = dataset
    while node is not None:
        if isinstance(node, data._BatchDataset):
            return True
        if isinstance(node, data._UnbatchDataset):
            return False
        if isinstance(node, data._SliceDataset):
            return False
        node = getattr(node, "parent", None)
    return None


def _to_host_array(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host_array(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_host_array(v) for k, v in value.items()}
    return tf_backend.to_numpy(value)


def _concatenate(outputs: list) -> Any:
    first = outputs[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate([o[i] for o in outputs]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concatenate([o[k] for o in outputs]) for k in first}
    return np.concatenate(outputs, axis=0)


def _as_batch(value: Any, to_tensor: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_as_batch(v, to_tensor) for v in value)
    if isinstance(value, list) and value and not isinstance(value[0], (int, float)):
        return tuple(_as_batch(v, to_tensor) for v in value)
    if isinstance(value, dict):
        return {k: _as_batch(v, to_tensor) for k, v in value.items()}
    if value is None:
        return None
    return to_tensor(value)


class BatchSource:
    """Batches from a Python generator/iterator or a PyDataset, iterated like a batched
    ``tf.data.Dataset`` by the trainer (``iter()`` once per epoch, ``_cardinality()``)."""

    def __init__(self, data: Any, to_tensor: Any, shuffle: bool = False) -> None:
        self.data, self._to_tensor, self._shuffle = data, to_tensor, shuffle
        self._iterator: Iterator | None = None

    def _cardinality(self) -> int:
        if isinstance(self.data, PyDataset):
            return int(len(self.data))
        return -2  # unknown: a generator runs until it stops (or steps_per_epoch)

    def __iter__(self) -> Iterator:
        if isinstance(self.data, PyDataset):
            return self._py_dataset_batches()
        if self._iterator is None:  # a generator is consumed once, across epochs
            self._iterator = iter(self.data)
        return (_as_batch(batch, self._to_tensor) for batch in _until_stop(self._iterator))

    def _py_dataset_batches(self) -> Iterator:
        data = self.data
        order = np.arange(len(data))
        if self._shuffle:  # Keras shuffles the batch order of a PyDataset each epoch
            tf_random.numpy_generator().shuffle(order)
        # on_epoch_end runs once the epoch's last batch is loaded: the trainer stops reading
        # after its known number of steps, so code after the last yield would never run
        for position, batch in enumerate(self._load(data, order)):
            if position == len(order) - 1:
                data.on_epoch_end()
            yield _as_batch(batch, self._to_tensor)

    @staticmethod
    def _load(data: PyDataset, order: np.ndarray) -> Iterator:
        if data.workers <= 1:
            for index in order:
                yield data[int(index)]
            return
        with concurrent.futures.ThreadPoolExecutor(data.workers) as pool:
            indices = iter(order)
            pending = [pool.submit(data.__getitem__, int(index))
                       for index in itertools.islice(indices, data.max_queue_size)]
            while pending:
                batch = pending.pop(0).result()
                following = next(indices, None)
                if following is not None:
                    pending.append(pool.submit(data.__getitem__, int(following)))
                yield batch


def _until_stop(iterator: Iterator) -> Iterator:
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return


def is_batch_source(x: Any) -> bool:
    """Whether ``x`` is a PyDataset or a Python generator/iterator (not an array)."""
    if isinstance(x, PyDataset):
        return True
    if isinstance(x, (np.ndarray, Tensor, list, tuple, dict)) or hasattr(x, "__array__"):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not hasattr(x, "__len__"))


# --- class weights ------------------------------------------------------------------------------


def check_class_weight(class_weight: dict) -> np.ndarray:
    """Keras's rule: the keys are the classes 0..n-1; returns the weights as a lookup table."""
    if not isinstance(class_weight, dict) or not class_weight:
        raise ValueError(f"class_weight must be a dict {{class index: weight}}, got "
                         f"{class_weight!r}.")
    keys = sorted(int(k) for k in class_weight)
    if keys != list(range(len(keys))):
        raise ValueError(f"class_weight must have the keys 0 to {len(keys) - 1} (one per class), "
                         f"got {sorted(class_weight)}.")
    return np.array([float(class_weight[k]) for k in keys], dtype=np.float32)


def class_weights_for(y: Any, table: np.ndarray) -> np.ndarray:
    """One weight per example: ``table[class of y]`` (integer labels, (N, 1) labels, or one-hot
    rows whose arg-max is the class)."""
    labels = np.asarray(tf_backend.to_numpy(y.array) if isinstance(y, Tensor) else y)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(labels.shape[0], -1)[:, 0] if labels.ndim > 1 else labels
    labels = np.rint(labels).astype(np.int64) if labels.dtype.kind == "f" else \
        labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(table)):
        raise ValueError(f"A label is {int(labels.max())} but class_weight only has weights for "
                         f"classes 0 to {len(table) - 1}.")
    return table[labels]


def with_class_weights(y: Any, table: np.ndarray, sample_weight: Any = None) -> np.ndarray:
    """The per-example weights of arrays: ``table[class of y]``, times ``sample_weight``."""
    weights = class_weights_for(y, table)
    if sample_weight is None:
        return weights
    return weights * np.asarray(sample_weight, np.float32).reshape(len(weights), -1)[:, 0]


def validation_schedule(validation_freq: Any) -> Any:
    """``epoch -> whether to validate after it``: every n-th epoch for an int, the listed
    (1-based) epochs for a collection (TensorFlow 2's form)."""
    if isinstance(validation_freq, int):
        if validation_freq < 1:
            raise ValueError(f"validation_freq must be >= 1, got {validation_freq}.")
        return lambda epoch: (epoch + 1) % validation_freq == 0
    epochs = {int(e) for e in validation_freq}
    return lambda epoch: epoch + 1 in epochs


class ClassWeighted:
    """Batches of another source with ``class_weight`` folded into their sample weights."""

    def __init__(self, source: Any, table: np.ndarray) -> None:
        self.source, self.table = source, table

    def _cardinality(self) -> int:
        return self.source._cardinality()

    def __iter__(self) -> Iterator:
        for batch in self.source:
            if not isinstance(batch, tuple) or len(batch) < 2 or batch[1] is None:
                raise ValueError("class_weight needs targets: the data must give (x, y) batches.")
            x, y = batch[0], batch[1]
            weights = class_weights_for(y, self.table)
            if len(batch) == 3 and batch[2] is not None:
                weights = weights * np.asarray(tf_backend.to_numpy(
                    batch[2].array if isinstance(batch[2], Tensor) else batch[2]),
                    dtype=np.float32).reshape(len(weights), -1)[:, 0]
            xp = tf_backend.get_array_module(y.array) if isinstance(y, Tensor) else np
            yield x, y, Tensor(xp.asarray(weights))
