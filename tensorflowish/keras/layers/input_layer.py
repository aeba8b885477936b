"""Model inputs: ``InputLayer`` (Sequential) and ``tf.keras.Input`` (functional API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras.layers.keras_tensor import KerasInput
from tensorflowish.keras.layers.layer import Layer


class InputLayer(Layer):
    """The input of a Sequential model: it fixes the input shape so the model builds at once."""

    def __init__(
        self,
        input_shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        dtype: Any = None,
        name: str | None = None,
        shape: Sequence[int | None] | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        **kwargs: Any,
    ) -> None:
        if shape is not None and input_shape is None:
            input_shape = shape
        if input_shape is None and batch_input_shape is None:
            raise ValueError(
                "InputLayer needs the shape of one example, e.g. InputLayer(input_shape=(8, 8))."
            )
        super().__init__(
            name=name, dtype=dtype, input_shape=input_shape, batch_size=batch_size,
            batch_input_shape=batch_input_shape, **kwargs,
        )  # fmt: skip
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs


def Input(  # noqa: N802 - TensorFlow's name
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    name: str | None = None,
    dtype: Any = None,
    **kwargs: Any,
) -> KerasInput:
    """Describe a model's input: ``tf.keras.Input(shape=(8, 8))`` (batch dimension excluded)."""
    if shape is None:
        raise ValueError("tf.keras.Input needs shape=, the shape of one example.")
    if isinstance(shape, int):
        shape = (shape,)
    return KerasInput((batch_size, *tuple(shape)), dtype or keras_backend.floatx(), name)
