"""pytest-benchmark suites for the sequence workloads, each beside its hand-written floor.

    pytest benchmarks/test_bench_sequences.py --benchmark-enable

The LSTM training step (batch 64, 100 steps, 128 -> 256 units) and the Embedding +
GlobalAveragePooling1D text classifier step (50,000-word table), eager and traced by
tf.function (replay plans): the ratio of the medians of
`framework` and `floor` in one group is the overhead. Each test first checks that the
framework's loss equals the floor's (same weights, same step); with --benchmark-disable (the
default test run) they use small sizes, so the suite stays fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from tensorflowish import backend
from tensorflowish.tools import bench_sequences

SIDES = ["framework", "floor"]


def _run(benchmark, workload, side):
    benchmark.group = f"{workload.name} {workload.size}"
    function = workload.framework if side == "framework" else workload.floor
    if backend.current_device().startswith("GPU"):
        inner = function

        def function():
            result = inner()
            backend.synchronize()
            return result
    return benchmark.pedantic(function, rounds=5, warmup_rounds=1)


def _loss(value):
    return float(np.asarray(backend.to_numpy(getattr(value, "array", value))))


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("side", SIDES)
def test_lstm_training_step(benchmark, bench_device, side, traced):
    size = (8, 12, 16, 32) if benchmark.disabled else bench_sequences.LSTM_SIZE
    workload = bench_sequences.lstm_training_step(bench_device, size, traced=traced)
    np.testing.assert_allclose(_loss(workload.framework()), _loss(workload.floor()), rtol=1e-4)
    _run(benchmark, workload, side)


@pytest.mark.parametrize("dense_gradient,traced", [(False, False), (True, False), (False, True)],
                         ids=["sparse", "dense", "traced"])
@pytest.mark.parametrize("side", SIDES)
def test_text_classifier_step(benchmark, bench_device, side, dense_gradient, traced):
    size = (8, 20, 1000, 16) if benchmark.disabled else bench_sequences.TEXT_SIZE
    workload = bench_sequences.text_classifier_step(bench_device, size, dense_gradient,
                                                    traced=traced)
    np.testing.assert_allclose(_loss(workload.framework()), _loss(workload.floor()), rtol=1e-4)
    _run(benchmark, workload, side)
