"""`tf.keras.layers.RNN`: run a cell over the time steps of a sequence.

The generic path calls the cell once per step (any cell: the built-in ones or a user's Layer
with `state_size` and `call(inputs, states) -> (output, new_states)`), so it records a few ops
per step. `SimpleRNN`, `LSTM` and `GRU` override `_run_fused` to use the whole-sequence ops of
`tensorflowish.ops.recurrent` instead: one tape record per sequence.
"""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


def state_sizes(cell: Any) -> list:
    """A cell's state_size as a list (one entry per state)."""
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


class RNN(Layer):
    """A recurrent layer around `cell` (a cell Layer, or a list of them, stacked).

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.RNN(tf.keras.layers.SimpleRNNCell(4), return_sequences=True)
    >>> layer(tf.ones((2, 3, 5))).shape.as_list()
    [2, 3, 4]
    """

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(cell, (list, tuple)):
            from tensorflowish.keras.layers.rnn.stacked_rnn_cells import StackedRNNCells

            cell = StackedRNNCells(cell)
        if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
            raise ValueError(f"RNN needs a cell with a `call(inputs, states)` method and a "
                             f"`state_size` attribute, got {type(cell).__name__}.")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._carried_states: dict = {}  # stateful layers keep their last states here

    # --- building ------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        if input_shape is None or len(input_shape) < 3:
            raise ValueError(f"RNN layer '{self.name}' expects inputs of shape (batch, time, "
                             f"features), got {input_shape}.")
        if not getattr(self.cell, "built", False):
            step_shape = (input_shape[0], *tuple(input_shape[2:]))
            self.cell.build(step_shape)
            self.cell.built = True
        self.built = True

    @property
    def state_size(self) -> list:
        return state_sizes(self.cell)

    @property
    def states(self) -> list | None:
        """The carried states of a stateful layer (None before its first call)."""
        return self._carried_states.get("states")

    def get_initial_state(self, batch_size: int) -> list:
        """Zero states, one per entry of the cell's state_size."""
        if hasattr(self.cell, "get_initial_state"):
            states = self.cell.get_initial_state(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        return [tf.zeros((batch_size, int(size)), dtype=self.compute_dtype)
                for size in self.state_size]

    def reset_states(self, states: Any = None) -> None:
        """Forget (or set) the carried states of a stateful layer."""
        if states is None:
            self._carried_states.pop("states", None)
        else:
            self._carried_states["states"] = [tf.convert_to_tensor(s) for s in (
                states if isinstance(states, (list, tuple)) else [states])]

    reset_state = reset_states

    # --- calling -------------------------------------------------------------------------
    def call(self, sequences: Tensor, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        if sequences.ndim < 3:
            raise ValueError(f"RNN layer '{self.name}' expects inputs of shape (batch, time, "
                             f"features), got {tuple(sequences.shape)}.")
        batch = sequences.shape[0]  # None in a tf.function with a relaxed batch: a tensor
        batch = int(batch) if batch is not None else tf.shape(sequences)[0]
        states = self._initial_states(initial_state, batch)
        if mask is not None:
            mask = tf.cast(tf.convert_to_tensor(mask), tf.bool)
            if tuple(mask.shape) != tuple(sequences.shape[:2]):
                raise ValueError(f"RNN layer '{self.name}': the mask must have shape (batch, "
                                 f"time) = {tuple(sequences.shape[:2])}, got "
                                 f"{tuple(mask.shape)}.")
        for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            if hasattr(self.cell, reset):
                getattr(self.cell, reset)()
        if self._variable_dtype is not None:  # a mixed policy: the cell's weights read as casts
            from tensorflowish.keras.mixed_precision import autocast_variables

            with autocast_variables(self.cell, self._variable_dtype, self._dtype):
                result = self._run_fused(sequences, states, mask, bool(training))
        else:
            result = self._run_fused(sequences, states, mask, bool(training))
        if result is None:
            result = self._run_cell(sequences, states, mask, bool(training))
        elif mask is not None:
            result = self._zero_until_first_step(result, mask)
        last_output, outputs, states = result
        if self.stateful:
            self._carried_states["states"] = [tf.stop_gradient(s) for s in states]
        output = outputs if self.return_sequences else last_output
        if self.return_sequences and self.zero_output_for_mask and mask is not None:
            keep = tf.reverse(mask, [1]) if self.go_backwards else mask  # processing order
            output = output * tf.cast(tf.expand_dims(keep, -1), output.dtype)
        if self.return_state:
            return [output, *states]
        return output

    def _initial_states(self, initial_state: Any, batch: int) -> list:
        if initial_state is None:
            carried = self._carried_states.get("states") if self.stateful else None
            if carried is not None and isinstance(batch, int) and \
                    int(carried[0].shape[0]) == batch:
                return list(carried)
            return self.get_initial_state(batch)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else \
            [initial_state]
        sizes = self.state_size
        if len(states) != len(sizes):
            raise ValueError(f"RNN layer '{self.name}' has {len(sizes)} state(s) "
                             f"(sizes {sizes}) but initial_state has {len(states)}.")
        result = []
        for state, size in zip(states, sizes):
            state = tf.convert_to_tensor(state)
            if tuple(state.shape) != (batch if isinstance(batch, int) else state.shape[0],
                                      int(size)):
                raise ValueError(f"RNN layer '{self.name}': an initial state must have shape "
                                 f"({batch}, {size}), got {tuple(state.shape)}.")
            if state.dtype != self._dtype:
                state = tf.cast(state, self._dtype)
            result.append(state)
        return result

    def _run_fused(self, sequences: Tensor, states: list, mask: Any, training: bool):
        """(last_output, outputs, states) from a whole-sequence op, or None to use the cell."""
        return None

    def _zero_until_first_step(self, result: tuple, mask: Tensor) -> tuple:
        """Keras's outputs start from zeros: masked steps before a sequence's first valid step
        output 0 (the fused ops carry the initial state there, which is only different when
        that state is not zero). Written with ops, so a traced step lowers it; where every
        sequence starts with a valid step it multiplies by ones, which changes nothing."""
        last_output, outputs, states = result
        order = mask[:, ::-1] if self.go_backwards else mask  # processing order
        seen = tf.math.cumsum(tf.cast(order, tf.int32), axis=1) > 0
        seen = tf.expand_dims(tf.cast(seen, last_output.dtype), -1)
        if outputs is not None:
            outputs = outputs * seen
        return last_output * seen[:, -1], outputs, states

    def _run_cell(self, sequences: Tensor, states: list, mask: Any, training: bool):
        """The generic loop: the cell once per step; masked steps keep states and output."""
        steps = int(sequences.shape[1])
        if steps == 0:
            raise ValueError(f"RNN layer '{self.name}' got a sequence with no time steps.")
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, last = [], None
        for t in order:
            output, new_states = self.cell(sequences[:, t], states, training=training)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else \
                [new_states]
            if mask is not None:
                keep = tf.expand_dims(mask[:, t], -1)
                new_states = [tf.where(keep, n, s) for n, s in zip(new_states, states)]
                previous = last if last is not None else tf.zeros_like(output)
                output = tf.where(keep, output, previous)
            states, last = new_states, output
            outputs.append(output)
        return last, tf.stack(outputs, axis=1), states

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        if type(self) is RNN:
            config["cell"] = self.cell
        return config

    @classmethod
    def from_config(cls, config: dict) -> RNN:
        config = dict(config)
        if cls is RNN:
            cell = config.pop("cell")
            if isinstance(cell, Layer):
                cell = type(cell).from_config(cell.get_config())
            return cls(cell, **config)
        return cls(**config)
