"""Benchmarks run on every usable backend; in CI (--benchmark-disable) they run once, untimed,
so they always stay correct."""

from __future__ import annotations

import pytest

from tensorflowish import backend

DEVICES = ["CPU:0", pytest.param("GPU:0", marks=pytest.mark.gpu)]


@pytest.fixture(params=DEVICES)
def bench_device(request):
    if request.param.startswith("GPU"):
        reason = backend.gpu_unavailable_reason()
        if reason is not None:
            pytest.skip(f"no usable GPU: {reason}")
    import tensorflowish as tf

    with tf.device(request.param):
        yield request.param
