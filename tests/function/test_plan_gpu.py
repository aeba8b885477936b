"""GPU replay plans (tensorflowish/function/plan_gpu.py), run without a GPU: the same plan with
the CPU emulator as its kernel launcher, on NumPy arrays, against eager (values and gradients,
allclose: float64 rtol 1e-10, float32 rtol 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflowish.kernels import fusion

import tensorflowish as tf
from tensorflowish.function import plan_gpu

RUNNER = fusion.emulator_runner(order="random", seed=3, max_blocks=2)
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def _graph(function, *args):
    traced = tf.function(function)
    traced(*args)
    return traced.get_concrete_function(*args).graph


def _check(got, want, dtype) -> None:
    got, want = tf.nest.flatten(got), tf.nest.flatten(want)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tape_overhead_chain_is_one_kernel(dtype) -> None:
    """tensorflowish bench's 100-op chain, forward and backward: ONE generated kernel."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=16).astype(dtype))
    s = tf.constant(rng.normal(size=16).astype(dtype))

    def chain(x, s):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x
            for i in range(100):
                y = y * s if i % 2 == 0 else y + s
        return y, tape.gradient(y, x)

    plan = plan_gpu.compile_gpu_plan(_graph(chain, x, s), RUNNER)
    assert plan.kernels == 1 and [kind for kind, _ in plan.actions] == ["run"]
    _check(plan.function([x, s]), chain(x, s), dtype)


