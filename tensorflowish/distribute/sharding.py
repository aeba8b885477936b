"""Each rank's part of the data: arrays and structures sliced along the first axis, and
tf.data datasets sharded by ``Dataset.shard`` (tf.data owns dataset sharding; this module
depends on it, never the other way)."""

from __future__ import annotations

from ..data import Dataset, check_shard, shard_length
from .process import rank, size

__all__ = ["shard", "shard_length"]


def shard(data, num_shards: int | None = None, index: int | None = None,
          drop_remainder: bool = False):
    """Every `num_shards`-th element starting at `index` (TensorFlow's `Dataset.shard`).

    `data` is a tf.data.Dataset, or an array/Tensor or a tuple/list/dict of them sliced along
    the first axis. By default num_shards=size() and index=rank(), so each rank gets its own
    disjoint part. drop_remainder=True gives every shard the same length (the last
    len % num_shards elements are dropped), so all ranks make the same number of steps.

    >>> import numpy as np
    >>> from tensorflowish import distribute
    >>> distribute.shard(np.arange(7), 2, 1).tolist()
    [1, 3, 5]
    """
    if (num_shards is None) != (index is None):
        raise ValueError("shard: give both num_shards and index, or neither (then each rank "
                         "takes its own: num_shards=size(), index=rank()).")
    if num_shards is None:
        num_shards, index = size(), rank()
    num_shards, index = check_shard(num_shards, index)
    if isinstance(data, Dataset):
        # a dataset of slices stays one, so shuffle/batch after shard keep the whole-array path
        return data._shard(num_shards, index, drop_remainder)

    def one(leaf):
        length = leaf.shape[0] if hasattr(leaf, "shape") and len(leaf.shape) else len(leaf)
        stop = length - length % num_shards if drop_remainder else length
        return leaf[index:stop:num_shards]

    def walk(structure):
        if isinstance(structure, dict):
            return {key: walk(value) for key, value in structure.items()}
        if isinstance(structure, tuple) and not hasattr(structure, "shape"):
            return tuple(walk(item) for item in structure)
        if isinstance(structure, list) and structure and hasattr(structure[0], "shape"):
            return [walk(item) for item in structure]
        return one(structure)

    return walk(data)
