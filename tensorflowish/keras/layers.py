"""Layers (``tf.keras.layers``): the Layer base class and the built-in layers.

A layer creates its weights on its first call, from the shape of its input, and is a
``tf.Module``: its variables and those of the layers it holds (as attributes, or in lists,
tuples and dicts) are found automatically, in the order they were assigned.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.Dense(3, activation="relu", name="hidden")
    >>> layer(tf.ones((2, 4))).shape.as_list()
    [2, 3]
    >>> [v.name for v in layer.weights]
    ['hidden/kernel:0', 'hidden/bias:0']
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras import activations, initializers, regularizers
from tensorflowish.keras import backend as keras_backend
from tensorflowish.module import Module
from tensorflowish.tensor import Tensor, TensorShape, Variable

__all__ = [
    "Activation", "Add", "BatchNormalization", "Concatenate", "Dense", "Dropout", "Flatten",
    "Input", "InputLayer",
    "KerasInput", "Lambda", "Layer", "LayerNormalization", "ReLU", "Reshape", "Softmax",
]  # fmt: skip


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


# The training flag of the outermost call, seen by nested layers that are called without one
# (a subclassed model's call() calling self.dropout(x) inherits model(x, training=True)).
_TRAINING_CONTEXT: list = [None]


def _as_tensor_structure(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float, np.number)) for v in value):
            return tf.convert_to_tensor(value)
        return type(value)(_as_tensor_structure(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_tensor_structure(v) for k, v in value.items()}
    return tf.convert_to_tensor(value)


def _contains_symbolic(value: Any) -> bool:
    if isinstance(value, KerasInput):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_symbolic(v) for v in value.values())
    return False


def map_symbolic(function: Callable[[Any], Any], value: Any) -> Any:
    """Apply ``function`` to every symbolic input in a structure, keeping everything else."""
    if isinstance(value, KerasInput):
        return function(value)
    if isinstance(value, (list, tuple)):
        return type(value)(map_symbolic(function, v) for v in value)
    if isinstance(value, dict):
        return {k: map_symbolic(function, v) for k, v in value.items()}
    return value


def _shape_of(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.shape
    if isinstance(value, (list, tuple)):
        return type(value)(_shape_of(v) for v in value)
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in value.items()}
    return None


def _is_floating(dtype: Any) -> bool:
    return bool(getattr(dtype, "is_floating", False))


class Layer(Module):
    """Base class of all layers: override ``build(input_shape)`` and ``call(inputs)``.

    ``__call__`` converts the inputs to Tensors, casts floating inputs to the layer's dtype,
    builds the layer on first use, and passes ``training`` on to ``call`` when it takes one.

    >>> import tensorflowish as tf
    >>> class Scale(tf.keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.factor = self.add_weight(name="factor", shape=(), initializer="ones")
    ...     def call(self, inputs):
    ...         return inputs * self.factor
    >>> Scale()(tf.constant([1.0, 2.0])).numpy().tolist()
    [1.0, 2.0]
    """

    def __init__(
        self,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        input_shape: Sequence[int | None] | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("autocast", None)
        kwargs.pop("dynamic", None)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword arguments: "
                f"{', '.join(sorted(kwargs))}."
            )
        if name is None:
            name = keras_backend.unique_name(_snake_case(type(self).__name__))
        elif not isinstance(name, str):
            raise TypeError(f"A layer's name must be a string, got {type(name).__name__}.")
        try:
            super().__init__(name=name)
        except TypeError:  # a Module without a name argument
            super().__init__()
        self._name = name
        self._trainable = bool(trainable)
        self._dtype = tf.as_dtype(dtype or keras_backend.floatx())
        self.built = False
        self._own_weights: list = []
        self._regularized: list = []
        self._added_losses: list = []
        self._last_output_shape: Any = None
        self.supports_masking = False
        parameters = inspect.signature(self.call).parameters
        self._call_takes_training = "training" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
        )
        if batch_input_shape is None and input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            batch_input_shape = (batch_size, *tuple(input_shape))
        if batch_input_shape is None and input_dim is not None:
            batch_input_shape = (batch_size, int(input_dim))
        self._batch_input_shape = None if batch_input_shape is None else tuple(batch_input_shape)

    # --- identity ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The layer's name, unique per process: ``dense``, ``dense_1``, ..."""
        return self._name

    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights (and of the floating inputs it computes with)."""
        return self._dtype.name

    @property
    def trainable(self) -> bool:
        """Whether the optimiser updates this layer's weights (setting it applies to sublayers)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._flatten_layers(include_self=False):
            layer._trainable = bool(value)

    @property
    def input_shape(self) -> tuple | None:
        """The input shape given at construction (batch dimension first), if any."""
        return self._batch_input_shape

    @property
    def output_shape(self) -> tuple | None:
        """The output shape of the last call, with the batch dimension as None."""
        shape = self._last_output_shape
        if shape is None:
            return None
        return (None, *tuple(shape)[1:]) if len(shape) else tuple(shape)

    # --- weights -----------------------------------------------------------------------

    def add_weight(
        self,
        name: str | None = None,
        shape: Sequence[int] | None = None,
        dtype: Any = None,
        initializer: Any = None,
        regularizer: Any = None,
        trainable: bool = True,
        constraint: Any = None,
        **kwargs: Any,
    ) -> Variable:
        """Create a variable owned by this layer (named ``layer_name/name``).

        ``initializer`` is a name ('zeros', 'glorot_uniform', ...), an Initializer or a
        function ``(shape, dtype)``; the default is glorot_uniform for floats, zeros otherwise.
        """
        if isinstance(name, (tuple, list)) and shape is None:  # Keras 3 order: shape first
            name, shape = None, name
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = tf.as_dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if _is_floating(dtype) else "zeros"
        initializer = initializers.get(initializer)
        value = initializer(shape, dtype=dtype)
        name = name or f"weight_{len(self._own_weights)}"
        variable = tf.Variable(value, trainable=trainable, name=f"{self.name}/{name}", dtype=dtype)
        self._own_weights.append(variable)
        _bump_structure_version()
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularized.append((regularizer, variable))
        return variable

    def __setattr__(self, name: str, value: Any) -> None:
        # Any new attribute may add or remove layers and variables: invalidate cached structure.
        if name not in _VOLATILE_ATTRIBUTES:
            _bump_structure_version()
            if "_own_weights" not in self.__dict__ and not name.startswith("_"):
                kind = (
                    "Model" if any(c.__name__ == "Model" for c in type(self).__mro__) else ("Layer")
                )
                raise RuntimeError(
                    f"Cannot set '{name}' on {type(self).__name__} before its base class is "
                    f"initialised: call super().__init__() first in your {kind} subclass's "
                    "__init__."
                )
        object.__setattr__(self, name, value)

    def _scan_attributes(self, containers: list) -> tuple[list, list]:
        """This layer's direct child layers and own variables, in assignment order.

        Variables from ``add_weight`` come first. Every list and dict met is recorded in
        ``containers`` with its length, so a cache can notice later in-place appends.
        """
        children: list = []
        variables = list(self._own_weights)
        known = {id(v) for v in variables}

        def visit(value: Any) -> None:
            if isinstance(value, Layer):
                children.append(value)
            elif isinstance(value, Variable):
                if id(value) not in known:
                    known.add(id(value))
                    variables.append(value)
            elif isinstance(value, (list, tuple)):
                if isinstance(value, list):
                    containers.append((value, len(value)))
                for item in value:
                    visit(item)
            elif isinstance(value, dict):
                containers.append((value, len(value)))
                for item in value.values():
                    visit(item)

        for key, value in self.__dict__.items():
            if key not in _UNTRACKED_ATTRIBUTES:
                visit(value)
        return children, variables

    def _structure(self) -> list:
        """[(layer, its own variables)] for this layer and every nested one, depth-first in
        assignment order; cached until an attribute is set or a tracked list/dict changes."""
        cache = self.__dict__.get("_structure_cache")
        if (
            cache is not None
            and cache[0] == _STRUCTURE_VERSION[0]
            and all(len(container) == size for container, size in cache[1])
        ):
            return cache[2]
        containers: list = []
        entries: list = []
        seen: set = set()

        def visit(layer: Layer) -> None:
            seen.add(id(layer))
            children, variables = layer._scan_attributes(containers)
            entries.append((layer, variables))
            for child in children:
                if id(child) not in seen:
                    visit(child)

        visit(self)
        object.__setattr__(self, "_structure_cache", (_STRUCTURE_VERSION[0], containers, entries))
        return entries

    def _flatten_layers(self, include_self: bool = True, recursive: bool = True) -> list:
        """This layer (optionally) and the layers it holds, depth-first in assignment order."""
        if not recursive:
            layers = self._direct_children()
        else:
            layers = [layer for layer, _ in self._structure()[1:]]
        return ([self] if include_self else []) + layers

    def _direct_children(self) -> list:
        return self._scan_attributes([])[0]

    def _direct_variables(self) -> list:
        """Variables this layer owns itself: from add_weight, then tf.Variable attributes."""
        return self._scan_attributes([])[1]

    @property
    def trainable_weights(self) -> list:
        """Weights the optimiser updates: empty when ``trainable`` is False."""
        if not self._trainable:
            return []
        result, seen = [], set()
        for layer, variables in self._structure():
            if not layer._trainable:
                continue
            for variable in variables:
                if variable.trainable and id(variable) not in seen:
                    seen.add(id(variable))
                    result.append(variable)
        return result

    @property
    def non_trainable_weights(self) -> list:
        """Weights the optimiser leaves alone (moving statistics, frozen layers)."""
        trainable = {id(v) for v in self.trainable_weights}
        result, seen = [], set()
        for _, variables in self._structure():
            for variable in variables:
                if id(variable) not in trainable and id(variable) not in seen:
                    seen.add(id(variable))
                    result.append(variable)
        return result

    @property
    def weights(self) -> list:
        """All weights: the trainable ones, then the others (Keras's order)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_variables(self) -> list:
        """Same as ``trainable_weights``."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list:
        """Same as ``non_trainable_weights``."""
        return self.non_trainable_weights

    @property
    def variables(self) -> list:
        """Same as ``weights``."""
        return self.weights

    @property
    def submodules(self) -> tuple:
        """Every layer nested inside this one."""
        return tuple(self._flatten_layers(include_self=False))

    def get_weights(self) -> list:
        """Copies of the weights' values as NumPy arrays, in ``weights`` order."""
        return [np.array(tf_backend.to_numpy(v.array), copy=True) for v in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Assign NumPy arrays to the weights, in ``weights`` order (shapes must match)."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' has {len(own)} weights but set_weights got {len(weights)} "
                "arrays; pass one array per entry of layer.weights."
            )
        for variable, value in zip(own, weights):
            value = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"Layer '{self.name}': weight '{variable.name}' has shape "
                    f"{tuple(variable.shape)} but the value given has shape {tuple(value.shape)}."
                )
            xp = tf_backend.get_array_module(variable.array)
            variable.array[...] = xp.asarray(value.astype(variable.array.dtype, copy=False))

    def count_params(self) -> int:
        """The number of scalars in all weights."""
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # --- losses ------------------------------------------------------------------------

    def add_loss(self, loss: Any) -> None:
        """Add a loss tensor (or a zero-argument function) to ``self.losses``."""
        self._added_losses.append(loss)

    @property
    def losses(self) -> list:
        """Regularisation penalties of this layer and its sublayers, computed now."""
        result = []
        for layer, _ in self._structure():
            for regularizer, variable in layer._regularized:
                result.append(regularizer(variable))
            for loss in layer._added_losses:
                result.append(loss() if callable(loss) else loss)
        return result

    # --- calling -----------------------------------------------------------------------

    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of ``input_shape``; called once, on the first call."""
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation; the default passes inputs through."""
        return inputs

    def _maybe_build(self, inputs: Any) -> None:
        if not self.built:
            self.build(_shape_of(inputs))
            self.built = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            inputs, args = args[0], args[1:]
        elif "inputs" in kwargs:
            inputs = kwargs.pop("inputs")
        else:
            raise TypeError(f"{type(self).__name__} was called without inputs.")
        if not isinstance(inputs, Tensor):
            if _contains_symbolic(inputs):
                return self._symbolic_call(inputs, args, kwargs)
            inputs = _as_tensor_structure(inputs)
        if (
            isinstance(inputs, Tensor)
            and inputs.dtype != self._dtype
            and _is_floating(inputs.dtype)
        ):  # Keras's autocast: floating inputs compute in the layer's dtype
            inputs = tf.cast(inputs, self._dtype)
        training = kwargs.pop("training", None)
        if training is None:
            training = _TRAINING_CONTEXT[-1]
        if not self.built:
            self._maybe_build(inputs)
        if training is not None and self._call_takes_training:
            kwargs["training"] = training
        _TRAINING_CONTEXT.append(training)
        try:
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            _TRAINING_CONTEXT.pop()
        if isinstance(outputs, Tensor):
            self._last_output_shape = outputs.shape
        return outputs

    def _symbolic_call(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        """Functional API: record this call and work out its output shape by running the layer
        once on zeros (which also creates its weights)."""

        def zeros(symbol: KerasInput) -> Tensor:
            shape = tuple(1 if d is None else int(d) for d in symbol.shape)
            return tf.zeros(shape, dtype=symbol.dtype)

        kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        outputs = self(map_symbolic(zeros, inputs), *args, training=False, **kwargs)
        node = _Node(self, inputs, args, kwargs)

        def symbol(tensor: Tensor, index: int | None) -> KerasInput:
            return KerasInput((None, *tuple(tensor.shape)[1:]), tensor.dtype, None, node, index)

        if isinstance(outputs, Tensor):
            return symbol(outputs, None)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(symbol(t, i) for i, t in enumerate(outputs))
        raise TypeError(
            f"Layer '{self.name}' returned {type(outputs).__name__}; the functional API "
            "supports layers that return a tensor or a list/tuple of tensors."
        )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for ``input_shape`` (found by running the layer on zeros)."""
        shape = tuple(1 if d is None else int(d) for d in input_shape)
        output = self(tf.zeros(shape, dtype=self._dtype), training=False)
        return (input_shape[0], *tuple(output.shape)[1:])

    def get_config(self) -> dict:
        """The constructor arguments needed to re-create the layer."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """Re-create a layer from :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# Attributes set while running, which never change what the layer holds.
_VOLATILE_ATTRIBUTES = frozenset(
    {"_last_output_shape", "built", "stop_training", "history", "_structure_cache"}
)
# Bumped whenever any layer's attributes change; the structure caches compare against it.
_STRUCTURE_VERSION = [0]


def _bump_structure_version() -> None:
    _STRUCTURE_VERSION[0] += 1


# Attributes that hold references for bookkeeping, not children whose weights belong to us.
_UNTRACKED_ATTRIBUTES = frozenset(
    {"_regularized", "_added_losses", "optimizer", "_compiled", "history", "_callbacks",
     "compiled_loss", "compiled_metrics", "_metrics_container", "_loss_tracker",
     "_structure_cache"}
)  # fmt: skip


def _check_rank(layer: Layer, inputs: Tensor, minimum: int) -> None:
    if inputs.ndim < minimum:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) expects inputs of rank >= {minimum} "
            f"(a batch first), got shape {tuple(inputs.shape)}. Add a batch dimension, e.g. "
            "x[None, ...] or tf.expand_dims(x, 0)."
        )


