"""Whole-sequence recurrent ops: SimpleRNN, LSTM and GRU over every time step as ONE tape record.

Each op projects the inputs of all time steps with one GEMM, then per step does one recurrent
GEMM and one fused gate pass (`kernels.recurrent`); its VJP runs backpropagation through time
the same way (one GEMM and one fused pass per step, then three GEMMs for the weight and input
gradients of all steps at once). Under an outer tape the VJP is instead recomputed from the
per-step composition below, so higher-order gradients still work.

Weights are Keras 3's: kernel (input_dim, k units), recurrent_kernel (units, k units), gates in
the order i, f, c, o (LSTM) and z, r, h (GRU, reset_after=True, bias (2, 3 units)).
`mask` (batch, time) keeps the state through masked steps, as Keras does; `go_backwards`
processes the steps last to first and returns them in that order. `recurrent_mask`
(batch, units) multiplies the state fed to the recurrent GEMM (Keras's recurrent dropout).

These ops are the engine under `tf.keras.layers.LSTM/GRU/SimpleRNN`; they are registered (and
gradient-checked) under the non-public names `rnn.*`.
"""

from __future__ import annotations

import functools

import numpy as np

from ..kernels import recurrent as gates_kernels
from .linalg import matmul
from .math import sigmoid, tanh, where
from .nn import _recompute_vjp, relu
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    format_shape,
    record,
    recording,
    register,
    require_float,
    should_record,
)
from .shapes import concat, expand_dims, stack

__all__ = ["lstm", "gru", "simple_rnn"]


# ---- shared checks and layout helpers -------------------------------------------------------
def _check(op: str, inputs: Tensor, states: list, kernel: Tensor, recurrent_kernel: Tensor,
           bias: Tensor | None, gates: int, bias_shape) -> tuple[int, int, int, int]:
    """Shapes and dtypes of a recurrent op's arguments, with errors in the user's terms;
    `bias_shape(units)` is the bias's shape."""
    require_float(op, inputs)
    x = inputs.array
    if x.ndim != 3:
        raise InvalidArgumentError(f"{op}: inputs must have shape [batch, time, features], got "
                                   f"{format_shape(x.shape)}.")
    batch, steps, features = x.shape
    if kernel.array.ndim != 2 or kernel.array.shape[0] != features or \
            kernel.array.shape[1] % gates:
        raise InvalidArgumentError(f"{op}: kernel must have shape [{features}, {gates}*units] for "
                                   f"inputs {format_shape(x.shape)}, got "
                                   f"{format_shape(kernel.array.shape)}.")
    units = kernel.array.shape[1] // gates
    if recurrent_kernel.array.shape != (units, gates * units):
        raise InvalidArgumentError(f"{op}: recurrent_kernel must have shape [{units}, "
                                   f"{gates * units}], got "
                                   f"{format_shape(recurrent_kernel.array.shape)}.")
    for tensor in (kernel, recurrent_kernel, *states):
        if tensor.array.dtype != x.dtype:
            raise TypeError(f"{op}: every argument must have the inputs' dtype "
                            f"{inputs.dtype.name}, got {tensor.dtype.name}; use tf.cast.")
    for state in states:
        if state.array.shape != (batch, units):
            raise InvalidArgumentError(f"{op}: an initial state must have shape [{batch}, "
                                       f"{units}] (batch, units), got "
                                       f"{format_shape(state.array.shape)}.")
    expected = bias_shape(units)
    if bias is not None and bias.array.shape != expected:
        rows = " (input and recurrent biases, reset_after=True)" if len(expected) == 2 else ""
        raise InvalidArgumentError(f"{op}: bias must have shape {format_shape(expected)}{rows}, "
                                   f"got {format_shape(bias.array.shape)}.")
    return batch, steps, features, units


def _mask_array(op: str, mask, batch: int, steps: int, go_backwards: bool, xp):
    """The mask as a time-major (time, batch, 1) boolean array in processing order, or None."""
    if mask is None:
        return None
    array = as_tensor(mask).array
    if array.shape != (batch, steps):
        raise InvalidArgumentError(f"{op}: mask must have shape [{batch}, {steps}] (batch, time), "
                                   f"got {format_shape(array.shape)}.")
    return mask_time_major(array, go_backwards, xp)


