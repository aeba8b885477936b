"""Helpers of the distributed tests: launch worker.py as 2 ranks on loopback (mpiexec.gforker)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tensorflowish import distribute

WORKER = Path(__file__).with_name("worker.py")


def mpi_unavailable_reason() -> str | None:
    """None when mpi4py and mpiexec.gforker are installed, else why the MPI tests skip."""
    if importlib.util.find_spec("mpi4py") is None:
        return f"mpi4py is not installed ({distribute.INSTALL_HINT})"
    try:
        distribute.find_launcher()
    except distribute.DistributedError as error:
        return str(error)
    return None


requires_mpi = pytest.mark.skipif(mpi_unavailable_reason() is not None,
                                  reason=f"needs MPI: {mpi_unavailable_reason()}")


def run_workers(scenario: str, output: Path, *, timeout: float = 120,
                collective_timeout: float = 30, env: dict | None = None) -> int:
    """Run worker.py SCENARIO OUTPUT as 2 ranks; return the launcher's exit code."""
    return distribute.launch(2, [sys.executable, str(WORKER), scenario, str(output)],
                             timeout=timeout, collective_timeout=collective_timeout, env=env)