UNARY = ["exp", "log", "tanh", "sigmoid", "relu", "square", "sqrt", "rsqrt", "abs", "negative"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum"]
OPS = {"exp": lambda a: tf.exp(tf.tanh(a)), "log": lambda a: tf.math.log(tf.abs(a) + 1.0),
       "tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "square": tf.square,
       "sqrt": lambda a: tf.sqrt(tf.abs(a) + 0.5), "rsqrt": lambda a: tf.math.rsqrt(
           tf.abs(a) + 0.5), "abs": tf.abs, "negative": tf.negative,
       "add": tf.add, "subtract": tf.subtract, "multiply": tf.multiply,
       "divide": lambda a, b: a / (b * b + 0.5), "maximum": tf.maximum, "minimum": tf.minimum}


def random_program(seed: int):
    """A random elementwise program over a watched x, a second full w, a bias row b and
    literals, every op used; returns f(x, w, b) -> (values..., gradients wrt x and w)."""
    rng = np.random.default_rng(seed)
    order = UNARY + BINARY
    order = [order[i] for i in rng.permutation(len(order))] * 2
    choices = [(op, int(rng.integers(1 << 30))) for op in order]

    def program(x, w, b):
        with tf.GradientTape() as tape:
            tape.watch(x)
            tape.watch(w)
            values = [x, w]
            for op, r in choices:
                pick = np.random.default_rng(r)
                a = values[int(pick.integers(max(0, len(values) - 4), len(values)))]
                if op in BINARY:
                    other = [values[int(pick.integers(len(values)))], b, 0.75][
                        int(pick.integers(3))]
                    if op == "divide" and other is b:
                        other = values[0]
                    values.append(OPS[op](a, other))
                else:
                    values.append(OPS[op](a))
            loss = tf.reduce_sum(values[-1] * values[-3] + values[-5] + x * w)
        return values[-1], values[-2], tape.gradient(loss, [x, w])

    return program


@pytest.mark.parametrize("seed", range(4))
def test_random_elementwise_programs_match_eager(seed) -> None:
    rng = np.random.default_rng(50 + seed)
    dtype = np.float64 if seed % 2 == 0 else np.float32
    shape = [(3, 7), (5,), (2, 3, 4), (33,)][seed]
    x, w = (tf.constant(rng.normal(size=shape).astype(dtype)) for _ in range(2))
    b = tf.constant(rng.normal(size=shape[-1]).astype(dtype))
    program = random_program(seed)
    graph = _graph(program, x, w, b)
    plan = plan_gpu.compile_gpu_plan(graph, RUNNER)
    # the forward run, the loss's reduce_sum op by op, the backward run
    assert plan.kernels == 2
    assert [kind for kind, _ in plan.actions] == ["run", "call", "run"]
    _check(plan.function([x, w, b]), program(x, w, b), dtype)


def test_other_lines_run_op_by_op_between_kernels() -> None:
    rng = np.random.default_rng(7)
    x = tf.constant(rng.normal(size=(4, 6)))
    k = tf.constant(rng.normal(size=(6, 3)))
    b = tf.constant(rng.normal(size=3))

    def layer(x, k, b):
        h = tf.tanh(x * 2.0 - 1.0)
        z = tf.matmul(h, k)
        return tf.nn.relu(z + b) * tf.sigmoid(z), h

    plan = plan_gpu.compile_gpu_plan(_graph(layer, x, k, b), RUNNER)
    assert [kind for kind, _ in plan.actions] == ["run", "call", "run"]
    assert plan.kernels == 2
    _check(plan.function([x, k, b]), layer(x, k, b), np.float64)


def test_tapes_the_compile_time_backward_refuses_run_live() -> None:
    """A tape the compile-time backward does not cover (a gradient into a broadcast operand,
    through a matmul or a sum, a stop_recording block) is run by the plan itself, its fused
    runs recording on it with generated backward kernels (plan_gpu_tape.py): eager's values."""
    x, b = tf.constant(np.linspace(-1, 1, 12).reshape(3, 4)), tf.constant(np.linspace(0, 1, 4))

    def bias_gradient(x, b):
        with tf.GradientTape() as tape:
            tape.watch(b)
            y = tf.tanh(x + b)
        return tape.gradient(y, b)  # needs a reduction over rows

    def through_matmul(x, b):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.matmul(tf.exp(x), tf.ones((4, 2), dtype=tf.float64))
        return tape.gradient(y, x)

    def through_a_sum(x, b):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.tanh(x) * tf.reduce_sum(x)  # the sum's path would be lost
        return tape.gradient(y, x)

    def paused(x, b):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.tanh(x)
            with tape.stop_recording():
                z = y * 2.0
            y = y * z
        return tape.gradient(y, x)

    for function in (bias_gradient, through_matmul, through_a_sum, paused):
        with pytest.raises(plan_gpu.NotGpuPlannable):  # not differentiable at compile time
            plan_gpu._Builder(_graph(function, x, b)).build(RUNNER)
        plan = plan_gpu.compile_gpu_plan(_graph(function, x, b), RUNNER)
        assert plan.kernels >= 1 and any(
            kind == "call" and item.name == "GradientTape.gradient" for kind, item in plan.actions)
        _check(plan.function([x, b]), function(x, b), np.float64)


def test_graph_replay_hands_cupy_inputs_to_the_gpu_plan(monkeypatch) -> None:
    """Graph.replay's hook: inputs the CPU plan refuses, when CuPy's, run the GPU plan
    (CuPy faked here by treating NumPy arrays as CuPy's and the emulator as its launcher)."""
    from tensorflowish.function import plan as cpu_plan

    compiled = []
    real = plan_gpu.compile_gpu_plan

    def compile_on_emulator(graph, runner=None):
        compiled.append(graph)
        return real(graph, RUNNER)

    def f(x):
        return tf.exp(tf.tanh(x)) * 3.0

    traced = tf.function(f)
    x = tf.constant(np.linspace(-1, 1, 12))
    traced(x)
    traced(x)  # the CPU plan is compiled now
    monkeypatch.setattr(plan_gpu, "_is_cupy", lambda array: True)
    monkeypatch.setattr(plan_gpu, "compile_gpu_plan", compile_on_emulator)
    graph = traced.get_concrete_function(x).graph

    def refuse(inputs):  # what the CPU plan does with non-NumPy inputs
        raise cpu_plan.Fallback

    monkeypatch.setattr(graph.plan, "function", refuse)
    result = traced(x)
    assert compiled == [graph] and graph.gpu_plan.kernels == 1
    np.testing.assert_allclose(result.numpy(), f(x).numpy(), rtol=1e-12)
    # a graph with no NumPy plan at all goes there too
    y = tf.constant(np.linspace(-2, 2, 7))
    traced(y)
    other = traced.get_concrete_function(y).graph
    other.plan, other.plan_note = False, "no NumPy plan (as a test)"
    result = traced(y)
    assert compiled == [graph, other] and other.gpu_plan.kernels == 1
    np.testing.assert_allclose(result.numpy(), f(y).numpy(), rtol=1e-12)
    with tf.GradientTape():  # a tape recording outside: op by op, as before
        traced(y)
    assert len(compiled) == 2


def test_binary_gradients_reach_both_operands() -> None:
    rng = np.random.default_rng(11)
    x, w = (tf.constant(rng.normal(size=(4, 5))) for _ in range(2))

    def both(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = tf.maximum(x, w) * 2.0 + tf.minimum(x, w) * tf.sigmoid(w) - x / (w * w + 1.0)
            y = y * tf.nn.relu(x - w) + tf.abs(w - x * 0.5)
        return y, tape.gradient(y, [x, w])

    plan = plan_gpu.compile_gpu_plan(_graph(both, x, w), RUNNER)
    assert plan.kernels == 1
    _check(plan.function([x, w]), both(x, w), np.float64)


def test_gpu_check_of_the_fused_chain_runs_on_the_emulator() -> None:
    """What scripts/gpu-check runs (its dry run: kernels on the emulator, no capture)."""
    from tensorflowish.function import cuda_graph

    lines = cuda_graph.check(emulator=True)
    assert lines[0].startswith("fused chain (100 ops x 16, forward + backward): 1 kernel(s)")
    assert not cuda_graph.cuda_graphs_enabled()  # capture is opt-in until a GPU verified it


@pytest.mark.gpu
def test_gpu_plan_and_cuda_graph_capture_on_cupy() -> None:
    """On a GPU: the plan on CuPy through tf.function's replay, then captured (both against
    eager); never run so far (no GPU was lent to this work)."""
    from tensorflowish import backend
    from tensorflowish.function import cuda_graph

    reason = backend.gpu_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no usable GPU: {reason}")
    import cupy

    lines = cuda_graph.check(ops=20, elements=1000)
    assert "exactly" in lines[1]

    def f(x):
        return tf.exp(tf.tanh(x)) * 3.0 - x

    traced = tf.function(f)
    x = tf.Tensor(cupy.linspace(-1, 1, 300))
    for _ in range(3):
        result = traced(x)
    graph = traced.get_concrete_function(x).graph
    assert graph.gpu_plan and graph.gpu_plan.kernels == 1, graph.plan_note
    np.testing.assert_allclose(cupy.asnumpy(result.array), cupy.asnumpy(f(x).array), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_runs_fused_in_float(dtype) -> None:
    """A half-precision run computes in float and rounds once per output (eager rounds per
    op), so it is compared with a half's tolerance."""
    rng = np.random.default_rng(4)
    x, w = (tf.cast(tf.constant(rng.normal(size=(3, 8)).astype(np.float32)), dtype)
            for _ in range(2))

    def f(x, w):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.tanh(x * w + 0.5) * tf.sigmoid(w)
        return y, tape.gradient(y, x)

    plan = plan_gpu.compile_gpu_plan(_graph(f, x, w), RUNNER)
    assert plan.kernels == 1
    for got, want in zip(tf.nest.flatten(plan.function([x, w])), tf.nest.flatten(f(x, w))):
        assert got.dtype == want.dtype == tf.as_dtype(dtype)
        np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(),
                                   tf.cast(want, tf.float32).numpy(), rtol=3e-2, atol=3e-2)
