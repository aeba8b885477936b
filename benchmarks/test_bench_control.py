"""pytest-benchmark suite for control flow on a gradient path, beside its hand-written floor.

    pytest benchmarks/test_bench_control.py --benchmark-enable

A recurrent step written with `tf.while_loop` inside a GradientTape, eager and traced by
tf.function (the loop lowered as sub-plans): the ratio of the medians of `framework` and
`floor` in one group is the overhead. Each test first checks that the framework's loss equals
the floor's; with --benchmark-disable (the default test run) the sizes are small.
"""

from __future__ import annotations

import numpy as np
import pytest

from tensorflowish import backend
from tensorflowish.tools import bench_control

SIDES = ["framework", "floor"]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("side", SIDES)
def test_recurrent_loop_step(benchmark, bench_device, side, traced):
    size = (8, 8, 16, 4) if benchmark.disabled else bench_control.RECURRENT_SIZE
    workload = bench_control.recurrent_loop_step(bench_device, size, traced=traced)
    for _ in range(3):  # the traced step's plan runs from its second call
        framework, floor = workload.framework(), workload.floor()
        np.testing.assert_allclose(float(np.asarray(backend.to_numpy(framework.array))),
                                   float(np.asarray(backend.to_numpy(floor))), rtol=1e-4)
    benchmark.group = f"{workload.name} {workload.size}"
    function = workload.framework if side == "framework" else workload.floor
    benchmark.pedantic(function, rounds=5, warmup_rounds=1)
