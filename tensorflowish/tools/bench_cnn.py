"""The CNN training-step benchmark: tensorflowish against its hand-written NumPy floor (and
PyTorch, where it is installed).

Two networks, as issue 11 sets them: 28x28x1 at batch 64 (conv 3x3x32 VALID, max-pool 2,
conv 3x3x64 VALID, max-pool 2, dense 10) and 32x32x3 at batch 128 (two SAME 3x3x32 convs,
max-pool 2, two SAME 3x3x64 convs, max-pool 2, dense 10); ReLU after every convolution, mean
sparse softmax cross-entropy, plain SGD. The floor is the same algorithm with no framework: the
patch matrix copied from a strided view of the windows into a reused buffer, one GEMM per
convolution, bias and ReLU in place, pooling by comparing the window's strided slices, and
backward the ReLU mask, two GEMMs and the slices added back; the same float32 BLAS calls as the
framework.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .bench import LEARNING_RATE, Workload, _module, _random

# name: (input (H, W, C), batch, [(filters, padding) per conv, "pool" for a 2x2 max-pool])
CNN_SIZES = {
    "28x28x1 b64": ((28, 28, 1), 64, [(32, "VALID"), "pool", (64, "VALID"), "pool"]),
    "32x32x3 b128": ((32, 32, 3), 128, [(32, "SAME"), (32, "SAME"), "pool", (64, "SAME"),
                                        (64, "SAME"), "pool"]),
}
CLASSES = 10
# PyTorch 2.13 (oneDNN, channels_last) on this machine, as issue 11 measured it
PYTORCH_MS = {"28x28x1 b64": 8.9, "32x32x3 b128": 107.0}


def _plan(size: str):
    """Per layer: ('conv', in_shape, filters, pad) or ('pool', in_shape); and the final shape."""
    (h, w, c), _, layers = CNN_SIZES[size]
    plan = []
    for layer in layers:
        if layer == "pool":
            plan.append(("pool", (h, w, c)))
            h, w = h // 2, w // 2
        else:
            filters, padding = layer
            pad = 1 if padding == "SAME" else 0
            plan.append(("conv", (h, w, c), filters, pad))
            h, w, c = h + 2 * pad - 2, w + 2 * pad - 2, filters
    return plan, (h, w, c)


def _flops(size: str) -> float:
    """Multiply-adds x 2 of the GEMMs, forward and backward (no input gradient for layer 1)."""
    plan, final = _plan(size)
    batch = CNN_SIZES[size][1]
    total, first = 0.0, True
    for step in plan:
        if step[0] == "conv":
            (h, w, c), filters, pad = step[1:]
            pixels = batch * (h + 2 * pad - 2) * (w + 2 * pad - 2)
            total += 2.0 * pixels * 9 * c * filters * (2 if first else 3)
            first = False
    return total + 6.0 * batch * int(np.prod(final)) * CLASSES


def cnn_training_step(device: str, size: str, traced: bool = False) -> Workload:
    """Forward, mean sparse softmax cross-entropy, gradients and an SGD update of the CNN
    (`traced`: the step under tf.function, run as a replay plan)."""
    import tensorflowish as tf

    (h, w, c), batch, _ = CNN_SIZES[size]
    plan, final = _plan(size)
    xp, rng = _module(device), np.random.default_rng(0)
    x = _random(xp, rng, (batch, h, w, c))
    labels = xp.asarray(rng.integers(0, CLASSES, batch))
    kernels, biases = [], []
    for step in plan:
        if step[0] == "conv":
            channels, filters = step[1][2], step[2]
            kernels.append(_random(xp, rng, (3, 3, channels, filters), (9 * channels) ** -0.5))
            biases.append(xp.zeros(filters, np.float32))
    features = int(np.prod(final))
    kernels.append(_random(xp, rng, (features, CLASSES), features ** -0.5))
    biases.append(xp.zeros(CLASSES, np.float32))

    variables = []
    for kernel, bias in zip(kernels, biases):
        variables += [tf.Variable(kernel), tf.Variable(bias)]
    tx, tlabels = tf.Tensor(x), tf.Tensor(labels)
    optimizer = tf.keras.optimizers.SGD(learning_rate=LEARNING_RATE)

    def step(inputs, targets):
        with tf.GradientTape() as tape:
            hidden, index = inputs, 0
            for step in plan:
                if step[0] == "pool":
                    hidden = tf.nn.max_pool2d(hidden, 2, 2, "VALID")
                else:
                    hidden = tf.nn.conv(hidden, variables[index], variables[index + 1],
                                        padding="SAME" if step[3] else "VALID",
                                        activation="relu")
                    index += 2
            logits = tf.nn.dense(tf.reshape(hidden, (batch, -1)), variables[index],
                                 variables[index + 1])
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    floor = _numpy_floor(x, labels, [k.copy() for k in kernels], [b.copy() for b in biases],
                         plan) if xp is np else _no_floor
    if traced:
        from .bench import _calling

        return Workload("CNN training step (tf.function)", size, _flops(size),
                        _calling(tf.function(step), tx, tlabels), floor)
    return Workload("CNN training step", size, _flops(size), lambda: step(tx, tlabels), floor)


def _no_floor():
    raise NotImplementedError("the CNN floor is written for NumPy")


def _numpy_floor(x, labels, kernels, biases, plan):
    """The training step in plain NumPy (float32, in place where the framework is)."""
    batch = x.shape[0]
    rows = np.arange(batch)
    buffers: dict = {}

    def buffer(key, shape, zero=False):
        if key not in buffers:
            buffers[key] = np.zeros(shape, np.float32) if zero else np.empty(shape, np.float32)
        return buffers[key]

    def step():
        saved, hidden, index = [], x, 0
        for number, layer in enumerate(plan):
            if layer[0] == "conv":
                (h, w, c), filters, pad = layer[1:]
                if pad:
                    padded = buffer(("pad", number), (batch, h + 2, w + 2, c), zero=True)
                    padded[:, 1:-1, 1:-1] = hidden
                else:
                    padded = hidden
                out_h, out_w = h + 2 * pad - 2, w + 2 * pad - 2
                cols = buffer(("cols", number), (batch, out_h, out_w, 3, 3, c))
                if c >= 3:  # one copy of a strided view of the windows, as the framework does
                    st = padded.strides
                    np.copyto(cols, as_strided(padded, cols.shape,
                                               (st[0], st[1], st[2], st[1], st[2], st[3])))
                else:
                    for i in range(3):
                        for j in range(3):
                            cols[:, :, :, i, j, :] = padded[:, i:i + out_h, j:j + out_w, :]
                cols2d = cols.reshape(-1, 9 * c)
                y = cols2d @ kernels[index].reshape(-1, filters)
                y += biases[index]
                np.maximum(y, 0, out=y)
                saved.append((cols2d, y, hidden.shape, pad))
                hidden = y.reshape(batch, out_h, out_w, filters)
                index += 1
            else:
                h, w = hidden.shape[1] // 2 * 2, hidden.shape[2] // 2 * 2
                pooled = hidden[:, 0:h:2, 0:w:2].copy()
                winner = np.zeros(pooled.shape, np.int32)
                better = np.empty(pooled.shape, bool)
                for i, j in ((0, 1), (1, 0), (1, 1)):
                    candidate = hidden[:, i:h:2, j:w:2]
                    np.greater(candidate, pooled, out=better)
                    np.copyto(pooled, candidate, where=better)
                    np.copyto(winner, i * 2 + j, where=better)
                saved.append((winner, hidden.shape))
                hidden = pooled
        flat = hidden.reshape(batch, -1)
        logits = flat @ kernels[-1]
        logits += biases[-1]
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        total = exp @ np.ones(CLASSES, np.float32)
        loss = (np.log(total) - logits[rows, labels]).mean()
        exp /= total[:, None]
        exp[rows, labels] -= 1
        g = exp
        g *= 1.0 / batch
        dw = flat.T @ g
        db = np.ones(batch, np.float32) @ g
        g = (g @ kernels[-1].T).reshape(hidden.shape)
        dw *= LEARNING_RATE
        kernels[-1] -= dw
        db *= LEARNING_RATE
        biases[-1] -= db
        index = len(kernels) - 2
        for number in range(len(plan) - 1, -1, -1):
            layer = plan[number]
            if layer[0] == "pool":
                winner, shape = saved[number]
                dx = np.zeros(shape, np.float32)
                h, w = shape[1] // 2 * 2, shape[2] // 2 * 2
                chosen = np.empty(g.shape, np.float32)
                for i in (0, 1):
                    for j in (0, 1):
                        np.multiply(g, winner == i * 2 + j, out=chosen)
                        dx[:, i:h:2, j:w:2] += chosen
                g = dx
                continue
            cols2d, y, in_shape, pad = saved[number]
            filters = y.shape[1]
            g2d = g.reshape(-1, filters)
            np.multiply(g2d, y > 0, out=g2d)
            dk = cols2d.T @ g2d
            db = np.ones(g2d.shape[0], np.float32) @ g2d
            if index:  # the first layer's input needs no gradient
                n, h, w, c = in_shape
                out_h, out_w = g.shape[1:3]
                # one (P, C) block per window offset, added back onto its shifted window
                dcols = np.matmul(g2d, kernels[index].reshape(9, c, filters).transpose(0, 2, 1),
                                  out=buffer(("dcols", number), (9, g2d.shape[0], c)))
                dcols = dcols.reshape(9, n, out_h, out_w, c)
                dpadded = np.zeros((n, h + 2 * pad, w + 2 * pad, c), np.float32)
                for i in range(3):
                    for j in range(3):
                        dpadded[:, i:i + out_h, j:j + out_w] += dcols[i * 3 + j]
                g = dpadded[:, 1:-1, 1:-1] if pad else dpadded
            dk *= LEARNING_RATE
            kernels[index] -= dk.reshape(kernels[index].shape)
            db *= LEARNING_RATE
            biases[index] -= db
            index -= 1
        return loss

    return step


def pytorch_step(size: str):
    """The same step in PyTorch (channels_last, CPU), or None where torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    (h, w, c), batch, layers = CNN_SIZES[size]
    modules, channels = [], c
    for layer in layers:
        if layer == "pool":
            modules.append(torch.nn.MaxPool2d(2))
        else:
            filters, padding = layer
            modules += [torch.nn.Conv2d(channels, filters, 3, padding=1 if padding == "SAME"
                                        else 0), torch.nn.ReLU()]
            channels = filters
    _, final = _plan(size)
    modules += [torch.nn.Flatten(), torch.nn.Linear(int(np.prod(final)), CLASSES)]
    model = torch.nn.Sequential(*modules).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    x = torch.randn(batch, c, h, w).to(memory_format=torch.channels_last)
    labels = torch.randint(0, CLASSES, (batch,))

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step


