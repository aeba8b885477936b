"""scripts/gpu-check's "captured step": an MLP training step with Adam as a GPU plan and as its
CUDA graph, against eager (`python -m tensorflowish.tools.captured_step [--emulator]`).

It lives here, above Keras, because the step uses a Keras optimiser and `tensorflowish.function`
(where the capture is, `function/cuda_graph.py`) never imports Keras (docs/layout.md).
"""

from __future__ import annotations


def check_training_step(emulator: bool = False, steps: int = 20) -> list[str]:
    """An MLP training step with Adam (`relu(x @ W + b)` fused, a dense layer, a
    cross-entropy, the update) run `steps` times eagerly, as a GPU plan and as its CUDA graph
    from the same weights; raises AssertionError where their weights or losses differ; returns
    the report's lines with a timing line. `emulator`: tiny sizes, the plan's kernels on the
    CPU emulator and the host stand-in for the device (the capture's host-side logic only)."""
    import numpy as np

    import tensorflowish as tf

    from ..function import plan_gpu
    from ..function.cuda_graph import CudaDevice, HostDevice, capture, timing_line
    from ..kernels import fusion

    if emulator:
        xp, runner, device = np, fusion.emulator_runner(), HostDevice()
        widths, batch, steps = (6, 8, 3), 5, min(steps, 3)

        def synchronize():
            pass
    else:
        import cupy as xp

        runner, device, widths, batch = fusion.cupy_runner(), CudaDevice(), (784, 256, 10), 128

        def synchronize():
            xp.cuda.get_current_stream().synchronize()
    rng = np.random.default_rng(0)
    weights = []
    for a, b in zip(widths[:-1], widths[1:]):
        weights += [rng.standard_normal((a, b)).astype(np.float32) * a ** -0.5,
                    rng.uniform(-0.1, 0.1, b).astype(np.float32)]
    batches = [(tf.Tensor(xp.asarray(rng.standard_normal((batch, widths[0])).astype(
        np.float32))), tf.Tensor(xp.asarray(rng.integers(0, widths[-1], batch))))
        for _ in range(steps)]

    def make():
        variables = [tf.Variable(xp.asarray(w)) for w in weights]
        optimizer = tf.keras.optimizers.Adam(0.01)

        def step(x, labels):
            with tf.GradientTape() as tape:
                h = tf.nn.relu(tf.matmul(x, variables[0]) + variables[1])
                logits = tf.nn.dense(h, variables[2], variables[3])
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return loss
        return variables, step

    def traced_plan(step):
        traced = tf.function(step)
        traced(*batches[0])  # the trace: the first step, eagerly
        return plan_gpu.compile_gpu_plan(traced.get_concrete_function(*batches[0]).graph, runner)

    def host(value):
        array = value.array
        return np.asarray(array.get() if hasattr(array, "get") else array)

    (eager_vars, eager_step), (plan_vars, plan_step), (graph_vars, graph_step) = \
        make(), make(), make()
    eager_step(*batches[0])
    plan = traced_plan(plan_step)
    captured = capture(traced_plan(graph_step), list(batches[0]), device)
    losses = [[], [], []]
    for x, y in batches[1:]:
        losses[0].append(host(eager_step(x, y)))
        losses[1].append(host(plan.function([x, y])))
        losses[2].append(host(captured.function([x, y])))
    # the graph's update is a generated kernel, eager's optimizers.cu's: the same arithmetic,
    # compiled apart (contractions into FMAs may differ), so not bit for bit
    for a, b in zip(losses[2], losses[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(losses[1], losses[0]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    drift = {"plan": 0.0, "graph": 0.0}
    for eager_v, plan_v, graph_v in zip(eager_vars, plan_vars, graph_vars):
        e, p, g = host(eager_v), host(plan_v), host(graph_v)
        np.testing.assert_allclose(g, p, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(p, e, rtol=1e-4, atol=1e-5)
        drift["plan"] = max(drift["plan"], float(np.max(np.abs(p - e))))
        drift["graph"] = max(drift["graph"], float(np.max(np.abs(g - p))))
    kernels = plan.kernels
    lines = [f"MLP {'-'.join(map(str, widths))} Adam step, batch {batch}, {steps} steps: GPU plan "
             f"({kernels} fused kernel(s), forward and backward) and its CUDA graph "
             f"({len(captured.captured)} actions captured, the Adam update among them; captured "
             f"{captured.captures} time(s)) equal eager (max |plan - eager| {drift['plan']:.2g}, "
             f"max |graph - plan| {drift['graph']:.2g})"]
    if emulator:
        return lines + ["CUDA graph capture: host-side logic only (emulator: no GPU)"]
    x, y = batches[-1]
    lines.append(timing_line(synchronize, "timing per step (median of 50)", (
        ("eager", lambda: eager_step(x, y)), ("GPU plan", lambda: plan.function([x, y])),
        ("CUDA graph", lambda: captured.function([x, y])))))
    return lines


if __name__ == "__main__":
    import sys

    for line in check_training_step(emulator="--emulator" in sys.argv):
        print(line)
