"""`LSTMCell` and `LSTM` with Keras 3's arguments and weights.

Weights: kernel (input_dim, 4 units), recurrent_kernel (units, 4 units), bias (4 units), gates
in the order i, f, c, o, so `set_weights` with a Keras model's weights reproduces its outputs.
With the default activations (tanh, sigmoid) the layer runs the whole sequence as one fused op
(`tensorflowish.ops.recurrent.lstm`); other activations run the cell step by step.
"""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras import activations
from tensorflowish.keras.layers.rnn.recurrent_cell import FusedRNN, RecurrentCell, is_named
from tensorflowish.ops import recurrent
from tensorflowish.tensor import Tensor


class LSTMCell(RecurrentCell):
    """One LSTM step: ``(output, [h, c]) = cell(inputs, [h, c])``."""

    gates = 4

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("implementation", None)
        super().__init__(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed, **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape: Any) -> None:
        initializer = self.bias_initializer
        if self.unit_forget_bias:
            units, base = self.units, self.bias_initializer

            def initializer(shape, dtype=None):  # noqa: F811 - Keras's forget-gate ones
                return tf.concat([base((units,), dtype=dtype), tf.ones((units,), dtype),
                                  base((2 * units,), dtype=dtype)], 0)
        self._add_weights(input_shape, (4 * self.units,), initializer)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> Any:
        h, c = states[0], states[1]
        inputs, h_in = self._dropped(inputs, h, training)
        h, c = recurrent.lstm_step(inputs, h_in, c, self.kernel, self.recurrent_kernel,
                                   self.bias, self.activation, self.recurrent_activation)
        return h, [h, c]

    def get_config(self) -> dict:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class LSTM(FusedRNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997), as Keras 3's `LSTM`.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.LSTM(4, return_sequences=True, return_state=True)
    >>> outputs, h, c = layer(tf.ones((2, 3, 5)))
    >>> outputs.shape.as_list(), h.shape.as_list(), c.shape.as_list()
    ([2, 3, 4], [2, 4], [2, 4])
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn: Any = "auto",
        **kwargs: Any,
    ) -> None:
        cell = LSTMCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dtype=kwargs.get("dtype"), name="lstm_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)

    def _run_fused(self, sequences, states, mask, training):
        cell = self.cell
        if not (is_named(cell.activation, "tanh") and
                is_named(cell.recurrent_activation, "sigmoid")):
            return None
        sequences, recurrent_mask = self._dropout_sequences(sequences, states, training)
        packed = recurrent.lstm(sequences, states[0], states[1], cell.kernel,
                                cell.recurrent_kernel, cell.bias, mask=mask,
                                go_backwards=self.go_backwards, recurrent_mask=recurrent_mask,
                                return_sequences=self.return_sequences)
        n = cell.units
        last = packed[:, -1] if self.return_sequences else packed
        last_h = last[:, :n]
        outputs = packed[:, :, :n] if self.return_sequences else None
        last_c = last[:, n:] if self.return_state or self.stateful else None
        return last_h, outputs, [last_h, last_c]
