"""How the trainer reads data: batches unpacked into (x, y, sample_weight), batch sizes,
and outputs gathered back to the host."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorflowish import backend as tf_backend
from tensorflowish.data import Dataset
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
