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

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import backend
from .tape import UnconnectedGradients, _flatten, _unflatten
from .tensor import Tensor, Variable, convert_to_tensor, format_shape

__all__ = [
    "CollectiveTimeoutError", "DistributedError", "DistributedGradientTape",
    "DistributedOptimizer", "MismatchError", "PeerFailedError", "allreduce",
    "allreduce_gradients", "allreduce_metrics", "barrier", "broadcast", "broadcast_variables",
    "find_launcher", "gpu_engine", "init", "is_chief", "is_initialized", "launch", "local_rank",
    "local_size", "rank", "shard", "shard_length", "size",
]

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
            self.on_gpu(buffer, "reduce", op=op)

    def broadcast_buffer(self, buffer: Any, root: int) -> None:
        if backend.is_numpy(buffer):
            self.comm.Bcast(buffer, root=root)
        else:
            self.on_gpu(buffer, "broadcast", root=root)

    def on_gpu(self, buffer: Any, what: str, op: str = "sum", root: int = 0) -> None:
        """NCCL on the buffer's GPU; without NCCL, through host memory and MPI."""
        nccl = _nccl_module()
        if nccl is None:
            host = backend.to_numpy(buffer)
            if what == "reduce":
                self.reduce_buffer(host, op)
            else:
                self.broadcast_buffer(host, root)
            buffer.set(host)
            return
        import cupy

        communicator = self.nccl_communicator(buffer.device.id)
        stream = cupy.cuda.get_current_stream()
        dtype = _nccl_dtype(nccl, buffer.dtype)
        if what == "reduce":
            nccl_op = {"min": nccl.NCCL_MIN, "max": nccl.NCCL_MAX}.get(op, nccl.NCCL_SUM)
            communicator.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, dtype, nccl_op,
                                   stream.ptr)
        else:
            communicator.bcast(buffer.data.ptr, buffer.size, dtype, root, stream.ptr)
        deadline = time.monotonic() + self.timeout
        while not stream.done:  # NCCL runs on the stream: poll it so a dead peer cannot hang us
            if time.monotonic() >= deadline:
                communicator.abort()
                self.nccl_communicators.pop(buffer.device.id, None)
                raise CollectiveTimeoutError(
                    f"NCCL {what} in {self.current} did not finish within {self.timeout:g} s on "
                    f"rank {self.rank}; the NCCL communicator was aborted.", self.others)
            time.sleep(1e-4)

    def nccl_communicator(self, device_id: int) -> Any:
        """One NCCL communicator per GPU, created the first time that GPU reduces something.

        Rank 0 makes NCCL's unique id and MPI broadcasts it: MPI is the only bootstrap needed
        (cupyx.distributed's own TCP store would open a port of its own).
        """
        if device_id not in self.nccl_communicators:
            import cupy

            nccl = _nccl_module()
            unique_id = nccl.get_unique_id() if self.rank == 0 else None
            unique_id = self.comm.bcast(unique_id, root=0)
            with cupy.cuda.Device(device_id):
                self.nccl_communicators[device_id] = nccl.NcclCommunicator(
                    self.size, unique_id, self.rank)
        return self.nccl_communicators[device_id]


_context: _Context | None = None
_previous_excepthook = None


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


def _launcher_size() -> int | None:
    """How many processes the MPI launcher started, from its environment (None: no launcher)."""
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.strip().isdigit():
            return int(value)
    return None


def _resolve_timeout(timeout: float | None) -> float:
    if timeout is None:
        text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
        try:
            timeout = float(text) if text else DEFAULT_TIMEOUT
        except ValueError:
            raise ValueError(f"{TIMEOUT_VARIABLE}={text!r} is not a number of seconds.") from None
    if timeout <= 0:
        raise ValueError(f"The collective timeout must be positive seconds, got {timeout}.")
    return float(timeout)


