"""The benchmark workloads, each beside its hand-written NumPy/CuPy floor.

The floor is the same computation with no framework at all: the same GEMMs, in-place ops, no
tape, and row/column sums done as BLAS matrix-vector products as the framework's CPU kernels do
them (NumPy's own reductions are several times slower), so a ratio measures only overhead.
`benchmarks/` runs these through pytest-benchmark; `tensorflowish bench` times them on every
usable backend and prints the ratio of medians against the floor measured in the same run.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np

from .. import backend

MLP_SIZES = {  # name: (layer widths, batch size)
    "tiny": ((64, 32, 10), 32),
    "small": ((784, 128, 10), 64),
    "medium": ((784, 512, 512, 10), 256),
    "large": ((2048, 2048, 2048, 10), 512),
}
DENSE_SIZES = [(64, 64, 64), (256, 256, 256), (512, 1024, 1024), (1024, 2048, 2048)]
LEARNING_RATE = 0.01


@dataclasses.dataclass
class Workload:
    """One measurement: a framework callable and its floor, on one backend."""

    name: str
    size: str
    flops: float  # per call, 0 where GFLOP/s means nothing
    framework: Callable[[], object]
    floor: Callable[[], object]


def _module(device: str):
    return backend.array_module_for_device(device)


def _random(xp, rng, shape, scale=1.0, dtype=np.float32):
    return xp.asarray((rng.standard_normal(shape) * scale).astype(dtype))


# --- dense layer -----------------------------------------------------------------------------
def dense_forward(device: str, n: int, k: int, m: int) -> Workload:
    """y = relu(x @ W + b): tf.nn.dense against matmul + in-place bias and relu."""
    import tensorflowish as tf

    xp, rng = _module(device), np.random.default_rng(0)
    x, w, b = _random(xp, rng, (n, k)), _random(xp, rng, (k, m), k ** -0.5), _random(xp, rng, (m,))
    tx, tw, tb = tf.Tensor(x), tf.Variable(w), tf.Variable(b)
    y = xp.empty((n, m), np.float32)

    def floor():
        xp.matmul(x, w, out=y)
        xp.add(y, b, out=y)
        xp.maximum(y, 0, out=y)
        return y

    return Workload("dense forward", f"{n}x{k}x{m}", 2.0 * n * k * m,
                    lambda: tf.nn.dense(tx, tw, tb, activation="relu"), floor)


def dense_forward_backward(device: str, n: int, k: int, m: int) -> Workload:
    """Forward, then dx, dW and db through the tape, against the same by hand."""
    import tensorflowish as tf

    xp, rng = _module(device), np.random.default_rng(0)
    x, w, b = _random(xp, rng, (n, k)), _random(xp, rng, (k, m), k ** -0.5), _random(xp, rng, (m,))
    dy = _random(xp, rng, (n, m))
    tx, tw, tb, tdy = tf.Tensor(x), tf.Variable(w), tf.Variable(b), tf.Tensor(dy)

    def framework():
        with tf.GradientTape() as tape:
            tape.watch(tx)
            out = tf.nn.dense(tx, tw, tb, activation="relu")
        return tape.gradient(out, [tx, tw, tb], output_gradients=tdy)

    ones = xp.ones(n, np.float32)

    def floor():
        y = xp.matmul(x, w)
        y += b
        xp.maximum(y, 0, out=y)
        g = dy * (y > 0)
        return g @ w.T, x.T @ g, ones @ g  # the bias gradient as a BLAS sum, as the kernels do

    return Workload("dense forward+backward", f"{n}x{k}x{m}", 6.0 * n * k * m, framework, floor)


# --- softmax cross-entropy ----------------------------------------------------------------------
def softmax_cross_entropy(device: str, n: int, classes: int) -> Workload:
    """Mean sparse softmax cross-entropy and its gradient."""
    import tensorflowish as tf

    xp, rng = _module(device), np.random.default_rng(0)
    logits = _random(xp, rng, (n, classes))
    labels = xp.asarray(rng.integers(0, classes, n))
    tlogits, tlabels = tf.Tensor(logits), tf.Tensor(labels)
    rows = xp.arange(n)
    ones = xp.ones(classes, np.float32)

    def framework():
        with tf.GradientTape() as tape:
            tape.watch(tlogits)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tlabels, tlogits))
        return loss, tape.gradient(loss, tlogits)

    def floor():
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp @ ones  # row sums as a BLAS product, as the kernels do
        loss = (xp.log(total) - shifted[rows, labels]).mean()
        exp /= total[:, None]
        exp[rows, labels] -= 1
        exp *= 1.0 / n
        return loss, exp

    return Workload("softmax cross-entropy", f"{n}x{classes}", 0.0, framework, floor)


# --- optimiser step ------------------------------------------------------------------------
def optimizer_step(device: str, parameters: int) -> Workload:
    """One SGD-with-momentum update of a parameter vector."""
    import tensorflowish as tf

    xp, rng = _module(device), np.random.default_rng(0)
    p, g = _random(xp, rng, (parameters,)), _random(xp, rng, (parameters,))
    floor_p, velocity = p.copy(), xp.zeros_like(p)
    variable, gradient = tf.Variable(p), tf.Tensor(g)
    optimizer = tf.keras.optimizers.SGD(learning_rate=LEARNING_RATE, momentum=0.9)
    scratch = xp.empty_like(p)

    def floor():
        xp.multiply(velocity, 0.9, out=velocity)
        xp.multiply(g, LEARNING_RATE, out=scratch)
        xp.subtract(velocity, scratch, out=velocity)
        xp.add(floor_p, velocity, out=floor_p)
        return floor_p

    def framework():
        optimizer.apply_gradients([(gradient, variable)])
        return variable

    return Workload("SGD momentum step", f"{parameters}", 0.0, framework, floor)


# --- a whole MLP training step -----------------------------------------------------------------
def mlp_training_step(device: str, size: str, traced: bool = False) -> Workload:
    """Forward (relu hidden layers), mean softmax cross-entropy, gradients, SGD update
    (`traced`: the step under tf.function, its graph replayed)."""
    import tensorflowish as tf

    widths, batch = MLP_SIZES[size]
    xp, rng = _module(device), np.random.default_rng(0)
    x = _random(xp, rng, (batch, widths[0]))
    labels = xp.asarray(rng.integers(0, widths[-1], batch))
    weights = [_random(xp, rng, (a, b), a ** -0.5) for a, b in zip(widths[:-1], widths[1:])]
    biases = [xp.zeros(b, np.float32) for b in widths[1:]]
    variables = []
    for w, b in zip(weights, biases):
        variables += [tf.Variable(w), tf.Variable(b)]
    tx, tlabels = tf.Tensor(x), tf.Tensor(labels)
    optimizer = tf.keras.optimizers.SGD(learning_rate=LEARNING_RATE)
    floor_weights = [w.copy() for w in weights]
    floor_biases = [b.copy() for b in biases]
    rows = xp.arange(batch)
    batch_ones, class_ones = xp.ones(batch, np.float32), xp.ones(widths[-1], np.float32)
    last = len(weights) - 1

    def step(inputs, targets):
        with tf.GradientTape() as tape:
            h = inputs
            for i in range(0, len(variables), 2):
                h = tf.nn.dense(h, variables[i], variables[i + 1],
                                activation=None if i // 2 == last else "relu")
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, h))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    def floor():
        activations = [x]
        masks = []
        for i, (w, b) in enumerate(zip(floor_weights, floor_biases)):
            h = activations[-1] @ w
            h += b
            if i != last:
                xp.maximum(h, 0, out=h)
                masks.append(h > 0)
            activations.append(h)
        logits = activations[-1]
        logits -= logits.max(axis=1, keepdims=True)
        exp = xp.exp(logits)
        total = exp @ class_ones  # sums as BLAS products, as the framework's kernels do
        loss = (xp.log(total) - logits[rows, labels]).mean()
        exp /= total[:, None]
        exp[rows, labels] -= 1
        g = exp
        g *= 1.0 / batch
        for i in range(last, -1, -1):
            dw = activations[i].T @ g
            db = batch_ones @ g
            if i:
                g = g @ floor_weights[i].T
                g *= masks[i - 1]
            dw *= LEARNING_RATE
            floor_weights[i] -= dw
            db *= LEARNING_RATE
            floor_biases[i] -= db
        return loss

    flops = 6.0 * batch * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    if traced:  # the batch passed as arguments, as a training loop passes it
        return Workload("MLP training step (tf.function)", size, flops,
                        _calling(tf.function(step), tx, tlabels), floor)
    return Workload("MLP training step", size, flops, lambda: step(tx, tlabels), floor)


def _calling(function, *args, pick=None):
    """A zero-argument call of a tf.function (kept as `.function` for inspection)."""
    if pick is None:
        def run():
            return function(*args)
    else:
        def run():
            return function(*args)[pick]
    run.function = function
    return run


# --- tape overhead --------------------------------------------------------------------------------
def tape_overhead(device: str, ops: int = 100, elements: int = 16,
                  traced: bool = False) -> Workload:
    """A chain of elementwise ops on tiny tensors, forward and backward: pure framework cost
    (`traced`: under tf.function)."""
    import tensorflowish as tf

    xp, rng = _module(device), np.random.default_rng(0)
    x0 = _random(xp, rng, (elements,))
    scale = _random(xp, rng, (elements,))
    tx, tscale = tf.Tensor(x0), tf.Tensor(scale)

    from ..function.cuda_graph import elementwise_chain

    chain = elementwise_chain(ops)

    def floor():
        y = x0
        for i in range(ops):
            y = y * scale if i % 2 == 0 else y + scale
        g = xp.ones_like(y)
        for i in range(ops - 1, -1, -1):
            if i % 2 == 0:
                g = g * scale
        return g

    # the inputs are arguments and the forward value is returned too, as the floor computes
    # it: a plan could otherwise fold the constants or drop the unused forward
    if traced:
        return Workload("tape overhead (tf.function)", f"{ops} ops x {elements}", 0.0,
                        _calling(tf.function(chain), tx, tscale, pick=1), floor)
    return Workload("tape overhead", f"{ops} ops x {elements}", 0.0,
                    lambda: chain(tx, tscale)[1], floor)


def all_workloads(device: str, quick: bool = False) -> list[Workload]:
    """Every workload for one device; `quick` keeps only small sizes (for smoke runs)."""
    dense_sizes = DENSE_SIZES[:2] if quick else DENSE_SIZES
    mlp_sizes = ["tiny", "small"] if quick else list(MLP_SIZES)
    workloads = [dense_forward(device, *s) for s in dense_sizes]
    workloads += [dense_forward_backward(device, *s) for s in dense_sizes]
    workloads += [softmax_cross_entropy(device, 512, 10), softmax_cross_entropy(device, 4096, 1000)]
    workloads += [optimizer_step(device, 1 << 20)]
    workloads += [mlp_training_step(device, s) for s in mlp_sizes]
    workloads.append(tape_overhead(device))
    # the same steps traced by tf.function (replay plans on arrays; see docs/function.md)
    workloads += [mlp_training_step(device, s, traced=True) for s in mlp_sizes]
    workloads.append(tape_overhead(device, traced=True))
    from .bench_fit import fit_workloads  # Keras fit per epoch, traced / run_eagerly=True

    workloads += fit_workloads(device, quick)
    from .bench_sequences import sequence_workloads  # LSTM and text classifier steps

    workloads += sequence_workloads(device, quick)
    from .bench_cnn import cnn_workloads  # CPU only: its floor is NumPy

    workloads += cnn_workloads(device, quick)
    from .bench_control import control_workloads  # a tf.while_loop on a gradient path

    workloads += control_workloads(device, quick)
    return workloads


# --- timing ------------------------------------------------------------------------------
def _timer(function: Callable[[], object], device: str) -> Callable[[int], float]:
    """timed(n): seconds for n calls, after warm-up; GPU calls are timed with CUDA events."""
    for _ in range(3):
        function()
    if device.startswith("GPU"):
        cupy = backend.require_cupy()
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        cupy.cuda.get_current_stream().synchronize()

        def timed(n):
            start.record()
            for _ in range(n):
                function()
            stop.record()
            stop.synchronize()
            return cupy.cuda.get_elapsed_time(start, stop) / 1000.0
    else:
        def timed(n):
            begin = time.perf_counter()
            for _ in range(n):
                function()
            return time.perf_counter() - begin
    return timed


def _calls_per_sample(timed: Callable[[int], float], min_time: float) -> int:
    calls = 1
    while timed(calls) < min_time / 5 and calls < 1 << 16:
        calls *= 2
    return calls


def time_pair(framework: Callable[[], object], floor: Callable[[], object], device: str,
              repeats: int = 45, min_time: float = 0.05) -> tuple[float, float]:
    """Median seconds per call of each, sampled alternately (one sample of the framework, one of
    the floor, and again), so that the machine slowing down or speeding up hits both alike."""
    timers = [_timer(framework, device), _timer(floor, device)]
    calls = [_calls_per_sample(timed, min_time) for timed in timers]
    samples: list[list[float]] = [[], []]
    for _ in range(repeats):
        for timed, n, into in zip(timers, calls, samples):
            into.append(timed(n) / n)
    return statistics.median(samples[0]), statistics.median(samples[1])


@dataclasses.dataclass
class Result:
    workload: str
    size: str
    device: str
    seconds: float
    floor_seconds: float
    flops: float

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor_seconds

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds / 1e9 if self.flops else float("nan")


def run(devices: list[str], quick: bool = False, repeats: int = 45,
        progress: Callable[[str], None] | None = None) -> list[Result]:
    """Time every workload on every device, interleaving framework and floor runs."""
    from .. import device as device_scope

    results = []
    for device in devices:
        with device_scope(device):
            for workload in all_workloads(device, quick):
                if progress:
                    progress(f"{device} {workload.name} {workload.size}")
                seconds, floor_seconds = time_pair(workload.framework, workload.floor, device,
                                                   repeats)
                results.append(Result(workload.name, workload.size, device, seconds,
                                      floor_seconds, workload.flops))
    return results


def format_table(results: list[Result]) -> str:
    """A Markdown table: time, GFLOP/s, ratio to the floor, GPU-over-CPU speedup."""
    cpu = {(r.workload, r.size): r.seconds for r in results if r.device.startswith("CPU")}
    lines = ["| workload | size | device | time | floor | ratio | GFLOP/s | GPU speedup |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        speedup = ""
        if r.device.startswith("GPU") and (r.workload, r.size) in cpu:
            speedup = f"{cpu[(r.workload, r.size)] / r.seconds:.1f}x"
        gflops = "" if not r.flops else f"{r.gflops:.0f}"
        lines.append(f"| {r.workload} | {r.size} | {r.device} | {_format_time(r.seconds)} | "
                     f"{_format_time(r.floor_seconds)} | {r.ratio:.2f}x | {gflops} | {speedup} |")
    return "\n".join(lines)


# issue 5's targets: the MLP steps as ratios to the floor, the tape as microseconds per op;
# issue 11's: the CNN steps as ratios to their floor
MLP_TARGETS = {"tiny": 2.0, "small": 1.3, "medium": 1.10, "large": 1.05}
# issue 16's: the same steps under tf.function, and the elementwise chain as a ratio
TRACED_TARGETS = {("MLP training step (tf.function)", "tiny"): 1.15,
                  ("MLP training step (tf.function)", "small"): 1.05,
                  ("MLP training step (tf.function)", "medium"): 1.02,
                  ("MLP training step (tf.function)", "large"): 1.02,
                  ("tape overhead (tf.function)", "100 ops x 16"): 1.5}
CNN_TARGET = 1.10
TAPE_TARGET_US = 2.0


def tape_overhead_per_op(result: Result) -> float:
    """Microseconds the framework adds per elementwise op, forward and backward together."""
    ops = int(result.size.split()[0])  # "100 ops x 16"
    return (result.seconds - result.floor_seconds) / ops * 1e6


def format_targets(results: list[Result]) -> str:
    """One line per target measured: what was measured, the target, met or missed."""
    lines = []
    for r in results:
        if r.workload == "MLP training step" and r.size in MLP_TARGETS:
            value, target, unit = r.ratio, MLP_TARGETS[r.size], "x"
        elif (r.workload, r.size) in TRACED_TARGETS:
            value, target, unit = r.ratio, TRACED_TARGETS[(r.workload, r.size)], "x"
        elif r.workload == "CNN training step":
            value, target, unit = r.ratio, CNN_TARGET, "x"
        elif r.workload == "tape overhead":
            value, target, unit = tape_overhead_per_op(r), TAPE_TARGET_US, " µs/op"
        elif r.workload in SEQUENCE_TARGETS:
            value, target, unit = r.ratio, SEQUENCE_TARGETS[r.workload], "x"
        else:
            continue
        verdict = "met" if value <= target else "MISSED"
        lines.append(f"{r.device} {r.workload} {r.size}: {value:.2f}{unit} "
                     f"(target <= {target:.2f}{unit}) {verdict}")
    return "\n".join(lines)


def _format_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"


def plot(results: list[Result], path: str, title: str | None = None) -> None:
    """The ratio to the floor of every workload (the number that matters: 1.0 is no overhead)
    in a wide panel on top, then time against size per workload (framework solid, floor
    dashed), one panel each; ``title`` names the machine, BLAS and date."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("Plotting needs matplotlib: pip install 'tensorflowish[plot]'") from error
    names = list(dict.fromkeys(r.workload for r in results))
    devices = list(dict.fromkeys(r.device for r in results))
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure = plt.figure(figsize=(4.4 * columns, 3.4 * rows + 3.6))
    grid = figure.add_gridspec(rows + 1, columns, height_ratios=[1.15] + [1.0] * rows)
    ratio_axis = figure.add_subplot(grid[0, :])
    labels = list(dict.fromkeys(f"{r.workload}\n{r.size}" for r in results))
    width = 0.8 / len(devices)
    for index, device in enumerate(devices):
        ratios = {f"{r.workload}\n{r.size}": r.ratio for r in results if r.device == device}
        positions = [i + (index - (len(devices) - 1) / 2) * width for i in range(len(labels))]
        ratio_axis.bar(positions, [ratios.get(label, float("nan")) for label in labels], width,
                       label=device)
    ratio_axis.axhline(1.0, color="black", linewidth=0.8)
    ratio_axis.set_xticks(range(len(labels)), labels, fontsize=6, rotation=20, ha="right")
    ratio_axis.set_ylabel("time / floor time")
    ratio_axis.set_title("ratio to the hand-written floor (1.0 = no overhead)", fontsize=9)
    ratio_axis.legend(fontsize=7)
    for position, name in enumerate(names):
        axis = figure.add_subplot(grid[1 + position // columns, position % columns])
        for device in devices:
            chosen = [r for r in results if r.workload == name and r.device == device]
            sizes = [r.size for r in chosen]
            axis.plot(sizes, [r.seconds * 1e3 for r in chosen], "o-",
                      label=f"{device} tensorflowish")
            axis.plot(sizes, [r.floor_seconds * 1e3 for r in chosen], "x--",
                      label=f"{device} floor")
        axis.set_title(name, fontsize=9)
        axis.set_yscale("log")
        axis.set_ylabel("ms per call")
        axis.tick_params(axis="x", labelrotation=45, labelsize=7)
        axis.legend(fontsize=6)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def blas_info() -> str:
    """Which BLAS library and kernel NumPy runs (threadpoolctl), for the record."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    parts = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} "
             f"threads={i.get('num_threads')}" for i in threadpool_info()
             if i.get("user_api") == "blas"]
    return "; ".join(parts) or "no BLAS found"


SEQUENCE_TARGETS = {"LSTM training step": 1.15, "text classifier step": 1.15}


def torch_lstm_line(repeats: int) -> str:
    """PyTorch's nn.LSTM CPU training step at the LSTM benchmark's size, where installed."""
    from .bench_sequences import LSTM_SIZE, torch_lstm_step

    step = torch_lstm_step()
    if step is None:
        return "PyTorch nn.LSTM step: torch not installed"
    seconds = time_pair(step, step, "CPU:0", max(3, repeats // 5))[0]
    return f"PyTorch nn.LSTM step (CPU) {LSTM_SIZE}: {_format_time(seconds)}"


def main(quick: bool = False, repeats: int = 45, plot_path: str | None = "benchmark.png",
         json_path: str | None = None, devices: list[str] | None = None) -> list[Result]:
    """What `tensorflowish bench` runs: every usable backend, a table, a plot and JSON; on a GPU
    also the GPU targets (see tensorflowish.tools.bench_gpu)."""
    import datetime
    import json
    import os
    import platform

    if devices is None:
        devices = ["CPU:0"]
        reason = backend.gpu_unavailable_reason()
        if reason is None:
            devices.append("GPU:0")
        else:
            print(f"GPU: not benchmarked ({reason})")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}; BLAS: {blas_info()}")
    if quick:
        print("--quick: small sizes and few samples; the figures are indicative only")
    gpus = [d for d in devices if d.startswith("GPU")]
    for line in backend.gpu_description() if gpus else ():
        print(line)
    progress = lambda text: print(f"  timing {text} ...", flush=True)  # noqa: E731
    results = run(devices, quick=quick, repeats=repeats, progress=progress)
    print(format_table(results))
    print(format_targets(results))
    print(torch_lstm_line(repeats))
    from .bench_cnn import pytorch_lines

    print(pytorch_lines(results))
    gpu_targets: list = []

    def write_json() -> None:
        report = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine, "blas": blas_info(), "quick": quick, "repeats": repeats,
            "gpu": backend.gpu_description() if gpus else None,
            "results": [dataclasses.asdict(r) | {"ratio": r.ratio} for r in results],
            "gpu_targets": [dataclasses.asdict(t) | {"verdict": t.verdict} for t in gpu_targets],
        }
        with open(json_path, "w") as handle:
            json.dump(report, handle, indent=2)

    if json_path:
        write_json()  # the table first, in case the GPU targets do not finish
    if gpus:
        from . import bench_gpu

        cpu_seconds = {r.size: r.seconds for r in results
                       if r.device.startswith("CPU") and r.workload == "MLP training step"}
        gpu_targets = bench_gpu.measure(gpus[0], repeats, cpu_seconds, progress)
        print("GPU targets:")
        print(bench_gpu.format_targets(gpu_targets))
        if json_path:
            write_json()
    if json_path:
        print(f"wrote {json_path}")
    if plot_path:
        try:
            date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
            plot(results, plot_path, f"tensorflowish bench{' --quick' if quick else ''}, "
                 f"{date}: {machine}; BLAS {blas_info()}")
            print(f"wrote {plot_path}")
        except ImportError as error:
            print(f"no plot: {error}")
    return results
