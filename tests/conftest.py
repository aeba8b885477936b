"""Shared fixtures: one test body runs on every backend (numpy always; cupy where a GPU is)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish import backend

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)]


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory):
    """Compiled kernels are cached for the whole test session, never across CI runs."""
    if "TENSORFLOWISH_KERNEL_CACHE" not in os.environ:
        os.environ["TENSORFLOWISH_KERNEL_CACHE"] = str(tmp_path_factory.mktemp("kernel-cache"))
    yield


@pytest.fixture(params=BACKENDS)
def device(request):
    """Run the test inside tf.device for each backend; skip cupy with the reason when no GPU."""
    if request.param == "cupy":
        reason = backend.gpu_unavailable_reason()
        if reason is not None:
            pytest.skip(f"no usable GPU: {reason}")
        with tf.device("GPU:0"):
            yield "GPU:0"
    else:
        with tf.device("CPU:0"):
            yield "CPU:0"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
