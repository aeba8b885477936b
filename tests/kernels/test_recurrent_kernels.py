"""The recurrent gate kernels (kernels/recurrent.cu and their NumPy twins) against float64
references written from the equations, with masked rows, outputs poisoned (NaN) beforehand.

The CUDA kernels run through their launchers on the emulator in every thread order (and on
CuPy where a GPU exists); the NumPy twins run directly.
"""

from __future__ import annotations

import numpy as np
import pytest
from tensorflowish.kernels import recurrent

BATCH, UNITS = 5, 7  # odd: not a multiple of any block
KEEP = np.array([True, False, True, True, False])[:, None]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _lstm_reference(z, c_prev, h_prev, dh, dc):
    n = UNITS
    i, f, g, o = (_sigmoid(z[:, :n]), _sigmoid(z[:, n:2 * n]), np.tanh(z[:, 2 * n:3 * n]),
                  _sigmoid(z[:, 3 * n:]))
    c = f * c_prev + i * g
    t = np.tanh(c)
    h = o * t
    k = KEEP.astype(float)
    dh_step, dc_step = dh * k, dc * k + dh * k * o * (1 - t * t)
    dz = np.concatenate([dc_step * g * i * (1 - i), dc_step * c_prev * f * (1 - f),
                         dc_step * i * (1 - g * g), dh_step * t * o * (1 - o)], 1)
    return dict(gates=np.concatenate([i, f, g, o], 1), c=np.where(KEEP, c, c_prev),
                h=np.where(KEEP, h, h_prev), tanh_c=t, dz=dz,
                dc_prev=dc_step * f + dc * (1 - k), dh_carry=dh * (1 - k))


def _gru_reference(x_part, m, h_prev, dh):
    n = UNITS
    z = _sigmoid(x_part[:, :n] + m[:, :n])
    r = _sigmoid(x_part[:, n:2 * n] + m[:, n:2 * n])
    hh = np.tanh(x_part[:, 2 * n:] + r * m[:, 2 * n:])
    h = z * h_prev + (1 - z) * hh
    k = KEEP.astype(float)
    d = dh * k
    da = d * (1 - z) * (1 - hh * hh)
    dz = d * (h_prev - hh) * z * (1 - z)
    dr = da * m[:, 2 * n:] * r * (1 - r)
    return dict(gates=np.concatenate([z, r, hh], 1), h=np.where(KEEP, h, h_prev),
                m_h=m[:, 2 * n:], dx_part=np.concatenate([dz, dr, da], 1),
                dm=np.concatenate([dz, dr, da * r], 1), dh_prev=d * z + dh * (1 - k))


def _inputs(dtype, width):
    rng = np.random.default_rng(11)
    draw = lambda *shape: rng.normal(0, 1.2, shape).astype(dtype)  # noqa: E731
    return dict(z=draw(BATCH, width * UNITS), c_prev=draw(BATCH, UNITS),
                h_prev=draw(BATCH, UNITS), dh=draw(BATCH, UNITS), dc=draw(BATCH, UNITS),
                m=draw(BATCH, width * UNITS))


def _poisoned(shape, dtype):
    return np.full(shape, np.nan, dtype)


ml_dtypes = pytest.importorskip("ml_dtypes")
# float16/bfloat16: the _f16/_bf16 kernels store every gate and result in 16 bits (and the
# backward pass reads the stored gates), so a few roundings of the type apart from float64
TOLERANCES = {"float32": 2e-5, "float64": 1e-12, "float16": 1e-2, "bfloat16": 6e-2}


def _check(got, want, dtype):
    assert got.dtype == dtype
    tolerance = TOLERANCES[np.dtype(dtype).name]
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tolerance,
                               atol=tolerance)


@pytest.fixture(params=[np.float32, np.float64, np.float16, ml_dtypes.bfloat16],
                ids=["f32", "f64", "f16", "bf16"])
def dtype(request):
    return np.dtype(request.param)


def _lstm_run(step_forward, step_backward, i, dtype):
    z = i["z"].copy()
    c, h, t = (_poisoned((BATCH, UNITS), dtype) for _ in range(3))
    step_forward(z, i["c_prev"], i["h_prev"], KEEP, c, h, t)
    dh, dc, dz = i["dh"].copy(), i["dc"].copy(), _poisoned((BATCH, 4 * UNITS), dtype)
    step_backward(dh, dc, z, i["c_prev"], t, KEEP, dz)
    return dict(gates=z, c=c, h=h, tanh_c=t, dz=dz, dc_prev=dc, dh_carry=dh)


def _gru_run(step_forward, step_backward, i, dtype):
    x_part = i["z"].copy()
    h, m_h = _poisoned((BATCH, UNITS), dtype), _poisoned((BATCH, UNITS), dtype)
    step_forward(x_part, i["m"], i["h_prev"], KEEP, h, m_h)
    dh = i["dh"].copy()
    dx_part, dm = _poisoned((BATCH, 3 * UNITS), dtype), _poisoned((BATCH, 3 * UNITS), dtype)
    step_backward(dh, x_part, m_h, i["h_prev"], KEEP, dx_part, dm)
    return dict(gates=x_part, h=h, m_h=m_h, dx_part=dx_part, dm=dm, dh_prev=dh)


def _simple_run(step_forward, step_backward, i, dtype, activation):
    h = _poisoned((BATCH, UNITS), dtype)
    z = i["z"][:, :UNITS].copy()
    step_forward(z, i["h_prev"], KEEP, h, activation)
    dh, dz = i["dh"].copy(), _poisoned((BATCH, UNITS), dtype)
    step_backward(dh, h, KEEP, dz, activation)
    return dict(h=h, dz=dz, dh_carry=dh)


