"""GPU plans of training steps (graphs with Variables, a GradientTape, apply_gradients), run
without a GPU: the plan with the CPU emulator as its kernel launcher, on NumPy arrays, against
eager. The fused runs (forward and their generated backward kernels) compute in the chain's
own precision with the same formulas as eager's ops, but C's `tanhf`/`expf` are not NumPy's
(an ulp apart) and a GPU contracts into FMAs: results are compared with `assert_allclose`,
float32 rtol 1e-5 atol 1e-6 over several training steps, float64 rtol 1e-12. Lines that are
not fused run eager's own calls (the dense and cross-entropy kernels, the optimiser's update)."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflowish.kernels import fusion

import tensorflowish as tf
from tensorflowish.function import plan_gpu

RUNNER = fusion.emulator_runner(order="random", seed=5, max_blocks=2)
TOL = dict(rtol=1e-5, atol=1e-6)


def _graph(function, *args):
    traced = tf.function(function)
    traced(*args)
    return traced.get_concrete_function(*args).graph


def _variables(seed: int, widths=(6, 8, 3)):
    rng = np.random.default_rng(seed)
    variables = []
    for a, b in zip(widths[:-1], widths[1:]):
        variables += [tf.Variable(rng.standard_normal((a, b)).astype("float32") * a ** -0.5),
                      tf.Variable(rng.uniform(-0.1, 0.1, b).astype("float32"))]
    return variables


def _mlp_step(variables, optimizer):
    """A hand-written MLP: matmul, then `relu(z + b)` and `tanh`-scaled logits (fused runs,
    with a bias row whose gradient the tape sums back), a cross-entropy, the update."""
    def step(x, labels):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, variables[0]) + variables[1])
            logits = (tf.matmul(h, variables[2]) + variables[3]) * 2.0
            logits = tf.tanh(logits) * 3.0 - logits * 0.1
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, logits
    return step


def _batches(count=3, n=5, features=6, classes=3, seed=9):
    rng = np.random.default_rng(seed)
    return [(tf.constant(rng.standard_normal((n, features)).astype("float32")),
             tf.constant(rng.integers(0, classes, n))) for _ in range(count)]


@pytest.mark.parametrize("make_optimizer", [
    lambda: tf.keras.optimizers.SGD(0.1),
    lambda: tf.keras.optimizers.Adam(0.01),
], ids=["sgd", "adam"])
def test_mlp_training_step_gpu_plan_equals_eager(make_optimizer) -> None:
    batches = _batches()
    eager_vars, plan_vars = _variables(1), _variables(1)
    eager_step = _mlp_step(eager_vars, make_optimizer())
    plan_optimizer = make_optimizer()
    plan_step = _mlp_step(plan_vars, plan_optimizer)
    graph = _graph(plan_step, *batches[0])  # the trace is the first (eager) step
    eager_results = [eager_step(*batches[0])]
    plan = plan_gpu.compile_gpu_plan(graph, RUNNER)
    kinds = [(kind, getattr(item, "name", None)) for kind, item in plan.actions]
    assert ("call", "Optimizer.apply_gradients") in kinds and plan.kernels == 2
    assert ("call", "GradientTape.gradient") in kinds  # the plan runs the tape
    plan_results = [None]
    snapshot = plan_vars[0].read_value()
    before = snapshot.numpy().copy()
    for x, y in batches[1:]:
        plan_results.append(plan.function([x, y]))
        eager_results.append(eager_step(x, y))
    np.testing.assert_array_equal(snapshot.numpy(), before)  # a snapshot keeps its value
    for got, want in zip(plan_results[1:], eager_results[1:]):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
    for a, b, initial in zip(plan_vars, eager_vars, _variables(1)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
        assert not np.array_equal(a.numpy(), initial.numpy())  # the steps trained
    assert int(plan_optimizer.iterations.numpy()) == len(batches)
    assert _backward_kernels(plan) == 2


def test_the_fused_runs_backward_kernels_give_eager_gradients() -> None:
    """Gradients through fused runs into a watched input, a variable, a bias row and a
    one-element tensor (summed back by the tape), a value written out twice, float64."""
    rng = np.random.default_rng(2)
    x = tf.constant(rng.standard_normal((4, 5)))
    w = tf.Variable(rng.standard_normal((5, 5)))
    b = tf.Variable(rng.standard_normal(5))
    s = tf.Variable(np.array(0.7))

    def f(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            z = tf.matmul(x, w)
            u = tf.sigmoid(z * s + b)  # written out: the matmul below reads it
            v = tf.matmul(u, w)
            y = tf.exp(u * 0.5) + tf.square(v - b) / (tf.abs(u) + 1.0)
            total = tf.reduce_sum(y)
        return y, tape.gradient(total, [x, w, b, s]), tape.gradient(y, u)

    graph = _graph(f, x)
    plan = plan_gpu.compile_gpu_plan(graph, RUNNER)
    assert plan.kernels >= 2
    got, want = plan.function([x]), f(x)
    flat_got, flat_want = tf.nest.flatten(got), tf.nest.flatten(want)
    assert len(flat_got) == len(flat_want)
    for a, b_ in zip(flat_got, flat_want):
        assert a.shape == b_.shape
        np.testing.assert_allclose(a.numpy(), b_.numpy(), rtol=1e-12, atol=1e-13)
    assert _backward_kernels(plan) >= 2  # the gradients went through generated kernels


def test_keras_sequential_train_step_with_a_metric() -> None:
    def make():
        tf.keras.utils.set_random_seed(4)
        model = tf.keras.Sequential([tf.keras.Input((6,)),
                                     tf.keras.layers.Dense(8, activation="tanh"),
                                     tf.keras.layers.Dense(3)])
        model.compile(optimizer=tf.keras.optimizers.Adam(0.02),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    batches = _batches(count=4, seed=11)
    eager, planned = make(), make()
    for x, y in batches:
        eager.train_step((x, y))
    graph = _graph(lambda x, y: planned.train_step((x, y)), *batches[0])
    plan = plan_gpu.compile_gpu_plan(graph, RUNNER)
    for x, y in batches[1:]:
        plan.function([x, y])
    want = {k: float(v) for k, v in eager.get_metrics_result().items()}
    got = {k: float(v) for k, v in planned.get_metrics_result().items()}
    assert set(got) == set(want) and len(got) >= 2
    for key in want:
        np.testing.assert_allclose(got[key], want[key], **TOL)
    for a, b in zip(planned.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, **TOL)
    assert int(planned.optimizer.iterations.numpy()) == len(batches)


def test_what_a_gpu_plan_cannot_cover_keeps_the_op_by_op_replay_with_a_note() -> None:
    v = tf.Variable(np.ones(3))

    def jacobian(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.tanh(x * v)
        return tape.jacobian(y, x)

    x = tf.constant(np.linspace(0.1, 0.3, 3))
    graph = _graph(jacobian, x)
    plan = plan_gpu.compile_gpu_plan(graph, RUNNER)  # the tape line runs as a call
    np.testing.assert_allclose(plan.function([x]).numpy(), jacobian(x).numpy(), rtol=1e-12)

    def branchy(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x * v, lambda: x - v)

    with pytest.raises(plan_gpu.NotGpuPlannable, match="control flow"):
        plan_gpu.compile_gpu_plan(_graph(branchy, x), RUNNER)


def _backward_kernels(plan) -> int:
    return sum(len(run.tape.kernels) for kind, run in plan.actions
               if kind == "run" and run.tape is not None)


def test_graph_replay_gives_a_training_step_on_cupy_its_gpu_plan(monkeypatch) -> None:
    """tf.function's replay: a training step whose inputs are CuPy's gets the GPU plan (CuPy
    faked: NumPy arrays treated as CuPy's, the emulator as the launcher)."""
    from tensorflowish.function import plan as cpu_plan

    real = plan_gpu.compile_gpu_plan
    monkeypatch.setattr(plan_gpu, "compile_gpu_plan", lambda graph, runner=None: real(
        graph, RUNNER))
    batches = _batches(count=4, seed=3)
    eager_vars, plan_vars = _variables(7), _variables(7)
    eager_step = _mlp_step(eager_vars, tf.keras.optimizers.Adam(0.01))
    traced = tf.function(_mlp_step(plan_vars, tf.keras.optimizers.Adam(0.01)))
    traced(*batches[0])
    traced(*batches[1])  # the CPU plan, compiled now
    graph = traced.get_concrete_function(*batches[0]).graph

    def refuse(inputs):  # what the CPU plan does with CuPy inputs
        raise cpu_plan.Fallback

    monkeypatch.setattr(graph.plan, "function", refuse)
    monkeypatch.setattr(plan_gpu, "_is_cupy", lambda array: True)
    for x, y in batches[2:]:
        traced(x, y)
    assert graph.gpu_plan and graph.gpu_plan.kernels == 2, graph.plan_note
    for x, y in batches:
        eager_step(x, y)
    for a, b in zip(plan_vars, eager_vars):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


def test_a_second_order_gradient_through_a_fused_run() -> None:
    """The inner tape's backward through a fused run is recorded by the outer tape (the run's
    VJP then runs its lines as ops), so the second derivative equals eager's."""
    rng = np.random.default_rng(4)
    x = tf.constant(rng.standard_normal((3, 4)))
    w = tf.Variable(rng.standard_normal(4))
    m = tf.constant(rng.standard_normal((4, 2)))

    def f(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.matmul(tf.tanh(x * w) * x, m)
            g = inner.gradient(y, x)
            total = tf.reduce_sum(g * g)
        return g, outer.gradient(total, [x, w])

    plan = plan_gpu.compile_gpu_plan(_graph(f, x), RUNNER)
    assert plan.kernels >= 1
    got, want = tf.nest.flatten(plan.function([x])), tf.nest.flatten(f(x))
    assert len(got) == len(want) == 3
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)


def test_control_flow_keeps_the_op_by_op_replay_with_a_plan_note(monkeypatch) -> None:
    from tensorflowish.function import plan as cpu_plan

    real = plan_gpu.compile_gpu_plan
    monkeypatch.setattr(plan_gpu, "compile_gpu_plan", lambda graph, runner=None: real(
        graph, RUNNER))
    v = tf.Variable(np.linspace(1, 2, 3))
    traced = tf.function(lambda x: tf.cond(tf.reduce_sum(x) > 0, lambda: x * v, lambda: x - v))
    x = tf.constant(np.linspace(-1, 2, 3))
    traced(x)
    traced(x)
    graph = traced.get_concrete_function(x).graph

    def refuse(inputs):
        raise cpu_plan.Fallback

    monkeypatch.setattr(graph.plan, "function", refuse)
    monkeypatch.setattr(plan_gpu, "_is_cupy", lambda array: True)
    np.testing.assert_array_equal(traced(x).numpy(), (x * v).numpy())
    np.testing.assert_array_equal(traced(-x).numpy(), (-x - v).numpy())
    assert graph.gpu_plan is False
    assert graph.plan_note.startswith("no GPU plan: control flow (cond) is not fused")
