"""`SimpleRNNCell` and `SimpleRNN`: h_t = activation(x_t W + h_{t-1} U + b), Keras 3's weights.

With activation 'tanh' (the default) or 'relu' the layer runs the whole sequence as one fused
op (`tensorflowish.ops.recurrent.simple_rnn`); other activations run the cell step by step.
"""

from __future__ import annotations

from typing import Any

from tensorflowish.keras.layers.rnn.recurrent_cell import FusedRNN, RecurrentCell, is_named
from tensorflowish.ops import recurrent
from tensorflowish.tensor import Tensor


class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN: ``(output, [output]) = cell(inputs, [h])``."""

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
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
        super().__init__(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed, **kwargs,
        )

    def build(self, input_shape: Any) -> None:
        self._add_weights(input_shape, (self.units,), self.bias_initializer)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> Any:
        h = states[0] if isinstance(states, (list, tuple)) else states
        inputs, h_in = self._dropped(inputs, h, training)
        output = recurrent.simple_rnn_step(inputs, h_in, self.kernel, self.recurrent_kernel,
                                           self.bias, self.activation)
        return output, [output]


class SimpleRNN(FusedRNN):
    """A fully connected RNN whose output is fed back as its state, as Keras 3's `SimpleRNN`.

    >>> import tensorflowish as tf
    >>> tf.keras.layers.SimpleRNN(4)(tf.ones((2, 3, 5))).shape.as_list()
    [2, 4]
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        cell = SimpleRNNCell(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dtype=kwargs.get("dtype"), name="simple_rnn_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)

    def _run_fused(self, sequences, states, mask, training):
        cell = self.cell
        names = [name for name in ("tanh", "relu") if is_named(cell.activation, name)]
        if not names:
            return None
        sequences, recurrent_mask = self._dropout_sequences(sequences, states, training)
        outputs = recurrent.simple_rnn(sequences, states[0], cell.kernel, cell.recurrent_kernel,
                                       cell.bias, mask=mask, go_backwards=self.go_backwards,
                                       recurrent_mask=recurrent_mask, activation=names[0],
                                       return_sequences=self.return_sequences)
        return self._single_state_result(outputs)
