"""Joining and leaving the job: init, rank and size, and telling the other ranks when this
one exits or fails."""

from __future__ import annotations

import atexit
import os
import sys
import time

from .common import (
    _ACK,
    _EXITED,
    _FAILED,
    _LAUNCHER_SIZE_VARIABLES,
    DEFAULT_BUCKET_BYTES,
    DEFAULT_TIMEOUT,
    INSTALL_HINT,
    TIMEOUT_VARIABLE,
    CollectiveTimeoutError,
    DistributedError,
    PeerFailedError,
)
from .mpi import _Context

_context: _Context | None = None
_previous_excepthook = None


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
