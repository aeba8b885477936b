"""`StackedRNNCells`: several cells run as one (each step goes through them in turn)."""

from __future__ import annotations

from typing import Any

from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.rnn.rnn import state_sizes


class StackedRNNCells(Layer):
    """Cells stacked into one cell; its states are the cells' states, in order.

    >>> import tensorflowish as tf
    >>> cells = [tf.keras.layers.LSTMCell(3), tf.keras.layers.GRUCell(2)]
    >>> tf.keras.layers.RNN(cells)(tf.ones((2, 4, 5))).shape.as_list()
    [2, 2]
    """

    def __init__(self, cells: list, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for cell in cells:
            if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
                raise ValueError(f"StackedRNNCells: every cell needs `call` and `state_size`, "
                                 f"got {type(cell).__name__}.")
        self.cells = list(cells)

    @property
    def state_size(self) -> list:
        return [size for cell in self.cells for size in state_sizes(cell)]

    @property
    def output_size(self) -> int:
        return getattr(self.cells[-1], "output_size", self.cells[-1].state_size)

    def _counts(self) -> list:
        return [len(state_sizes(cell)) for cell in self.cells]

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        for cell in self.cells:
            if not cell.built:
                cell.build(shape)
                cell.built = True
            size = getattr(cell, "output_size", cell.state_size)
            size = size[0] if isinstance(size, (list, tuple)) else size
            shape = (shape[0], int(size))
        self.built = True

    def get_initial_state(self, batch_size: int | None = None) -> list:
        states = []
        for cell in self.cells:
            states.extend(cell.get_initial_state(batch_size=batch_size))
        return states

    def call(self, inputs: Any, states: Any, training: bool = False) -> Any:
        new_states, position = [], 0
        for cell, count in zip(self.cells, self._counts()):
            cell_states = list(states[position: position + count])
            position += count
            inputs, cell_new = cell(inputs, cell_states, training=training)
            new_states.extend(cell_new if isinstance(cell_new, (list, tuple)) else [cell_new])
        return inputs, new_states

    def reset_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_recurrent_dropout_mask"):
                cell.reset_recurrent_dropout_mask()
