"""distribute.launch starts the job again when a rank fails in MPI_Init (MPICH's intermittent
start-up failure over UCX), and only then. A stand-in launcher plays gforker: it fails the
first run the way MPICH does, then runs the command."""

from __future__ import annotations

import sys
import textwrap

from tensorflowish import distribute

_ABORT = ("Abort(408569230) on node 0: Fatal error in internal_Init_thread: Message truncated, "
          "error stack:")


def _fake_launcher(tmp_path, first_error: str, first_code: int):
    runs = tmp_path / "runs"
    script = tmp_path / "fake_gforker.py"
    script.write_text(textwrap.dedent(f"""\
        import subprocess, sys
        from pathlib import Path
        runs = Path({str(runs)!r})
        count = int(runs.read_text()) + 1 if runs.exists() else 1
        runs.write_text(str(count))
        command = sys.argv[3:]  # after -n N
        if count == 1:
            sys.stderr.write({first_error!r} + "\\n")
            sys.stderr.write("[0]0:Return code = {first_code}\\n")
            sys.exit({first_code})
        sys.exit(subprocess.run(command).returncode)
        """))
    launcher = tmp_path / "gforker"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    launcher.chmod(0o755)
    return str(launcher), runs


def test_a_failure_in_mpi_init_launches_the_job_again(tmp_path, capfd):
    launcher, runs = _fake_launcher(tmp_path, _ABORT, 142)
    code = distribute.launch(2, [sys.executable, "-c", "print('ran')"], launcher=launcher,
                             timeout=60)
    assert code == 0 and runs.read_text() == "2"
    captured = capfd.readouterr()
    assert "launching the job again" in captured.err and "ran" in captured.out


def test_other_failures_are_not_retried(tmp_path):
    launcher, runs = _fake_launcher(tmp_path, "Traceback: ValueError in the user's code", 1)
    code = distribute.launch(2, [sys.executable, "-c", "pass"], launcher=launcher, timeout=60)
    assert code == 1 and runs.read_text() == "1"


def test_init_retries_zero_returns_the_failure(tmp_path):
    launcher, runs = _fake_launcher(tmp_path, _ABORT, 142)
    code = distribute.launch(2, [sys.executable, "-c", "pass"], launcher=launcher, timeout=60,
                             init_retries=0)
    assert code == 142 and runs.read_text() == "1"
