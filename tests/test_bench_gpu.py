"""The GPU targets of `tensorflowish bench`: verdicts, and the workloads run on the CPU (timings
are not asserted; the targets are measured on a GPU by scripts/gpu-check)."""

from __future__ import annotations

import numpy as np
import pytest

from tensorflowish.tools import bench_gpu, cli


def test_each_target_names_value_target_and_verdict():
    lines = bench_gpu.format_targets([
        bench_gpu.Target("dense / 3 GEMMs", 1.10, 1.15, "<=", "x", "9 ms vs 8 ms"),
        bench_gpu.Target("fused / GEMM", 1.0, 1.0, "<", "x"),
        bench_gpu.Target("MLP speedup", 25.0, 20.0, ">=", "x"),
        bench_gpu.Target("launches", 57.0, None, "<=", "", "counted by CUDA graph capture"),
        bench_gpu.Target("launches", None, None, "<=", "", "no way to count here"),
    ]).splitlines()
    assert lines == [
        "dense / 3 GEMMs: 1.10x (target <= 1.15x) met; 9 ms vs 8 ms",
        "fused / GEMM: 1.00x (target < 1.00x) MISSED",
        "MLP speedup: 25.00x (target >= 20.00x) met",
        "launches: 57 reported; counted by CUDA graph capture",
        "launches: ? NOT MEASURED; no way to count here",
    ]


def test_three_gemm_floor_computes_the_dense_gradients():
    workload = bench_gpu.dense_against_three_gemms("CPU:0", 8, 6, 4)
    rng = np.random.default_rng(1)  # the workload's own draws, in its order
    x = (rng.standard_normal((8, 6))).astype(np.float32)
    rng.standard_normal((6, 4))
    dy = (rng.standard_normal((8, 4))).astype(np.float32)
    np.testing.assert_allclose(workload.floor(), x.T @ dy, rtol=1e-5, atol=1e-6)
    assert workload.framework() is not None and workload.flops == 2.0 * 3 * 8 * 6 * 4


def test_fused_and_unfused_dense_paths_agree_on_the_emulator(tmp_path, monkeypatch):
    from tensorflowish.kernels import KERNEL_DIR, cuda, emulator

    monkeypatch.setenv("TENSORFLOWISH_KERNEL_CACHE", str(tmp_path))
    runner = cuda.KernelRunner(
        np, lambda name: emulator.load(KERNEL_DIR / name, order="forward", seed=0),
        lambda shape, dtype: np.full(shape, np.nan, dtype=dtype))
    workload = bench_gpu.fused_against_gemm_epilogue(runner, 5, 7, 3)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 7)).astype(np.float32)
    w = (rng.standard_normal((7, 3)) * 7 ** -0.5).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    expected = np.maximum(x @ w + b, 0)
    np.testing.assert_allclose(workload.framework(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(workload.floor(), expected, rtol=1e-5, atol=1e-6)


def test_bench_takes_devices_and_refuses_an_unusable_gpu(capsys):
    args = cli.build_parser().parse_args(["bench", "--device", "GPU:0", "--device", "cpu"])
    assert args.device == ["GPU:0", "cpu"]
    from tensorflowish import backend

    if backend.gpu_unavailable_reason() is None:
        pytest.skip("a GPU is usable here")
    assert cli.main(["bench", "--device", "GPU:0"]) == 1
    assert backend.gpu_unavailable_reason() in capsys.readouterr().err
    assert cli.main(["bench", "--device", "TPU:0"]) == 1
    assert "Unknown device 'TPU:0'" in capsys.readouterr().err
