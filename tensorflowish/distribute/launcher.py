"""Starting a job: the MPI launcher (mpiexec.gforker, loopback only) run as n processes."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .common import INSTALL_HINT, LAUNCHER, TIMEOUT_VARIABLE, DistributedError

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


_INIT_FAILURE = "Fatal error in internal_Init_thread"
_EXIT_REPORT = re.compile(r"^\[\d+\](\d+):Return code = (-?\d+)(?:, signaled with (.+?))?\s*$")


def launch(n: int, argv: list[str], *, timeout: float | None = None,
           collective_timeout: float | None = None, env: dict | None = None,
           launcher: str | None = None, init_retries: int = 1) -> int:
    """Run `argv` as `n` processes under mpiexec.gforker on this machine; return the exit code.

    The processes talk over loopback only (UCX_NET_DEVICES=lo). `timeout` (seconds) bounds the
    whole run: past it every process is killed and 124 is returned. `collective_timeout` sets
    TENSORFLOWISH_DISTRIBUTE_TIMEOUT for the processes. A rank killed by a signal makes the
    result non-zero even where gforker itself would report 0. MPICH's start-up over UCX fails
    now and then in `MPI_Init_thread`, where no rank has got past the collective start-up yet
    (pmodels/mpich#7417; seen once in the CI runs of this project): when a rank fails there, the
    job is launched again, up to `init_retries` times, saying so on stderr.

    >>> import sys
    >>> from tensorflowish import distribute
    >>> distribute.launch(2, [sys.executable, "train.py"], timeout=600)  # doctest: +SKIP
    0
    """
    if int(n) < 1:
        raise ValueError(f"launch needs at least 1 process, got {n}.")
    for attempt in range(int(init_retries) + 1):
        code, init_failed = _launch_once(n, argv, timeout, collective_timeout, env, launcher)
        if code == 0 or not init_failed or attempt == init_retries:
            return code
        sys.stderr.write("tensorflowish.distribute: MPI_Init failed in a rank (MPICH's "
                         "intermittent start-up failure over UCX); launching the job again.\n")
    return code


def _launch_once(n, argv, timeout, collective_timeout, env, launcher) -> tuple[int, bool]:
    """One run of the launcher: (exit code, whether a rank failed in MPI_Init)."""
    command = [launcher or find_launcher(), "-n", str(int(n)), *map(str, argv)]
    environment = dict(os.environ if env is None else env)
    environment["UCX_NET_DEVICES"] = "lo"
    if collective_timeout is not None:
        environment[TIMEOUT_VARIABLE] = str(float(collective_timeout))
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True,
                               errors="replace", start_new_session=True)
    signaled: list[tuple[int, str]] = []
    init_failed: list[bool] = []

    def relay_errors() -> None:  # pass stderr through, noting ranks the launcher saw killed
        for line in process.stderr:
            sys.stderr.write(line)
            if _INIT_FAILURE in line:
                init_failed.append(True)
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
        return 124, False
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
    return (1 if code == 0 and signaled else code), bool(init_failed)


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
