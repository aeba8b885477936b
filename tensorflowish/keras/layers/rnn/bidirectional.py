"""`Bidirectional`: one RNN forwards and a copy backwards over the same sequence, merged."""

from __future__ import annotations

from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.rnn.rnn import RNN

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Run `layer` forwards and a copy of it backwards (`go_backwards` flipped) and merge the
    outputs ('concat', 'sum', 'mul', 'ave' or None for a list), as Keras 3 does.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(4))
    >>> layer(tf.ones((2, 3, 5))).shape.as_list()
    [2, 8]
    """

    def __init__(self, layer: RNN, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: RNN | None = None, **kwargs: Any) -> None:
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards"):
            raise ValueError(f"Bidirectional needs a recurrent layer (LSTM, GRU, SimpleRNN, "
                             f"RNN), got {type(layer).__name__}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {list(_MERGE_MODES)}, "
                             f"got {merge_mode!r}.")
        super().__init__(**kwargs)
        config = layer.get_config()
        # as Keras: the prefix is not doubled when a saved config is loaded again
        config["name"] = "forward_" + layer.name.removeprefix("forward_")
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = layer.get_config()
            config["name"] = "backward_" + layer.name.removeprefix("forward_")
            config["go_backwards"] = not layer.go_backwards
            backward_layer = type(layer).from_config(config)
        elif backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("Bidirectional: backward_layer must have the opposite go_backwards "
                             "of layer.")
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences  # as Keras forces it
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, input_shape: Any) -> None:
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)
        self.forward_layer.built = self.backward_layer.built = True
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        forward_state = backward_state = None
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            forward_state, backward_state = states[:half], states[half:]
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask,
                               training=training)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask,
                                    training=training)
        states: list = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = tf.reverse(y_rev, [1])
        if self.merge_mode == "concat":
            output: Any = tf.concat([y, y_rev], -1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) * 0.5
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            return ([output] if self.merge_mode is not None else output) + states
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.merge_mode is None:
            output_mask = [output_mask, output_mask]
        if self.return_state:
            count = len(self.forward_layer.state_size) * 2
            masks = output_mask if isinstance(output_mask, list) else [output_mask]
            return masks + [None] * count
        return output_mask

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": self.forward_layer,
                "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config: dict) -> Bidirectional:
        config = dict(config)
        layer = config.pop("layer")
        return cls(type(layer).from_config(layer.get_config()), **config)
