"""Fused dense forward+backward against the plain NumPy (or CuPy) composition.

Run the timings with (unset the OpenBLAS overrides of this image so NumPy picks its best
kernels, see FACTS.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python -m pytest benchmarks/test_bench_kernels.py --benchmark-enable

Without ``--benchmark-enable`` (the default in pyproject) each benchmark runs once, as a
correctness check: fused and unfused must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from tensorflowish import kernels

SIZES = [(64, 128, 128), (256, 512, 512), (512, 1024, 1024)]  # (batch, inputs, units)
ACTIVATIONS = ["relu", "sigmoid", "gelu"]


def _gpu_reason() -> str | None:
    from tensorflowish import backend

    reason = backend.gpu_unavailable_reason()  # the same words as `tensorflowish info`
    return None if reason is None else f"no usable GPU: {reason}"


def _erf(xp, z):
    if xp is np:
        from tensorflowish.kernels.cpu import erf_numpy

        return erf_numpy(z)
    import cupyx.scipy.special

    return cupyx.scipy.special.erf(z)


def unfused_step(xp, x, kernel, bias, dy, activation):
    """What one writes without thinking about memory: every step a new temporary."""
    z = x @ kernel
    z = z + bias
    if activation == "relu":
        y = xp.maximum(z, 0)
        g = dy * (z > 0)
    elif activation == "sigmoid":
        y = 1 / (1 + xp.exp(-z))
        g = dy * (y * (1 - y))
    else:
        cdf = 0.5 * (1 + _erf(xp, z / np.sqrt(2)))
        y = z * cdf
        g = dy * (cdf + z * xp.exp(-0.5 * z * z) / np.sqrt(2 * np.pi))
    return y, g @ kernel.T, x.T @ g, g.sum(axis=0)


def fused_step(xp, x, kernel, bias, dy, activation):
    y, pre = kernels.dense_forward(x, kernel, bias, activation)
    dx, dkernel, dbias = kernels.dense_backward(
        dy, x, kernel, y, pre, activation, overwrite_dy=True
    )
    return y, dx, dkernel, dbias


def _inputs(xp, size, dtype=np.float32):
    batch, inputs, units = size
    rng = np.random.default_rng(0)
    arrays = (
        rng.standard_normal((batch, inputs)),
        rng.standard_normal((inputs, units)) / 30,
        rng.standard_normal(units),
        rng.standard_normal((batch, units)),
    )
    return [xp.asarray(a.astype(dtype)) for a in arrays]


def _devices():
    reason = _gpu_reason()
    return [
        "cpu",
        pytest.param(
            "gpu",
            marks=[pytest.mark.gpu, pytest.mark.skipif(reason is not None, reason=reason or "")],
        ),
    ]


@pytest.mark.parametrize("device", _devices())
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("variant", ["fused", "unfused"])
def test_dense_step(benchmark, variant, size, activation, device) -> None:
    if device == "gpu":
        import cupy as xp

        synchronize = xp.cuda.get_current_stream().synchronize
    else:
        xp, synchronize = np, lambda: None
    x, kernel, bias, dy = _inputs(xp, size)
    step = fused_step if variant == "fused" else unfused_step
    benchmark.group = f"dense {device} {activation} {'x'.join(map(str, size))}"

    def run():
        # fused_step consumes dy (overwrite_dy), so each round gets a fresh copy, as in training
        result = step(xp, x, kernel, bias, dy.copy(), activation)
        synchronize()
        return result

    result = benchmark(run)
    expected = unfused_step(xp, x, kernel, bias, dy, activation)
    for got, want, name in zip(result, expected, ("y", "dx", "dkernel", "dbias")):
        got, want = (np.asarray(a.get() if hasattr(a, "get") else a) for a in (got, want))
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale, err_msg=name)