def _simple_reference(i, activation):
    z = i["z"][:, :UNITS].astype(np.float64)
    y = np.tanh(z) if activation == "tanh" else np.maximum(z, 0)
    slope = 1 - y * y if activation == "tanh" else (z > 0).astype(float)
    k = KEEP.astype(float)
    return dict(h=np.where(KEEP, y, i["h_prev"]), dz=i["dh"] * k * slope,
                dh_carry=i["dh"] * (1 - k))


def _as64(i):
    return {k: v.astype(np.float64) for k, v in i.items()}


def test_cpu_twins(dtype):
    scratch = np.empty((BATCH, UNITS), dtype)
    i = _inputs(dtype, 4)
    got = _lstm_run(recurrent.lstm_forward_step,
                    lambda *a: recurrent.lstm_backward_step(*a, scratch), i, dtype)
    want = _lstm_reference(*(_as64(i)[k] for k in ("z", "c_prev", "h_prev", "dh", "dc")))
    for name in want:
        _check(got[name], want[name], dtype)
    i = _inputs(dtype, 3)
    got = _gru_run(recurrent.gru_forward_step,
                   lambda *a: recurrent.gru_backward_step(*a, scratch), i, dtype)
    i64 = _as64(i)
    want = _gru_reference(i64["z"], i64["m"], i64["h_prev"], i64["dh"])
    for name in want:
        _check(got[name], want[name], dtype)
    for activation in ("tanh", "relu"):
        got = _simple_run(recurrent.simple_rnn_forward_step, recurrent.simple_rnn_backward_step,
                          i, dtype, activation)
        want = _simple_reference(_as64(i), activation)
        for name in want:
            _check(got[name], want[name], dtype)


def test_cuda_kernels(dtype, cuda_backend):
    if dtype.name == "bfloat16" and cuda_backend.name == "cupy":
        pytest.skip("CuPy has no bfloat16 arrays")
    runner = cuda_backend.runner(0)
    dev, host = cuda_backend.to_device, cuda_backend.to_host

    def on_device(function):
        def call(*args):
            device_args = [dev(a) if isinstance(a, np.ndarray) and a is not KEEP else a
                           for a in args]
            device_args = [dev(KEEP) if a is KEEP else a for a in device_args]
            function(runner, *device_args)
            for a, d in zip(args, device_args):  # in-place results back into the host arrays
                if isinstance(a, np.ndarray) and a is not KEEP:
                    a[...] = host(d)
        return call

    i = _inputs(dtype, 4)
    got = _lstm_run(on_device(recurrent.lstm_forward_step_gpu),
                    on_device(recurrent.lstm_backward_step_gpu), i, dtype)
    want = _lstm_reference(*(_as64(i)[k] for k in ("z", "c_prev", "h_prev", "dh", "dc")))
    for name in want:
        _check(got[name], want[name], dtype)
    i = _inputs(dtype, 3)
    got = _gru_run(on_device(recurrent.gru_forward_step_gpu),
                   on_device(recurrent.gru_backward_step_gpu), i, dtype)
    i64 = _as64(i)
    want = _gru_reference(i64["z"], i64["m"], i64["h_prev"], i64["dh"])
    for name in want:
        _check(got[name], want[name], dtype)
    for activation in ("tanh", "relu"):
        got = _simple_run(on_device(recurrent.simple_rnn_forward_step_gpu),
                          on_device(recurrent.simple_rnn_backward_step_gpu), i, dtype,
                          activation)
        want = _simple_reference(_as64(i), activation)
        for name in want:
            _check(got[name], want[name], dtype)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_whole_sequence_ops_through_the_cuda_kernels(cell, monkeypatch):
    """The recurrent ops with every gate step sent to the CUDA kernels (on the emulator, with
    NumPy arrays standing in for CuPy's): outputs and gradients equal the CPU path's, masks and
    go_backwards included."""
    from tensorflowish.kernels import cuda, emulator

    import tensorflowish as tf
    from tensorflowish.ops import recurrent as ops

    rng = np.random.default_rng(4)
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
    x = tf.constant(rng.normal(size=(3, 5, 4)))
    h0 = tf.constant(rng.normal(size=(3, 6)))
    weights = [tf.constant(rng.normal(0, 0.5, (4, gates * 6))),
               tf.constant(rng.normal(0, 0.5, (6, gates * 6))),
               tf.constant(rng.normal(0, 0.5, (2, 18) if cell == "gru" else (gates * 6,)))]
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], bool)

    def run():
        with tf.GradientTape() as tape:
            tape.watch([x, h0, *weights])
            states = [h0, h0 * 0.5] if cell == "lstm" else [h0]
            out = getattr(ops, cell)(x, *states, *weights, mask=mask, go_backwards=True)
            loss = tf.reduce_sum(out * out)
        return [out.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, h0, *weights])]

    expected = run()
    runner = cuda.KernelRunner(np, lambda f: emulator.load(cuda.KERNEL_DIR / f,
                                                           order="random", seed=3),
                               lambda shape, dtype: np.full(shape, np.nan, dtype), max_blocks=3)
    monkeypatch.setattr(recurrent, "_is_numpy", lambda array: False)
    monkeypatch.setattr(recurrent, "_gpu", lambda: runner)
    for got, want in zip(run(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
