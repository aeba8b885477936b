"""The masked softmax (kernels/attention.cu and its NumPy twin) against a float64 reference,
outputs poisoned beforehand; rows wider than a block, a fully masked row, every thread order."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflowish.kernels import attention


def _reference(scores, keep):
    shifted = np.where(keep, scores, -1e9)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return np.where(keep, e / e.sum(axis=1, keepdims=True), 0.0)


ml_dtypes = pytest.importorskip("ml_dtypes")
TOLERANCES = {"float32": 2e-6, "float64": 1e-12, "float16": 2e-3, "bfloat16": 1.6e-2}


# float16/bfloat16: the _f16/_bf16 kernel (16-bit storage, float arithmetic); CuPy has no bfloat16
@pytest.fixture(params=[np.float32, np.float64, np.float16, ml_dtypes.bfloat16],
                ids=["f32", "f64", "f16", "bf16"])
def dtype(request):
    return np.dtype(request.param)


def _inputs(dtype, cols):
    rng = np.random.default_rng(3)
    scores = rng.normal(0, 3, (7, cols)).astype(dtype)
    keep = rng.random((7, cols)) > 0.3
    keep[2] = False  # a fully masked row: zeros
    keep[4] = True
    return scores, keep


def _check(got, scores, keep, dtype):
    assert got.dtype == dtype
    tolerance = TOLERANCES[dtype.name]
    np.testing.assert_allclose(np.asarray(got, np.float64),
                               _reference(scores.astype(np.float64), keep), rtol=tolerance,
                               atol=tolerance)


@pytest.mark.parametrize("cols", [5, 300])  # one partial warp; more columns than threads
def test_cpu_twin(dtype, cols):
    scores, keep = _inputs(dtype, cols)
    _check(attention.masked_softmax(scores, keep), scores, keep, dtype)


@pytest.mark.parametrize("cols", [5, 300])
def test_cuda_kernel(dtype, cols, cuda_backend):
    if dtype.name == "bfloat16" and cuda_backend.name == "cupy":
        pytest.skip("CuPy has no bfloat16 arrays")
    scores, keep = _inputs(dtype, cols)
    runner = cuda_backend.runner(0)
    out = attention.masked_softmax_gpu(runner, cuda_backend.to_device(scores),
                                       cuda_backend.to_device(keep))
    _check(cuda_backend.to_host(out), scores, keep, dtype)