def cnn_workloads(device: str, quick: bool = False) -> list[Workload]:
    sizes = list(CNN_SIZES)[:1] if quick else list(CNN_SIZES)
    if not device.startswith("CPU"):
        return []
    return [cnn_training_step(device, size, traced) for traced in (False, True) for size in sizes]


def pytorch_lines(results, repeats: int = 15) -> str:
    """One line per CNN size: the framework's step against PyTorch's, measured here if torch is
    installed (median of `repeats`), else against the figure issue 11 quotes."""
    from .bench import time_pair

    lines = []
    for result in results:
        if result.workload != "CNN training step" or not result.device.startswith("CPU"):
            continue
        step = pytorch_step(result.size)
        if step is None:
            torch_ms, where = PYTORCH_MS[result.size], "torch not installed; issue 11's figure"
        else:
            torch_ms = time_pair(step, step, "CPU:0", repeats)[0] * 1e3
            where = "measured now"
        ratio = result.seconds * 1e3 / torch_ms
        verdict = "met" if ratio <= 1.5 else "MISSED"
        lines.append(f"CPU CNN training step {result.size}: {result.seconds * 1e3:.1f} ms vs "
                     f"PyTorch {torch_ms:.1f} ms ({where}): {ratio:.2f}x (target <= 1.50x) "
                     f"{verdict}")
    return "\n".join(lines)


def cpu_times(repeats: int = 5) -> list[tuple[str, float, float]]:
    """(size, framework ms, floor ms) as CPU time (`time.process_time`, best of `repeats`): on a
    machine shared with other busy processes wall-clock timings mean little, CPU time still
    compares the two (run it with one BLAS thread, OPENBLAS_NUM_THREADS=1)."""
    import time

    rows = []
    for size in CNN_SIZES:
        workload = cnn_training_step("CPU:0", size)
        best = []
        for function in (workload.framework, workload.floor):
            function()
            times = []
            for _ in range(repeats):
                start = time.process_time()
                function()
                times.append(time.process_time() - start)
            best.append(min(times) * 1e3)
        rows.append((size, *best))
    return rows


if __name__ == "__main__":  # OPENBLAS_NUM_THREADS=1 python -m tensorflowish.tools.bench_cnn
    for size, framework_ms, floor_ms in cpu_times():
        print(f"{size}: framework {framework_ms:.1f} ms, floor {floor_ms:.1f} ms of CPU, "
              f"ratio {framework_ms / floor_ms:.2f}")