def mask_time_major(array, go_backwards: bool, xp):
    """A (batch, time) mask array as the ops' time-major (time, batch, 1) boolean array in
    processing order (the ops', and a replay plan's lowering of them)."""
    array = xp.asarray(array, dtype=bool).T
    if go_backwards:
        array = array[::-1]
    return xp.ascontiguousarray(array)[:, :, None]


def _keep(mask_array, t: int):
    return None if mask_array is None else mask_array[t]


def _time_major(x, go_backwards: bool, xp):
    """(batch, time, f) -> contiguous (time, batch, f) in processing order."""
    x = x.transpose(1, 0, 2)
    return xp.ascontiguousarray(x[::-1] if go_backwards else x)


def _batch_major(x, go_backwards: bool, xp):
    """The inverse of `_time_major`."""
    x = x[::-1] if go_backwards else x
    return xp.ascontiguousarray(x.transpose(1, 0, 2))


def _project(x_time_major, kernel, bias):
    """One GEMM for the input projections of every step: (time, batch, k units)."""
    steps, batch, features = x_time_major.shape
    z = x_time_major.reshape(steps * batch, features) @ kernel
    if bias is not None:
        z += bias
    return z.reshape(steps, batch, -1)


def _weight_gradients(x_time_major, h_prev, dz, kernel, recurrent_kernel, needs_x, needs_w,
                      needs_u):
    """dx (time-major), d kernel, d recurrent_kernel for every step at once (three GEMMs)."""
    steps, batch, features = x_time_major.shape
    dz2d = dz.reshape(steps * batch, -1)
    dx = (dz2d @ kernel.T).reshape(steps, batch, features) if needs_x else None
    dw = x_time_major.reshape(steps * batch, features).T @ dz2d if needs_w else None
    du = h_prev.reshape(steps * batch, -1).T @ dz2d if needs_u else None
    return dx, dw, du


def _composed_steps(x: Tensor, mask, go_backwards: bool, step, states: list) -> Tensor:
    """Run `step(x_t, states) -> states` with ops (used under outer tapes): one output per step,
    the states kept through masked steps; returns the stacked states (batch, time, sum)."""
    steps = x.array.shape[1]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    mask = None if mask is None else as_tensor(mask)
    outputs = []
    for t in order:
        new = step(x[:, t], states)
        if mask is not None:
            keep = expand_dims(mask[:, t], -1)
            new = [where(keep, n, s) for n, s in zip(new, states)]
        states = new
        outputs.append(concat(states, -1) if len(states) > 1 else states[0])
    return stack(outputs, axis=1)


def _composed_vjp(make_step, state_count: int, inputs_list: tuple, upstream: Tensor, needs,
                  mask, go_backwards: bool, rmask, return_sequences: bool) -> list:
    """The VJP under an outer tape: the forward recomputed step by step with ops
    (`make_step(kernel, recurrent_kernel, bias, rmask)`), so higher-order gradients work."""
    def composed(x, *arguments):
        states, (kernel, recurrent_kernel, *bias) = arguments[:state_count], \
            arguments[state_count:]
        step = make_step(kernel, recurrent_kernel, bias[0] if bias else None,
                         None if rmask is None else Tensor(rmask))
        outputs = _composed_steps(x, mask, go_backwards, step, list(states))
        return outputs if return_sequences else outputs[:, -1]
    return _recompute_vjp(composed, inputs_list, upstream, needs)


def _recurrent_product(xp, h_t, recurrent_kernel, rmask, h_in, out) -> None:
    """out = (h_t * rmask) @ recurrent_kernel, the masked state written into `h_in` first."""
    if rmask is not None:
        h_t = xp.multiply(h_t, rmask, out=h_in)
    xp.matmul(h_t, recurrent_kernel, out=out)


def _add_state_gradient(xp, dh, dz_t, recurrent_kernel, rmask, scratch) -> None:
    """dh += (dz_t @ recurrent_kernel^T) * rmask: the gradient reaching the previous state
    through the recurrent GEMM (`scratch` holds the product)."""
    xp.matmul(dz_t, recurrent_kernel.T, out=scratch)
    if rmask is not None:
        scratch *= rmask
    dh += scratch


