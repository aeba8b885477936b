"""The MPI back end: the process group (communicators, control messages, deadlines) and how
one collective call is agreed on and carried out with mpi4py."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import backend
from ..tensor import format_shape
from . import nccl
from .common import (
    _EXITED,
    _FAILED,
    _QUERY,
    _STATUS,
    TIMEOUT_VARIABLE,
    CollectiveTimeoutError,
    DistributedError,
    MismatchError,
    PeerFailedError,
)

# --- the process group ------------------------------------------------------------------------


class _Context:
    """Who this process is in the job, and the MPI communicators it talks through."""

    def __init__(self, timeout: float, bucket_bytes: int) -> None:
        self.timeout = timeout
        self.bucket_bytes = bucket_bytes
        self.rank, self.size, self.local_rank, self.local_size = 0, 1, 0, 1
        self.mpi: Any = None  # the mpi4py.MPI module when size > 1
        self.world: Any = None  # MPI.COMM_WORLD: only for Abort
        self.comm: Any = None  # collectives (a duplicate, so user MPI traffic never mixes in)
        self.control: Any = None  # point-to-point notices: failed, exited, status queries
        self.calls = 0  # collective calls made so far; equal on every rank when all is well
        self.current = "no collective call"
        self.pending_sends: list = []
        self.exited: dict[int, int] = {}  # rank -> how many calls it had made when it exited
        self.failed: dict[int, str] = {}
        self.answered: set[int] = set()
        self.closing = False
        self.nccl_communicators: dict[int, Any] = {}
        self.buffers: dict[tuple, Any] = {}

    def fused_buffer(self, xp: Any, dtype: np.dtype, count: int, device: int = 0) -> Any:
        """A contiguous buffer of `count` elements, reused from call to call: MPI (UCX) sets up
        each new memory region it moves, so a fresh buffer per call costs ~3x a reused one."""
        key = (xp.__name__, np.dtype(dtype).str, device)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.size < count:
            buffer = self.buffers[key] = xp.empty(count, dtype=dtype)
        return buffer[:count]

    @property
    def others(self) -> list[int]:
        return [r for r in range(self.size) if r != self.rank]

    def connect(self, MPI: Any) -> None:  # noqa: N803 - the module's own name
        self.mpi = MPI
        self.world = MPI.COMM_WORLD
        self.rank, self.size = self.world.Get_rank(), self.world.Get_size()
        self.comm = self.world.Dup()
        self.control = self.world.Dup()
        local = self.world.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()

    # --- control messages -----------------------------------------------------------------
    def send(self, destination: int, tag: int, message: Any) -> None:
        self.pending_sends = [r for r in self.pending_sends if not r.Test()]
        self.pending_sends.append(self.control.isend(message, dest=destination, tag=tag))

    def receive_notices(self) -> list[tuple[int, int, Any]]:
        """Every control message that has arrived, as (source, tag, message); answers queries."""
        MPI = self.mpi  # noqa: N806
        status = MPI.Status()
        notices = []
        while self.control.Iprobe(MPI.ANY_SOURCE, MPI.ANY_TAG, status):
            source, tag = status.Get_source(), status.Get_tag()
            message = self.control.recv(source=source, tag=tag)
            if tag == _QUERY:
                self.send(source, _STATUS, {"calls": self.calls, "current": self.current})
            notices.append((source, tag, message))
        return notices

    def check_peers(self) -> None:
        """Raise if another rank has failed, or has exited before reaching this call."""
        for source, tag, message in self.receive_notices():
            if tag == _FAILED:
                self.failed[source] = message["error"]
            elif tag == _EXITED:
                self.exited[source] = message["calls"]
            elif tag == _STATUS:
                self.answered.add(source)
        for source, error in self.failed.items():
            raise PeerFailedError(
                f"rank {source} failed with {error} while rank {self.rank} was in "
                f"{self.current}. Its traceback is in its own output; all ranks stop.", source)
        for source, calls in self.exited.items():
            if calls < self.calls:
                raise DistributedError(
                    f"rank {source} exited after {calls} collective calls, but rank {self.rank} "
                    f"is waiting for it in {self.current} (call {self.calls}). Every rank must "
                    "make the same collective calls: give each rank the same number of batches "
                    "per epoch (shard(..., drop_remainder=True), or agree on the step count with "
                    "allreduce(steps, op='min')).")

    # --- waiting with a deadline ----------------------------------------------------------
    def wait(self, request: Any) -> None:
        """Poll `request` until it completes, a peer is known to have failed, or the deadline."""
        start = time.monotonic()
        deadline = start + self.timeout
        pause = 0.0
        while not request.Test():
            self.check_peers()
            now = time.monotonic()
            if now >= deadline:
                self.raise_timeout()
            if now - start > 0.002:  # spin briefly (fast when all are there), then back off
                time.sleep(pause)
                pause = min(max(2 * pause, 2e-5), 1e-3)

    def raise_timeout(self) -> None:
        """Ask the others where they are, then raise naming the ranks that never came."""
        self.answered = set()
        for peer in self.others:
            self.send(peer, _QUERY, None)
        give_up = time.monotonic() + min(5.0, max(1.0, self.timeout / 4))
        while time.monotonic() < give_up and len(self.answered) < self.size - 1:
            self.check_peers()
            time.sleep(0.005)
        silent = [r for r in self.others if r not in self.answered]
        waiting = [self.rank] + sorted(self.answered)
        raise CollectiveTimeoutError(
            f"{self.current} (call {self.calls}) timed out after {self.timeout:g} s on rank "
            f"{self.rank}: rank(s) {_list(silent)} never joined it and did not answer (dead, "
            f"hung, or busy outside collective calls for longer than the timeout); rank(s) "
            f"{_list(waiting)} were waiting. If a rank legitimately needs longer (e.g. the chief "
            f"evaluating or writing checkpoints), raise the timeout: distribute.init(timeout=...) "
            f"or {TIMEOUT_VARIABLE}=<seconds>.", silent or self.others)

    # --- step 1 of every collective call: agree on what is reduced -------------------------
    def agree(self, kind: str, detail: str, root: int, specs: list[tuple]) -> np.ndarray:
        """Check that every rank makes the same call; return which entries any rank has.

        specs: one (name, "backend:dtype", shape, present) per tensor.
        """
        self.calls += 1
        self.current = kind
        structure = [kind, detail, root, [[s[1], list(s[2])] for s in specs]]
        presence = np.fromiter((bool(s[3]) for s in specs), dtype=np.uint8, count=len(specs))
        description = json.dumps({"kind": kind, "detail": detail, "root": root,
                                   "tensors": [[s[0], s[1], list(s[2])] for s in specs]}).encode()
        mine = np.array([self.calls, _digest(structure), _digest(presence.tobytes()),
                         len(description)], dtype=np.int64)
        everyone = np.empty((self.size, 4), dtype=np.int64)
        self.wait(self.comm.Iallgather(mine, everyone))
        if not (everyone[:, :2] == mine[:2]).all():
            self.raise_mismatch(everyone, description)
        if (everyone[:, 2] != mine[2]).any():  # some gradient is None on some ranks only
            everyone_presence = np.empty((self.size, len(specs)), dtype=np.uint8)
            self.wait(self.comm.Iallgather(presence, everyone_presence))
            presence = everyone_presence.max(axis=0)
        return presence.astype(bool)

    def raise_mismatch(self, everyone: np.ndarray, description: bytes) -> None:
        lengths = everyone[:, 3].astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        gathered = np.empty(int(lengths.sum()), dtype=np.uint8)
        self.wait(self.comm.Iallgatherv(
            np.frombuffer(description, dtype=np.uint8),
            [gathered, (lengths.tolist(), offsets.tolist()), self.mpi.BYTE]))
        calls = everyone[:, 0].tolist()
        descriptions = [json.loads(gathered[o:o + n].tobytes()) for o, n in zip(offsets, lengths)]
        raise MismatchError(_describe_mismatch(descriptions, calls, self.rank))

    # --- step 2: move the data ------------------------------------------------------------
    def reduce_buffer(self, buffer: Any, op: str) -> None:
        """Reduce one fused buffer in place across all ranks (sum for 'average')."""
        if backend.is_numpy(buffer):
            mpi_op = {"min": self.mpi.MIN, "max": self.mpi.MAX}.get(op, self.mpi.SUM)
            self.comm.Allreduce(self.mpi.IN_PLACE, buffer, op=mpi_op)
        else:
            nccl.on_gpu(self, buffer, "reduce", op=op)

    def broadcast_buffer(self, buffer: Any, root: int) -> None:
        if backend.is_numpy(buffer):
            self.comm.Bcast(buffer, root=root)
        else:
            nccl.on_gpu(self, buffer, "broadcast", root=root)


def _list(ranks: Iterable[int]) -> str:
    return ", ".join(str(r) for r in ranks) or "none"


def _digest(value: Any) -> int:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def _describe_mismatch(descriptions: list[dict], calls: list[int], me: int) -> str:
    """Say, for each rank that differs from rank 0, the first thing that differs."""
    first = descriptions[0]
    lines = []
    for other, theirs in enumerate(descriptions[1:], start=1):
        if calls[other] != calls[0]:
            lines.append(f"rank 0 is at its collective call {calls[0]} ({first['kind']}) but "
                         f"rank {other} at its call {calls[other]} ({theirs['kind']}): the ranks "
                         "made different numbers of collective calls")
        elif theirs["kind"] != first["kind"]:
            lines.append(f"rank 0 called {first['kind']} but rank {other} called {theirs['kind']}")
        elif theirs["detail"] != first["detail"] or theirs["root"] != first["root"]:
            lines.append(f"rank 0 called {first['kind']} with {first['detail']} (root "
                         f"{first['root']}) but rank {other} with {theirs['detail']} (root "
                         f"{theirs['root']})")
        elif len(theirs["tensors"]) != len(first["tensors"]):
            lines.append(f"rank 0 passed {len(first['tensors'])} tensors but rank {other} "
                         f"passed {len(theirs['tensors'])}")
        else:
            for index, (a, b) in enumerate(zip(first["tensors"], theirs["tensors"])):
                if a[1:] != b[1:]:
                    lines.append(f"tensor {index} ('{a[0]}') is {_typed_shape(a)} on rank 0 but "
                                 f"{_typed_shape(b)} on rank {other}")
                    break
    return (f"{first['kind']} got different inputs on different ranks (seen on rank {me}): "
            + "; ".join(lines) + ". Every rank must build the same model and make the same "
            "collective calls with the same shapes and dtypes, in the same order.")


def _typed_shape(description: list) -> str:
    """'float64[3,2]', or 'float32[4] on the GPU', from a (name, 'backend:dtype', shape) entry."""
    where, _, dtype = description[1].partition(":")
    return dtype + format_shape(description[2]) + (" on the GPU" if where == "cupy" else "")