def init(timeout: float | None = None, bucket_bytes: int | None = None) -> None:
    """Join the job: size 1 when not started by an MPI launcher, else MPI through mpi4py.

    timeout: seconds a collective call waits for the other ranks before it raises
        `CollectiveTimeoutError` naming the missing ones (default: ${TENSORFLOWISH_DISTRIBUTE_
        TIMEOUT} or 300 s). It bounds how long a dead or hung rank can stall the others.
    bucket_bytes: size of the fused buffers gradients are packed into (default 64 MiB).

    Calling it again only updates the settings given. The other functions call it if needed.
    """
    global _context, _previous_excepthook
    if bucket_bytes is not None and bucket_bytes < 1:
        raise ValueError(f"bucket_bytes must be positive, got {bucket_bytes}.")
    if _context is not None:
        if timeout is not None:
            _context.timeout = _resolve_timeout(timeout)
        if bucket_bytes is not None:
            _context.bucket_bytes = int(bucket_bytes)
        return
    context = _Context(_resolve_timeout(timeout), int(bucket_bytes or DEFAULT_BUCKET_BYTES))
    launched = _launcher_size()
    if launched is not None and launched > 1:
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise DistributedError(
                f"This process was started by an MPI launcher as one of {launched} processes, "
                f"but mpi4py cannot be imported ({error}). Install the distributed extra: "
                f"{INSTALL_HINT}") from error
        context.connect(MPI)
        # registered after mpi4py's own exit handler, so it runs before MPI_Finalize
        atexit.register(_on_exit)
        _previous_excepthook = sys.excepthook
        sys.excepthook = _on_uncaught_exception
    _context = context


def _get() -> _Context:
    if _context is None:
        init()
    return _context


def is_initialized() -> bool:
    """True once `init()` has run (explicitly or through another call of this module)."""
    return _context is not None


def rank() -> int:
    """This process's index in the job, 0 ... size()-1."""
    return _get().rank


def size() -> int:
    """How many processes train together (1 when not started by an MPI launcher)."""
    return _get().size


def local_rank() -> int:
    """This process's index among the processes on the same machine (pick its GPU with it)."""
    return _get().local_rank


def local_size() -> int:
    """How many processes of the job run on this machine."""
    return _get().local_size


def is_chief() -> bool:
    """True on rank 0: the one process that prints progress and writes checkpoints."""
    return _get().rank == 0


# --- leaving the job: tell the others -----------------------------------------------------------


def _on_exit() -> None:
    """At a normal exit, tell the others how many calls this rank made before it left."""
    context = _context
    if context is None or context.size == 1 or context.closing:
        return
    context.closing = True
    for peer in context.failed:  # a failed peer waits for our acknowledgement before aborting
        context.send(peer, _ACK, None)
    for peer in context.others:
        context.send(peer, _EXITED, {"calls": context.calls})
    deadline = time.monotonic() + 1.0
    while context.pending_sends and time.monotonic() < deadline:
        context.pending_sends = [r for r in context.pending_sends if not r.Test()]


def _on_uncaught_exception(kind, value, traceback) -> None:
    """Print the traceback, tell the other ranks who failed and why, then stop the whole job.

    The failing rank waits (up to the collective timeout) until every other rank has seen the
    notice, so that each of them prints an error naming it before MPI_Abort ends them all.
    """
    (_previous_excepthook or sys.__excepthook__)(kind, value, traceback)
    context = _context
    if context is None or context.size == 1 or context.closing:
        return
    if isinstance(value, KeyboardInterrupt):
        # gforker interrupts every rank when one dies, then reports which one died: exit
        # normally so that report gets printed (MPI_Abort would end the launcher first)
        sys.stderr.write(f"tensorflowish.distribute: rank {context.rank} was interrupted; "
                         "under mpiexec this usually means another rank died (the launcher "
                         "names it below) or Ctrl-C was pressed.\n")
        return
    context.closing = True
    try:
        if isinstance(value, PeerFailedError):
            context.send(value.failed_rank, _ACK, None)
        elif not isinstance(value, CollectiveTimeoutError):
            error = f"{kind.__name__}: {value}"
            for peer in context.others:
                context.send(peer, _FAILED, {"error": error})
            heard = set(context.failed) | set(context.exited)
            deadline = time.monotonic() + min(context.timeout, 60.0)
            while not heard.issuperset(context.others) and time.monotonic() < deadline:
                heard.update(source for source, tag, _ in context.receive_notices()
                             if tag in (_ACK, _FAILED, _EXITED))
                time.sleep(0.002)
        sys.stderr.write(f"tensorflowish.distribute: rank {context.rank} stops all "
                         f"{context.size} processes (MPI_Abort).\n")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.25)  # the launcher relays our output through a pipe: let it drain first
        context.world.Abort(1)


