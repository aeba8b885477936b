"""What `SimpleRNNCell`, `LSTMCell` and `GRUCell` share, and `SimpleRNN`, `LSTM`, `GRU` around
them: the arguments and weights of a cell whose kernels hold `gates` blocks of `units` columns,
the dropout of a step's inputs and state, and the plumbing of the fused whole-sequence path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras import activations, constraints, initializers, regularizers
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.rnn.dropout_rnn_cell import DropoutRNNCell, check_rate
from tensorflowish.keras.layers.rnn.rnn import RNN, state_sizes
from tensorflowish.tensor import Tensor


def check_units(layer: str, units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"{layer}(units=...) must be a positive integer, got {units!r}.")
    return int(units)


def is_named(function: Any, name: str) -> bool:
    return function is activations.get(name)


class RecurrentCell(DropoutRNNCell, Layer):
    """A cell with Keras 3's kernel (input_dim, gates units), recurrent_kernel (units, gates
    units) and optional bias; subclasses set `gates`, their activations and their step."""

    gates = 1  # blocks of `units` columns in the kernels, one per gate

    def __init__(
        self,
        units: int,
        activation: Any,
        use_bias: bool,
        kernel_initializer: Any,
        recurrent_initializer: Any,
        bias_initializer: Any,
        kernel_regularizer: Any,
        recurrent_regularizer: Any,
        bias_regularizer: Any,
        kernel_constraint: Any,
        recurrent_constraint: Any,
        bias_constraint: Any,
        dropout: float,
        recurrent_dropout: float,
        seed: int | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_units(type(self).__name__, units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.state_size = self.units
        self.output_size = self.units
        self._dropout_masks: dict = {}
        self.kernel = self.recurrent_kernel = self.bias = None

    def _add_weights(self, input_shape: Any, bias_shape: tuple, bias_initializer: Any) -> None:
        width = self.gates * self.units
        self.kernel = self.add_weight("kernel", (int(input_shape[-1]), width),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", bias_shape, initializer=bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def _dropped(self, inputs: Tensor, h: Tensor, training: bool) -> tuple[Tensor, Tensor]:
        """The step's inputs and the state fed to the recurrent kernel, with this sequence's
        dropout masks applied while training."""
        if not training:
            return inputs, h
        dp_mask = self.get_dropout_mask(inputs)
        if dp_mask is not None:
            inputs = inputs * dp_mask
        rec_mask = self.get_recurrent_dropout_mask(h)
        return inputs, h if rec_mask is None else h * rec_mask

    def get_initial_state(self, batch_size: int | None = None) -> list:
        # in the compute dtype (float16 under mixed_float16), as Keras
        return [tf.zeros((batch_size, size), dtype=self.compute_dtype)
                for size in state_sizes(self)]

    def get_config(self) -> dict:
        config = {**super().get_config(), "units": self.units,
                  "activation": activations.serialize(self.activation)}
        if hasattr(self, "recurrent_activation"):
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return {**config, "use_bias": self.use_bias, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


class FusedRNN(RNN):
    """`RNN` around one built-in cell: its config is the cell's, and `_run_fused` may run the
    whole sequence as one op of `tensorflowish.ops.recurrent`."""

    @property
    def units(self) -> int:
        return self.cell.units

    def _dropout_sequences(self, sequences: Tensor, states: list, training: bool):
        """Apply the cell's per-sequence dropout mask to every step's inputs; return them and
        the recurrent dropout mask (None when not training or without recurrent dropout)."""
        if not training:
            return sequences, None
        dp_mask = self.cell.get_dropout_mask(sequences[:, 0])
        if dp_mask is not None:
            sequences = sequences * tf.expand_dims(dp_mask, 1)
        return sequences, self.cell.get_recurrent_dropout_mask(states[0])

    def _single_state_result(self, outputs: Tensor) -> tuple:
        """(last_output, outputs, states) of a cell whose one state is its output."""
        if not self.return_sequences:
            return outputs, None, [outputs]
        last = outputs[:, -1]
        return last, outputs, [last]

    def get_config(self) -> dict:
        config = {**super().get_config(), **self.cell.get_config()}
        config["name"] = self.name
        return config
