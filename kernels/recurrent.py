"""The fused per-step gate passes of the recurrent cells, on raw arrays (NumPy or CuPy).

A recurrent cell is the dense neuron again: the input projections of every time step come from
one GEMM, each step adds one recurrent GEMM, and what remains is one elementwise pass over the
gates. These functions are that pass, forward and backward. NumPy arrays go to the CPU twins
here (in-place ufuncs: a step allocates nothing, the callers hand in buffers reused every
step); CuPy arrays go to ONE CUDA kernel per step in ``recurrent.cu`` (the ``*_gpu`` launchers,
which the tests also run on the emulator).

Gate layouts are Keras 3's: LSTM columns ``[i | f | c | o]``, GRU (``reset_after=True``)
columns ``[z | r | h]``. ``keep`` is None or a (batch, 1) boolean array: rows where it is False
are masked steps, whose state is carried through unchanged (forward) and whose gradient goes
straight to the previous step (backward).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _sigmoid_in_place(a: Any) -> None:
    """a <- 1 / (1 + exp(-a)) as 0.5 * tanh(0.5 a) + 0.5: no overflow for large |a|."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _sigmoid_derivative(s: Any, out: Any) -> Any:
    """out <- s (1 - s), the derivative of the sigmoid from its output s."""
    np.subtract(1, s, out=out)
    out *= s
    return out


def _tanh_derivative(t: Any, out: Any) -> Any:
    """out <- 1 - t^2, the derivative of tanh from its output t."""
    np.multiply(t, t, out=out)
    np.subtract(1, out, out=out)
    return out


# ---- LSTM -----------------------------------------------------------------------------------
def _lstm_forward_cpu(z: Any, c_prev: Any, c: Any, h: Any, tanh_c: Any) -> None:
    """One LSTM step after its GEMMs.

    z (batch, 4 units): the pre-activations x W + h U + b, overwritten with the gates
    [i, f, g, o] (sigmoid, sigmoid, tanh, sigmoid); c, h, tanh_c (batch, units) are written:
    c = f c_prev + i g, h = o tanh(c).
    """
    units = c.shape[1]
    i_f, g, o = z[:, : 2 * units], z[:, 2 * units: 3 * units], z[:, 3 * units:]
    _sigmoid_in_place(i_f)
    _sigmoid_in_place(o)
    np.tanh(g, out=g)
    np.multiply(i_f[:, units:], c_prev, out=c)
    np.multiply(i_f[:, :units], g, out=tanh_c)  # i g, in a buffer about to be overwritten
    c += tanh_c
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def _lstm_backward_cpu(dh: Any, dc: Any, gates: Any, c_prev: Any, tanh_c: Any, dz: Any,
                       scratch: Any) -> None:
    """The gradient of one LSTM step, from its saved gates and tanh(c).

    dh, dc (batch, units): gradients reaching h_t and c_t. dz (batch, 4 units) receives the
    gradient of the pre-activations; dc is overwritten with the gradient reaching c_prev
    (the recurrent GEMM, done by the caller, gives the one reaching h_prev). scratch is a
    (batch, units) buffer.
    """
    units = dh.shape[1]
    i, f = gates[:, :units], gates[:, units: 2 * units]
    g, o = gates[:, 2 * units: 3 * units], gates[:, 3 * units:]
    di, df = dz[:, :units], dz[:, units: 2 * units]
    dg, do = dz[:, 2 * units: 3 * units], dz[:, 3 * units:]
    # do = dh tanh(c) o (1 - o)
    np.multiply(dh, tanh_c, out=do)
    # dc += dh o (1 - tanh(c)^2)
    _tanh_derivative(tanh_c, scratch)
    scratch *= o
    scratch *= dh
    dc += scratch
    do *= _sigmoid_derivative(o, scratch)
    # di = dc g i (1 - i)
    np.multiply(dc, g, out=di)
    di *= _sigmoid_derivative(i, scratch)
    # df = dc c_prev f (1 - f)
    np.multiply(dc, c_prev, out=df)
    df *= _sigmoid_derivative(f, scratch)
    # dg = dc i (1 - g^2)
    _tanh_derivative(g, scratch)
    scratch *= i
    np.multiply(dc, scratch, out=dg)
    # the gradient reaching c_prev: dc f
    dc *= f


# ---- GRU (reset_after=True) -----------------------------------------------------------------
def _gru_forward_cpu(x_part: Any, m: Any, h_prev: Any, h: Any) -> None:
    """One GRU step (Keras 3's reset_after=True) after its GEMMs.

    x_part (batch, 3 units): x W + input bias, overwritten with the gates [z, r, hh];
    m (batch, 3 units): h_prev U + recurrent bias (its h column is kept for the backward pass);
    h (batch, units) <- z h_prev + (1 - z) hh, hh = tanh(x_h + r m_h).
    """
    units = h.shape[1]
    zr, hh = x_part[:, : 2 * units], x_part[:, 2 * units:]
    zr += m[:, : 2 * units]
    _sigmoid_in_place(zr)
    np.multiply(zr[:, units:], m[:, 2 * units:], out=h)
    hh += h
    np.tanh(hh, out=hh)
    # h = hh + z (h_prev - hh)
    np.subtract(h_prev, hh, out=h)
    h *= zr[:, :units]
    h += hh