def _in_dtype(grads: list, dtype) -> list:
    """The gradients in the inputs' dtype: bfloat16's GEMMs and sums come back in float32 (a
    no-op for every other dtype)."""
    return [None if g is None else g.astype(dtype, copy=False) for g in grads]


def _sequence_samples(gates: int, extra_state: bool, bias_shape):
    def samples(rng):
        batch, steps, features, units = 2, 3, 3, 2
        draw = lambda *shape: rng.uniform(-1, 1, shape)  # noqa: E731
        states = [draw(batch, units)] * (2 if extra_state else 1)
        weights = [draw(features, gates * units), draw(units, gates * units),
                   draw(*bias_shape(units))]
        mask = np.array([[True, True, False], [True, False, True]])
        rmask = rng.uniform(0.5, 1.5, (batch, units)).astype(np.float32)  # a constant
        base = [draw(batch, steps, features), *states, *weights]
        return [(tuple(base), {}),
                (tuple(base), {"mask": mask, "return_sequences": False}),
                (tuple(base), {"mask": mask, "go_backwards": True}),
                (tuple(base), {"mask": mask, "recurrent_mask": rmask})]
    return samples


def _options(op, inputs, mask, go_backwards, recurrent_mask, batch, steps, units, xp):
    mask_array = _mask_array(op, mask, batch, steps, go_backwards, xp)
    rmask = None
    if recurrent_mask is not None:
        rmask = as_tensor(recurrent_mask).array
        if rmask.shape != (batch, units):
            raise InvalidArgumentError(f"{op}: recurrent_mask must have shape [{batch}, {units}]"
                                       f", got {format_shape(rmask.shape)}.")
        rmask = rmask.astype(inputs.array.dtype, copy=False)
    return mask_array, rmask


# ---- LSTM -----------------------------------------------------------------------------------
def lstm_step(x_t, h_in, c, kernel, recurrent_kernel, bias, activation=tanh,
              recurrent_activation=sigmoid):
    """One LSTM step written with ops (the cell's step, and the fused op's under outer tapes):
    `h_in` is the state fed to the recurrent kernel; returns the new (h, c)."""
    units = recurrent_kernel.shape[0]
    z = matmul(x_t, kernel) + matmul(h_in, recurrent_kernel)
    if bias is not None:
        z = z + bias
    i = recurrent_activation(z[:, :units])
    f = recurrent_activation(z[:, units: 2 * units])
    g = activation(z[:, 2 * units: 3 * units])
    o = recurrent_activation(z[:, 3 * units:])
    c = f * c + i * g
    return o * activation(c), c


def _lstm_step(kernel, recurrent_kernel, bias, rmask):
    def step(x_t, states):
        h, c = states
        return list(lstm_step(x_t, h * rmask if rmask is not None else h, c, kernel,
                              recurrent_kernel, bias))
    return step


def _lstm_bias_shape(units: int) -> tuple:
    return (4 * units,)


def lstm_forward_arrays(inputs, initial_h, initial_c, w, u, bias, mask_array, rmask,
                        go_backwards: bool, return_sequences: bool):
    """The LSTM's forward on arrays (the op's, and a replay plan's lowering of it): returns
    the output array and what `lstm_backward_arrays` needs."""
    xp = array_module(inputs)
    batch, steps, units = inputs.shape[0], inputs.shape[1], u.shape[0]
    x = _time_major(inputs, go_backwards, xp)
    z = _project(x, w, bias)  # becomes the gates, step by step
    dtype = x.dtype
    h = xp.empty((steps + 1, batch, units), dtype)
    c = xp.empty((steps + 1, batch, units), dtype)
    tanh_c = xp.empty((steps, batch, units), dtype)
    h[0], c[0] = initial_h, initial_c
    h_in = xp.empty((batch, units), dtype) if rmask is not None else None
    recurrent = xp.empty((batch, 4 * units), dtype)
    for t in range(steps):
        _recurrent_product(xp, h[t], u, rmask, h_in, recurrent)
        z[t] += recurrent
        gates_kernels.lstm_forward_step(z[t], c[t], h[t], _keep(mask_array, t), c[t + 1],
                                        h[t + 1], tanh_c[t])
    if return_sequences:
        out_array = xp.empty((batch, steps, 2 * units), dtype)
        out_array[:, :, :units] = h[1:].transpose(1, 0, 2)
        out_array[:, :, units:] = c[1:].transpose(1, 0, 2)
    else:
        out_array = xp.concatenate([h[-1], c[-1]], axis=1)
    saved = (x, z, h, c, tanh_c, w, u, bias is not None, mask_array, rmask, go_backwards,
             return_sequences)
    return out_array, saved


