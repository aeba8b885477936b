"""Data-parallel training across processes, Horovod's model, on existing engines.

Every process runs the same script on its own shard of the data; gradients are averaged across
processes before each update, so all copies of the model stay identical. The communication is
done by trusted engines, never by a protocol of our own: MPI through mpi4py for host (NumPy)
arrays, NCCL through CuPy for GPU arrays (MPI only hands NCCL its id).

    mpiexec.gforker -n 2 python train.py          # with UCX_NET_DEVICES=lo for a single host

    >>> import tensorflowish as tf
    >>> from tensorflowish import distribute
    >>> distribute.init()                          # size 1 when not started by mpiexec
    >>> distribute.size(), distribute.rank()
    (1, 0)
    >>> float(distribute.allreduce(tf.constant(3.0), op="sum"))
    3.0

How one collective call runs (every public call below that communicates):
1. *Agree*: a small non-blocking allgather of a signature (call number, what is reduced: the
   kind of call, dtypes and shapes, a hash of which gradients are None) polled with a deadline.
   It is where a rank that failed, exited or hangs is noticed and named, and where different
   shapes or dtypes on different ranks are named instead of producing garbage.
2. *Move the data*: the tensors are flattened into a few fused buffers (buckets of
   `bucket_bytes`, 64 MiB by default, one per dtype at least) and each buffer goes through one
   blocking MPI ``Allreduce``/``Bcast`` (or an NCCL call for GPU buffers). Blocking because every
   rank is known to be present by then, and MPICH's blocking collectives are the fastest
   (polling a non-blocking one stalls whenever another process shares the core).

A rank whose script raises tells the others before it stops (see `_on_uncaught_exception`); the
others raise `PeerFailedError` naming it at their next collective call, and the job ends with
``MPI_Abort``. A rank that dies without a word is caught by the launcher (mpiexec.gforker stops
the others) or, under another launcher, by the deadline of the next collective call.
"""

import sys as _sys

from ..function import tracing as _tracing
from .collectives import (
    allreduce,
    allreduce_gradients,
    allreduce_metrics,
    barrier,
    broadcast,
    broadcast_variables,
)
from .common import (
    DEFAULT_BUCKET_BYTES,
    DEFAULT_TIMEOUT,
    INSTALL_HINT,
    LAUNCHER,
    OPS,
    TIMEOUT_VARIABLE,
    CollectiveTimeoutError,
    DistributedError,
    MismatchError,
    PeerFailedError,
)
from .launcher import find_launcher, launch
from .nccl import gpu_engine
from .process import (
    init,
    is_chief,
    is_initialized,
    local_rank,
    local_size,
    rank,
    size,
)
from .sharding import shard, shard_length
from .training import DistributedGradientTape, DistributedOptimizer

__all__ = [
    "CollectiveTimeoutError", "DistributedError", "DistributedGradientTape",
    "DistributedOptimizer", "MismatchError", "PeerFailedError", "allreduce",
    "allreduce_gradients", "allreduce_metrics", "barrier", "broadcast", "broadcast_variables",
    "find_launcher", "gpu_engine", "init", "is_chief", "is_initialized", "launch", "local_rank",
    "local_size", "rank", "shard", "shard_length", "size",
]

# The package's parts, by what they hold:
#   common       settings and errors           process      init/rank/size, exit and failure notices
#   mpi          the MPI back end (agreement)  nccl         the NCCL back end for CuPy buffers
#   collectives  allreduce/broadcast/barrier   training     DistributedGradientTape/Optimizer
#   sharding     each rank's part of the data  launcher     mpiexec.gforker as n processes

# Data-parallel fit: the gradients' allreduce is one line of a traced step (not run in spec-only
# traces). The tf.function package sits below this one and is told so here (docs/layout.md).
_tracing.trace_function_as_stateful(_sys.modules[__name__], "allreduce_gradients",
                                    lambda gradients, *a, **k: list(gradients))