# --- fused buffers -----------------------------------------------------------------------------


def _reduction_dtype(dtype: np.dtype) -> np.dtype:
    """MPI has no float16: reduce it in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _buckets(entries: list[tuple[int, Any, tuple, np.dtype]], bucket_bytes: int):
    """Group (index, xp, shape, dtype) entries by array module and dtype, then cut each group
    into buckets of at most `bucket_bytes` (a tensor larger than that gets a bucket of its own)."""
    groups: dict[tuple, list] = {}
    for entry in entries:
        groups.setdefault((entry[1].__name__, _reduction_dtype(entry[3])), []).append(entry)
    for (_, dtype), members in groups.items():
        bucket, used = [], 0
        for entry in members:
            nbytes = int(np.prod(entry[2], dtype=np.int64)) * dtype.itemsize
            if bucket and used + nbytes > bucket_bytes:
                yield dtype, bucket
                bucket, used = [], 0
            bucket.append(entry)
            used += nbytes
        if bucket:
            yield dtype, bucket


def _spec(name: str, xp: Any, shape: tuple, dtype: np.dtype, present: bool) -> tuple:
    """What the ranks compare before a collective call: where, what dtype, what shape."""
    where = "numpy" if xp is np else "cupy"
    return (name, f"{where}:{np.dtype(dtype).name}", tuple(int(d) for d in shape), present)


def _reduce_arrays(arrays: list, shapes: list, dtypes: list, names: list, op: str,
                   kind: str, modules: list | None = None) -> list:
    """Reduce a list of backend arrays (None for absent ones) across ranks in fused buffers.

    An entry None on every rank stays None; None on some ranks only counts as zeros there.
    """
    if op not in OPS:
        raise ValueError(f"Unknown reduction op {op!r}; expected one of {', '.join(OPS)}.")
    for array, dtype, name in zip(arrays, dtypes, names):
        if array is None:  # e.g. an integer variable: no gradient anywhere, nothing to check
            continue
        if op == "average" and np.dtype(dtype).kind not in "fc":
            raise TypeError(f"Cannot average '{name}' of dtype {np.dtype(dtype).name}: use "
                            "op='sum', 'min' or 'max' for integers, or cast to float first.")
        if np.dtype(dtype).kind == "b" or (op in ("min", "max") and np.dtype(dtype).kind == "c"):
            raise TypeError(f"Cannot reduce '{name}' of dtype {np.dtype(dtype).name} with "
                            f"op={op!r}.")
    context = _get()
    if context.size == 1:
        return list(arrays)
    if modules is None:
        modules = [np if a is None else backend.get_array_module(a) for a in arrays]
    specs = [_spec(n, xp, s, d, a is not None)
             for a, xp, s, d, n in zip(arrays, modules, shapes, dtypes, names)]
    present = context.agree(kind, f"op={op}", -1, specs)
    results: list = [None] * len(arrays)
    entries = [(i, modules[i], tuple(shapes[i]), np.dtype(dtypes[i]))
               for i in range(len(arrays)) if present[i]]
    for dtype, bucket in _buckets(entries, context.bucket_bytes):
        xp = bucket[0][1]
        sizes = [int(np.prod(shape, dtype=np.int64)) for _, _, shape, _ in bucket]
        buffer = context.fused_buffer(xp, dtype, sum(sizes), _device_id(arrays, bucket))
        offset = 0
        for (index, _, _, _), count in zip(bucket, sizes):
            if arrays[index] is None:
                buffer[offset:offset + count] = 0  # absent here, present elsewhere: adds nothing
            else:
                buffer[offset:offset + count] = arrays[index].reshape(-1)
            offset += count
        context.reduce_buffer(buffer, op)
        offset = 0
        for (index, _, shape, original), count in zip(bucket, sizes):
            piece = buffer[offset:offset + count].reshape(shape)
            result = piece / context.size if op == "average" else piece.copy()
            results[index] = result if result.dtype == original else result.astype(original)
            offset += count
    return results


def _device_id(arrays: list, bucket: list) -> int:
    """The GPU of a bucket's arrays (0 for host arrays)."""
    for index, *_ in bucket:
        if arrays[index] is not None and not backend.is_numpy(arrays[index]):
            return int(arrays[index].device.id)
    return 0