def _gru_backward_cpu(dh: Any, gates: Any, m_h: Any, h_prev: Any, dx_part: Any, dm: Any,
                      scratch: Any) -> None:
    """The gradient of one GRU step.

    dh (batch, units): gradient reaching h_t, overwritten with the direct part reaching h_prev
    (dh z; the recurrent GEMM of dm adds the rest). dx_part, dm (batch, 3 units) receive the
    gradients of x W + b_in and of h_prev U + b_rec. scratch is (batch, units).
    """
    units = dh.shape[1]
    z, r, hh = gates[:, :units], gates[:, units: 2 * units], gates[:, 2 * units:]
    dz, dr, da = dx_part[:, :units], dx_part[:, units: 2 * units], dx_part[:, 2 * units:]
    # da = dh (1 - z) (1 - hh^2): the gradient of hh's pre-activation
    _tanh_derivative(hh, scratch)
    np.subtract(1, z, out=da)
    da *= scratch
    da *= dh
    # dz = dh (h_prev - hh) z (1 - z)
    np.subtract(h_prev, hh, out=dz)
    dz *= dh
    dz *= _sigmoid_derivative(z, scratch)
    # dr = da m_h r (1 - r)
    np.multiply(da, m_h, out=dr)
    dr *= _sigmoid_derivative(r, scratch)
    dm[:, : 2 * units] = dx_part[:, : 2 * units]
    np.multiply(da, r, out=dm[:, 2 * units:])
    dh *= z


# ---- SimpleRNN ------------------------------------------------------------------------------
def _simple_rnn_forward_cpu(z: Any, h: Any, activation: str) -> None:
    """h <- act(z) for the pre-activations z = x W + b + h_prev U ('tanh' or 'relu')."""
    if activation == "tanh":
        np.tanh(z, out=h)
    else:
        np.maximum(z, 0, out=h)


def _simple_rnn_backward_cpu(dh: Any, h: Any, dz: Any, activation: str) -> None:
    """dz <- dh act'(z), taken from the output h."""
    if activation == "tanh":
        np.multiply(h, h, out=dz)
        np.subtract(1, dz, out=dz)
        dz *= dh
    else:
        np.greater(h, 0, out=dz, casting="unsafe")
        dz *= dh


# ---- the public steps: NumPy here, CuPy through recurrent.cu ----------------------------------
def _is_numpy(array: Any) -> bool:
    return array.__class__.__module__ == "numpy"


def _gpu():
    from . import cuda

    return cuda.cupy_runner()


def lstm_forward_step(z, c_prev, h_prev, keep, c, h, tanh_c) -> None:
    """One LSTM step after its GEMMs: z (batch, 4 units) pre-activations in, gates out; writes
    c = f c_prev + i g, h = o tanh(c) and tanh(c) (or carries c_prev, h_prev where not keep)."""
    if not _is_numpy(z):
        return lstm_forward_step_gpu(_gpu(), z, c_prev, h_prev, keep, c, h, tanh_c)
    _lstm_forward_cpu(z, c_prev, c, h, tanh_c)
    if keep is not None:
        hold = ~keep
        np.copyto(c, c_prev, where=hold)
        np.copyto(h, h_prev, where=hold)


def lstm_backward_step(dh, dc, gates, c_prev, tanh_c, keep, dz, scratch) -> None:
    """The gradient of one LSTM step. dh, dc in: gradients reaching h_t, c_t. Out: dz; dc the
    gradient reaching c_prev; dh the part reaching h_prev directly (through masked rows; 0
    elsewhere): the caller adds dz U^T."""
    if not _is_numpy(dh):
        return lstm_backward_step_gpu(_gpu(), dh, dc, gates, c_prev, tanh_c, keep, dz)
    if keep is None:
        _lstm_backward_cpu(dh, dc, gates, c_prev, tanh_c, dz, scratch)
        dh.fill(0)
        return
    hold = ~keep
    dh_carry, dc_carry = dh * hold, dc * hold
    dh *= keep
    dc *= keep
    _lstm_backward_cpu(dh, dc, gates, c_prev, tanh_c, dz, scratch)
    dc += dc_carry
    dh[...] = dh_carry


def gru_forward_step(x_part, m, h_prev, keep, h, m_h) -> None:
    """One GRU step after its GEMMs: x_part (x W + b_in) in, gates [z, r, hh] out; m = h_prev U
    + b_rec (its h column saved in m_h); h = z h_prev + (1 - z) hh (h_prev where not keep)."""
    if not _is_numpy(x_part):
        return gru_forward_step_gpu(_gpu(), x_part, m, h_prev, keep, h, m_h)
    units = h.shape[1]
    m_h[...] = m[:, 2 * units:]
    _gru_forward_cpu(x_part, m, h_prev, h)
    if keep is not None:
        np.copyto(h, h_prev, where=~keep)


