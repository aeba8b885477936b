"""Lowering rules of the fused LSTM and GRU (`rnn.lstm`, `rnn.gru`): the ops' own
array-level forward and backward (`ops/recurrent.py`: `lstm_forward_arrays`,
`lstm_backward_arrays`, `gru_forward_arrays`, `gru_backward_arrays`), without masks."""

from __future__ import annotations

from ...ops import recurrent
from . import Backward, Line, Lowered, NotLowered, lowering


def _operands(line: Line, states: list[str]) -> tuple[list, bool, bool]:
    """The line's tensors (`states`, the kernels, the bias if any: one float dtype) and its
    direction flags; a mask is not lowered."""
    if line["mask"] is not None or line["recurrent_mask"] is not None:
        raise NotLowered("a mask")
    names = states + ["kernel", "recurrent_kernel"] + (["bias"] if line["bias"] is not None
                                                       else [])
    inputs = [line.tensor(name, float_only=True) for name in names]
    if len({line.dtype(operand) for operand in inputs}) != 1 or \
            line.dtype(inputs[0]).kind != "f":
        raise NotLowered("mixed dtypes")
    return inputs, bool(line.literal("go_backwards")), bool(line.literal("return_sequences"))


@lowering("rnn.lstm")
def lstm(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences = _operands(line, ["inputs", "initial_h",
                                                             "initial_c"])

    def forward(x, h0, c0, w, u, b=None):
        return recurrent.lstm_forward_arrays(x, h0, c0, w, u, b, None, None, go_backwards,
                                             return_sequences)

    def vjp(needs, overwrite):
        return Backward(lambda g, saved: recurrent.lstm_backward_arrays(saved, g, needs),
                        ("res",))
    return Lowered(forward, inputs, vjp, residual=True)


@lowering("rnn.gru")
def gru(line: Line) -> Lowered:
    inputs, go_backwards, return_sequences = _operands(line, ["inputs", "initial_h"])

    def forward(x, h0, w, u, b=None):
        return recurrent.gru_forward_arrays(x, h0, w, u, b, None, None, go_backwards,
                                            return_sequences)

    def vjp(needs, overwrite):
        return Backward(lambda g, saved: recurrent.gru_backward_arrays(saved, g, needs),
                        ("res",))
    return Lowered(forward, inputs, vjp, residual=True)
