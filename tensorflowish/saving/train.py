"""``tf.train``: object-based checkpoints (``Checkpoint``, ``CheckpointManager``,
``latest_checkpoint``). See :mod:`tensorflowish.saving.tf_checkpoint` for the file format."""

from tensorflowish.saving.tf_checkpoint import (
    Checkpoint,
    CheckpointLoadStatus,
    CheckpointManager,
    CheckpointReader,
    latest_checkpoint,
    list_variables,
    load_checkpoint,
)

__all__ = ["Checkpoint", "CheckpointLoadStatus", "CheckpointManager", "CheckpointReader",
           "latest_checkpoint", "list_variables", "load_checkpoint"]
