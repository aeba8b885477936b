"""CUDA graph capture of GPU plans (tensorflowish/function/cuda_graph.py), its host-side logic
run without a GPU: the plan's kernels on the CPU emulator, the device a `HostDevice` stand-in
on NumPy arrays (a "graph" replays the captured part and writes into the buffers the capture
made, and refuses to launch when a variable buffer it read was swapped). What only a GPU can
show (that CuPy captures these kernels, with no host synchronisation or illegal allocation, and
that the graph's replays equal the uncaptured plan) is `scripts/gpu-check`'s."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflowish.kernels import fusion

import tensorflowish as tf
from tensorflowish.function import cuda_graph, plan_gpu

RUNNER = fusion.emulator_runner(order="reverse", max_blocks=2)
TOL = dict(rtol=1e-5, atol=1e-6)


def _graph(function, *args):
    traced = tf.function(function)
    traced(*args)
    return traced.get_concrete_function(*args).graph


def _variables(seed: int = 1, widths=(6, 8, 3)):
    rng = np.random.default_rng(seed)
    variables = []
    for a, b in zip(widths[:-1], widths[1:]):
        variables += [tf.Variable(rng.standard_normal((a, b)).astype("float32") * a ** -0.5),
                      tf.Variable(rng.uniform(-0.1, 0.1, b).astype("float32"))]
    return variables


def _step(variables, optimizer):
    def step(x, labels):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, variables[0]) + variables[1])
            logits = tf.nn.dense(h, variables[2], variables[3])
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss
    return step


def _batches(count=5, seed=9):
    rng = np.random.default_rng(seed)
    return [(tf.constant(rng.standard_normal((5, 6)).astype("float32")),
             tf.constant(rng.integers(0, 3, 5))) for _ in range(count)]


def _captured_mlp(batches):
    variables = _variables()
    step = _step(variables, tf.keras.optimizers.Adam(0.01))
    plan = plan_gpu.compile_gpu_plan(_graph(step, *batches[0]), RUNNER)
    device = cuda_graph.HostDevice()
    return variables, cuda_graph.capture(plan, list(batches[1]), device), device


def test_a_whole_training_step_is_captured_and_equals_eager() -> None:
    batches = _batches()
    variables, captured, device = _captured_mlp(batches)
    # forward, backward and the Adam update (device scalars) are the graph
    assert captured.tail == [] and captured.captured[-1][0] == "update"
    assert any(kind == "run" for kind, _ in captured.captured)
    assert {v.name for v in captured.read_variables} == {v.name for v in variables}
    eager_variables = _variables()
    eager_step = _step(eager_variables, tf.keras.optimizers.Adam(0.01))
    eager_step(*batches[0])
    losses = []
    for x, y in batches[1:]:
        losses.append((captured.function([x, y]), eager_step(x, y).numpy()))
        assert not np.shares_memory(captured.static[0].array, x.array)  # copied in
        np.testing.assert_array_equal(captured.static[0].array, x.array)
    for got, want in losses:  # earlier results unchanged by later launches: copied out
        np.testing.assert_allclose(got.numpy(), want, **TOL)
    for a, b in zip(variables, eager_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
    assert device.log == ["warm", "capture"] + ["launch"] * (len(batches) - 1)
    assert captured.captures == 1  # the optimiser wrote in place: the same buffers throughout


def test_a_swapped_variable_buffer_is_captured_again() -> None:
    batches = _batches()
    variables, captured, device = _captured_mlp(batches)
    captured.function(list(batches[1]))
    snapshot = variables[0].read_value()  # the optimiser must now copy variables[0]
    kept = snapshot.numpy().copy()
    # the graph's update must not write the held buffer: variables[0] gets a copy, and the
    # graph, which writes and reads variables[0] at its old address, is captured again
    captured.function(list(batches[2]))
    assert captured.captures == 2 and device.log[-2:] == ["capture", "launch"]
    captured.function(list(batches[3]))  # in place again: the same graph
    assert captured.captures == 2 and device.log[-2:] == ["launch", "launch"]
    np.testing.assert_array_equal(snapshot.numpy(), kept)
    eager_variables = _variables()
    eager_step = _step(eager_variables, tf.keras.optimizers.Adam(0.01))
    for x, y in batches[:4]:
        eager_step(x, y)
    for a, b in zip(variables, eager_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
    variables[1].assign(np.zeros(8, "float32"))  # in place: the same buffer, no re-capture
    captured.function(list(batches[4]))
    assert captured.captures == 2


def test_plans_that_cannot_be_captured_say_why() -> None:
    v = tf.Variable(np.ones(4, "float32"))
    x = tf.constant(np.linspace(0, 1, 4).astype("float32"))

    def update_first(x):
        v.assign_add(x)
        return tf.tanh(x * v)

    plan = plan_gpu.compile_gpu_plan(_graph(update_first, x), RUNNER)
    with pytest.raises(cuda_graph.CaptureFailed, match="nothing to capture before the "
                                                       "host-side line Variable.assign_add"):
        cuda_graph.capture(plan, [x], cuda_graph.HostDevice())

    def assign_inside_the_tape(x):
        with tf.GradientTape() as tape:  # the plan runs this tape (v is watched on read)
            y = tf.tanh(x * v)
            v.assign_add(y)  # the next line reads v: the graph cannot hold both
            y = y * v
        return tape.gradient(y, v)

    plan = plan_gpu.compile_gpu_plan(_graph(assign_inside_the_tape, x), RUNNER)
    with pytest.raises(cuda_graph.CaptureFailed, match="must be captured whole"):
        cuda_graph.capture(plan, [x], cuda_graph.HostDevice())

    def print_inside_the_tape(x):  # nothing later reads what tf.print does: passed over
        with tf.GradientTape() as tape:
            y = tf.tanh(x * v)
            tf.print(y)
        return tape.gradient(y, v)

    plan = plan_gpu.compile_gpu_plan(_graph(print_inside_the_tape, x), RUNNER)
    captured = cuda_graph.capture(plan, [x], cuda_graph.HostDevice())
    assert [item.name for _, item in captured.tail] == ["print"]

    class Refusing(cuda_graph.HostDevice):  # as CuPy refuses a host read during capture
        def capture(self, function, dry=None):
            raise RuntimeError("cudaErrorStreamCaptureUnsupported")

    plan = plan_gpu.compile_gpu_plan(_graph(lambda x: tf.exp(x * v), x), RUNNER)
    with pytest.raises(cuda_graph.CaptureFailed, match="StreamCaptureUnsupported"):
        cuda_graph.capture(plan, [x], Refusing())


def test_replay_gpu_captures_when_enabled_and_notes_a_refusal(monkeypatch) -> None:
    """Graph.replay's GPU path with capture on: CuPy faked (NumPy arrays, the emulator,
    the host device), a training step captured, a plan with nothing to capture noted."""
    from tensorflowish.function import plan as cpu_plan

    real = plan_gpu.compile_gpu_plan
    monkeypatch.setattr(plan_gpu, "compile_gpu_plan", lambda graph, runner=None: real(
        graph, RUNNER))
    monkeypatch.setattr(cuda_graph, "CudaDevice", cuda_graph.HostDevice)
    monkeypatch.setattr(plan_gpu, "_is_cupy", lambda array: True)
    monkeypatch.setattr(cuda_graph, "_enabled", [True])

    def refuse(inputs):
        raise cpu_plan.Fallback

    batches = _batches()
    variables = _variables()
    traced = tf.function(_step(variables, tf.keras.optimizers.SGD(0.1)))
    traced(*batches[0])
    traced(*batches[1])
    graph = traced.get_concrete_function(*batches[0]).graph
    monkeypatch.setattr(graph.plan, "function", refuse)
    for x, y in batches[2:]:
        traced(x, y)
    assert isinstance(graph.gpu_plan, cuda_graph.CapturedPlan), graph.plan_note
    eager_variables = _variables()
    eager_step = _step(eager_variables, tf.keras.optimizers.SGD(0.1))
    for x, y in batches:
        eager_step(x, y)
    for a, b in zip(variables, eager_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)

    v = tf.Variable(np.ones(3, "float32"))
    printed = tf.function(lambda x: v.assign_add(x) * 2.0)
    z = tf.constant(np.ones(3, "float32"))
    printed(z)
    printed(z)
    graph = printed.get_concrete_function(z).graph
    monkeypatch.setattr(graph.plan, "function", refuse)
    printed(z)
    assert isinstance(graph.gpu_plan, plan_gpu.GpuPlan)
    assert "not captured as a CUDA graph: nothing to capture" in graph.plan_note
    np.testing.assert_array_equal(v.numpy(), [4.0, 4.0, 4.0])


def test_a_keras_train_step_is_captured_and_equals_eager() -> None:
    def make():
        tf.keras.utils.set_random_seed(4)
        model = tf.keras.Sequential([tf.keras.Input((6,)),
                                     tf.keras.layers.Dense(8, activation="relu"),
                                     tf.keras.layers.Dense(3)])
        model.compile(optimizer=tf.keras.optimizers.Adam(0.02),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    batches = _batches(seed=12)
    eager, planned = make(), make()
    for x, y in batches:
        eager.train_step((x, y))
    graph = _graph(lambda x, y: planned.train_step((x, y)), *batches[0])
    plan = plan_gpu.compile_gpu_plan(graph, RUNNER)
    captured = cuda_graph.capture(plan, list(batches[1]), cuda_graph.HostDevice())
    # the whole step but the metrics: the loss tracker's update inside the tape's block is
    # passed over to the tail, the Adam update is in the graph
    assert [item.name for _, item in captured.tail] == ["_LossTracker.add_batch",
                                                         "MeanMetricWrapper.update_state"]
    assert captured.captured[-1][0] == "update"
    for x, y in batches[1:]:
        captured.function([x, y])
    want = {k: float(v) for k, v in eager.get_metrics_result().items()}
    got = {k: float(v) for k, v in planned.get_metrics_result().items()}
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], **TOL)
    for a, b in zip(planned.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, **TOL)
    assert captured.captures == 1


def test_gpu_checks_captured_step_runs_on_the_emulator() -> None:
    """What scripts/gpu-check's "captured step" runs in its dry run."""
    from tensorflowish.tools.captured_step import check_training_step

    lines = check_training_step(emulator=True)
    assert "equal eager" in lines[0] and "captured 1 time(s)" in lines[0]