class Dense(Layer):
    """A fully connected layer: ``activation(inputs @ kernel + bias)``.

    The kernel's input size comes from the first input; the matmul, bias and (when it is one of
    linear, relu, sigmoid, tanh) the activation run as one fused ``tf.nn.dense`` op. Inputs of
    rank > 2 are transformed along their last axis.
    """

    def __init__(
        self,
        units: int,
        activation: str | Callable | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense(units=...) must be a positive integer, got {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self._fused_activation = activations.fused_name(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None
        self.bias = None

    def build(self, input_shape: Any) -> None:
        last = input_shape[-1] if input_shape is not None and len(input_shape) else None
        if last is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs inputs with a known last dimension, got shape "
                f"{input_shape}."
            )
        self.kernel = self.add_weight(
            "kernel", (int(last), self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", (self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )  # fmt: skip
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        _check_rank(self, inputs, 1)
        if inputs.dtype != self._dtype:
            inputs = tf.cast(inputs, self._dtype)
        fan_in = self.kernel.shape[0]
        if inputs.shape[-1] != fan_in:
            raise ValueError(
                f"Dense layer '{self.name}' was built for inputs with last dimension {fan_in}, "
                f"got inputs of shape {tuple(inputs.shape)}. Feed it inputs of shape "
                f"(batch, {fan_in}) or use a new layer."
            )
        x = inputs
        leading = None
        if x.ndim != 2:
            leading = tuple(x.shape)[:-1]
            x = tf.reshape(x, (-1, fan_in))
        if self._fused_activation is not None:
            y = tf.nn.dense(x, self.kernel, self.bias, activation=self._fused_activation)
        else:
            y = self.activation(tf.nn.dense(x, self.kernel, self.bias))
        if leading is not None:
            y = tf.reshape(y, (*leading, self.units))
        return y

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs during training and scale the rest by
    ``1 / (1 - rate)``; the identity at inference (``training`` False or not given)."""

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout(rate=...) must be in [0, 1), got {rate}.")
        self.rate = rate
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        shape = tuple(inputs.shape)
        if self.noise_shape is not None:
            shape = tuple(s if n is None else int(n) for s, n in zip(shape, self.noise_shape))
        from tensorflowish import random as tf_random

        rng = tf_random.numpy_generator(self.seed)
        keep = rng.random(shape, dtype=np.float32) >= self.rate
        mask = keep.astype(inputs.dtype.as_numpy_dtype) * np.asarray(
            1.0 / (1.0 - self.rate), dtype=inputs.dtype.as_numpy_dtype
        )
        xp = tf_backend.get_array_module(inputs.array)
        return inputs * Tensor(xp.asarray(mask))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Flatten(Layer):
    """Reshape ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim == 0:
            raise ValueError(f"Flatten '{self.name}' needs a batch dimension, got a scalar.")
        if inputs.ndim == 2:
            return inputs
        batch = inputs.shape[0]
        return tf.reshape(inputs, (batch, -1) if inputs.ndim > 1 else (batch, 1))


class Reshape(Layer):
    """Reshape each example to ``target_shape`` (the batch dimension is kept; -1 allowed)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        return tf.reshape(inputs, (inputs.shape[0], *self.target_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}


class Activation(Layer):
    """Apply an activation function, given by name or as a function."""

    def __init__(self, activation: str | Callable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Softmax(Layer):
    """Softmax along ``axis`` (turns logits into probabilities)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        return tf.nn.softmax(inputs, axis=self.axis)


class ReLU(Layer):
    """Rectified linear unit, optionally capped at ``max_value`` with a ``negative_slope``."""

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs: Tensor) -> Tensor:
        return activations.relu(
            inputs, alpha=self.negative_slope, max_value=self.max_value, threshold=self.threshold
        )


class Lambda(Layer):
    """Wrap a function of tensors as a layer: ``Lambda(lambda x: x * 2)``."""

    def __init__(self, function: Callable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda needs a function, got {type(function).__name__}.")
        self.function = function

    def call(self, inputs: Any) -> Any:
        return self.function(inputs)


def _normalise_axes(axis: int | Sequence[int], rank: int, layer: Layer) -> list:
    axes = [axis] if isinstance(axis, int) else list(axis)
    result = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"Layer '{layer.name}': axis {a} is out of range for inputs of rank {rank}."
            )
        result.append(a % rank)
    return result


class BatchNormalization(Layer):
    """Normalise each feature with the batch's statistics while training, and with moving
    averages of them at inference (``training`` False or not given).

    ``moving = moving * momentum + batch_statistic * (1 - momentum)``; TensorFlow's defaults
    momentum=0.99, epsilon=1e-3. The batch variance is the biased one (divided by N), as in
    Keras 3. A frozen layer (``trainable = False``) always runs in inference mode.
    """

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        self._axes = _normalise_axes(self.axis, rank, self)
        param_shape = tuple(int(input_shape[a]) for a in self._axes)
        if any(d is None for d in param_shape):
            raise ValueError(f"Layer '{self.name}': the normalised axis must have a known size.")
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", param_shape, initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
            )  # fmt: skip
        if self.center:
            self.beta = self.add_weight(
                "beta", param_shape, initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
            )  # fmt: skip
        self.moving_mean = self.add_weight(
            "moving_mean", param_shape, initializer=self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", param_shape, initializer=self.moving_variance_initializer,
            trainable=False,
        )  # fmt: skip
        self.built = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        rank = inputs.ndim
        reduce_axes = tuple(a for a in range(rank) if a not in self._axes)
        broadcast = [1] * rank
        for a in self._axes:
            broadcast[a] = inputs.shape[a]

        def expand(variable: Any) -> Tensor:
            return tf.reshape(variable, broadcast)

        if training and self._trainable:
            mean = tf.reduce_mean(inputs, axis=reduce_axes, keepdims=True)
            variance = tf.reduce_mean(tf.square(inputs - mean), axis=reduce_axes, keepdims=True)
            self._update_moving(self.moving_mean, mean)
            self._update_moving(self.moving_variance, variance)
        else:
            mean, variance = expand(self.moving_mean), expand(self.moving_variance)
        inverse = tf.math.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inverse = inverse * expand(self.gamma)
        outputs = (inputs - mean) * inverse
        if self.beta is not None:
            outputs = outputs + expand(self.beta)
        return outputs

    def _update_moving(self, moving: Variable, statistic: Tensor) -> None:
        # Raw in-place arithmetic: the moving statistics are not part of the gradient.
        value = statistic.array.reshape(moving.array.shape)
        moving.array *= self.momentum
        moving.array += (1.0 - self.momentum) * value

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class LayerNormalization(Layer):
    """Normalise each example over ``axis`` (the last by default), then scale and shift."""

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis, self.epsilon = axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma = self.beta = None

    def build(self, input_shape: Any) -> None:
        self._axes = _normalise_axes(self.axis, len(input_shape), self)
        shape = tuple(int(input_shape[a]) for a in self._axes)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, initializer=self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", shape, initializer=self.beta_initializer)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        axes = tuple(self._axes)
        broadcast = [inputs.shape[a] if a in axes else 1 for a in range(inputs.ndim)]
        mean = tf.reduce_mean(inputs, axis=axes, keepdims=True)
        variance = tf.reduce_mean(tf.square(inputs - mean), axis=axes, keepdims=True)
        outputs = (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            outputs = outputs * tf.reshape(self.gamma, broadcast)
        if self.beta is not None:
            outputs = outputs + tf.reshape(self.beta, broadcast)
        return outputs


class Concatenate(Layer):
    """Join a list of inputs along ``axis`` (the last by default)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"Concatenate '{self.name}' needs a list of at least two inputs.")
        return tf.concat(list(inputs), axis=self.axis)


class Add(Layer):
    """Sum a list of inputs of the same shape."""

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"Add '{self.name}' needs a list of at least two inputs.")
        total = inputs[0]
        for item in inputs[1:]:
            total = total + item
        return total


class _Node:
    """One recorded layer call of the functional API: the layer and its (symbolic) inputs."""

    def __init__(self, layer: Layer, inputs: Any, args: tuple, kwargs: dict) -> None:
        self.layer, self.inputs, self.args, self.kwargs = layer, inputs, args, kwargs


class KerasInput:
    """A symbolic tensor of the functional API: what ``tf.keras.Input(shape=...)`` returns,
    and what calling a layer on one returns. It has a shape (batch first, None) and a dtype but
    no values; ``tf.keras.Model(inputs, outputs)`` turns the recorded calls into a model.
    """

    def __init__(
        self,
        shape: tuple,
        dtype: Any,
        name: str | None,
        node: _Node | None = None,
        index: int | None = None,
    ) -> None:
        self.shape = TensorShape(shape)
        self.dtype = tf.as_dtype(dtype)
        self.name = name
        self.node, self.index = node, index

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "A symbolic tf.keras.Input has no values: pass it only to Keras layers. Wrap other "
            "operations in a layer, e.g. tf.keras.layers.Lambda(lambda x: x / 255.0)."
        )

    def __repr__(self) -> str:
        source = f" from {self.node.layer.name}" if self.node is not None else ""
        return f"<KerasInput shape={tuple(self.shape)} dtype={self.dtype.name}{source}>"


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


def get(identifier: Any) -> Layer:
    """A layer instance from itself (kept for API symmetry with other ``get`` functions)."""
    if isinstance(identifier, Layer):
        return identifier
    raise TypeError(f"Expected a tf.keras.layers.Layer, got {type(identifier).__name__}.")
