"""pytest-benchmark suite of the CNN training step (issue 11) beside its NumPy floor.

    pytest benchmarks/test_bench_cnn.py --benchmark-enable --benchmark-json=out.json

The framework and the floor are the same algorithm, so they compute the same losses; the ratio of
their medians is what tensorflowish adds. `tensorflowish bench` also prints PyTorch's step.
"""

from __future__ import annotations

import pytest

from tensorflowish.tools import bench_cnn

SIDES = ["framework", "floor"]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("size", list(bench_cnn.CNN_SIZES))
def test_cnn_training_step(benchmark, size, side):
    if size != "28x28x1 b64" and benchmark.disabled:
        pytest.skip("the 32x32x3 network is only run when benchmarking (seconds a step here)")
    workload = bench_cnn.cnn_training_step("CPU:0", size)
    benchmark.group = f"{workload.name} {workload.size}"
    benchmark(workload.framework if side == "framework" else workload.floor)


def test_cnn_training_step_matches_its_floor():
    workload = bench_cnn.cnn_training_step("CPU:0", "28x28x1 b64")
    losses = [(float(workload.framework()), float(workload.floor())) for _ in range(3)]
    for framework_loss, floor_loss in losses:
        assert framework_loss == pytest.approx(floor_loss, rel=1e-4)
    assert losses[-1][0] < losses[0][0]


@pytest.mark.parametrize("side", SIDES)
def test_cnn_training_step_traced(benchmark, side):
    """The same step under tf.function: its graph runs as a replay plan."""
    workload = bench_cnn.cnn_training_step("CPU:0", "28x28x1 b64", traced=True)
    benchmark.group = f"{workload.name} {workload.size}"
    benchmark(workload.framework if side == "framework" else workload.floor)


def test_cnn_training_step_traced_matches_its_floor():
    workload = bench_cnn.cnn_training_step("CPU:0", "28x28x1 b64", traced=True)
    losses = [(float(workload.framework()), float(workload.floor())) for _ in range(3)]
    for framework_loss, floor_loss in losses:
        assert framework_loss == pytest.approx(floor_loss, rel=1e-4)
    graph = next(iter(workload.framework.function._concrete.values())).graph
    assert graph.plan, graph.plan_note


def test_flops_count_the_gemms():
    # 28x28x1 b64: conv1 26*26 px x 9 x 32 (forward + kernel gradient), conv2 11*11 px x 288 x
    # 64 (three GEMMs), dense 1600 x 10 (three)
    expected = 2 * 64 * (26 * 26 * 9 * 32 * 2 + 11 * 11 * 288 * 64 * 3) + 6 * 64 * 1600 * 10
    assert bench_cnn._flops("28x28x1 b64") == expected


def test_pytorch_line_says_when_torch_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("no torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    from tensorflowish.tools import bench

    result = bench.Result("CNN training step", "28x28x1 b64", "CPU:0", 0.0178, 0.0152, 1e9)
    line = bench_cnn.pytorch_lines([result])
    assert "torch not installed" in line and "8.9 ms" in line and "2.00x" in line
    assert "MISSED" in line
