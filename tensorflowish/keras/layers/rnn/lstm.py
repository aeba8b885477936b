"""`LSTMCell` and `LSTM` with Keras 3's arguments and weights.

Weights: kernel (input_dim, 4 units), recurrent_kernel (units, 4 units), bias (4 units), gates
in the order i, f, c, o, so `set_weights` with a Keras model's weights reproduces its outputs.
With the default activations (tanh, sigmoid) the layer runs the whole sequence as one fused op
(`tensorflowish.ops.recurrent.lstm`); other activations run the cell step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras import activations, initializers, regularizers
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.rnn.dropout_rnn_cell import DropoutRNNCell, check_rate
from tensorflowish.keras.layers.rnn.rnn import RNN
from tensorflowish.ops import recurrent
from tensorflowish.tensor import Tensor


def check_units(layer: str, units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"{layer}(units=...) must be a positive integer, got {units!r}.")
    return int(units)


class LSTMCell(DropoutRNNCell, Layer):
    """One LSTM step: ``(output, [h, c]) = cell(inputs, [h, c])``."""

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
        super().__init__(**kwargs)
        self.units = check_units("LSTMCell", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.state_size = [self.units, self.units]
        self.output_size = self.units
        self._dropout_masks: dict = {}
        self.kernel = self.recurrent_kernel = self.bias = None

    def build(self, input_shape: Any) -> None:
        features = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (features, 4 * self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, 4 * self.units),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        if self.use_bias:
            initializer = self.bias_initializer
            if self.unit_forget_bias:
                units, base = self.units, self.bias_initializer

                def initializer(shape, dtype=None):  # noqa: F811 - Keras's forget-gate ones
                    return tf.concat([base((units,), dtype=dtype), tf.ones((units,), dtype),
                                      base((2 * units,), dtype=dtype)], 0)
            self.bias = self.add_weight("bias", (4 * self.units,), initializer=initializer,
                                        regularizer=self.bias_regularizer)
        self.built = True

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> Any:
        h, c = states[0], states[1]
        if training:
            dp_mask = self.get_dropout_mask(inputs)
            if dp_mask is not None:
                inputs = inputs * dp_mask
            rec_mask = self.get_recurrent_dropout_mask(h)
            h_in = h * rec_mask if rec_mask is not None else h
        else:
            h_in = h
        z = tf.matmul(inputs, self.kernel) + tf.matmul(h_in, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        n = self.units
        i = self.recurrent_activation(z[:, :n])
        f = self.recurrent_activation(z[:, n: 2 * n])
        g = self.activation(z[:, 2 * n: 3 * n])
        o = self.recurrent_activation(z[:, 3 * n:])
        c = f * c + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def get_initial_state(self, batch_size: int | None = None) -> list:
        return [tf.zeros((batch_size, self.units), dtype=self.dtype) for _ in range(2)]

    def get_config(self) -> dict:
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias,
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def dropout_inputs(layer: RNN, sequences: Tensor, states: list, training: bool):
    """Apply the cell's per-sequence dropout mask to every step's inputs; return them and the
    recurrent dropout mask (None when not training or without recurrent dropout)."""
    if not training:
        return sequences, None
    cell = layer.cell
    dp_mask = cell.get_dropout_mask(sequences[:, 0])
    if dp_mask is not None:
        sequences = sequences * tf.expand_dims(dp_mask, 1)
    return sequences, cell.get_recurrent_dropout_mask(states[0])


def is_named(function: Any, name: str) -> bool:
    return function is activations.get(name)


class LSTM(RNN):
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
            dtype=kwargs.get("dtype"), name="lstm_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    @property
    def units(self) -> int:
        return self.cell.units

    def _run_fused(self, sequences, states, mask, training):
        cell = self.cell
        if not (is_named(cell.activation, "tanh") and
                is_named(cell.recurrent_activation, "sigmoid")):
            return None
        sequences, recurrent_mask = dropout_inputs(self, sequences, states, training)
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

    def get_config(self) -> dict:
        config = {**super().get_config(), **self.cell.get_config()}
        config["name"] = self.name
        return config
