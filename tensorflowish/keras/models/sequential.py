"""``tf.keras.Sequential``: a plain stack of layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish.keras.layers import InputLayer, KerasInput, Layer
from tensorflowish.keras.models.model import Model

# tensorflowish.saving sits above the models (it rebuilds them from files and configs), so it is
# not imported here: that package hands itself down when it loads (saving/__init__.py).
_saving = None


class Sequential(Model):
    """A plain stack of layers, each feeding the next.

    Give the first layer an ``input_shape`` (or start with ``tf.keras.Input(shape=...)``) and
    the model is built at once; otherwise it builds on its first call.

    >>> import tensorflowish as tf
    >>> model = tf.keras.Sequential([
    ...     tf.keras.layers.Flatten(input_shape=(8, 8)),
    ...     tf.keras.layers.Dense(10),
    ... ])
    >>> model.count_params()
    650
    """

    def __init__(
        self, layers: Sequence[Layer] | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self._layers: list[Layer] = []
        self._input_spec: tuple | None = None
        self._input_dtype: Any = None
        if layers is not None:
            if isinstance(layers, (Layer, KerasInput)):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    @property
    def layers(self) -> list:
        """The layers in order (an InputLayer is not listed, as in Keras)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def add(self, layer: Layer | KerasInput) -> None:
        """Append a layer (or set the input with ``tf.keras.Input``/``InputLayer``)."""
        if isinstance(layer, KerasInput):
            layer = InputLayer(batch_input_shape=tuple(layer.shape), dtype=layer.dtype.name)
        if not isinstance(layer, Layer):
            hint = ""
            if isinstance(layer, type) and issubclass(layer, Layer):
                hint = f" (did you mean {layer.__name__}(...) — an instance, not the class?)"
            raise TypeError(
                f"Sequential.add expects a tf.keras.layers.Layer, got {type(layer).__name__}{hint}."
            )
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("An InputLayer can only be the first layer of a Sequential model.")
        if not self._layers and layer.input_shape is not None:
            self._input_spec = tuple(layer.input_shape)
            self._input_dtype = layer.dtype if isinstance(layer, InputLayer) else None
        elif not self._layers and layer.built and \
                getattr(layer, "_build_input_shape", None) is not None:
            # a first layer already built (an adapted Normalization): its input shape is known
            self._input_spec = (None, *tuple(layer._build_input_shape)[1:])
            self._input_dtype = None
        self._layers.append(layer)
        self.built = False
        if self._input_spec is not None:
            self._build_from_spec()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model to pop.")
        layer = self._layers.pop()
        return layer

    def _build_from_spec(self) -> None:
        shape = self._input_spec
        if any(d is None for d in shape[1:]):
            return
        dtype = self._input_dtype or self._dtype
        zeros = tf.zeros(tuple(1 if d is None else int(d) for d in shape), dtype=dtype)
        self(zeros, training=False)

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch first)."""
        if input_shape is None:
            if self._input_spec is None:
                raise ValueError(
                    "Sequential.build needs input_shape (or give the first layer one)."
                )
            input_shape = self._input_spec
        self._input_spec = tuple(input_shape)
        self._build_from_spec()
        self.built = True

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if not self._layers:
            raise ValueError("The Sequential model has no layers; add some before calling it.")
        outputs = _adjust_input_rank(inputs, self._input_spec)
        for layer in self._layers:
            if training is None:
                outputs = layer(outputs)
            else:
                outputs = layer(outputs, training=training)
        return outputs

    def get_config(self) -> dict:
        """Keras 3's Sequential config: an InputLayer (when the input shape is known), then
        each layer serialized with its class."""
        return _saving.model_config._sequential_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> Sequential:
        """Re-create a Sequential model from :meth:`get_config` (or from Keras's config)."""
        return _saving.model_config._sequential_from_config(config, custom_objects)


def _adjust_input_rank(inputs: Any, spec: Any) -> Any:
    """Keras 3's rule for a model with a known input shape: inputs one rank short of a shape
    ending in 1 get that axis ((N,) -> (N, 1)); one rank too many with a last axis of 1 lose it."""
    from tensorflowish.tensor import Tensor

    if spec is None or not isinstance(inputs, Tensor) or inputs.ndim == len(spec):
        return inputs
    import tensorflowish as tf

    if inputs.ndim == len(spec) - 1 and spec[-1] == 1:
        return tf.expand_dims(inputs, -1)
    if inputs.ndim == len(spec) + 1 and inputs.shape[-1] == 1:
        return tf.squeeze(inputs, -1)
    return inputs
