"""Lowering rules of the fused recurrent ops (`rnn.lstm`, `rnn.gru`, `rnn.simple_rnn`): the ops'
own array-level forward and backward (`ops/recurrent.py`: `lstm_forward_arrays`,
`lstm_backward_arrays`, and the GRU's and SimpleRNN's twins), masks included: a `mask` input
made time-major at each call as the op makes it, and a `recurrent_mask` (recurrent dropout)
input cast as the op casts it. Neither has a gradient (the op does not differentiate them)."""

from __future__ import annotations

import numpy as np

from ...ops import recurrent
from . import Backward, Line, Lowered, NotLowered, lowering


def _operands(line: Line, states: list[str]) -> tuple[list, bool, bool, tuple]:
    """The line's tensors (`states`, the kernels, the bias if any: one float dtype; then the
    mask and the recurrent mask where given), its direction flags and which masks are among
    the inputs."""
    names = states + ["kernel", "recurrent_kernel"] + (["bias"] if line["bias"] is not None
                                                       else [])
    inputs = [line.tensor(name, float_only=True) for name in names]
    if len({line.dtype(operand) for operand in inputs}) != 1 or \
            line.dtype(inputs[0]).kind == "c":
        raise NotLowered("mixed or complex dtypes")  # the op raises its error
    batch, steps = line.shape(inputs[0])[:2]
    units = line.shape(inputs[names.index("recurrent_kernel")])[0]
    masks = []
    for name, shape in (("mask", (batch, steps)), ("recurrent_mask", (batch, units))):
        if line[name] is not None:
            mask = line.tensor(name)
            if tuple(line.shape(mask)) != shape:
                raise NotLowered(f"a {name} of another shape")  # the op raises its error
            inputs.append(mask)
            masks.append(name)
    return inputs, bool(line.literal("go_backwards")), bool(line.literal("return_sequences")), \
        tuple(masks)


def _split(arrays: tuple, masks: tuple, go_backwards: bool, bias_at: int) -> tuple:
    """(the float arrays with the bias None when absent, the time-major mask or None, the
    recurrent mask in the inputs' dtype or None)."""
    mask = rmask = None
    if "recurrent_mask" in masks:
        rmask = arrays[-1].astype(arrays[0].dtype, copy=False)
        arrays = arrays[:-1]
    if "mask" in masks:
        mask = recurrent.mask_time_major(arrays[-1], go_backwards, np)
        arrays = arrays[:-1]
    if len(arrays) == bias_at:
        arrays = arrays + (None,)
    return arrays, mask, rmask


def _lowered(forward, inputs: list, masks: tuple, backward_arrays) -> Lowered:
    """The masks (the last inputs) are not recorded by the op: untracked."""
    def vjp(needs, overwrite):
        def backward(g, saved):
            return backward_arrays(saved, g, needs) + [None] * len(masks)
        return Backward(backward, ("res",))
    untracked = tuple(range(len(inputs) - len(masks), len(inputs)))
    return Lowered(forward, inputs, vjp, residual=True, untracked=untracked)


@lowering("rnn.lstm", half=True)
def lstm(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences, masks = _operands(
        line, ["inputs", "initial_h", "initial_c"])

    def forward(*arrays):
        (x, h0, c0, w, u, b), mask, rmask = _split(arrays, masks, go_backwards, 5)
        return recurrent.lstm_forward_arrays(x, h0, c0, w, u, b, mask, rmask, go_backwards,
                                             return_sequences)
    return _lowered(forward, inputs, masks, recurrent.lstm_backward_arrays)


@lowering("rnn.gru", half=True)
def gru(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences, masks = _operands(line, ["inputs", "initial_h"])

    def forward(*arrays):
        (x, h0, w, u, b), mask, rmask = _split(arrays, masks, go_backwards, 4)
        return recurrent.gru_forward_arrays(x, h0, w, u, b, mask, rmask, go_backwards,
                                            return_sequences)
    return _lowered(forward, inputs, masks, recurrent.gru_backward_arrays)


@lowering("rnn.simple_rnn", half=True)
def simple_rnn(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences, masks = _operands(line, ["inputs", "initial_h"])
    activation = line.literal("activation")
    if activation not in ("tanh", "relu"):
        raise NotLowered(f"activation {activation!r}")  # the op raises its error

    def forward(*arrays):
        (x, h0, w, u, b), mask, rmask = _split(arrays, masks, go_backwards, 4)
        return recurrent.simple_rnn_forward_arrays(x, h0, w, u, b, mask, rmask, go_backwards,
                                                   activation, return_sequences)
    return _lowered(forward, inputs, masks, recurrent.simple_rnn_backward_arrays)