def gru_backward_step(dh, gates, m_h, h_prev, keep, dx_part, dm, scratch) -> None:
    """The gradient of one GRU step. dh in: gradient reaching h_t; out: the part reaching h_prev
    directly (the caller adds dm U^T). dx_part, dm: gradients of x W + b_in, h_prev U + b_rec."""
    if not _is_numpy(dh):
        return gru_backward_step_gpu(_gpu(), dh, gates, m_h, h_prev, keep, dx_part, dm)
    if keep is None:
        _gru_backward_cpu(dh, gates, m_h, h_prev, dx_part, dm, scratch)
        return
    dh_carry = dh * ~keep
    dh *= keep
    _gru_backward_cpu(dh, gates, m_h, h_prev, dx_part, dm, scratch)
    dh += dh_carry


def simple_rnn_forward_step(z, h_prev, keep, h, activation: str) -> None:
    """h = act(z) for act 'tanh' or 'relu' (h_prev where not keep)."""
    if not _is_numpy(z):
        return simple_rnn_forward_step_gpu(_gpu(), z, h_prev, keep, h, activation)
    _simple_rnn_forward_cpu(z, h, activation)
    if keep is not None:
        np.copyto(h, h_prev, where=~keep)


def simple_rnn_backward_step(dh, h, keep, dz, activation: str) -> None:
    """dz = dh act'(z) (from the output h); dh <- the part reaching h_prev through masked rows
    (0 elsewhere): the caller adds dz U^T."""
    if not _is_numpy(dh):
        return simple_rnn_backward_step_gpu(_gpu(), dh, h, keep, dz, activation)
    if keep is None:
        _simple_rnn_backward_cpu(dh, h, dz, activation)
        dh.fill(0)
        return
    dh_carry = dh * ~keep
    dh *= keep
    _simple_rnn_backward_cpu(dh, h, dz, activation)
    dh[...] = dh_carry


# ---- GPU launchers (the same code runs on the emulator in the tests) ------------------------
_ACTIVATION_CODES = {"tanh": 3, "relu": 1}  # TFISH_TANH, TFISH_RELU in tfish_common.cuh


def _launch(runner, name: str, dtype, n: int, *args) -> None:
    """One launch of `name` for `dtype` (float16/bfloat16 arrays go to the _f16/_bf16 kernel as
    their 16 bits)."""
    from .cuda import ELEMENTWISE_THREADS, _bits, _elementwise_grid

    runner.kernel("recurrent.cu", name, dtype)(
        _elementwise_grid(runner, max(n, 1)), (ELEMENTWISE_THREADS,),
        tuple(np.int32(a) if isinstance(a, int) else _bits(a) for a in args))


def _keep_rows(runner, keep, batch: int, dtype):
    """keep as the kernels take it: one value of the float dtype per batch row."""
    if keep is None:
        ones = runner.empty((batch,), dtype)
        ones[...] = 1
        return ones
    return runner.xp.ascontiguousarray(keep.reshape(-1), dtype=dtype)


def lstm_forward_step_gpu(runner, z, c_prev, h_prev, keep, c, h, tanh_c) -> None:
    batch, units = c.shape
    _launch(runner, "tfish_lstm_forward_step", z.dtype, batch * units, z, c_prev, h_prev,
            _keep_rows(runner, keep, batch, z.dtype), c, h, tanh_c, batch, units)


def lstm_backward_step_gpu(runner, dh, dc, gates, c_prev, tanh_c, keep, dz) -> None:
    batch, units = dh.shape
    _launch(runner, "tfish_lstm_backward_step", dh.dtype, batch * units, dh, dc, gates, c_prev,
            tanh_c, _keep_rows(runner, keep, batch, dh.dtype), dz, batch, units)


def gru_forward_step_gpu(runner, x_part, m, h_prev, keep, h, m_h) -> None:
    batch, units = h.shape
    _launch(runner, "tfish_gru_forward_step", h.dtype, batch * units, x_part, m, h_prev,
            _keep_rows(runner, keep, batch, h.dtype), h, m_h, batch, units)


def gru_backward_step_gpu(runner, dh, gates, m_h, h_prev, keep, dx_part, dm) -> None:
    batch, units = dh.shape
    _launch(runner, "tfish_gru_backward_step", dh.dtype, batch * units, dh, gates, m_h, h_prev,
            _keep_rows(runner, keep, batch, dh.dtype), dx_part, dm, batch, units)


def simple_rnn_forward_step_gpu(runner, z, h_prev, keep, h, activation: str) -> None:
    batch, units = h.shape
    _launch(runner, "tfish_simple_rnn_forward_step", h.dtype, batch * units, z, h_prev,
            _keep_rows(runner, keep, batch, h.dtype), h, batch, units,
            _ACTIVATION_CODES[activation])


def simple_rnn_backward_step_gpu(runner, dh, h, keep, dz, activation: str) -> None:
    batch, units = dh.shape
    _launch(runner, "tfish_simple_rnn_backward_step", dh.dtype, batch * units, dh, h,
            _keep_rows(runner, keep, batch, dh.dtype), dz, batch, units,
            _ACTIVATION_CODES[activation])
