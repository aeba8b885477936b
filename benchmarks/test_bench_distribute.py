"""Data-parallel throughput: allreduce bandwidth, and the digits MLP on 1 vs 2 processes.

Run the measurements (2 cores here; unset the OpenBLAS overrides of this image so NumPy picks
its best kernels, see FACTS.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python -m pytest benchmarks/test_bench_distribute.py --benchmark-enable -s

Each test launches this same file as the worker (`python test_bench_distribute.py WHAT ...`),
under mpiexec.gforker on loopback for 2 processes, and the processes time themselves; the
numbers land in the benchmark's extra_info and are printed. Without ``--benchmark-enable``
(the default in pyproject) each test runs a tiny version once, as a check that it works.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SIZES_MIB = [1, 4, 16, 64]
GLOBAL_BATCH = 128
HIDDEN = 256


def _mpi_reason() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'tensorflowish[distributed]')"
    from tensorflowish import distribute

    try:
        distribute.find_launcher()
    except distribute.DistributedError as error:
        return str(error)
    return None


requires_mpi = pytest.mark.skipif(_mpi_reason() is not None, reason=f"needs MPI: {_mpi_reason()}")


# --- what the worker processes run -----------------------------------------------------------


def measure_bandwidth(output: Path, sizes_mib: list[int], repeats: int) -> None:
    """Median time of a float32 allreduce per size: the engine alone (one fused buffer through
    MPI Allreduce) and the whole `distribute.allreduce` call (agree + pack + reduce + average)."""
    import tensorflowish as tf
    from tensorflowish import distribute

    distribute.init()
    context = distribute.process._get()
    results = []
    for mib in sizes_mib:
        array = np.ones(mib * 2**20 // 4, dtype=np.float32)
        tensor = tf.constant(array)
        timings: dict[str, list[float]] = {"engine": [], "allreduce": []}
        for repeat in range(repeats + 2):  # two warm-up rounds
            for kind in timings:
                distribute.barrier()
                start = time.perf_counter()
                if kind == "engine":
                    context.reduce_buffer(array, "sum")
                else:
                    distribute.allreduce(tensor)
                if repeat >= 2:
                    timings[kind].append(time.perf_counter() - start)
        row = {"MiB": mib}
        for kind, values in timings.items():
            seconds = float(np.median(values))
            row[f"{kind}_ms"] = seconds * 1e3
            row[f"{kind}_GB_per_s"] = array.nbytes / seconds / 1e9
            row[f"{kind}_best_GB_per_s"] = array.nbytes / min(values) / 1e9
        results.append(row)
    if distribute.is_chief():
        output.write_text(json.dumps(results))


def measure_training(output: Path, threads: int, epochs: int) -> None:
    """Samples per second of plain-SGD training of a 64-256-256-10 MLP on the digits."""
    from sklearn.datasets import load_digits
    from threadpoolctl import threadpool_info, threadpool_limits

    import tensorflowish as tf
    from tensorflowish import distribute

    distribute.init()
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x, y = distribute.shard((x, y), drop_remainder=True)
    rng = np.random.default_rng(0)
    params = [tf.Variable(rng.normal(0, 0.1, shape).astype(np.float32)) for shape in
              [(64, HIDDEN), (HIDDEN,), (HIDDEN, HIDDEN), (HIDDEN,), (HIDDEN, 10), (10,)]]
    distribute.broadcast_variables(params)
    batch = GLOBAL_BATCH // distribute.size()
    with threadpool_limits(limits=threads, user_api="blas"):
        distribute.barrier()
        start = time.perf_counter()
        samples = 0
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for first in range(0, len(x) - batch + 1, batch):
                rows = order[first:first + batch]
                with tf.GradientTape() as tape:
                    hidden = tf.nn.dense(x[rows], params[0], params[1], activation="relu")
                    hidden = tf.nn.dense(hidden, params[2], params[3], activation="relu")
                    logits = tf.nn.dense(hidden, params[4], params[5])
                    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                        labels=y[rows], logits=logits))
                gradients = distribute.DistributedGradientTape(tape).gradient(loss, params)
                for variable, gradient in zip(params, gradients):
                    variable.assign_sub(0.1 * gradient)
                samples += len(rows) * distribute.size()
        distribute.barrier()
        seconds = time.perf_counter() - start
        blas = [{k: info.get(k) for k in ("internal_api", "version", "architecture",
                                          "num_threads")}
                for info in threadpool_info() if info.get("user_api") == "blas"]
    if distribute.is_chief():
        output.write_text(json.dumps({"processes": distribute.size(), "threads": threads,
                                      "samples_per_second": samples / seconds,
                                      "seconds": seconds, "samples": samples, "blas": blas}))


# --- the benchmarks ----------------------------------------------------------------------------


def _launch(processes: int, arguments: list[str]) -> None:
    from tensorflowish import distribute

    command = [sys.executable, __file__, *arguments]
    if processes == 1:  # a plain process, not under a launcher: size 1, no MPI at all
        code = subprocess.run(command, timeout=600).returncode
    else:
        code = distribute.launch(processes, command, timeout=600)
    assert code == 0, f"{' '.join(command)} failed with exit code {code}"


@requires_mpi
def test_allreduce_bandwidth(benchmark, tmp_path):
    quick = benchmark.disabled
    output = tmp_path / "bandwidth.json"
    sizes = [1] if quick else SIZES_MIB
    arguments = ["bandwidth", str(output), str(1 if quick else 10), *map(str, sizes)]
    benchmark.pedantic(_launch, args=(2, arguments), rounds=1, iterations=1)
    rows = json.loads(output.read_text())
    benchmark.extra_info["allreduce_2_processes"] = rows
    print("\nfloat32 allreduce, 2 processes (MPICH via mpi4py, loopback); median (best):")
    for row in rows:
        print(f"  {row['MiB']:3d} MiB  engine {row['engine_ms']:7.2f} ms "
              f"{row['engine_GB_per_s']:5.2f} ({row['engine_best_GB_per_s']:5.2f}) GB/s   "
              f"distribute.allreduce {row['allreduce_ms']:7.2f} ms "
              f"{row['allreduce_GB_per_s']:5.2f} ({row['allreduce_best_GB_per_s']:5.2f}) GB/s")
    assert all(row["engine_GB_per_s"] > 0 for row in rows)


@requires_mpi
def test_digits_mlp_samples_per_second(benchmark, tmp_path):
    """Each configuration is run `rounds` times, interleaved, because a shared 2-core machine
    is noisy: the best round is the machine's capability, the median what one usually gets."""
    epochs, rounds = ("1", 1) if benchmark.disabled else ("40", 5)
    configurations = ((1, 1), (1, 2), (2, 1))
    results: dict[str, list] = {f"{p}x{t}": [] for p, t in configurations}

    def run_all():
        for round_ in range(rounds):
            for processes, threads in configurations:
                output = tmp_path / f"{processes}x{threads}-{round_}.json"
                _launch(processes, ["training", str(output), str(threads), epochs])
                results[f"{processes}x{threads}"].append(json.loads(output.read_text()))

    benchmark.pedantic(run_all, rounds=1, iterations=1)
    summary = {}
    for key, runs in results.items():
        speeds = [run["samples_per_second"] for run in runs]
        summary[key] = {"best": max(speeds), "median": float(np.median(speeds)),
                        "worst": min(speeds), "blas": runs[0]["blas"]}
    benchmark.extra_info["digits_mlp_samples_per_second"] = summary
    print(f"\ndigits MLP 64-{HIDDEN}-{HIDDEN}-10, float32, global batch {GLOBAL_BATCH}, plain "
          f"SGD, {epochs} epochs, {rounds} rounds:")
    for key, row in summary.items():
        processes, threads = key.split("x")
        print(f"  {processes} process(es) x {threads} BLAS thread(s): best {row['best']:8.0f}  "
              f"median {row['median']:8.0f}  worst {row['worst']:8.0f} samples/s")
    print(f"  BLAS: {summary['1x2']['blas']}")
    assert all(row["worst"] > 0 for row in summary.values())


if __name__ == "__main__":
    what, destination = sys.argv[1], Path(sys.argv[2])
    if what == "bandwidth":
        measure_bandwidth(destination, [int(v) for v in sys.argv[4:]], int(sys.argv[3]))
    else:
        measure_training(destination, int(sys.argv[3]), int(sys.argv[4]))
