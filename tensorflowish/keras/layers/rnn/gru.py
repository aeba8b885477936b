"""`GRUCell` and `GRU` with Keras 3's arguments and weights.

Weights: kernel (input_dim, 3 units), recurrent_kernel (units, 3 units), gates z, r, h; with
`reset_after=True` (the default) the bias is (2, 3 units): input and recurrent biases. That
case, with the default activations, runs the whole sequence as one fused op
(`tensorflowish.ops.recurrent.gru`); `reset_after=False` and other activations run the cell
step by step.
"""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras import activations
from tensorflowish.keras.layers.rnn.recurrent_cell import FusedRNN, RecurrentCell, is_named
from tensorflowish.ops import recurrent
from tensorflowish.tensor import Tensor


class GRUCell(RecurrentCell):
    """One GRU step: ``(output, [h]) = cell(inputs, [h])``."""

    gates = 3

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
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
        reset_after: bool = True,
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
        self.reset_after = bool(reset_after)

    def build(self, input_shape: Any) -> None:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._add_weights(input_shape, shape, self.bias_initializer)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> Any:
        h = states[0] if isinstance(states, (list, tuple)) else states
        inputs, h_in = self._dropped(inputs, h, training)
        if self.reset_after:
            h = recurrent.gru_step(inputs, h, h_in, self.kernel, self.recurrent_kernel,
                                   self.bias, self.activation, self.recurrent_activation)
            return h, [h]
        n = self.units
        x_part = tf.matmul(inputs, self.kernel)
        if self.use_bias:
            x_part = x_part + self.bias
        m = tf.matmul(h_in, self.recurrent_kernel[:, : 2 * n])
        z = self.recurrent_activation(x_part[:, :n] + m[:, :n])
        r = self.recurrent_activation(x_part[:, n: 2 * n] + m[:, n:])
        hh = self.activation(x_part[:, 2 * n:] +
                             tf.matmul(r * h_in, self.recurrent_kernel[:, 2 * n:]))
        h = z * h + (1.0 - z) * hh
        return h, [h]

    def get_config(self) -> dict:
        return {**super().get_config(), "reset_after": self.reset_after}


class GRU(FusedRNN):
    """Gated Recurrent Unit (Cho et al., 2014), as Keras 3's `GRU`.

    >>> import tensorflowish as tf
    >>> tf.keras.layers.GRU(4)(tf.ones((2, 3, 5))).shape.as_list()
    [2, 4]
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
        reset_after: bool = True,
        use_cudnn: Any = "auto",
        **kwargs: Any,
    ) -> None:
        cell = GRUCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, dropout=dropout,
            recurrent_dropout=recurrent_dropout, reset_after=reset_after, seed=seed,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dtype=kwargs.get("dtype"), name="gru_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)

    def _run_fused(self, sequences, states, mask, training):
        cell = self.cell
        if not (cell.reset_after and is_named(cell.activation, "tanh") and
                is_named(cell.recurrent_activation, "sigmoid")):
            return None
        sequences, recurrent_mask = self._dropout_sequences(sequences, states, training)
        outputs = recurrent.gru(sequences, states[0], cell.kernel, cell.recurrent_kernel,
                                cell.bias, mask=mask, go_backwards=self.go_backwards,
                                recurrent_mask=recurrent_mask,
                                return_sequences=self.return_sequences)
        return self._single_state_result(outputs)
