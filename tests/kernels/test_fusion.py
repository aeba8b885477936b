"""Generated elementwise-chain kernels (kernels/fusion.py): each compiles with NVRTC, and seeded
random chains (every op, every operand kind, each dtype) run on the CPU emulator against a NumPy
interpreter of the chain written here, with outputs poisoned with NaN."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from tensorflowish.kernels import KERNEL_DIR, fusion, nvrtc

UNARY = ["negative", "exp", "log", "tanh", "sigmoid", "relu", "square", "sqrt", "rsqrt", "abs"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "greater"]


def _numpy_step(op, args):
    """The reference: what each op means, in NumPy, in the arrays' own precision."""
    a = args[0]
    table = {
        "add": lambda: args[0] + args[1], "subtract": lambda: args[0] - args[1],
        "multiply": lambda: args[0] * args[1], "divide": lambda: args[0] / args[1],
        "negative": lambda: -a, "exp": lambda: np.exp(a), "log": lambda: np.log(a),
        "tanh": lambda: np.tanh(a), "sigmoid": lambda: 1 / (1 + np.exp(-a)),
        "relu": lambda: np.where(a < 0, 0, a), "square": lambda: a * a,
        "sqrt": lambda: np.sqrt(a), "rsqrt": lambda: 1 / np.sqrt(a), "abs": lambda: np.abs(a),
        "maximum": lambda: np.maximum(args[0], args[1]),
        "minimum": lambda: np.minimum(args[0], args[1]),
        "greater": lambda: (args[0] > args[1]).astype(a.dtype),
        "where": lambda: np.where(args[0] != 0, args[1], args[2]),
    }
    return table[op]()


def random_chain(seed: int, dtype: str, length: int = 24):
    """A chain using every kind of operand; domains kept valid (log/sqrt of |v| + 1, division
    by v*v + 0.5, exp of tanh(v)) so that no NaN hides an unwritten output."""
    rng = np.random.default_rng(seed)
    inputs = [("x", "full"), ("y", "full"), ("b", "row"), ("s", "scalar"), ("e", "element"),
              ("m", "full", "bool"), ("k", "row", "int32")]
    steps = [("mc", "cast", ("m",)), ("kc", "cast", ("k",))]
    values = ["x", "y", "b", "s", "e", "mc", "kc"]
    counter = iter(range(10_000))

    def add(op, args):
        name = f"t{next(counter)}"
        steps.append((name, op, tuple(args)))
        values.append(name)
        return name

    def pick():
        return values[int(rng.integers(max(0, len(values) - 6), len(values)))] \
            if rng.random() < 0.7 else values[int(rng.integers(len(values)))]

    ops = UNARY + BINARY + ["where"]
    order = [ops[i % len(ops)] for i in range(length)]  # every op at least once
    rng.shuffle(order)
    results = []
    for op in order:
        results.append(len(values))
        if op in ("log", "sqrt", "rsqrt"):
            add(op, [add("add", [add("abs", [pick()]), 1.0])])
        elif op == "exp":
            add(op, [add("tanh", [pick()])])
        elif op == "divide":
            add(op, [pick(), add("add", [add("square", [pick()]), 0.5])])
        elif op == "where":
            add(op, ["m" if rng.random() < 0.5 else add("greater", [pick(), pick()]),
                     pick(), pick() if rng.random() < 0.7 else -1.5])
        elif op in BINARY:
            first, second = pick(), pick()
            add(op, [first, second] if rng.random() < 0.8 else [first, 0.25])
        else:
            add(op, [pick()])
    # every op's result is an output (no dead step), and an input passed straight through
    outputs = [values[-1] if i + 1 == len(results) else values[results[i + 1] - 1]
               for i in range(len(results))] + ["x"]
    return fusion.Chain(inputs, steps, outputs, dtype)


def reference(chain: fusion.Chain, inputs: dict, compute) -> list:
    env = {}
    for entry in chain.inputs:
        value = inputs[entry[0]]
        own = entry[2] if len(entry) == 3 else None
        if own is None:
            value = np.asarray(value).astype(compute)
        env[entry[0]] = value.reshape(()) if entry[1] == "element" else value
    for name, op, args in chain.steps:
        operands = [compute(a) if isinstance(a, float) else env[a] for a in args]
        if op == "cast":
            env[name] = operands[0].astype(compute)
        else:
            env[name] = np.asarray(_numpy_step(op, operands), dtype=compute)
    return [np.broadcast_to(env[name], inputs["x"].shape) for name in chain.outputs]


def make_inputs(rng, shape, dtype):
    return {
        "x": rng.normal(size=shape).astype(dtype), "y": rng.normal(size=shape).astype(dtype),
        "b": rng.normal(size=shape[-1]).astype(dtype), "s": float(rng.normal()),
        "e": rng.normal(size=(1,)).astype(dtype), "m": rng.random(shape) > 0.5,
        "k": rng.integers(-3, 4, size=shape[-1]).astype(np.int32),
    }


TOLERANCE = {"float32": (2e-4, 2e-5), "float64": (1e-11, 1e-12)}


