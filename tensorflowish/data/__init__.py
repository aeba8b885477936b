"""``tf.data``: input pipelines that stream.

A dataset is a recipe; iterating it yields elements (a Tensor, or a tuple/dict of Tensors).
The package holds the dataset core (``dataset``: sources from memory, the classic
transformations and the fast slice/shuffle/batch path), readers of files and generators
(``sources``), the other transformations (``transformations``), parallel map and prefetch in
threads (``parallel``), and ``tf.data.experimental`` (CSV, save/load, options: ``experimental``).

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
