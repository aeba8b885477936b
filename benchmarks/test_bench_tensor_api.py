"""Tensor API ops (einsum, sorting, segments, scatter) beside hand-written NumPy/CuPy floors.

    pytest benchmarks/test_bench_tensor_api.py --benchmark-enable

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






def _run(benchmark, name, framework, floor, side):
    benchmark.group = name
    function = framework if side == "framework" else floor
    if backend.current_device().startswith("GPU"):
        inner = function

        def function():
            result = inner()
            backend.synchronize()
            return result
    result = benchmark(function)
    np.testing.assert_allclose(host(result), host(floor()), rtol=1e-4, atol=1e-4)


def _random(xp, shape, seed=0):
    return xp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("side", SIDES)
def test_einsum_attention_scores(benchmark, bench_device, side):
    xp = array_module(bench_device)
    q, k = _random(xp, (8, 8, 128, 64)), _random(xp, (8, 8, 128, 64), 1)
    tq, tk = tf.Tensor(q), tf.Tensor(k)
    _run(benchmark, "einsum bhqd,bhkd->bhqk 8x8x128x64",
         lambda: tf.einsum("bhqd,bhkd->bhqk", tq, tk),
         lambda: xp.matmul(q, k.swapaxes(-1, -2)), side)


@pytest.mark.parametrize("side", SIDES)
def test_einsum_chain(benchmark, bench_device, side):
    xp = array_module(bench_device)
    a, b, c = _random(xp, (256, 512)), _random(xp, (512, 512), 1), _random(xp, (512, 64), 2)
    ta, tb, tc = tf.Tensor(a), tf.Tensor(b), tf.Tensor(c)
    # the best order multiplies b @ c first (256*512*64 + 512*512*64 multiply-adds)
    _run(benchmark, "einsum ij,jk,kl->il 256x512x512x64",
         lambda: tf.einsum("ij,jk,kl->il", ta, tb, tc), lambda: a @ (b @ c), side)


@pytest.mark.parametrize("side", SIDES)
def test_einsum_gradient(benchmark, bench_device, side):
    xp = array_module(bench_device)
    q, k = _random(xp, (8, 8, 128, 64)), _random(xp, (8, 8, 128, 64), 1)
    tq, tk = tf.Tensor(q), tf.Tensor(k)

    def framework():
        with tf.GradientTape() as tape:
            tape.watch(tq)
            scores = tf.einsum("bhqd,bhkd->bhqk", tq, tk)
        return tape.gradient(scores, tq)

    def floor():
        xp.matmul(q, k.swapaxes(-1, -2))
        return xp.matmul(xp.ones((8, 8, 128, 128), np.float32), k)
    _run(benchmark, "einsum forward+backward 8x8x128x64", framework, floor, side)


@pytest.mark.parametrize("side", SIDES)
def test_sort(benchmark, bench_device, side):
    xp = array_module(bench_device)
    x = _random(xp, (256, 1000))
    tx = tf.Tensor(x)
    _run(benchmark, "sort 256x1000", lambda: tf.sort(tx), lambda: xp.sort(x, axis=-1), side)


@pytest.mark.parametrize("side", SIDES)
def test_top_k(benchmark, bench_device, side):
    xp = array_module(bench_device)
    x = _random(xp, (256, 1000))
    tx = tf.Tensor(x)

    def floor():  # the k largest by partition, then sorted (values only)
        part = xp.partition(x, -5, axis=-1)[:, -5:]
        return xp.sort(part, axis=-1)[:, ::-1]
    _run(benchmark, "top_k k=5 256x1000", lambda: tf.math.top_k(tx, 5).values, floor, side)


@pytest.mark.parametrize("side", SIDES)
def test_unsorted_segment_sum(benchmark, bench_device, side):
    xp = array_module(bench_device)
    data = _random(xp, (100_000, 16))
    ids = xp.asarray(np.random.default_rng(3).integers(0, 1000, 100_000))
    tdata, tids = tf.Tensor(data), tf.Tensor(ids)

    def floor():
        out = xp.zeros((1000, 16), np.float32)
        if xp is np:
            np.add.at(out, ids, data)
        else:
            import cupyx

            cupyx.scatter_add(out, ids, data)
        return out
    _run(benchmark, "unsorted_segment_sum 100000x16 -> 1000",
         lambda: tf.math.unsorted_segment_sum(tdata, tids, 1000), floor, side)


@pytest.mark.parametrize("side", SIDES)
def test_gather_nd(benchmark, bench_device, side):
    xp = array_module(bench_device)
    params = _random(xp, (512, 512, 8))
    indices = xp.asarray(np.random.default_rng(4).integers(0, 512, (100_000, 2)))
    tparams, tindices = tf.Tensor(params), tf.Tensor(indices)
    _run(benchmark, "gather_nd 100000 of 512x512x8",
         lambda: tf.gather_nd(tparams, tindices),
         lambda: params[indices[:, 0], indices[:, 1]], side)


@pytest.mark.parametrize("side", SIDES)
def test_cumsum(benchmark, bench_device, side):
    xp = array_module(bench_device)
    x = _random(xp, (1024, 1024))
    tx = tf.Tensor(x)
    _run(benchmark, "cumsum 1024x1024 axis 1", lambda: tf.cumsum(tx, axis=1),
         lambda: xp.cumsum(x, axis=1), side)


@pytest.mark.parametrize("side", SIDES)
def test_segment_sum_sorted(benchmark, bench_device, side):
    xp = array_module(bench_device)
    data = _random(xp, (100_000, 16))
    host_ids = np.sort(np.random.default_rng(5).integers(0, 1000, 100_000))
    ids = xp.asarray(host_ids)
    starts = xp.asarray(np.flatnonzero(np.r_[True, host_ids[1:] != host_ids[:-1]]))
    tdata, tids = tf.Tensor(data), tf.Tensor(ids)

    def floor():  # every id 0..999 occurs, so each run is one output row
        if xp is np:
            return np.add.reduceat(data, starts, axis=0)
        out = xp.zeros((1000, 16), np.float32)
        import cupyx

        cupyx.scatter_add(out, ids, data)
        return out
    _run(benchmark, "segment_sum 100000x16 -> 1000 (sorted)",
         lambda: tf.math.segment_sum(tdata, tids), floor, side)
