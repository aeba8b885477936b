"""The float16/bfloat16 variants of the dense kernels (dense.cu, `_f16`/`_bf16`): the 16-bit
conversions bit for bit against NumPy/ml_dtypes, and the layer kernels against a float64
reference, on the emulator in every thread order with poisoned outputs (and on CuPy for float16
where a GPU exists: CuPy has no bfloat16 arrays)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorflowish.kernels import cuda, emulator

from tensorflowish import kernels

ml_dtypes = pytest.importorskip("ml_dtypes")
HALF_TYPES = [pytest.param(np.dtype(np.float16), id="float16"),
              pytest.param(np.dtype(ml_dtypes.bfloat16), id="bfloat16")]
N, K, M = 19, 13, 37  # odd sizes: no multiple of a block


def _skip_bfloat16_on_cupy(dtype, cuda_backend):
    if cuda_backend.name == "cupy" and dtype.name == "bfloat16":
        pytest.skip("CuPy has no bfloat16 arrays")


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_conversions_round_to_nearest_even_bit_for_bit(dtype, cuda_backend):
    """y = half(float(pre) + float(bias)) through the forward kernel, against NumPy's (and
    ml_dtypes') IEEE conversions: normal, subnormal, overflowing, infinite and signed values."""
    _skip_bfloat16_on_cupy(dtype, cuda_backend)
    rng = np.random.default_rng(5)
    info = ml_dtypes.finfo(dtype) if dtype.name == "bfloat16" else np.finfo(dtype)
    special = np.array([0.0, -0.0, float(info.max), -float(info.max), float(info.tiny),
                        float(info.smallest_subnormal), np.inf, -np.inf, 1.0, -2.5],
                       dtype=np.float32)
    magnitudes = np.exp2(rng.uniform(np.log2(float(info.smallest_subnormal)),
                                     np.log2(float(info.max)), 2000))
    values = np.concatenate([special, magnitudes * rng.choice([-1, 1], magnitudes.size)])
    rows = values.size
    pre = values.astype(np.float32).astype(dtype).reshape(rows, 1)
    bias = np.array([rng.uniform(-3, 3)], dtype=np.float32).astype(dtype)
    bias_near_max = np.array([float(info.max) / 64], dtype=np.float32).astype(dtype)
    runner = cuda_backend.runner(0)
    for b in (bias, bias_near_max):
        with np.errstate(over="ignore"):  # the overflowing values are meant to become Inf
            expected = (pre.astype(np.float32) + b.astype(np.float32)).astype(dtype)
        y, _ = cuda.dense_forward(runner, cuda_backend.to_device(pre),
                                  cuda_backend.to_device(np.eye(1, dtype=dtype)),
                                  cuda_backend.to_device(b), "linear", 0.0)
        got = cuda_backend.to_host(y)
        np.testing.assert_array_equal(got.view(np.uint16), expected.view(np.uint16))


def _references(x, kernel, bias, dy, activation, dtype):
    # the GEMM's result is stored in half precision before the bias pass, as on the GPU
    z = (x @ kernel).astype(np.float32).astype(dtype).astype(np.float64) + bias
    if activation == "tanh":
        y, derivative = np.tanh(z), 1 - np.tanh(z) ** 2
    elif activation == "gelu":
        erf = np.vectorize(math.erf)
        y = 0.5 * z * (1 + erf(z / math.sqrt(2)))
        derivative = 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-z * z / 2) / math.sqrt(
            2 * math.pi)
    else:
        y, derivative = np.maximum(z, 0), (z > 0).astype(np.float64)
    g = dy * derivative
    return y, g @ kernel.T, x.T @ g, g.sum(0)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_dense_forward_and_backward_in_half_precision(dtype, activation, cuda_backend):
    _skip_bfloat16_on_cupy(dtype, cuda_backend)
    rng = np.random.default_rng(11)
    x, kernel = rng.standard_normal((N, K)), rng.standard_normal((K, M)) / math.sqrt(K)
    bias, dy = rng.standard_normal(M) * 0.5, rng.standard_normal((N, M))
    half = [a.astype(np.float32).astype(dtype) for a in (x, kernel, bias, dy)]
    exact = [h.astype(np.float64) for h in half]  # the reference sees the rounded inputs
    y_ref, dx_ref, dkernel_ref, dbias_ref = _references(*exact, activation, dtype)
    runner = cuda_backend.runner(1 << 40)  # would choose the fused kernel: half must not
    device = [cuda_backend.to_device(h) for h in half]
    y, pre = cuda.dense_forward(runner, device[0], device[1], device[2], activation, 0.0)
    dx, dkernel, dbias = cuda.dense_backward(
        runner, device[3], device[0], device[1], y, pre, activation, 0.0, True, True, True,
        False)
    tolerance = 1e-2 if dtype == np.float16 else 6e-2
    for got, expected in ((y, y_ref), (dx, dx_ref), (dkernel, dkernel_ref), (dbias, dbias_ref)):
        got = cuda_backend.to_host(got)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tolerance,
                                   atol=tolerance * np.abs(expected).max())
    np.testing.assert_array_equal(cuda_backend.to_host(device[3]).view(np.uint16),
                                  half[3].view(np.uint16))  # dy is not overwritten