# --- the public collectives ----------------------------------------------------------------


def allreduce(tensor, op: str = "average", name: str | None = None) -> Tensor:
    """The elementwise average (or sum, min, max) of `tensor` over all ranks, on every rank.

    >>> import tensorflowish as tf
    >>> from tensorflowish import distribute
    >>> distribute.allreduce(tf.constant([1.0, 2.0])).numpy().tolist()   # one process
    [1.0, 2.0]
    """
    tensor = convert_to_tensor(tensor)
    array = tensor.array
    (result,) = _reduce_arrays([array], [array.shape], [array.dtype], [name or "tensor"], op,
                               "allreduce")
    return tensor if result is array else Tensor(result)


def allreduce_gradients(gradients: list, variables: list | None = None,
                        op: str = "average") -> list:
    """Average a list of gradients (Tensors, arrays or None) across ranks in fused buffers.

    With `variables` (the matching sources), a gradient that is None on some ranks only is
    taken as zeros there; None on every rank stays None. Returns a list of Tensors and Nones.
    This is what DistributedGradientTape and DistributedOptimizer call, and what `Model.fit`
    calls between `tape.gradient` and `optimizer.apply_gradients`.
    """
    gradients = list(gradients)
    if variables is not None:
        variables = list(variables)
        if len(variables) != len(gradients):
            raise ValueError(f"allreduce_gradients got {len(gradients)} gradients for "
                             f"{len(variables)} variables.")
    arrays, shapes, dtypes, names, modules = [], [], [], [], []
    for index, gradient in enumerate(gradients):
        variable = variables[index] if variables is not None else None
        name = getattr(variable, "name", None) or f"gradient {index}"
        if gradient is None:
            if variable is None:
                raise ValueError(f"allreduce_gradients: gradient {index} is None and no variable "
                                 "was given to take its shape from; pass variables=.")
            array, reference = None, variable.array
        else:
            array = gradient.array if isinstance(gradient, Tensor) else \
                convert_to_tensor(gradient).array
            reference = array
        arrays.append(array)
        shapes.append(tuple(reference.shape))
        dtypes.append(reference.dtype)
        names.append(name)
        modules.append(backend.get_array_module(reference))
    if _get().size == 1:
        return [g if g is None or isinstance(g, Tensor) else Tensor(a)
                for g, a in zip(gradients, arrays)]
    reduced = _reduce_arrays(arrays, shapes, dtypes, names, op, "allreduce_gradients", modules)
    return [None if r is None else Tensor(r) for r in reduced]


def allreduce_metrics(metrics: dict, weight: float | None = None) -> dict:
    """Average a dict of scalar metrics over ranks: one small allreduce for all of them.

    weight: this rank's number of samples, to weight the average (default: equal weights).
    Every rank must pass the same keys.

    >>> from tensorflowish import distribute
    >>> distribute.allreduce_metrics({"loss": 0.5, "accuracy": 0.75})
    {'loss': 0.5, 'accuracy': 0.75}
    """
    keys = list(metrics)
    values = np.array([float(np.asarray(metrics[k])) for k in keys], dtype=np.float64)
    context = _get()
    if context.size == 1:
        return dict(zip(keys, values.tolist()))
    weight = 1.0 if weight is None else float(weight)
    buffer = np.append(values * weight, weight)
    context.agree("allreduce_metrics", json.dumps(keys), -1,
                  [_spec("metrics", np, buffer.shape, buffer.dtype, True)])
    context.reduce_buffer(buffer, "sum")
    total = buffer[-1] if buffer[-1] != 0 else 1.0
    return dict(zip(keys, (buffer[:-1] / total).tolist()))


def barrier() -> None:
    """Wait until every rank gets here (with the same deadline and failure checks as others)."""
    context = _get()
    if context.size > 1:
        context.agree("barrier", "", -1, [])


def _collect_variables(variables) -> list:
    if isinstance(variables, Variable):
        return [variables]
    if not isinstance(variables, (list, tuple, dict)) and hasattr(variables, "variables"):
        variables = variables.variables  # a tf.Module or Keras model
    flat: list = []
    _flatten(variables, flat)
    for item in flat:
        if not isinstance(item, Variable):
            raise TypeError(f"broadcast_variables updates tf.Variable objects in place, got a "
                            f"{type(item).__name__}; use distribute.broadcast(tensor) for a value.")
    return flat