@pytest.mark.gpu
def test_a_training_step_captured_on_cupy_equals_the_plan_and_eager() -> None:
    """On a GPU: the MLP Adam step captured by CuPy; never run so far (no GPU was lent)."""
    from tensorflowish import backend
    from tensorflowish.tools.captured_step import check_training_step

    reason = backend.gpu_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no usable GPU: {reason}")
    lines = check_training_step(steps=5)
    assert "equal eager" in lines[0] and "timing" in lines[1]


@pytest.mark.parametrize("make_optimizer", [
    lambda: tf.keras.optimizers.AdamW(
        tf.keras.optimizers.schedules.ExponentialDecay(0.02, decay_steps=1, decay_rate=0.7),
        weight_decay=0.1),
    lambda: tf.keras.optimizers.SGD(0.1),
    lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
], ids=["adamw-schedule", "sgd", "momentum"])
def test_each_steps_update_scalars_reach_the_graph(make_optimizer) -> None:
    """The graph's update reads the step's scalars (a decaying learning rate, Adam's bias
    correction, AdamW's decay factor) from device buffers filled before each launch; an update
    it cannot hold (momentum) runs after the graph. Weights against eager after 4 steps."""
    batches = _batches()
    variables = _variables()
    optimizer = make_optimizer()
    plan = plan_gpu.compile_gpu_plan(_graph(_step(variables, optimizer), *batches[0]), RUNNER)
    captured = cuda_graph.capture(plan, list(batches[1]), cuda_graph.HostDevice())
    in_graph = captured.captured[-1][0] == "update"
    assert in_graph == (getattr(optimizer, "momentum", 0) == 0)
    assert [item.name for _, item in captured.tail] == ([] if in_graph else
                                                        ["Optimizer.apply_gradients"])
    for x, y in batches[1:]:
        captured.function([x, y])
    eager_variables = _variables()
    eager_step = _step(eager_variables, make_optimizer())
    for x, y in batches:
        eager_step(x, y)
    for a, b in zip(variables, eager_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
    assert int(optimizer.iterations.numpy()) == len(batches)


def test_the_graphs_update_kernels_compile_with_nvrtc(tmp_path) -> None:
    from tensorflowish.kernels import KERNEL_DIR, nvrtc

    from tensorflowish.keras.optimizers.capture_lowering import CapturedUpdate

    variables = [tf.Variable(np.ones((3, 2), dtype)) for dtype in ("float32", "float64")]
    sources = set()
    for optimizer in (tf.keras.optimizers.AdamW(0.01), tf.keras.optimizers.SGD(0.1)):
        optimizer.build(variables)
        sources |= {kernel.source for kernel, _, _ in CapturedUpdate(
            optimizer, [(None, None, v) for v in variables]).kernels}
    assert len(sources) == 4
    for index, source in enumerate(sorted(sources)):
        path = tmp_path / f"update{index}.cu"
        path.write_text(source)
        assert nvrtc.check(path, ["sm_80"], include_dirs=[KERNEL_DIR])
