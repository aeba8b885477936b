"""Lowering rules of the fused recurrent ops (`rnn.lstm`, `rnn.gru`, `rnn.simple_rnn`): the ops'
own array-level forward and backward (`ops/recurrent.py`: `lstm_forward_arrays`,
`lstm_backward_arrays`, and the GRU's and SimpleRNN's twins), masks included (a `mask` line
input, made time-major at each call as the op makes it); recurrent dropout masks are not
lowered."""

from __future__ import annotations

import numpy as np

from ...ops import recurrent
from . import Backward, Line, Lowered, NotLowered, lowering


def _operands(line: Line, states: list[str]) -> tuple[list, bool, bool, bool]:
    """The line's tensors (`states`, the kernels, the bias if any: one float dtype; then the
    mask if any), its direction flags and whether a mask is among the inputs."""
    if line["recurrent_mask"] is not None:
        raise NotLowered("a recurrent dropout mask")
    names = states + ["kernel", "recurrent_kernel"] + (["bias"] if line["bias"] is not None
                                                       else [])
    inputs = [line.tensor(name, float_only=True) for name in names]
    if len({line.dtype(operand) for operand in inputs}) != 1 or \
            line.dtype(inputs[0]).kind != "f":
        raise NotLowered("mixed dtypes")
    masked = line["mask"] is not None
    if masked:
        mask = line.tensor("mask")
        batch, steps = line.shape(inputs[0])[:2]
        if tuple(line.shape(mask)) != (batch, steps):
            raise NotLowered("a mask of another shape")  # the op raises its error
        inputs.append(mask)
    return inputs, bool(line.literal("go_backwards")), bool(line.literal("return_sequences")), \
        masked


def _split(arrays: tuple, masked: bool, go_backwards: bool, bias_at: int) -> tuple:
    """(the float arrays with the bias None when absent, the time-major mask or None)."""
    mask = None
    if masked:
        mask = recurrent.mask_time_major(arrays[-1], go_backwards, np)
        arrays = arrays[:-1]
    if len(arrays) == bias_at:
        arrays = arrays + (None,)
    return arrays, mask


def _backward(backward_arrays, masked: bool, needs) -> Backward:
    def backward(g, saved):
        grads = backward_arrays(saved, g, needs)
        return grads + [None] if masked else grads  # the mask has no gradient
    return Backward(backward, ("res",))


@lowering("rnn.lstm")
def lstm(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences, masked = _operands(
        line, ["inputs", "initial_h", "initial_c"])

    def forward(*arrays):
        (x, h0, c0, w, u, b), mask = _split(arrays, masked, go_backwards, 5)
        return recurrent.lstm_forward_arrays(x, h0, c0, w, u, b, mask, None, go_backwards,
                                             return_sequences)

    def vjp(needs, overwrite):
        return _backward(recurrent.lstm_backward_arrays, masked, needs)
    return Lowered(forward, inputs, vjp, residual=True)


@lowering("rnn.gru")
def gru(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences, masked = _operands(line, ["inputs", "initial_h"])

    def forward(*arrays):
        (x, h0, w, u, b), mask = _split(arrays, masked, go_backwards, 4)
        return recurrent.gru_forward_arrays(x, h0, w, u, b, mask, None, go_backwards,
                                            return_sequences)

    def vjp(needs, overwrite):
        return _backward(recurrent.gru_backward_arrays, masked, needs)
    return Lowered(forward, inputs, vjp, residual=True)


@lowering("rnn.simple_rnn")
def simple_rnn(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences, masked = _operands(line, ["inputs", "initial_h"])
    activation = line.literal("activation")
    if activation not in ("tanh", "relu"):
        raise NotLowered(f"activation {activation!r}")  # the op raises its error

    def forward(*arrays):
        (x, h0, w, u, b), mask = _split(arrays, masked, go_backwards, 4)
        return recurrent.simple_rnn_forward_arrays(x, h0, w, u, b, mask, None, go_backwards,
                                                   activation, return_sequences)

    def vjp(needs, overwrite):
        return _backward(recurrent.simple_rnn_backward_arrays, masked, needs)
    return Lowered(forward, inputs, vjp, residual=True)
