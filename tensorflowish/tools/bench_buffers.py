"""The traced MLP training step with and without the buffers its replay plan keeps from call to
call (tensorflowish/function/plan_buffers.py), beside the hand-written NumPy floor.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m tensorflowish.tools.bench_buffers

Samples are loops of steps taken in turn (kept, floor, not kept, floor, ...), so that the machine
slowing down hits all three alike; each ratio is the median over loops of a loop's time over the
mean of the floor loops beside it. Also prints the minor page faults per step (the cost of memory
the allocator hands back to the operating system and takes again), which does not depend on how
busy the machine is.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from ..function import plan_buffers
from .bench import MLP_SIZES, mlp_training_step


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def compare(size: str, loops: int = 21, seconds_per_loop: float = 0.02) -> dict:
    """{"kept", "fresh", "floor"}: median seconds per step; "kept/floor", "fresh/floor": median
    ratios; "faults": minor page faults per step of each."""
    steps = {}
    for name, keep in (("kept", True), ("fresh", False)):
        plan_buffers.enable(keep)
        try:
            workload = mlp_training_step("cpu", size, traced=True)
            for _ in range(3):
                workload.framework()  # the trace, then the plan's compilation
        finally:
            plan_buffers.enable(True)
        steps[name] = workload.framework
    steps["floor"] = workload.floor
    for function in steps.values():
        function()
    begin = time.perf_counter()
    steps["floor"]()
    calls = max(1, min(200, int(seconds_per_loop / max(time.perf_counter() - begin, 1e-7))))
    times: dict = {name: [] for name in steps}
    faults: dict = dict.fromkeys(steps, 0)
    order = ("kept", "floor", "fresh", "floor")
    for _ in range(loops):
        for name in order:
            function, before, begin = steps[name], _faults(), time.perf_counter()
            for _ in range(calls):
                function()
            times[name].append((time.perf_counter() - begin) / calls)
            faults[name] += _faults() - before
    floors = [(a + b) / 2 for a, b in zip(times["floor"][0::2], times["floor"][1::2])]
    result = {name: statistics.median(values) for name, values in times.items()}
    for name in ("kept", "fresh"):
        result[f"{name}/floor"] = statistics.median(t / f for t, f in zip(times[name], floors))
    result["faults"] = {name: count / (loops * calls * order.count(name))
                        for name, count in faults.items()}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(MLP_SIZES))
    parser.add_argument("--loops", type=int, default=21)
    options = parser.parse_args(argv)
    print("| size | kept buffers | not kept | floor | kept / floor | not kept / floor | "
          "page faults per step (kept, not kept, floor) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for size in options.sizes.split(","):
        r = compare(size, options.loops)
        faults = ", ".join(f"{r['faults'][name]:.1f}" for name in ("kept", "fresh", "floor"))
        print(f"| {size} | {r['kept'] * 1e6:.1f} µs | {r['fresh'] * 1e6:.1f} µs | "
              f"{r['floor'] * 1e6:.1f} µs | {r['kept/floor']:.3f} | {r['fresh/floor']:.3f} | "
              f"{faults} |", flush=True)


if __name__ == "__main__":
    main()
