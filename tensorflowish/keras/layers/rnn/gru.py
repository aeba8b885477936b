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
from tensorflowish.keras import activations, initializers, regularizers
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.rnn.dropout_rnn_cell import DropoutRNNCell, check_rate
from tensorflowish.keras.layers.rnn.lstm import check_units, dropout_inputs, is_named
from tensorflowish.keras.layers.rnn.rnn import RNN
from tensorflowish.ops import recurrent
from tensorflowish.tensor import Tensor


class GRUCell(DropoutRNNCell, Layer):
    """One GRU step: ``(output, [h]) = cell(inputs, [h])``."""

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
        super().__init__(**kwargs)
        self.units = check_units("GRUCell", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.reset_after = bool(reset_after)
        self.seed = seed
        self.state_size = self.units
        self.output_size = self.units
        self._dropout_masks: dict = {}
        self.kernel = self.recurrent_kernel = self.bias = None

    def build(self, input_shape: Any) -> None:
        features = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (features, 3 * self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, 3 * self.units),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        if self.use_bias:
            shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
            self.bias = self.add_weight("bias", shape, initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)
        self.built = True

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> Any:
        h = states[0] if isinstance(states, (list, tuple)) else states
        h_in = h
        if training:
            dp_mask = self.get_dropout_mask(inputs)
            if dp_mask is not None:
                inputs = inputs * dp_mask
            rec_mask = self.get_recurrent_dropout_mask(h)
            if rec_mask is not None:
                h_in = h * rec_mask
        n = self.units
        x_part = tf.matmul(inputs, self.kernel)
        if self.reset_after:
            m = tf.matmul(h_in, self.recurrent_kernel)
            if self.use_bias:
                x_part, m = x_part + self.bias[0], m + self.bias[1]
            z = self.recurrent_activation(x_part[:, :n] + m[:, :n])
            r = self.recurrent_activation(x_part[:, n: 2 * n] + m[:, n: 2 * n])
            hh = self.activation(x_part[:, 2 * n:] + r * m[:, 2 * n:])
        else:
            if self.use_bias:
                x_part = x_part + self.bias
            m = tf.matmul(h_in, self.recurrent_kernel[:, : 2 * n])
            z = self.recurrent_activation(x_part[:, :n] + m[:, :n])
            r = self.recurrent_activation(x_part[:, n: 2 * n] + m[:, n:])
            hh = self.activation(x_part[:, 2 * n:] +
                                 tf.matmul(r * h_in, self.recurrent_kernel[:, 2 * n:]))
        h = z * h + (1.0 - z) * hh
        return h, [h]

    def get_initial_state(self, batch_size: int | None = None) -> list:
        return [tf.zeros((batch_size, self.units), dtype=self.dtype)]

    def get_config(self) -> dict:
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias, "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout, "reset_after": self.reset_after,
            "seed": self.seed,
        }


class GRU(RNN):
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
            dtype=kwargs.get("dtype"), name="gru_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    @property
    def units(self) -> int:
        return self.cell.units

    def _run_fused(self, sequences, states, mask, training):
        cell = self.cell
        if not (cell.reset_after and is_named(cell.activation, "tanh") and
                is_named(cell.recurrent_activation, "sigmoid")):
            return None
        sequences, recurrent_mask = dropout_inputs(self, sequences, states, training)
        outputs = recurrent.gru(sequences, states[0], cell.kernel, cell.recurrent_kernel,
                                cell.bias, mask=mask, go_backwards=self.go_backwards,
                                recurrent_mask=recurrent_mask,
                                return_sequences=self.return_sequences)
        if not self.return_sequences:
            return outputs, None, [outputs]
        last = outputs[:, -1]
        return last, outputs, [last]

    def get_config(self) -> dict:
        config = {**super().get_config(), **self.cell.get_config()}
        config["name"] = self.name
        return config
