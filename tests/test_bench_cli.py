"""`tensorflowish bench`: the table, the plot and the command line (timings are not asserted)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.tools import bench, cli


def _results():
    return [bench.Result("MLP training step", "tiny", "CPU:0", 2e-4, 1e-4, 1e6),
            bench.Result("MLP training step", "small", "CPU:0", 4e-3, 3e-3, 1e8),
            bench.Result("MLP training step", "tiny", "GPU:0", 1e-4, 5e-5, 1e6)]


def test_table_has_ratio_gflops_and_gpu_speedup():
    table = bench.format_table(_results())
    assert "| MLP training step | tiny | CPU:0 | 200.0 µs | 100.0 µs | 2.00x | 5 |  |" in table
    assert "| MLP training step | tiny | GPU:0 | 100.0 µs | 50.0 µs | 2.00x | 10 | 2.0x |" in table


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    bench.plot(_results(), str(path), "tensorflowish bench, 2026-11-29: x86_64; BLAS openblas")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_pair_runs_warm_up_and_every_repetition():
    workload = bench.tape_overhead("CPU:0", ops=4)
    calls = []

    def counted():
        calls.append(1)
        return workload.framework()

    seconds, floor_seconds = bench.time_pair(counted, workload.floor, "CPU:0", repeats=2,
                                             min_time=0.001)
    assert seconds > 0 and floor_seconds > 0
    assert len(calls) >= 3 + 2  # three warm-up calls, then at least one per repetition


def test_every_workload_builds():
    names = {w.name for w in bench.all_workloads("CPU:0", quick=True)}
    assert names == {"dense forward", "dense forward+backward", "softmax cross-entropy",
                     "SGD momentum step", "MLP training step", "tape overhead",
                     "LSTM training step", "text classifier step",
                     "text classifier step (dense gradient)", "CNN training step",
                     "MLP training step (tf.function)", "tape overhead (tf.function)",
                     "CNN training step (tf.function)", "LSTM training step (tf.function)",
                     "text classifier step (tf.function)",
                     "fit epoch, traced / eager", "fit epoch, steps_per_execution=16 / 1",
                     "while_loop recurrent step", "while_loop recurrent step (tf.function)"}


def test_traced_workloads_compute_what_the_eager_ones_do():
    eager = bench.mlp_training_step("CPU:0", "tiny")
    traced = bench.mlp_training_step("CPU:0", "tiny", traced=True)
    for _ in range(3):  # the trace, then replays
        assert float(traced.framework()) == float(eager.framework())
    np.testing.assert_allclose(bench.tape_overhead("CPU:0", traced=True).framework().numpy(),
                               bench.tape_overhead("CPU:0").framework().numpy())


def test_fit_epoch_row_trains_the_same_model_traced_and_eager():
    from tensorflowish.tools import bench_fit

    workload = bench_fit.fit_epoch("CPU:0")
    tf.random.set_seed(1)
    traced = workload.framework().history
    tf.random.set_seed(1)  # the same shuffle and dropout draws: the traced epoch is eager's
    assert traced == workload.floor().history
    assert traced["accuracy"][0] > 0.2  # learning: chance is 0.1


def test_fit_steps_per_execution_row_trains_the_same_model_both_ways():
    from tensorflowish.tools import bench_fit

    workload = bench_fit.fit_epoch_steps_per_execution("CPU:0")
    tf.random.set_seed(1)
    multi = workload.framework().history
    tf.random.set_seed(1)
    assert multi == workload.floor().history


def test_bench_command_is_wired():
    args = cli.build_parser().parse_args(["bench", "--quick", "--repeats", "2"])
    assert args.handler is cli.bench and args.quick and args.repeats == 2


def test_time_pair_alternates_framework_and_floor():
    order = []
    seconds = bench.time_pair(lambda: order.append("framework"), lambda: order.append("floor"),
                              "CPU:0", repeats=3, min_time=0.0)
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    # with min_time=0 each sample is one call: the last six calls are the samples
    assert order[-6:] == ["framework", "floor"] * 3
    assert order.count("framework") == order.count("floor") >= 3 + 3  # warm-up, then samples


def test_targets_name_each_verdict():
    results = _results() + [bench.Result("tape overhead", "100 ops x 16", "CPU:0", 250e-6, 50e-6,
                                         0.0)]
    lines = bench.format_targets(results).splitlines()
    assert "CPU:0 MLP training step tiny: 2.00x (target <= 2.00x) met" in lines
    assert "CPU:0 MLP training step small: 1.33x (target <= 1.30x) MISSED" in lines
    assert "CPU:0 tape overhead 100 ops x 16: 2.00 µs/op (target <= 2.00 µs/op) met" in lines
    assert len(lines) == 4  # the GPU tiny step too; nothing for workloads without a target


def test_bench_buffers_compares_kept_and_fresh_plans(capsys):
    """`python -m tensorflowish.tools.bench_buffers`: the traced step with and without kept
    buffers beside the floor (timings not asserted; the kept plan faults in no pages)."""
    from tensorflowish.tools import bench_buffers

    bench_buffers.main(["--sizes", "tiny", "--loops", "2"])
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.startswith("| tiny |") and row.count("|") == 8
    result = bench_buffers.compare("tiny", loops=2, seconds_per_loop=0.001)
    assert set(result) == {"kept", "fresh", "floor", "kept/floor", "fresh/floor", "faults"}
    assert result["faults"]["kept"] < 1