def lstm_backward_arrays(saved, g, needs) -> list:
    """The gradients (arrays, None where not needed) of `lstm_forward_arrays` for the
    upstream `g`: inputs, initial_h, initial_c, kernel, recurrent_kernel (, bias)."""
    x, z, h, c, tanh_c, w, u, has_bias, mask_array, rmask, go_backwards, return_sequences = saved
    xp = array_module(g)
    steps, batch, units = tanh_c.shape
    dtype = x.dtype
    dz = xp.empty_like(z)
    if return_sequences:
        dh_out = g[:, :, :units].transpose(1, 0, 2)
        dc_out = g[:, :, units:].transpose(1, 0, 2)
        dh = xp.zeros((batch, units), dtype)
        dc = xp.zeros((batch, units), dtype)
    else:  # only the last step has an upstream gradient
        dh, dc = g[:, :units].copy(), g[:, units:].copy()
    scratch = xp.empty((batch, units), dtype)
    recurrent = xp.empty((batch, units), dtype)
    for t in range(steps - 1, -1, -1):
        if return_sequences:
            dh += dh_out[t]
            dc += dc_out[t]
        gates_kernels.lstm_backward_step(dh, dc, z[t], c[t], tanh_c[t],
                                         _keep(mask_array, t), dz[t], scratch)
        _add_state_gradient(xp, dh, dz[t], u, rmask, recurrent)
    h_prev = h[:-1] if rmask is None else h[:-1] * rmask
    dx, dw, du = _weight_gradients(x, h_prev, dz, w, u, needs[0], needs[3], needs[4])
    grads = [None if dx is None else _batch_major(dx, go_backwards, xp),
             dh if needs[1] else None, dc if needs[2] else None, dw, du]
    if has_bias:
        grads.append(dz.reshape(-1, 4 * units).sum(axis=0) if needs[5] else None)
    return _in_dtype(grads, dtype)


@register("rnn.lstm", samples=_sequence_samples(4, True, _lstm_bias_shape))
def lstm(inputs, initial_h, initial_c, kernel, recurrent_kernel, bias=None, mask=None,
         go_backwards: bool = False, recurrent_mask=None, return_sequences: bool = True
         ) -> Tensor:
    """An LSTM over a whole sequence (tanh/sigmoid, Keras 3's gate order i, f, c, o).

    Returns (batch, time, 2 units): per step, in processing order, [h_t | c_t]; with
    return_sequences=False only the last step's (batch, 2 units). The layer takes the outputs
    (h) and the last states from it.
    """
    inputs, initial_h, initial_c = as_tensor(inputs), as_tensor(initial_h), as_tensor(initial_c)
    kernel, recurrent_kernel = as_tensor(kernel), as_tensor(recurrent_kernel)
    bias = None if bias is None else as_tensor(bias)
    batch, steps, _, units = _check("lstm", inputs, [initial_h, initial_c], kernel,
                                    recurrent_kernel, bias, 4, _lstm_bias_shape)
    xp = array_module(inputs.array)
    mask_array, rmask = _options("lstm", inputs, mask, go_backwards, recurrent_mask, batch,
                                 steps, units, xp)
    out_array, saved = lstm_forward_arrays(
        inputs.array, initial_h.array, initial_c.array, kernel.array, recurrent_kernel.array,
        None if bias is None else bias.array, mask_array, rmask, go_backwards, return_sequences)
    out = Tensor(out_array)
    inputs_list = (inputs, initial_h, initial_c, kernel, recurrent_kernel)
    if bias is not None:
        inputs_list += (bias,)
    if not should_record(inputs_list):
        return out

    def vjp(upstream: Tensor, needs):
        if recording():
            return _composed_vjp(_lstm_step, 2, inputs_list, upstream, needs, mask,
                                 go_backwards, rmask, return_sequences)
        return [None if g is None else Tensor(g)
                for g in lstm_backward_arrays(saved, upstream.array, needs)]
    record(inputs_list, out, vjp)
    return out