def broadcast_variables(variables, root_rank: int = 0) -> None:
    """Overwrite `variables` in place with their values on `root_rank` (one fused buffer).

    Call it once after the model is built and before training, so all ranks start alike.
    `variables` is a list/tuple/dict of tf.Variable, or anything with `.variables` (a tf.Module,
    a Keras model).
    """
    flat = _collect_variables(variables)
    context = _get()
    if not 0 <= root_rank < context.size:
        raise ValueError(f"root_rank {root_rank} is not a rank of this job (size {context.size}).")
    if context.size == 1:
        return
    specs = [_spec(v.name, backend.get_array_module(v.array), v.array.shape, v.array.dtype, True)
             for v in flat]
    context.agree("broadcast_variables", "", root_rank, specs)
    entries = [(i, backend.get_array_module(v.array), tuple(v.array.shape), v.array.dtype)
               for i, v in enumerate(flat)]
    for dtype, bucket in _buckets(entries, context.bucket_bytes):
        xp = bucket[0][1]
        sizes = [int(np.prod(shape, dtype=np.int64)) for _, _, shape, _ in bucket]
        buffer = context.fused_buffer(xp, dtype, sum(sizes),
                                      _device_id([v.array for v in flat], bucket))
        if context.rank == root_rank:
            offset = 0
            for (index, _, _, _), count in zip(bucket, sizes):
                buffer[offset:offset + count] = flat[index].array.reshape(-1)
                offset += count
        context.broadcast_buffer(buffer, root_rank)
        if context.rank != root_rank:
            offset = 0
            for (index, _, shape, _), count in zip(bucket, sizes):
                flat[index].array[...] = buffer[offset:offset + count].reshape(shape)
                offset += count


def broadcast(tensor, root_rank: int = 0, name: str | None = None) -> Tensor:
    """`tensor`'s value on `root_rank`, returned on every rank as a new Tensor."""
    tensor = convert_to_tensor(tensor)
    context = _get()
    if context.size == 1:
        return tensor
    variable = Variable(tensor, trainable=False, name=name or "broadcast")
    broadcast_variables([variable], root_rank)
    return Tensor(variable.array)


# --- wrappers: the tape and the optimiser ----------------------------------------------------


class DistributedGradientTape:
    """A GradientTape whose `gradient()` averages the gradients over all ranks.

    Use it like Horovod's: wrap the tape after recording (or use it in the `with` itself).

    >>> import tensorflowish as tf
    >>> from tensorflowish import distribute
    >>> w = tf.Variable(2.0)
    >>> with tf.GradientTape() as tape:
    ...     loss = w * w
    >>> float(distribute.DistributedGradientTape(tape).gradient(loss, w))
    4.0
    """

    def __init__(self, tape, op: str = "average") -> None:
        if op not in OPS:
            raise ValueError(f"Unknown reduction op {op!r}; expected one of {', '.join(OPS)}.")
        self._tape = tape
        self._op = op

    def __enter__(self) -> DistributedGradientTape:
        self._tape.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._tape.__exit__(*exc_info)

    def __getattr__(self, name: str):
        return getattr(self._tape, name)

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """The tape's gradient, averaged over ranks; same structure, None where None everywhere."""
        gradients = self._tape.gradient(target, sources, output_gradients=output_gradients,
                                        unconnected_gradients=unconnected_gradients)
        if _get().size == 1:
            return gradients
        if isinstance(sources, Tensor):
            return allreduce_gradients([gradients], [sources], self._op)[0]
        flat_sources: list = []
        flat_gradients: list = []
        _flatten(sources, flat_sources)
        _flatten(gradients, flat_gradients)
        reduced = allreduce_gradients(flat_gradients, flat_sources, self._op)
        return _unflatten(sources, iter(reduced))


