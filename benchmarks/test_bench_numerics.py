"""Image resizing, linear algebra and random numbers beside hand-written NumPy/CuPy floors.

    pytest benchmarks/test_bench_numerics.py --benchmark-enable

Each group holds `framework` (the tensorflowish op) and `floor` (the fewest array calls that
compute the same result); each test also checks that the two agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_arrays import array_module, host

import tensorflowish as tf
from tensorflowish import backend

SIDES = ["framework", "floor"]






def _run(benchmark, name, framework, floor, side, rtol=1e-4):
    benchmark.group = name
    function = framework if side == "framework" else floor
    if backend.current_device().startswith("GPU"):
        inner = function

        def function():
            result = inner()
            backend.synchronize()
            return result
    result = benchmark(function)
    np.testing.assert_allclose(host(result), host(floor()), rtol=rtol, atol=rtol)


def _bilinear_axis(n_in, n_out):
    """TensorFlow's half-pixel bilinear sampling along one axis: two source indices, a weight."""
    position = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    floor = np.floor(position)
    low = np.clip(floor, 0, n_in - 1).astype(np.int64)
    high = np.clip(np.ceil(position), 0, n_in - 1).astype(np.int64)
    return low, high, (position - floor).astype(np.float32)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("size", [128, 512], ids=["down-128", "up-512"])
def test_resize_bilinear(benchmark, bench_device, side, size):
    xp = array_module(bench_device)
    x = xp.asarray(np.random.default_rng(0).standard_normal((8, 256, 256, 3)).astype(np.float32))
    tx = tf.Tensor(x)
    rows, cols = _bilinear_axis(256, size), _bilinear_axis(256, size)

    def floor():  # two gathers and a lerp per axis
        low, high, weight = (xp.asarray(a) for a in rows)
        top, bottom = x[:, low], x[:, high]
        y = top + (bottom - top) * weight[None, :, None, None]
        low, high, weight = (xp.asarray(a) for a in cols)
        left, right = y[:, :, low], y[:, :, high]
        return left + (right - left) * weight[None, None, :, None]

    _run(benchmark, f"image.resize bilinear 8x256x256x3 -> {size}",
         lambda: tf.image.resize(tx, [size, size]), floor, side)


@pytest.mark.parametrize("side", SIDES)
def test_batched_solve(benchmark, bench_device, side):
    xp = array_module(bench_device)
    rng = np.random.default_rng(1)
    a = xp.asarray((rng.standard_normal((64, 32, 32)) + 8 * np.eye(32)).astype(np.float32))
    b = xp.asarray(rng.standard_normal((64, 32, 4)).astype(np.float32))
    ta, tb = tf.Tensor(a), tf.Tensor(b)
    _run(benchmark, "linalg.solve 64x32x32 @ 64x32x4", lambda: tf.linalg.solve(ta, tb),
         lambda: xp.linalg.solve(a, b), side)


@pytest.mark.parametrize("side", SIDES)
def test_stateless_normal(benchmark, bench_device, side):
    def floor():  # the same Philox draw, moved to the device
        generator = np.random.Generator(np.random.Philox(key=np.array([1, 2], dtype=np.uint64),
                                                         counter=np.zeros(4, dtype=np.uint64)))
        return backend.asarray(generator.standard_normal((1024, 1024)).astype(np.float32))

    _run(benchmark, "random.stateless_normal 1024x1024",
         lambda: tf.random.stateless_normal([1024, 1024], seed=[1, 2]), floor, side)