@pytest.mark.parametrize("order", ["forward", "reverse", "random"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_chains_match_numpy_on_the_emulator(seed, dtype, order) -> None:
    chain = random_chain(seed, dtype)
    kernel = fusion.compile_chain(chain)
    rng = np.random.default_rng(100 + seed)
    shape = [(7, 13), (3, 5, 11), (1000,)][seed]  # 1000 with max_blocks=2: the loop strides
    inputs = make_inputs(rng, shape, dtype)
    frozen = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    runner = fusion.emulator_runner(order=order, seed=seed, max_blocks=2)
    got = kernel(inputs, runner)
    expected = reference(chain, inputs, np.dtype(dtype).type)
    rtol, atol = TOLERANCE[dtype]
    for value, want in zip(got, expected):
        assert value.dtype == np.dtype(dtype) and value.shape == shape
        assert not np.isnan(value).any()  # every element written (outputs start as NaN)
        np.testing.assert_allclose(value, want, rtol=rtol, atol=atol)
    for name, value in frozen.items():  # inputs never change
        np.testing.assert_array_equal(inputs[name], value)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_chains_compute_in_float(dtype) -> None:
    np_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    chain = fusion.Chain(
        [("x", "full"), ("b", "row"), ("s", "scalar")],
        [("z", "add", ("x", "b")), ("a", "sigmoid", ("z",)), ("y", "multiply", ("a", "s")),
         ("r", "maximum", ("y", "z"))],
        ["r", "a"], dtype)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 9)).astype(np_dtype)
    b = rng.normal(size=9).astype(np_dtype)
    r, a = fusion.compile_chain(chain)({"x": x, "b": b, "s": 0.75},
                                      fusion.emulator_runner(max_blocks=1))
    z = x.astype(np.float32) + b.astype(np.float32)
    a_ref = 1 / (1 + np.exp(-z))
    r_ref = np.maximum(a_ref * np.float32(0.75), z)
    assert r.dtype == np_dtype and a.dtype == np_dtype
    np.testing.assert_allclose(r.astype(np.float32), r_ref.astype(np_dtype).astype(np.float32),
                               rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(a.astype(np.float32), a_ref.astype(np_dtype).astype(np.float32),
                               rtol=1e-2, atol=1e-3)


def test_generated_kernels_compile_with_nvrtc(tmp_path) -> None:
    chains = [random_chain(seed, dtype) for seed in range(3) for dtype in ("float32", "float64")]
    chains += [fusion.Chain([("x", "full")], [("y", "relu", ("x",))], ["y"], half)
               for half in ("float16", "bfloat16")]
    for index, chain in enumerate(chains):
        kernel = fusion.compile_chain(chain)
        path = tmp_path / f"{kernel.name}.cu"
        path.write_text(kernel.source)
        architectures = nvrtc.supported_architectures() if index == 0 else ["sm_80"]
        for result in nvrtc.check(path, architectures, include_dirs=[KERNEL_DIR]):
            assert result.ptx
            if result.arch.startswith("sm_"):
                assert set(result.resources) == {kernel.name}
                # nvrtc.check raised on spills; 25 outputs in float64 take ~70 registers
                assert 0 < result.resources[kernel.name].registers <= 128


def test_key_is_stable_and_names_the_chain() -> None:
    first, second = random_chain(3, "float32"), random_chain(3, "float32")
    assert fusion.compile_chain(first).key == fusion.compile_chain(second).key
    assert fusion.compile_chain(first).key != fusion.compile_chain(random_chain(3, "float64")).key
    # a known chain's key does not depend on the process (sha256 of the canonical form)
    chain = fusion.Chain([("x", "full")], [("y", "exp", ("x",))], ["y"], "float32")
    assert fusion.compile_chain(chain).key == fusion.FusedKernel(chain).key
    assert len(fusion.compile_chain(chain).key) == 20


@pytest.mark.parametrize("chain, message", [
    (fusion.Chain([("x", "full")], [("y", "erfcx", ("x",))], ["y"]), r"unknown op 'erfcx'"),
    (fusion.Chain([("x", "full")], [("y", "add", ("x",))], ["y"]), r"add takes 2 operand"),
    (fusion.Chain([("x", "full")], [("y", "exp", ("z",))], ["y"]), r"'z' is neither"),
    (fusion.Chain([("x", "diagonal")], [], ["x"]), r"kind must be one of"),
    (fusion.Chain([("x", "full")], [], ["x"], "int32"), r"computes in one of"),
    (fusion.Chain([("x", "full"), ("m", "full", "bool")], [("y", "add", ("x", "m"))], ["y"]),
     r"add a 'cast' step"),
    (fusion.Chain([("x", "full")], [("x", "exp", ("x",))], ["x"]), r"used twice"),
    (fusion.Chain([("x", "full")], [("y", "exp", ("x",))], ["q"]), r"output 'q'"),
])
def test_bad_chains_raise_clear_errors(chain, message) -> None:
    with pytest.raises(fusion.ChainError, match=message):
        fusion.compile_chain(chain)


def test_mismatched_shapes_raise_clear_errors() -> None:
    chain = fusion.Chain([("x", "full"), ("y", "full"), ("b", "row")],
                         [("z", "add", ("x", "y")), ("w", "add", ("z", "b"))], ["w"])
    kernel = fusion.compile_chain(chain)
    runner = fusion.emulator_runner()
    x = np.ones((4, 5), np.float32)
    with pytest.raises(fusion.ChainError, match=r"share one shape.*\(4, 5\).*\(5, 4\)"):
        kernel({"x": x, "y": np.ones((5, 4), np.float32), "b": np.ones(5, np.float32)}, runner)
    with pytest.raises(fusion.ChainError, match=r"'b' \(row\) needs shape \(5,\).*got \(4,\)"):
        kernel({"x": x, "y": x, "b": np.ones(4, np.float32)}, runner)
    with pytest.raises(fusion.ChainError, match=r"missing inputs \['b'\]"):
        kernel({"x": x, "y": x}, runner)
    assert isinstance(fusion.ChainError("x"), ValueError)