class DistributedOptimizer:
    """Wrap an optimiser so `apply_gradients` averages the gradients over ranks first.

    Works with anything that has `apply_gradients(grads_and_vars)`; every other attribute
    (learning_rate, iterations, get_config, ...) is the wrapped optimiser's.
    """

    def __init__(self, optimizer, op: str = "average") -> None:
        if not callable(getattr(optimizer, "apply_gradients", None)):
            raise TypeError(f"DistributedOptimizer wraps an optimiser with apply_gradients(), "
                            f"got {type(optimizer).__name__}.")
        if op not in OPS:
            raise ValueError(f"Unknown reduction op {op!r}; expected one of {', '.join(OPS)}.")
        object.__setattr__(self, "_optimizer", optimizer)
        object.__setattr__(self, "_op", op)

    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        """Average the gradients over ranks, then let the wrapped optimiser apply them."""
        pairs = list(grads_and_vars)
        variables = [variable for _, variable in pairs]
        gradients = allreduce_gradients([g for g, _ in pairs], variables, self._op)
        return self._optimizer.apply_gradients(list(zip(gradients, variables)), *args, **kwargs)

    def minimize(self, loss, var_list, tape=None):
        """Compute gradients of `loss` (a tensor under `tape`, or a function), average, apply."""
        from .keras.optimizers import gradients_and_variables

        return self.apply_gradients(gradients_and_variables(loss, var_list, tape))

    def __getattr__(self, name: str):
        return getattr(self._optimizer, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._optimizer, name, value)

    def __repr__(self) -> str:
        return f"<DistributedOptimizer of {self._optimizer!r}>"


# --- sharding the data -----------------------------------------------------------------------


def _check_shard(num_shards, index) -> tuple[int, int]:
    num_shards, index = int(num_shards), int(index)
    if num_shards < 1:
        raise ValueError(f"shard: num_shards must be at least 1, got {num_shards}.")
    if not 0 <= index < num_shards:
        raise ValueError(f"shard: index must be in [0, num_shards), got index={index} with "
                         f"num_shards={num_shards}.")
    return num_shards, index


