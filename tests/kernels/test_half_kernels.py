"""The float16/bfloat16 variants of the dense kernels (dense.cu, `_f16`/`_bf16`): the 16-bit
conversions bit for bit against NumPy/ml_dtypes, and the layer kernels against a float64
reference, on the emulator in every thread order with poisoned outputs (and on CuPy for float16
where a GPU exists: CuPy has no bfloat16 arrays)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorflowish.kernels import cuda

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