# ---- GRU ------------------------------------------------------------------------------------
def gru_step(x_t, h, h_in, kernel, recurrent_kernel, bias, activation=tanh,
             recurrent_activation=sigmoid):
    """One GRU step (reset_after=True) written with ops (the cell's step, and the fused op's
    under outer tapes): `h_in` is the state fed to the recurrent kernel; returns the new h."""
    units = recurrent_kernel.shape[0]
    x_part = matmul(x_t, kernel)
    m = matmul(h_in, recurrent_kernel)
    if bias is not None:
        x_part, m = x_part + bias[0], m + bias[1]
    z = recurrent_activation(x_part[:, :units] + m[:, :units])
    r = recurrent_activation(x_part[:, units: 2 * units] + m[:, units: 2 * units])
    hh = activation(x_part[:, 2 * units:] + r * m[:, 2 * units:])
    return z * h + (1 - z) * hh


def _gru_step(kernel, recurrent_kernel, bias, rmask):
    def step(x_t, states):
        (h,) = states
        return [gru_step(x_t, h, h * rmask if rmask is not None else h, kernel,
                         recurrent_kernel, bias)]
    return step


def _gru_bias_shape(units: int) -> tuple:
    return (2, 3 * units)  # input and recurrent biases (reset_after=True)


def gru_forward_arrays(inputs, initial_h, w, u, bias, mask_array, rmask, go_backwards: bool,
                       return_sequences: bool):
    """The GRU's forward on arrays (the op's, and a replay plan's lowering of it): returns the
    output array and what `gru_backward_arrays` needs."""
    xp = array_module(inputs)
    batch, steps, units = inputs.shape[0], inputs.shape[1], u.shape[0]
    x = _time_major(inputs, go_backwards, xp)
    x_part = _project(x, w, None if bias is None else bias[0])
    dtype = x.dtype
    h = xp.empty((steps + 1, batch, units), dtype)
    h[0] = initial_h
    m_h = xp.empty((steps, batch, units), dtype)
    m = xp.empty((batch, 3 * units), dtype)
    h_in = xp.empty((batch, units), dtype) if rmask is not None else None
    for t in range(steps):
        _recurrent_product(xp, h[t], u, rmask, h_in, m)
        if bias is not None:
            m += bias[1]
        gates_kernels.gru_forward_step(x_part[t], m, h[t], _keep(mask_array, t), h[t + 1],
                                       m_h[t])
    out_array = _batch_major(h[1:], False, xp) if return_sequences else h[-1].copy()
    saved = (x, x_part, h, m_h, w, u, bias is not None, mask_array, rmask, go_backwards,
             return_sequences)
    return out_array, saved


def gru_backward_arrays(saved, g, needs) -> list:
    """The gradients (arrays, None where not needed) of `gru_forward_arrays` for the upstream
    `g`: inputs, initial_h, kernel, recurrent_kernel (, bias)."""
    x, x_part, h, m_h, w, u, has_bias, mask_array, rmask, go_backwards, return_sequences = saved
    xp = array_module(g)
    steps, batch, units = m_h.shape
    dtype = x.dtype
    dh_out = g.transpose(1, 0, 2) if return_sequences else None
    dx_part = xp.empty_like(x_part)
    dm = xp.empty_like(x_part)
    dh = xp.zeros((batch, units), dtype) if return_sequences else g.copy()
    recurrent = xp.empty((batch, units), dtype)
    scratch = xp.empty((batch, units), dtype)
    for t in range(steps - 1, -1, -1):
        if return_sequences:
            dh += dh_out[t]
        gates_kernels.gru_backward_step(dh, x_part[t], m_h[t], h[t], _keep(mask_array, t),
                                        dx_part[t], dm[t], scratch)
        _add_state_gradient(xp, dh, dm[t], u, rmask, recurrent)
    h_prev = h[:-1] if rmask is None else h[:-1] * rmask
    dx, dw, _ = _weight_gradients(x, h_prev, dx_part, w, u, needs[0], needs[2], False)
    du = None
    if needs[3]:
        du = h_prev.reshape(steps * batch, units).T @ dm.reshape(steps * batch, -1)
    grads = [None if dx is None else _batch_major(dx, go_backwards, xp),
             dh if needs[1] else None, dw, du]
    if has_bias:
        db = None
        if needs[4]:
            db = xp.stack([dx_part.reshape(-1, 3 * units).sum(axis=0),
                           dm.reshape(-1, 3 * units).sum(axis=0)])
        grads.append(db)
    return _in_dtype(grads, dtype)


@register("rnn.gru", samples=_sequence_samples(3, False, _gru_bias_shape))
def gru(inputs, initial_h, kernel, recurrent_kernel, bias=None, mask=None,
        go_backwards: bool = False, recurrent_mask=None, return_sequences: bool = True
        ) -> Tensor:
    """A GRU over a whole sequence (Keras 3's reset_after=True; bias (2, 3 units): input and
    recurrent). Returns the states h_t, (batch, time, units), in processing order (only the
    last, (batch, units), with return_sequences=False)."""
    inputs, initial_h = as_tensor(inputs), as_tensor(initial_h)
    kernel, recurrent_kernel = as_tensor(kernel), as_tensor(recurrent_kernel)
    bias = None if bias is None else as_tensor(bias)
    batch, steps, _, units = _check("gru", inputs, [initial_h], kernel, recurrent_kernel, bias,
                                    3, _gru_bias_shape)
    xp = array_module(inputs.array)
    mask_array, rmask = _options("gru", inputs, mask, go_backwards, recurrent_mask, batch,
                                 steps, units, xp)
    out_array, saved = gru_forward_arrays(
        inputs.array, initial_h.array, kernel.array, recurrent_kernel.array,
        None if bias is None else bias.array, mask_array, rmask, go_backwards, return_sequences)
    out = Tensor(out_array)
    inputs_list = (inputs, initial_h, kernel, recurrent_kernel)
    if bias is not None:
        inputs_list += (bias,)
    if not should_record(inputs_list):
        return out

    def vjp(upstream: Tensor, needs):
        if recording():
            return _composed_vjp(_gru_step, 1, inputs_list, upstream, needs, mask,
                                 go_backwards, rmask, return_sequences)
        return [None if g is None else Tensor(g)
                for g in gru_backward_arrays(saved, upstream.array, needs)]
    record(inputs_list, out, vjp)
    return out


# ---- SimpleRNN ------------------------------------------------------------------------------
_SIMPLE_ACTIVATIONS = {"tanh": tanh, "relu": relu}


def simple_rnn_step(x_t, h_in, kernel, recurrent_kernel, bias, activation=tanh):
    """One SimpleRNN step written with ops (the cell's step, and the fused op's under outer
    tapes): activation(x_t W + h_in U + b)."""
    z = matmul(x_t, kernel) + matmul(h_in, recurrent_kernel)
    if bias is not None:
        z = z + bias
    return activation(z)


def _simple_step(kernel, recurrent_kernel, bias, rmask, activation):
    def step(x_t, states):
        (h,) = states
        return [simple_rnn_step(x_t, h * rmask if rmask is not None else h, kernel,
                                recurrent_kernel, bias, _SIMPLE_ACTIVATIONS[activation])]
    return step


def _simple_bias_shape(units: int) -> tuple:
    return (units,)


def _simple_samples(rng):
    cases = _sequence_samples(1, False, _simple_bias_shape)(rng)
    args = cases[0][0]
    return cases + [(args, {"activation": "relu"})]


def simple_rnn_forward_arrays(inputs, initial_h, w, u, bias, mask_array, rmask,
                              go_backwards: bool, activation: str, return_sequences: bool):
    """The SimpleRNN's forward on arrays (the op's, and a replay plan's lowering of it):
    returns the output array and what `simple_rnn_backward_arrays` needs."""
    xp = array_module(inputs)
    batch, steps, units = inputs.shape[0], inputs.shape[1], u.shape[0]
    x = _time_major(inputs, go_backwards, xp)
    z = _project(x, w, bias)
    dtype = x.dtype
    h = xp.empty((steps + 1, batch, units), dtype)
    h[0] = initial_h
    recurrent = xp.empty((batch, units), dtype)
    h_in = xp.empty((batch, units), dtype) if rmask is not None else None
    for t in range(steps):
        _recurrent_product(xp, h[t], u, rmask, h_in, recurrent)
        z[t] += recurrent
        gates_kernels.simple_rnn_forward_step(z[t], h[t], _keep(mask_array, t), h[t + 1],
                                              activation)
    out_array = _batch_major(h[1:], False, xp) if return_sequences else h[-1].copy()
    saved = (x, z, h, w, u, bias is not None, mask_array, rmask, go_backwards, activation,
             return_sequences)
    return out_array, saved


def simple_rnn_backward_arrays(saved, g, needs) -> list:
    """The gradients (arrays, None where not needed) of `simple_rnn_forward_arrays` for the
    upstream `g`: inputs, initial_h, kernel, recurrent_kernel (, bias)."""
    x, z, h, w, u, has_bias, mask_array, rmask, go_backwards, activation, return_sequences = \
        saved
    xp = array_module(g)
    steps, batch, units = z.shape
    dtype = x.dtype
    dh_out = g.transpose(1, 0, 2) if return_sequences else None
    dz = xp.empty_like(z)
    dh = xp.zeros((batch, units), dtype) if return_sequences else g.copy()
    recurrent = xp.empty((batch, units), dtype)
    for t in range(steps - 1, -1, -1):
        if return_sequences:
            dh += dh_out[t]
        gates_kernels.simple_rnn_backward_step(dh, h[t + 1], _keep(mask_array, t), dz[t],
                                               activation)
        _add_state_gradient(xp, dh, dz[t], u, rmask, recurrent)
    h_prev = h[:-1] if rmask is None else h[:-1] * rmask
    dx, dw, du = _weight_gradients(x, h_prev, dz, w, u, needs[0], needs[2], needs[3])
    grads = [None if dx is None else _batch_major(dx, go_backwards, xp),
             dh if needs[1] else None, dw, du]
    if has_bias:
        grads.append(dz.reshape(-1, units).sum(axis=0) if needs[4] else None)
    return _in_dtype(grads, dtype)


@register("rnn.simple_rnn", samples=_simple_samples)
def simple_rnn(inputs, initial_h, kernel, recurrent_kernel, bias=None, mask=None,
               go_backwards: bool = False, recurrent_mask=None,
               activation: str = "tanh", return_sequences: bool = True) -> Tensor:
    """A fully connected RNN over a whole sequence: h_t = act(x_t W + h_{t-1} U + b), act
    'tanh' or 'relu'. Returns the states h_t, (batch, time, units), in processing order (only
    the last, (batch, units), with return_sequences=False)."""
    if activation not in _SIMPLE_ACTIVATIONS:
        raise InvalidArgumentError(f"simple_rnn: activation must be one of "
                                   f"{sorted(_SIMPLE_ACTIVATIONS)}, got {activation!r}.")
    inputs, initial_h = as_tensor(inputs), as_tensor(initial_h)
    kernel, recurrent_kernel = as_tensor(kernel), as_tensor(recurrent_kernel)
    bias = None if bias is None else as_tensor(bias)
    batch, steps, _, units = _check("simple_rnn", inputs, [initial_h], kernel,
                                    recurrent_kernel, bias, 1, _simple_bias_shape)
    xp = array_module(inputs.array)
    mask_array, rmask = _options("simple_rnn", inputs, mask, go_backwards, recurrent_mask,
                                 batch, steps, units, xp)
    out_array, saved = simple_rnn_forward_arrays(
        inputs.array, initial_h.array, kernel.array, recurrent_kernel.array,
        None if bias is None else bias.array, mask_array, rmask, go_backwards, activation,
        return_sequences)
    out = Tensor(out_array)
    inputs_list = (inputs, initial_h, kernel, recurrent_kernel)
    if bias is not None:
        inputs_list += (bias,)
    if not should_record(inputs_list):
        return out

    def vjp(upstream: Tensor, needs):
        if recording():
            make_step = functools.partial(_simple_step, activation=activation)
            return _composed_vjp(make_step, 1, inputs_list, upstream, needs, mask,
                                 go_backwards, rmask, return_sequences)
        return [None if g is None else Tensor(g)
                for g in simple_rnn_backward_arrays(saved, upstream.array, needs)]
    record(inputs_list, out, vjp)
    return out