def shard_length(length: int, num_shards: int, index: int, drop_remainder: bool = False) -> int:
    """How many of `length` elements shard `index` of `num_shards` gets (negative stays as is:
    unknown or infinite cardinality)."""
    num_shards, index = _check_shard(num_shards, index)
    if length < 0:
        return length
    if drop_remainder:
        return length // num_shards
    return max(0, (length - index + num_shards - 1) // num_shards)


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
    num_shards, index = _check_shard(num_shards, index)
    if _is_dataset(data):
        return _shard_dataset(data, num_shards, index, drop_remainder)

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


def _is_dataset(data) -> bool:
    try:
        from .data import Dataset
    except ImportError:  # pragma: no cover - tf.data ships with the Keras issue
        return False
    return isinstance(data, Dataset)


_sharded_dataset_class = None


def _shard_dataset(dataset, num_shards: int, index: int, drop_remainder: bool):
    """A Dataset of the shard. A dataset made by from_tensor_slices is sharded by slicing its
    arrays, so shuffle/batch after shard keep tf.data's fast whole-array path."""
    global _sharded_dataset_class
    from . import data

    slice_class = getattr(data, "_SliceDataset", None)
    if slice_class is not None and type(dataset) is slice_class:
        return slice_class(shard(dataset.arrays, num_shards, index, drop_remainder))
    if _sharded_dataset_class is None:

        class ShardDataset(data.Dataset):
            """Element `index`, `index + num_shards`, ... of a parent dataset."""

            def __init__(self, parent, num_shards: int, index: int, drop_remainder: bool):
                self.parent, self.num_shards, self.index = parent, num_shards, index
                self.drop_remainder = drop_remainder

            def _cardinality(self) -> int:
                return shard_length(self.parent._cardinality(), self.num_shards, self.index,
                                    self.drop_remainder)

            def _iter_arrays(self):
                group: list = []
                for element in self.parent._iter_arrays():
                    group.append(element)
                    if len(group) == self.num_shards:
                        yield group[self.index]
                        group = []
                if not self.drop_remainder and len(group) > self.index:
                    yield group[self.index]

        _sharded_dataset_class = ShardDataset
    return _sharded_dataset_class(dataset, num_shards, index, drop_remainder)


# --- GPU: NCCL through CuPy ------------------------------------------------------------------


def _nccl_module():
    """cupy.cuda.nccl when the NCCL library loads (the nvidia-nccl-cu12 wheel), else None."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from cupy.cuda import nccl
    except ImportError:
        return None
    return nccl if getattr(nccl, "available", False) else None


def _nccl_dtype(nccl, dtype) -> int:
    table = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
             "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
             "uint32": "NCCL_UINT32", "int64": "NCCL_INT64", "uint64": "NCCL_UINT64"}
    name = np.dtype(dtype).name
    if name not in table:
        raise TypeError(f"NCCL cannot reduce {name} arrays; cast to float32 first.")
    return getattr(nccl, table[name])


def gpu_engine() -> str:
    """Which engine reduces CuPy arrays here: 'nccl', or 'mpi-via-host' without NCCL."""
    return "nccl" if _nccl_module() is not None else "mpi-via-host"


# --- launching ------------------------------------------------------------------------------


def find_launcher() -> str:
    """The path of mpiexec.gforker: next to this Python (the mpich wheel puts it there), or on
    PATH. gforker starts all processes on this machine and listens only on 127.0.0.1."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(LAUNCHER, path=search)
    if found is None:
        raise DistributedError(
            f"No MPI launcher ({LAUNCHER}) was found next to {sys.executable} or on PATH. "
            f"Install the distributed extra, whose mpich wheel brings it: {INSTALL_HINT}")
    if importlib.util.find_spec("mpi4py") is None:
        raise DistributedError(f"{LAUNCHER} is there but mpi4py is not installed, so the "
                               f"processes could not talk. {INSTALL_HINT}")
    return found


_EXIT_REPORT = re.compile(r"^\[\d+\](\d+):Return code = (-?\d+)(?:, signaled with (.+?))?\s*$")


def launch(n: int, argv: list[str], *, timeout: float | None = None,
           collective_timeout: float | None = None, env: dict | None = None,
           launcher: str | None = None) -> int:
    """Run `argv` as `n` processes under mpiexec.gforker on this machine; return the exit code.

    The processes talk over loopback only (UCX_NET_DEVICES=lo). `timeout` (seconds) bounds the
    whole run: past it every process is killed and 124 is returned. `collective_timeout` sets
    TENSORFLOWISH_DISTRIBUTE_TIMEOUT for the processes. A rank killed by a signal makes the
    result non-zero even where gforker itself would report 0.

    >>> import sys
    >>> from tensorflowish import distribute
    >>> distribute.launch(2, [sys.executable, "train.py"], timeout=600)  # doctest: +SKIP
    0
    """
    if int(n) < 1:
        raise ValueError(f"launch needs at least 1 process, got {n}.")
    command = [launcher or find_launcher(), "-n", str(int(n)), *map(str, argv)]
    environment = dict(os.environ if env is None else env)
    environment["UCX_NET_DEVICES"] = "lo"
    if collective_timeout is not None:
        environment[TIMEOUT_VARIABLE] = str(float(collective_timeout))
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True,
                               errors="replace", start_new_session=True)
    signaled: list[tuple[int, str]] = []

    def relay_errors() -> None:  # pass stderr through, noting ranks the launcher saw killed
        for line in process.stderr:
            sys.stderr.write(line)
            match = _EXIT_REPORT.match(line)
            if match and match.group(3):
                signaled.append((int(match.group(1)), match.group(3)))
        sys.stderr.flush()

    relay = threading.Thread(target=relay_errors, daemon=True)
    relay.start()
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        relay.join(5)
        sys.stderr.write(f"tensorflowish.distribute: the {n} processes did not finish within "
                         f"{timeout:g} s; all were stopped.\n")
        return 124
    except KeyboardInterrupt:
        _stop(process)
        raise
    relay.join(5)
    if signaled:  # gforker stops the other ranks with SIGINT/SIGQUIT once one has died
        died = [f"rank {r} died from a signal ({why})" for r, why in signaled
                if why not in ("Quit", "Interrupt")]
        stopped = [f"rank {r} ({why})" for r, why in signaled if why in ("Quit", "Interrupt")]
        sys.stderr.write("tensorflowish.distribute: " + "; ".join(died or ["a rank failed"])
                         + (f"; the launcher then stopped {', '.join(stopped)}" if stopped else "")
                         + ".\n")
    return 1 if code == 0 and signaled else code


def _stop(process: subprocess.Popen) -> None:
    """Stop the launcher and every rank (they share its new session's process group)."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue

