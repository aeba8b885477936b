"""Every kernel against a float64 NumPy reference, table-driven.

One table of cases drives three tests:
* the public functions on NumPy arrays (the CPU path), in float32 and float64;
* the CUDA kernels through the GPU launch code (``kernels/cuda.py``) on the emulator, in each
  thread order, with every output poisoned (NaN) beforehand;
* the same on real CuPy where a GPU exists (``-m gpu``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from tensorflowish.kernels import cpu, cuda

from tensorflowish import kernels

N, K, M = 33, 17, 45  # odd sizes, not multiples of any tile or block
ALWAYS_FUSED, NEVER_FUSED = 1 << 40, 0
DTYPES = [np.float32, np.float64]
# the 16-bit variants (_f16/_bf16, stored in 16 bits, computed in float) of the cases marked `half`
HALF_DTYPES = [np.dtype(np.float16)]
try:
    import ml_dtypes

    HALF_DTYPES.append(np.dtype(ml_dtypes.bfloat16))  # emulator only: CuPy has no bfloat16
except ImportError:  # pragma: no cover - ml_dtypes is a test dependency
    pass
# relative tolerance against the float64 reference, about 8 roundings of the stored type
TOLERANCES = {"float64": 1e-9, "float32": 1e-4, "float16": 4e-3, "bfloat16": 3e-2}
_erf = np.vectorize(math.erf)


# ---- float64 references ----------------------------------------------------------------------
def activate_reference(z: np.ndarray, activation: str, alpha: float) -> np.ndarray:
    if activation == "relu":
        return np.where(z > 0, z, 0.0)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if activation == "tanh":
        return np.tanh(z)
    if activation == "gelu":
        return 0.5 * z * (1 + _erf(z / math.sqrt(2)))
    if activation == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    return z


def derivative_reference(z: np.ndarray, activation: str, alpha: float) -> np.ndarray:
    if activation == "relu":
        return (z > 0).astype(np.float64)
    if activation == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    if activation == "tanh":
        return 1 - np.tanh(z) ** 2
    if activation == "gelu":
        return 0.5 * (1 + _erf(z / math.sqrt(2))) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    if activation == "leaky_relu":
        return np.where(z > 0, 1.0, alpha)
    return np.ones_like(z)


def log_softmax_reference(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


# ---- the table ---------------------------------------------------------------------------------
@dataclass
class Case:
    id: str
    make: Callable[[np.random.Generator, Any], dict[str, Any]]
    public: Callable[[dict[str, Any]], dict[str, Any]]  # tensorflowish.kernels.<function>
    gpu: Callable[[cuda.KernelRunner, dict[str, Any]], dict[str, Any]]  # kernels/cuda.py
    reference: Callable[[dict[str, Any]], dict[str, Any]]  # float64 inputs -> float64 outputs
    in_place: tuple[str, ...] = ()  # inputs the function updates (also checked as outputs)
    fused: bool = False  # for dense_forward: run the one-kernel path on the GPU
    cpu: bool = True  # whether the CPU test covers it (fused/unfused are the same there)
    half: bool = False  # whether its kernels have float16/bfloat16 variants tested here
    half_on_cpu: bool = False  # whether the public function takes NumPy float16/bfloat16 too
    scalars: dict[str, Any] = field(default_factory=dict)


def _dense_inputs(rng, dtype, bias=True):
    inputs = {
        "x": rng.standard_normal((N, K)),
        "kernel": rng.standard_normal((K, M)) / math.sqrt(K),
        "bias": rng.standard_normal(M) * 0.5 if bias else None,
    }
    return {k: None if v is None else v.astype(dtype) for k, v in inputs.items()}


def _forward_case(activation: str, fused: bool, bias: bool = True, alpha: float = 0.2) -> Case:
    def reference(i):
        z = i["x"] @ i["kernel"] + (i["bias"] if bias else 0)
        out = {"y": activate_reference(z, activation, alpha)}
        if activation == "gelu":
            out["pre"] = z
        return out

    def public(i):
        y, pre = kernels.dense_forward(i["x"], i["kernel"], i["bias"], activation, alpha)
        assert (pre is None) == (activation != "gelu")
        return {"y": y, "pre": pre} if activation == "gelu" else {"y": y}

    def gpu(runner, i):
        y, pre = cuda.dense_forward(runner, i["x"], i["kernel"], i["bias"], activation, alpha)
        assert (pre is None) == (activation != "gelu")
        return {"y": y, "pre": pre} if activation == "gelu" else {"y": y}

    name = f"dense_forward-{activation}-{'fused' if fused else 'gemm'}{'' if bias else '-nobias'}"
    if alpha != 0.2:
        name += f"-alpha{alpha}"
    return Case(
        name,
        lambda rng, dt: _dense_inputs(rng, dt, bias),
        public,
        gpu,
        reference,
        fused=fused,
        cpu=not fused,
    )


def _backward_case(activation: str, overwrite_dy: bool, alpha: float = 0.2) -> Case:
    def make(rng, dtype):
        inputs = _dense_inputs(rng, dtype)
        z = inputs["x"].astype(np.float64) @ inputs["kernel"] + inputs["bias"]
        inputs["y"] = activate_reference(z, activation, alpha).astype(dtype)
        inputs["pre"] = z.astype(dtype) if activation == "gelu" else None
        inputs["dy"] = rng.standard_normal((N, M)).astype(dtype)
        return inputs

    def reference(i):
        # the derivative as the kernels compute it: from y, or from pre for gelu
        if activation == "gelu":
            derivative = derivative_reference(i["pre"], activation, alpha)
        elif activation == "sigmoid":
            derivative = i["y"] * (1 - i["y"])
        elif activation == "tanh":
            derivative = 1 - i["y"] ** 2
        else:
            derivative = derivative_reference(i["y"], activation, alpha)
        g = i["dy"] * derivative
        out = {"dx": g @ i["kernel"].T, "dkernel": i["x"].T @ g, "dbias": g.sum(axis=0)}
        if overwrite_dy:
            out["dy"] = g
        return out

    def call(function, i):
        dx, dkernel, dbias = function(
            i["dy"],
            i["x"],
            i["kernel"],
            i["y"],
            i["pre"],
            activation,
            alpha,
            True,
            True,
            True,
            overwrite_dy,
        )
        out = {"dx": dx, "dkernel": dkernel, "dbias": dbias}
        if overwrite_dy:
            out["dy"] = i["dy"]
        return out

    return Case(
        f"dense_backward-{activation}{'-overwrite_dy' if overwrite_dy else ''}",
        make,
        lambda i: call(kernels.dense_backward, i),
        lambda runner, i: call(lambda *a: cuda.dense_backward(runner, *a), i),
        reference,
        in_place=("dy",) if overwrite_dy else (),
    )


def _softmax_case(name: str, n_rows: int, n_cols: int, scale: float) -> Case:
    def make(rng, dtype):
        labels = rng.random((n_rows, n_cols))
        labels /= labels.sum(axis=1, keepdims=True)
        logits = rng.standard_normal((n_rows, n_cols)) * scale
        return {"logits": logits.astype(dtype), "labels": labels.astype(dtype)}

    def reference(i):
        log_softmax = log_softmax_reference(i["logits"])
        return {
            "loss": -(i["labels"] * log_softmax).sum(axis=1),
            "grad": np.exp(log_softmax) - i["labels"],
        }

    def pack(result):
        return {"loss": result[0], "grad": result[1]}

    return Case(
        name,
        make,
        lambda i: pack(kernels.softmax_cross_entropy(i["logits"], i["labels"])),
        lambda r, i: pack(cuda.softmax_cross_entropy(r, i["logits"], i["labels"])),
        reference,
        half=True,
    )


def _sparse_softmax_case(name: str, n_rows: int, n_cols: int, scale: float) -> Case:
    def make(rng, dtype):
        logits = rng.standard_normal((n_rows, n_cols)) * scale
        return {"logits": logits.astype(dtype), "labels": rng.integers(0, n_cols, n_rows)}

    def reference(i):
        log_softmax = log_softmax_reference(i["logits"])
        rows = np.arange(n_rows)
        one_hot = np.zeros_like(log_softmax)
        one_hot[rows, i["labels"]] = 1
        return {"loss": -log_softmax[rows, i["labels"]], "grad": np.exp(log_softmax) - one_hot}

    def pack(result):
        return {"loss": result[0], "grad": result[1]}

    return Case(
        name,
        make,
        lambda i: pack(kernels.sparse_softmax_cross_entropy(i["logits"], i["labels"])),
        lambda r, i: pack(cuda.sparse_softmax_cross_entropy(r, i["logits"], i["labels"])),
        reference,
        half=True,
    )


def _sgd_case(momentum: float, nesterov: bool) -> Case:
    lr = 0.05

    def make(rng, dtype):
        inputs = {
            "param": rng.standard_normal((N, M)),
            "grad": rng.standard_normal((N, M)),
            "velocity": rng.standard_normal((N, M)) * 0.1 if momentum else None,
        }
        return {k: None if v is None else v.astype(dtype) for k, v in inputs.items()}

    def reference(i):
        if momentum == 0:
            return {"param": i["param"] - lr * i["grad"]}
        velocity = momentum * i["velocity"] - lr * i["grad"]
        step = momentum * velocity - lr * i["grad"] if nesterov else velocity
        return {"param": i["param"] + step, "velocity": velocity}

    def call(function, i):
        assert function(i["param"], i["grad"], i["velocity"], lr, momentum, nesterov) is None
        return {k: i[k] for k in ("param", "velocity") if i[k] is not None}

    name = "sgd" if momentum == 0 else ("sgd-nesterov" if nesterov else "sgd-momentum")
    return Case(
        name,
        make,
        lambda i: call(kernels.sgd_update, i),
        lambda r, i: call(lambda *a: cuda.sgd_update(r, *a), i),
        reference,
        in_place=("param", "velocity") if momentum else ("param",),
        half=True,
        half_on_cpu=True,
    )


def _adam_case(weight_decay: float) -> Case:
    lr, beta_1, beta_2, epsilon, step = 0.01, 0.9, 0.999, 1e-7, 3

    def make(rng, dtype):
        inputs = {
            "param": rng.standard_normal((N, M)),
            "grad": rng.standard_normal((N, M)),
            "m": rng.standard_normal((N, M)) * 0.1,
            "v": rng.random((N, M)) * 0.1,
        }
        return {k: v.astype(dtype) for k, v in inputs.items()}

    def reference(i):
        param = i["param"] - i["param"] * weight_decay * lr
        lr_t = lr * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        m = i["m"] + (i["grad"] - i["m"]) * (1 - beta_1)
        v = i["v"] + (i["grad"] ** 2 - i["v"]) * (1 - beta_2)
        return {"param": param - lr_t * m / (np.sqrt(v) + epsilon), "m": m, "v": v}

    def public(i):
        assert (
            kernels.adam_update(
                i["param"],
                i["grad"],
                i["m"],
                i["v"],
                lr,
                beta_1,
                beta_2,
                epsilon,
                step,
                weight_decay,
            )
            is None
        )
        return {k: i[k] for k in ("param", "m", "v")}

    def gpu(runner, i):
        lr_t = lr * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        cuda.adam_update(
            runner,
            i["param"],
            i["grad"],
            i["m"],
            i["v"],
            lr_t,
            beta_1,
            beta_2,
            epsilon,
            1 - weight_decay * lr,
        )
        return {k: i[k] for k in ("param", "m", "v")}

    return Case(
        "adamw" if weight_decay else "adam",
        make,
        public,
        gpu,
        reference,
        in_place=("param", "m", "v"),
        half=True,
        half_on_cpu=True,
    )


def _optimizer_case(name: str, slots: dict[str, Callable], reference, public, gpu) -> Case:
    """A case for an optimiser kernel: param, grad and the named slots, all updated in place."""

    def make(rng, dtype):
        inputs = {"param": rng.standard_normal((N, M)), "grad": rng.standard_normal((N, M))}
        inputs.update({slot: init(rng) for slot, init in slots.items()})
        return {k: v.astype(dtype) for k, v in inputs.items()}

    names = ("param", *slots)

    def pick(i):
        return {k: i[k] for k in names}

    return Case(
        name,
        make,
        lambda i: (public(i), pick(i))[1],
        lambda r, i: (gpu(r, i), pick(i))[1],
        reference,
        in_place=names,
        half=True,
        half_on_cpu=True,
    )


def _adagrad_case(weight_decay: float) -> Case:
    lr, epsilon = 0.05, 1e-7

    def reference(i):
        accumulator = i["accumulator"] + i["grad"] ** 2
        param = i["param"] * (1 - weight_decay * lr)
        param = param - lr * i["grad"] / np.sqrt(accumulator + epsilon)
        return {"param": param, "accumulator": accumulator}

    return _optimizer_case(
        "adagrad-decay" if weight_decay else "adagrad",
        {"accumulator": lambda rng: rng.random((N, M)) * 0.5 + 0.1},
        reference,
        lambda i: kernels.adagrad_update(i["param"], i["grad"], i["accumulator"], lr, epsilon,
                                         weight_decay),
        lambda r, i: cuda.adagrad_update(r, i["param"], i["grad"], i["accumulator"], lr, epsilon,
                                         1 - weight_decay * lr),
    )


def _nadam_case(weight_decay: float) -> Case:
    lr, beta_1, beta_2, epsilon, step = 0.01, 0.9, 0.999, 1e-7, 3
    # Keras's schedule, written out: u_t = beta_1 * (1 - 0.5 * 0.96^t)
    u = {t: beta_1 * (1 - 0.5 * 0.96**t) for t in (1, 2, 3, 4)}
    product = u[1] * u[2] * u[3]

    def reference(i):
        m = i["m"] + (i["grad"] - i["m"]) * (1 - beta_1)
        v = i["v"] + (i["grad"] ** 2 - i["v"]) * (1 - beta_2)
        m_hat = u[4] * m / (1 - product * u[4]) + (1 - u[3]) * i["grad"] / (1 - product)
        v_hat = v / (1 - beta_2**step)
        param = i["param"] * (1 - weight_decay * lr) - lr * m_hat / (np.sqrt(v_hat) + epsilon)
        return {"param": param, "m": m, "v": v}

    def gpu(runner, i):
        m_coef = u[4] / (1 - product * u[4])
        grad_coef = (1 - u[3]) / (1 - product)
        cuda.nadam_update(runner, i["param"], i["grad"], i["m"], i["v"], lr, beta_1, beta_2,
                          epsilon, m_coef, grad_coef, 1 / (1 - beta_2**step),
                          1 - weight_decay * lr)

    assert math.isclose(kernels.nadam_momentum_product(beta_1, 3, u[1] * u[2]), product)
    return _optimizer_case(
        "nadam-decay" if weight_decay else "nadam",
        {"m": lambda rng: rng.standard_normal((N, M)) * 0.1, "v": lambda rng: rng.random((N, M))},
        reference,
        lambda i: kernels.nadam_update(i["param"], i["grad"], i["m"], i["v"], lr, beta_1, beta_2,
                                       epsilon, step, product, weight_decay),
        gpu,
    )


def _lion_case(weight_decay: float) -> Case:
    lr, beta_1, beta_2 = 0.01, 0.9, 0.99

    def reference(i):
        direction = np.sign(beta_1 * i["m"] + (1 - beta_1) * i["grad"])
        param = i["param"] * (1 - weight_decay * lr) - lr * direction
        return {"param": param, "m": beta_2 * i["m"] + (1 - beta_2) * i["grad"]}

    return _optimizer_case(
        "lion-decay" if weight_decay else "lion",
        {"m": lambda rng: rng.standard_normal((N, M))},
        reference,
        lambda i: kernels.lion_update(i["param"], i["grad"], i["m"], lr, beta_1, beta_2,
                                      weight_decay),
        lambda r, i: cuda.lion_update(r, i["param"], i["grad"], i["m"], lr, beta_1, beta_2,
                                      1 - weight_decay * lr),
    )


CASES = [
    *[_forward_case(a, fused) for a in kernels.ACTIVATIONS for fused in (False, True)],
    _forward_case("linear", fused=False, bias=False),
    _forward_case("linear", fused=True, bias=False),
    _forward_case("leaky_relu", fused=True, alpha=0.05),
    *[_backward_case(a, overwrite) for a in kernels.ACTIVATIONS for overwrite in (False, True)],
    _softmax_case("softmax_cross_entropy", N, M, 3.0),
    _softmax_case("softmax_cross_entropy-wide", 7, 300, 3.0),
    _softmax_case("softmax_cross_entropy-huge_logits", N, M, 1000.0),
    _sparse_softmax_case("sparse_softmax_cross_entropy", N, M, 3.0),
    _sparse_softmax_case("sparse_softmax_cross_entropy-wide", 7, 300, 3.0),
    _sparse_softmax_case("sparse_softmax_cross_entropy-huge_logits", N, M, 1000.0),
    _sgd_case(0.0, False),
    _sgd_case(0.9, False),
    _sgd_case(0.9, True),
    _adam_case(0.0),
    _adam_case(0.004),
    _adagrad_case(0.0),
    _adagrad_case(0.004),
    _nadam_case(0.0),
    _nadam_case(0.004),
    _lion_case(0.0),
    _lion_case(0.004),
]


def _is_float(array: Any) -> bool:
    return isinstance(array, np.ndarray) and (array.dtype.kind == "f" or
                                              array.dtype.name == "bfloat16")


def _assert_outputs(
    case: Case, outputs: dict[str, np.ndarray], inputs: dict[str, Any], dtype: Any
) -> None:
    # the reference sees the inputs as the kernel got them (rounded to half where they are half)
    inputs64 = {k: v.astype(np.float64) if _is_float(v) else v for k, v in inputs.items()}
    expected = case.reference(inputs64)
    assert set(outputs) == set(expected)
    tolerance = TOLERANCES[np.dtype(dtype).name]
    for name, want in expected.items():
        got = outputs[name]
        assert got.dtype == dtype, f"{name} has dtype {got.dtype}"
        assert got.shape == want.shape, f"{name} has shape {got.shape}, expected {want.shape}"
        got = got.astype(np.float64)
        assert np.isfinite(got).all(), f"{name} has non-finite values (unwritten or overflow)"
        scale = max(1.0, float(np.abs(want).max(initial=0)))
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale, err_msg=name)


def _copy(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: None if v is None else np.copy(v) for k, v in inputs.items()}


def _assert_unchanged(case: Case, before: dict[str, Any], after: dict[str, Any]) -> None:
    for name, value in before.items():
        if value is not None and name not in case.in_place:
            bits = value.view(np.uint8)  # bit for bit, whatever the dtype
            np.testing.assert_array_equal(after[name].view(np.uint8), bits,
                                          err_msg=f"{name} was modified")


@pytest.mark.parametrize(
    ("case", "dtype"),
    [pytest.param(case, np.dtype(dtype), id=f"{case.id}-{np.dtype(dtype).name}")
     for case in CASES if case.cpu
     for dtype in (*DTYPES, *(HALF_DTYPES if case.half_on_cpu else ()))],
)
def test_cpu_path(case: Case, dtype: Any) -> None:
    inputs = case.make(np.random.default_rng(7), dtype)
    original = _copy(inputs)
    outputs = case.public(inputs)
    _assert_outputs(case, outputs, original, dtype)
    _assert_unchanged(case, original, inputs)


@pytest.mark.parametrize(
    ("case", "dtype"),
    [pytest.param(case, np.dtype(dtype), id=f"{case.id}-{np.dtype(dtype).name}")
     for case in CASES for dtype in (*DTYPES, *(HALF_DTYPES if case.half else ()))],
)
def test_cuda_kernel(case: Case, dtype: Any, cuda_backend) -> None:
    if dtype.name == "bfloat16" and cuda_backend.name == "cupy":
        pytest.skip("CuPy has no bfloat16 arrays (the _bf16 kernels run on the emulator)")
    inputs = case.make(np.random.default_rng(7), dtype)
    original = _copy(inputs)
    runner = cuda_backend.runner(ALWAYS_FUSED if case.fused else NEVER_FUSED)
    device_inputs = {k: None if v is None else cuda_backend.to_device(v) for k, v in inputs.items()}
    outputs = case.gpu(runner, device_inputs)
    outputs = {k: cuda_backend.to_host(v) for k, v in outputs.items()}
    _assert_outputs(case, outputs, original, dtype)
    _assert_unchanged(
        case,
        original,
        {k: None if v is None else cuda_backend.to_host(v) for k, v in device_inputs.items()},
    )


# ---- behaviour of the public functions ---------------------------------------------------------
def test_gelu_without_scipy(monkeypatch) -> None:
    monkeypatch.setattr(cpu, "_scipy_erf", False)  # as if SciPy were not installed
    case = next(c for c in CASES if c.id == "dense_forward-gelu-gemm")
    inputs = case.make(np.random.default_rng(7), np.float64)
    _assert_outputs(case, case.public(_copy(inputs)), inputs, np.float64)


def test_erf_without_scipy_matches_math_erf() -> None:
    z = np.concatenate([np.linspace(-7, 7, 2001), [0.0, -0.0, 1.0, -1.0, 30.0, -30.0]])
    np.testing.assert_allclose(cpu.erf_numpy(z), _erf(z), rtol=1e-15, atol=1e-16)
    z32 = z.astype(np.float32)
    out = np.empty_like(z32)
    cpu.erf_numpy(z32, out=out)
    np.testing.assert_allclose(out, _erf(z32.astype(np.float64)), rtol=1e-6, atol=1e-7)
    assert np.isnan(cpu.erf_numpy(np.array([np.nan]))).all()