def test_public_functions_pick_the_f16_kernels_for_float16_gpu_arrays(monkeypatch):
    """kernels.softmax_cross_entropy/sparse_.../*_update with float16 arrays on the GPU path
    accept them and launch the _f16 kernels (the emulator stands in for CuPy here; the values
    themselves are checked table-driven in test_kernels.py)."""
    launched = []

    class Recording:
        def __init__(self, module):
            self.module = module

        def get_function(self, name):
            launched.append(name)
            return self.module.get_function(name)

    recording = cuda.KernelRunner(
        np, lambda filename: Recording(emulator.load(kernels.KERNEL_DIR / filename)),
        lambda shape, dtype: np.full(shape, np.nan, dtype))
    monkeypatch.setattr(kernels, "_backend", lambda **arrays: "cupy")
    monkeypatch.setattr(cuda, "cupy_runner", lambda: recording)
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((5, 7)).astype(np.float16)
    labels = np.full((5, 7), 1 / 7, np.float16)
    loss, grad = kernels.softmax_cross_entropy(logits, labels)
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert loss.dtype == grad.dtype == np.float16
    np.testing.assert_allclose(loss, -log_softmax.mean(axis=1), rtol=2e-3)
    loss, _ = kernels.sparse_softmax_cross_entropy(logits, np.arange(5), check_arguments=False)
    np.testing.assert_allclose(loss, -log_softmax[np.arange(5), np.arange(5)], rtol=2e-3,
                               atol=2e-3)
    param, grad = np.ones(6, np.float16), np.full(6, 0.5, np.float16)
    slots = [np.zeros(6, np.float16) for _ in range(2)]
    kernels.sgd_update(param, grad, slots[0], 0.1, momentum=0.9, check_arguments=False)
    np.testing.assert_array_equal(param, np.float16(0.95))
    kernels.adam_update(param, grad, *slots, 0.01, 0.9, 0.999, 1e-7, step=1)
    kernels.adagrad_update(param, grad, slots[0], 0.01)
    kernels.nadam_update(param, grad, *slots, 0.01, 0.9, 0.999, 1e-7, 1,
                         kernels.nadam_momentum_product(0.9, 1))
    kernels.lion_update(param, grad, slots[0], 0.01)
    assert launched == [f"tfish_{name}_f16" for name in (
        "softmax_cross_entropy", "sparse_softmax_cross_entropy", "sgd_momentum_update",
        "adam_update", "adagrad_update", "nadam_update", "lion_update")]
    with pytest.raises(TypeError, match="float32, float64, float16 or bfloat16, got int32"):
        kernels.sgd_update(np.ones(3, np.int32), np.ones(3, np.int32), None, 0.1)


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_cpu_optimiser_updates_compute_in_float32(dtype):
    """A half-precision variable on the CPU is updated as the GPU kernels do it: in float32, then
    rounded once. In float16 arithmetic grad**2 = 1e-8 underflows to 0, and Adam's first step
    becomes lr_t * m / epsilon: 0.026 instead of 0.001."""
    param, grad = np.ones(4, dtype), np.full(4, 1e-4, dtype)
    m, v = np.zeros(4, dtype), np.zeros(4, dtype)
    kernels.adam_update(param, grad, m, v, 0.001, 0.9, 0.999, 1e-7, step=1)
    # the first Adam step moves every weight by about the learning rate, whatever the gradient
    np.testing.assert_allclose(param.astype(np.float64), 1 - 0.001, rtol=4e-3)
    assert param.dtype == dtype and m.dtype == dtype
    np.testing.assert_allclose(m.astype(np.float64), 1e-5, rtol=1e-2)


def test_every_kernel_has_float16_and_bfloat16_variants():
    """Each `_f32` entry point of every source has `_f16` and `_bf16` twins with the same
    parameters, float arrays as unsigned short and float scalars; the one-kernel dense layer is
    the documented exception (a float16 layer takes cuBLAS and the epilogue kernel)."""
    halves = {"float": "unsigned short"}
    for source in kernels.kernel_sources():
        entries = emulator.parse_kernels(source.read_text())
        for name, parameters in entries.items():
            if not name.endswith("_f32") or name == "tfish_dense_fused_f32":
                continue
            for suffix in ("_f16", "_bf16"):
                twin = name[:-4] + suffix
                assert twin in entries, f"{source.name}: {twin} is missing"
                expected = [(p.name, halves.get(p.c_type, p.c_type) if p.is_pointer else p.c_type,
                             p.is_pointer) for p in parameters]
                got = [(p.name, p.c_type, p.is_pointer) for p in entries[twin]]
                assert got == expected, f"{source.name}: {twin} takes {got}"
