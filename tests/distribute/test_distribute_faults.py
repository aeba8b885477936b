"""Faults across processes end the job with an error naming the rank, within a bounded time.

Rank 1 of worker.py misbehaves after one collective call while rank 0 keeps reducing. The
collective timeout is 3 s, so no case may take long; the launch timeout is only a backstop.
"""

from __future__ import annotations

import pytest
from mpi_helpers import requires_mpi, run_workers

from tensorflowish import backend, distribute

CASES = {
    # scenario: what the job's output must say
    "raise": "PeerFailedError: rank 1 failed with ValueError: deliberate failure on rank 1",
    "exit-early": "rank 1 exited after 1 collective calls, but rank 0 is waiting for it",
    "hang": "rank(s) 1 never joined it and did not answer",
    "kill": "rank 1 died from a signal (Killed)",
}


@requires_mpi
@pytest.mark.parametrize("scenario", list(CASES))
def test_a_failing_rank_stops_the_job_and_is_named(scenario, tmp_path, capfd):
    # bounded time: past the launcher's 30 s the job is killed and the code is 124
    code = run_workers(scenario, tmp_path, timeout=30, collective_timeout=3)
    output = "".join(capfd.readouterr())
    assert code not in (0, 124), output
    assert CASES[scenario] in output, output
    assert "rank 0 was never stopped" not in output


def test_nccl_path_on_gpus(tmp_path):
    """GPU arrays go through NCCL (cupy.cuda.nccl); runs where 2 GPUs and NCCL exist."""
    reason = backend.gpu_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no usable GPU: {reason}")
    if distribute.gpu_engine() != "nccl":
        pytest.skip("NCCL is not installed: pip install nvidia-nccl-cu12")
    if backend.gpu_count() < 2:
        pytest.skip("NCCL needs one GPU per rank: 2 GPUs for 2 ranks")
    code = run_workers("gpu", tmp_path, timeout=120)
    assert code == 0
