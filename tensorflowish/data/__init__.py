"""``tf.data``: input pipelines that stream.

A dataset is a recipe; iterating it yields elements (a Tensor, or a tuple/dict of Tensors).
The package holds the ``Dataset`` class with every method (``dataset``), where elements come
from (``sources``: arrays, ranges, generators, text files, file lists), element-wise and ordering
transformations (``transformations``), grouping (``batching``: batch, padded_batch, window,
buckets), picking across datasets (``selection``), threads (``parallel``: map, prefetch,
interleave), ``Options`` (``options``), ``save``/``load`` (``snapshot``), element specs
(``structure``) and ``tf.data.experimental`` (CSV files and TensorFlow's experimental names).

    >>> import tensorflowish as tf
    >>> ds = tf.data.Dataset.range(6).filter(lambda x: x % 2 == 0).map(lambda x: x * 10)
    >>> [int(x) for x in ds]
    [0, 20, 40]

``TFRecordDataset`` is left out on purpose: TFRecord files are TensorFlow's protobuf format.
"""

from . import experimental
from .batching import _BatchDataset, _UnbatchDataset  # keras.trainers.data_adapter reads them
from .dataset import (
    AUTOTUNE,
    INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY,
    Dataset,
)
from .options import (
    AutotuneOptions,
    DistributeOptions,
    OptimizationOptions,
    Options,
    ThreadingOptions,
)
from .sources import TextLineDataset, _SliceDataset
from .structure import DatasetSpec, TensorSpec
from .transformations import check_shard, shard_length

__all__ = [
    "AUTOTUNE", "AutotuneOptions", "Dataset", "DatasetSpec", "DistributeOptions",
    "INFINITE_CARDINALITY", "OptimizationOptions", "Options", "TensorSpec", "TextLineDataset",
    "ThreadingOptions", "UNKNOWN_CARDINALITY", "experimental",
]  # fmt: skip


def __getattr__(name: str):
    if name in ("TFRecordDataset", "FixedLengthRecordDataset"):
        from tensorflowish import errors

        raise errors.UnimplementedError(
            None, None,
            f"tf.data.{name} is left out of tensorflowish on purpose (TFRecord is TensorFlow's "
            "protobuf file format). Read text with tf.data.TextLineDataset, CSV with "
            "tf.data.experimental.CsvDataset, or write a dataset once with dataset.save(path) "
            "and read it with tf.data.Dataset.load(path).",
        )
    raise AttributeError(f"module 'tensorflowish.data' has no attribute {name!r}")
