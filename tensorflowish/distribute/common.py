"""What every part of distribute shares: its settings and its errors."""

from __future__ import annotations

INSTALL_HINT = "pip install 'tensorflowish[distributed]'"
TIMEOUT_VARIABLE = "TENSORFLOWISH_DISTRIBUTE_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
DEFAULT_BUCKET_BYTES = 64 * 2**20
OPS = ("average", "sum", "min", "max")
LAUNCHER = "mpiexec.gforker"

# Environment variables by which MPI launchers tell a process how many processes it is one of.
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")

# Tags of the small control messages sent point to point on a communicator of their own.
_FAILED, _EXITED, _QUERY, _STATUS, _ACK = range(1, 6)


class DistributedError(RuntimeError):
    """A collective call cannot go on: a rank failed, left, hangs, or the set-up is wrong."""


class PeerFailedError(DistributedError):
    """Another rank raised an exception; `failed_rank` says which."""

    def __init__(self, message: str, failed_rank: int) -> None:
        super().__init__(message)
        self.failed_rank = failed_rank


class CollectiveTimeoutError(DistributedError):
    """Some ranks did not join a collective call before the deadline; `missing_ranks` lists them."""

    def __init__(self, message: str, missing_ranks: list[int]) -> None:
        super().__init__(message)
        self.missing_ranks = missing_ranks


class MismatchError(DistributedError, ValueError):
    """Ranks called a collective with different shapes, dtypes, kinds of call or call counts."""
