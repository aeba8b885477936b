"""Dropout for recurrent cells, as Keras 3 does it: one mask per sequence, reused every step."""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.function import tracing
from tensorflowish.tensor import Tensor


class DropoutRNNCell:
    """Mixin for cells with `dropout` / `recurrent_dropout` (and `seed`): the masks are drawn on
    the first step of a sequence and kept until `reset_dropout_mask()` (the RNN layer calls it
    before every sequence). The masks live in a dict (`_dropout_masks`, made by the cell's
    __init__) so that drawing them does not count as a change of the layer's structure."""

    # a mask is drawn on the host from the cell's generator (tf.nn.dropout): one line of a
    # traced graph, drawn again at every replay from the same stream as eagerly (False: drawn
    # in spec-only traces too)
    _graph_lines = {"_draw": False}
    _probe_lines = ("_draw",)  # tf.random's streams only: a shape probe may draw it again

    def _draw(self, like: Tensor, rate: float) -> Tensor:
        return tf.nn.dropout(tf.ones_like(like), rate, seed=getattr(self, "seed", None))

    def get_dropout_mask(self, step_input: Tensor) -> Tensor | None:
        """The scaled keep-mask for the inputs (shape of one step's input), or None."""
        if not 0.0 < self.dropout < 1.0:
            return None
        masks = self._dropout_masks
        if masks.get("inputs") is None:
            masks["inputs"] = self._draw(step_input, self.dropout)
        return masks["inputs"]

    def get_recurrent_dropout_mask(self, step_state: Tensor) -> Tensor | None:
        """The scaled keep-mask for the state fed to the recurrent kernel, or None."""
        if not 0.0 < self.recurrent_dropout < 1.0:
            return None
        masks = self._dropout_masks
        if masks.get("state") is None:
            masks["state"] = self._draw(step_state, self.recurrent_dropout)
        return masks["state"]

    def reset_dropout_mask(self) -> None:
        self._dropout_masks.pop("inputs", None)

    def reset_recurrent_dropout_mask(self) -> None:
        self._dropout_masks.pop("state", None)


def check_rate(name: str, value: Any) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}.")
    return value


# Methods the mixin names in `_graph_lines` are one line each (as a Layer's: see layer.py).
tracing.trace_graph_lines(DropoutRNNCell)
