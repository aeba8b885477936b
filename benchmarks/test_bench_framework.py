"""pytest-benchmark suites: each workload beside its hand-written floor, in the same run.

    pytest benchmarks/test_bench_framework.py --benchmark-enable --benchmark-json=out.json

Compare `framework` and `floor` of one workload and size (the group); the ratio of their medians
is the overhead tensorflowish adds. Each test also checks the framework result equals the floor.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_arrays import host

from tensorflowish import backend
from tensorflowish.tools import bench


def _run(benchmark, workload, side):
    benchmark.group = f"{workload.name} {workload.size}"
    function = workload.framework if side == "framework" else workload.floor
    if backend.current_device().startswith("GPU"):
        inner = function

        def function():
            result = inner()
            backend.synchronize()
            return result
    return benchmark(function)


SIDES = ["framework", "floor"]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("size", [(64, 64, 64), (256, 512, 512)], ids=str)
def test_dense_forward(benchmark, bench_device, size, side):
    workload = bench.dense_forward(bench_device, *size)
    result = _run(benchmark, workload, side)
    np.testing.assert_allclose(host(result), host(workload.floor()), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("size", [(64, 64, 64), (256, 512, 512)], ids=str)
def test_dense_forward_backward(benchmark, bench_device, size, side):
    workload = bench.dense_forward_backward(bench_device, *size)
    result = _run(benchmark, workload, side)
    for got, want in zip(host(result), host(workload.floor())):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("size", [(512, 10), (2048, 1000)], ids=str)
def test_softmax_cross_entropy(benchmark, bench_device, size, side):
    workload = bench.softmax_cross_entropy(bench_device, *size)
    loss, grad = _run(benchmark, workload, side)
    want_loss, want_grad = workload.floor()
    np.testing.assert_allclose(host(loss), host(want_loss), rtol=1e-5)
    np.testing.assert_allclose(host(grad), host(want_grad), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("side", SIDES)
def test_optimizer_step(benchmark, bench_device, side):
    workload = bench.optimizer_step(bench_device, 1 << 18)
    _run(benchmark, workload, side)


def test_optimizer_step_matches_floor(bench_device):
    workload = bench.optimizer_step(bench_device, 1000)
    for _ in range(3):
        updated = workload.framework()
        expected = workload.floor()
    np.testing.assert_allclose(host(updated), host(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("size", list(bench.MLP_SIZES))
def test_mlp_training_step(benchmark, bench_device, size, side):
    if size == "large" and benchmark.disabled:
        pytest.skip("the large MLP is only run when benchmarking (about 1 s a step here)")
    workload = bench.mlp_training_step(bench_device, size)
    _run(benchmark, workload, side)


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("size", ["tiny", "small"])
def test_mlp_training_step_matches_floor(bench_device, size, traced):
    """Eager and under tf.function (its graph run as a replay plan): the floor's losses."""
    workload = bench.mlp_training_step(bench_device, size, traced=traced)
    losses = [(float(host(workload.framework())), float(host(workload.floor())))
              for _ in range(5)]
    for framework_loss, floor_loss in losses:
        assert framework_loss == pytest.approx(floor_loss, rel=1e-4)
    assert losses[-1][0] < losses[0][0]


@pytest.mark.parametrize("side", SIDES)
def test_tape_overhead(benchmark, bench_device, side):
    workload = bench.tape_overhead(bench_device)
    result = _run(benchmark, workload, side)
    np.testing.assert_allclose(host(result), host(workload.floor()), rtol=1e-5)


# --- the same steps under tf.function: their graphs run as replay plans (docs/function.md) ---
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("size", list(bench.MLP_SIZES))
def test_mlp_training_step_traced(benchmark, bench_device, size, side):
    if size == "large" and benchmark.disabled:
        pytest.skip("the large MLP is only run when benchmarking (about 1 s a step here)")
    workload = bench.mlp_training_step(bench_device, size, traced=True)
    _run(benchmark, workload, side)


@pytest.mark.parametrize("side", SIDES)
def test_tape_overhead_traced(benchmark, bench_device, side):
    workload = bench.tape_overhead(bench_device, traced=True)
    result = _run(benchmark, workload, side)
    np.testing.assert_allclose(host(result), host(workload.floor()), rtol=1e-5)
