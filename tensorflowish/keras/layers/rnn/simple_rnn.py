"""`SimpleRNNCell` and `SimpleRNN`: h_t = activation(x_t W + h_{t-1} U + b), Keras 3's weights.

With activation 'tanh' (the default) or 'relu' the layer runs the whole sequence as one fused
op (`tensorflowish.ops.recurrent.simple_rnn`); other activations run the cell step by step.
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


class SimpleRNNCell(DropoutRNNCell, Layer):
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
        super().__init__(**kwargs)
        self.units = check_units("SimpleRNNCell", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.state_size = self.units
        self.output_size = self.units
        self._dropout_masks: dict = {}
        self.kernel = self.recurrent_kernel = self.bias = None

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight("kernel", (int(input_shape[-1]), self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, self.units),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)
        self.built = True

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> Any:
        h = states[0] if isinstance(states, (list, tuple)) else states
        if training:
            dp_mask = self.get_dropout_mask(inputs)
            if dp_mask is not None:
                inputs = inputs * dp_mask
            rec_mask = self.get_recurrent_dropout_mask(h)
            if rec_mask is not None:
                h = h * rec_mask
        z = tf.matmul(inputs, self.kernel)
        if self.use_bias:
            z = z + self.bias
        output = self.activation(z + tf.matmul(h, self.recurrent_kernel))
        return output, [output]

    def get_initial_state(self, batch_size: int | None = None) -> list:
        return [tf.zeros((batch_size, self.units), dtype=self.dtype)]

    def get_config(self) -> dict:
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class SimpleRNN(RNN):
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
            dtype=kwargs.get("dtype"), name="simple_rnn_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    @property
    def units(self) -> int:
        return self.cell.units

    def _run_fused(self, sequences, states, mask, training):
        cell = self.cell
        names = [name for name in ("tanh", "relu") if is_named(cell.activation, name)]
        if not names:
            return None
        sequences, recurrent_mask = dropout_inputs(self, sequences, states, training)
        outputs = recurrent.simple_rnn(sequences, states[0], cell.kernel, cell.recurrent_kernel,
                                       cell.bias, mask=mask, go_backwards=self.go_backwards,
                                       recurrent_mask=recurrent_mask, activation=names[0],
                                return_sequences=self.return_sequences)
        if not self.return_sequences:
            return outputs, None, [outputs]
        last = outputs[:, -1]
        return last, outputs, [last]

    def get_config(self) -> dict:
        config = {**super().get_config(), **self.cell.get_config()}
        config["name"] = self.name
        return config
