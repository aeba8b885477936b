"""Backend choice, devices and the errors that explain them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish import backend
from tensorflowish.ops.registry import check_same_device


def _run(code: str, **environment) -> subprocess.CompletedProcess:
    env = {**os.environ, **environment}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_default_backend_is_numpy():
    result = _run("import tensorflowish as tf; print(tf.constant(1.0).backend, "
                  "tf.config.get_backend())", TENSORFLOWISH_BACKEND="")
    assert result.stdout.split() == ["numpy", "numpy"], result.stderr


def test_unknown_backend_lists_the_valid_ones():
    result = _run("import tensorflowish as tf; tf.constant(1.0)", TENSORFLOWISH_BACKEND="torch")
    assert result.returncode != 0
    assert "TENSORFLOWISH_BACKEND='torch' is not a backend; expected one of numpy, cupy" \
        in result.stderr


def test_import_never_fails_because_of_cupy():
    result = _run("import sys; sys.modules['cupy'] = None; import tensorflowish as tf; "
                  "print(tf.config.gpu_unavailable_reason())", TENSORFLOWISH_BACKEND="cupy")
    assert result.returncode == 0, result.stderr
    assert "CuPy is not installed" in result.stdout and "tensorflowish[gpu]" in result.stdout


def test_asking_for_cupy_without_a_gpu_says_why():
    reason = backend.gpu_unavailable_reason()
    if reason is None:
        pytest.skip("a GPU is usable here")
    result = _run("import tensorflowish as tf; tf.constant(1.0)", TENSORFLOWISH_BACKEND="cupy")
    assert result.returncode != 0
    assert "The cupy backend (GPU) cannot be used" in result.stderr
    assert reason.split(".")[0] in result.stderr
    # an explicit tf.device block falls back to the CPU (soft placement, as TensorFlow) unless
    # soft placement is off; then it fails with the reason
    tf.config.set_soft_device_placement(False)
    try:
        with pytest.raises(tf.BackendError, match=re.escape(reason.split(".")[0])):
            with tf.device("GPU:0"):
                pass
    finally:
        tf.config.set_soft_device_placement(True)


def test_reasons_name_the_missing_piece(monkeypatch):
    import cupy

    class FakeError(Exception):
        def __init__(self, status):
            self.status = status

    runtime = cupy.cuda.runtime
    monkeypatch.setattr(runtime, "driverGetVersion", lambda: 12000)
    for status, words in ((35, "too old"), (100, "No CUDA device")):
        def raise_status(status=status):
            raise FakeError(status)
        monkeypatch.setattr(runtime, "getDeviceCount", raise_status)
        assert words in backend.gpu_unavailable_reason()
    monkeypatch.setattr(runtime, "getDeviceCount", lambda: 1)

    def no_nvrtc():
        raise OSError("libnvrtc.so not found")
    monkeypatch.setattr(cupy.cuda.nvrtc, "getVersion", no_nvrtc)
    assert "NVRTC" in backend.gpu_unavailable_reason()
    monkeypatch.setattr(runtime, "driverGetVersion", lambda: 0)
    assert "No NVIDIA driver" in backend.gpu_unavailable_reason()


def test_cpu_device_scope_and_physical_devices():
    with tf.device("CPU:0"):
        x = tf.ones([2])
    assert x.device.endswith("device:CPU:0")
    assert tf.config.list_physical_devices("CPU")[0].device_type == "CPU"
    assert len(tf.config.list_physical_devices("GPU")) == (0 if backend.gpu_unavailable_reason()
                                                           else backend.gpu_count())
    with pytest.raises(ValueError, match="Unknown device"):
        with tf.device("TPU:0"):
            pass
    assert x.cpu() is x and x.to("/device:CPU:0") is x


def test_mixing_devices_names_both_and_the_fix():
    class FakeGpuArray:
        device = type("Device", (), {"id": 0})()
        dtype = np.dtype(np.float32)
        shape = (2,)

    cpu = tf.constant([1.0, 2.0])
    gpu = tf.Tensor.__new__(tf.Tensor)
    gpu.array = FakeGpuArray()
    gpu._id = -1
    with pytest.raises(ValueError, match=r"add: tensors are on different devices: CPU:0 and "
                                         r"GPU:0\. Move one with \.to\('CPU:0'\)"):
        check_same_device("add", cpu, gpu)


@pytest.mark.gpu
def test_gpu_backend_round_trip(device):
    if device != "GPU:0":
        pytest.skip("CPU run")
    x = tf.constant([1.0, 2.0])
    assert x.backend == "cupy" and x.device.endswith("GPU:0")
    np.testing.assert_array_equal(x.cpu().numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="different devices"):
        _ = x + x.cpu()
