"""The NCCL back end: GPU (CuPy) buffers reduced and broadcast by NCCL, bootstrapped through
MPI; without NCCL they go through host memory and MPI."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import backend
from .common import CollectiveTimeoutError


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


def on_gpu(context: Any, buffer: Any, what: str, op: str = "sum", root: int = 0) -> None:
    """NCCL on the buffer's GPU; without NCCL, through host memory and MPI."""
    nccl = _nccl_module()
    if nccl is None:
        host = backend.to_numpy(buffer)
        if what == "reduce":
            context.reduce_buffer(host, op)
        else:
            context.broadcast_buffer(host, root)
        buffer.set(host)
        return
    import cupy

    communicator = nccl_communicator(context, buffer.device.id)
    stream = cupy.cuda.get_current_stream()
    dtype = _nccl_dtype(nccl, buffer.dtype)
    if what == "reduce":
        nccl_op = {"min": nccl.NCCL_MIN, "max": nccl.NCCL_MAX}.get(op, nccl.NCCL_SUM)
        communicator.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, dtype, nccl_op,
                               stream.ptr)
    else:
        communicator.bcast(buffer.data.ptr, buffer.size, dtype, root, stream.ptr)
    deadline = time.monotonic() + context.timeout
    while not stream.done:  # NCCL runs on the stream: poll it so a dead peer cannot hang us
        if time.monotonic() >= deadline:
            communicator.abort()
            context.nccl_communicators.pop(buffer.device.id, None)
            raise CollectiveTimeoutError(
                f"NCCL {what} in {context.current} did not finish within {context.timeout:g} s on "
                f"rank {context.rank}; the NCCL communicator was aborted.", context.others)
        time.sleep(1e-4)


def nccl_communicator(context: Any, device_id: int) -> Any:
    """One NCCL communicator per GPU, created the first time that GPU reduces something.

    Rank 0 makes NCCL's unique id and MPI broadcasts it: MPI is the only bootstrap needed
    (cupyx.distributed's own TCP store would open a port of its own).
    """
    if device_id not in context.nccl_communicators:
        import cupy

        nccl = _nccl_module()
        unique_id = nccl.get_unique_id() if context.rank == 0 else None
        unique_id = context.comm.bcast(unique_id, root=0)
        with cupy.cuda.Device(device_id):
            context.nccl_communicators[device_id] = nccl.NcclCommunicator(
                context.size, unique_id, context.rank)
    return context.nccl_communicators[device_id]
