"""The base class of every layer (``tf.keras.layers.Layer``): weights, tracking, calling.

Over 600 lines because ``Layer`` is one class of about 500 lines (identity, weights and their
tracking, losses, calling, config), kept whole as Keras 3 keeps it; the other names here are its
own bookkeeping, used by no other module. Helpers for symbolic inputs and nested structures live
in ``keras_tensor.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.function import tracing
from tensorflowish.keras import backend as keras_backend
from tensorflowish.keras import constraints, initializers, regularizers
from tensorflowish.keras.layers import masks
from tensorflowish.keras.layers.keras_tensor import (
    KerasInput,
    _as_tensor_structure,
    _contains_symbolic,
    _Node,
    _shape_of,
    map_symbolic,
)
from tensorflowish.module import Module
from tensorflowish.tensor import Tensor, Variable

# tensorflowish.saving sits above the layers (it rebuilds them from files), so it is not imported
# here: that package hands itself down when it loads (saving/__init__.py).
_saving = None
# The training flag of the outermost call, seen by nested layers that are called without one
# (a subclassed model's call() calling self.dropout(x) inherits model(x, training=True)).
_TRAINING_CONTEXT: list = [None]
# How many layer calls are running: losses added during a call (add_loss in call(), activity
# regularizers) belong to that forward pass and are dropped when the next outermost call starts.
_CALL_DEPTH = [0]


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

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        # Keras 3's auto-config: the constructor's arguments, so that get_config() of any layer
        # (built in or custom) can re-create it without each class listing its arguments.
        instance = super().__new__(cls)
        object.__setattr__(instance, "_auto_config", (args, kwargs))
        return instance

    def __init__(
        self,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        input_shape: Sequence[int | None] | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        batch_size: int | None = None,
        activity_regularizer: Any = None,
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
            name = keras_backend.unique_name(keras_backend.to_snake_case(type(self).__name__))
        elif not isinstance(name, str):
            raise TypeError(f"A layer's name must be a string, got {type(name).__name__}.")
        try:
            super().__init__(name=name)
        except TypeError:  # a Module without a name argument
            super().__init__()
        self._name = name
        self._trainable = bool(trainable)
        from tensorflowish.keras import mixed_precision

        policy = mixed_precision.as_policy(dtype)
        self._dtype_policy = policy
        self._dtype = tf.as_dtype(policy.compute_dtype)  # what inputs are cast to
        # what add_weight makes under a mixed policy; None: the same as _dtype
        self._variable_dtype = None if policy.variable_dtype == policy.compute_dtype else \
            tf.as_dtype(policy.variable_dtype)
        self.built = False
        self._own_weights: list = []
        self._regularized: list = []
        self._added_losses: list = []
        self._call_losses: list = []
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._last_output_shape: Any = None
        self.supports_masking = False
        parameters = inspect.signature(self.call).parameters
        self._call_takes_mask = "mask" in parameters
        self._makes_mask = type(self).compute_mask is not Layer.compute_mask
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
        """The dtype of the layer's weights (float32 under a mixed policy)."""
        return (self._variable_dtype or self._dtype).name

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer computes in (float16 under "mixed_float16")."""
        return self._dtype.name

    @property
    def variable_dtype(self) -> str:
        return (self._variable_dtype or self._dtype).name

    @property
    def dtype_policy(self) -> Any:
        return self._dtype_policy

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
        dtype = tf.as_dtype(dtype or self._variable_dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if _is_floating(dtype) else "zeros"
        initializer = initializers.get(initializer)
        value = initializer(shape, dtype=dtype)
        name = name or f"weight_{len(self._own_weights)}"
        variable = tf.Variable(value, trainable=trainable, name=f"{self.name}/{name}", dtype=dtype,
                               constraint=constraints.get(constraint))
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
        """Assign NumPy arrays to the weights, in ``weights`` order.

        All or nothing: every shape and dtype is checked before any weight is assigned, so a
        failure leaves every weight as it was."""
        assign_all(self.weights, weights, f"Layer '{self.name}'")

    def count_params(self) -> int:
        """The number of scalars in all weights."""
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # --- losses ------------------------------------------------------------------------

    def add_loss(self, loss: Any) -> None:
        """Add a loss to ``self.losses`` (and so to the loss ``fit`` minimises).

        Called inside ``call()``, the loss belongs to that forward pass: it is replaced by the
        next call's. Called outside a call, it stays (a zero-argument function is evaluated
        each time ``losses`` is read).
        """
        if _CALL_DEPTH[0]:
            self._call_losses.append(loss)
        else:
            self._added_losses.append(loss)

    @property
    def losses(self) -> list:
        """This layer's and its sublayers' losses: weight regularisation penalties (computed
        now), losses added with ``add_loss`` and activity regularisation of the last call."""
        result = []
        for layer, _ in self._structure():
            for regularizer, variable in layer._regularized:
                result.append(regularizer(variable))
            for loss in layer._added_losses:
                result.append(loss() if callable(loss) else loss)
            result.extend(layer._call_losses)
        return result

    def _clear_call_losses(self) -> None:
        for layer, _ in self._structure():
            if layer._call_losses:
                layer._call_losses = []

    # --- calling -----------------------------------------------------------------------

    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of ``input_shape``; called once, on the first call."""
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation; the default passes inputs through."""
        return inputs

    def _maybe_build(self, inputs: Any) -> None:
        if not self.built:
            shape = _shape_of(inputs)
            self.build(shape)
            self.built = True
            object.__setattr__(self, "_build_input_shape", shape)  # Keras's build_config
            if "_deferred_restore" in self.__dict__:  # values a checkpoint held for this layer
                _saving.tf_checkpoint.apply_deferred(self, self.__dict__.pop("_deferred_restore"))

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
        mask = masks.first_mask(inputs) if masks._MASKS else None  # before autocast makes a copy
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
        if self._call_takes_mask:  # Keras: an input's mask is passed on as mask=
            if kwargs.get("mask") is None and mask is not None:
                kwargs["mask"] = mask
            mask = kwargs.get("mask")
        if not _CALL_DEPTH[0]:
            self._clear_call_losses()
        _TRAINING_CONTEXT.append(training)
        _CALL_DEPTH[0] += 1
        try:
            if self._variable_dtype is not None:  # a mixed policy: weights read as casts
                from tensorflowish.keras.mixed_precision import autocast_variables

                with autocast_variables(self, self._variable_dtype, self._dtype):
                    outputs = self.call(inputs, *args, **kwargs)
            else:
                outputs = self.call(inputs, *args, **kwargs)
            if self.activity_regularizer is not None:
                for output in outputs if isinstance(outputs, (list, tuple)) else (outputs,):
                    if isinstance(output, Tensor):
                        self.add_loss(self.activity_regularizer(output))
        finally:
            _CALL_DEPTH[0] -= 1
            _TRAINING_CONTEXT.pop()
        if self._makes_mask or (mask is not None and self.supports_masking):
            masks.attach(outputs, self.compute_mask(inputs, mask))
        if isinstance(outputs, Tensor):
            self._last_output_shape = outputs.shape
        return outputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask of the outputs: the input's mask for layers that support masking."""
        return mask if self.supports_masking else None

    def _symbolic_call(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        """Functional API: record this call and work out its output shape by running the layer
        once on zeros (which also creates its weights)."""

        def zeros(symbol: KerasInput) -> Tensor:
            shape = tuple(1 if d is None else int(d) for d in symbol.shape)
            return tf.zeros(shape, dtype=symbol.dtype)

        kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        # symbolic tensors may come as further arguments too: attention(query, value)
        outputs = self(map_symbolic(zeros, inputs), *map_symbolic(zeros, args), training=False,
                       **map_symbolic(zeros, kwargs))
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
        """The constructor arguments needed to re-create the layer: those it was created with
        (defaults filled in), with the live name, trainable flag, dtype, and the live
        initializers, regularizers and activation the layer holds under the same names."""
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": self._dtype_policy.name if self._variable_dtype is not None
                  else self.dtype}
        for key, value in self._constructor_arguments().items():
            live = self.__dict__.get(key, value)
            if key == "activation" or hasattr(live, "get_config"):
                value = live
            config.setdefault(key, value)
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    def _constructor_arguments(self) -> dict:
        """The arguments this layer's constructor was called with, by name, defaults included
        (the base Layer's own options are left to get_config)."""
        args, kwargs = self.__dict__.get("_auto_config", ((), {}))
        try:
            signature = inspect.signature(type(self).__init__)
            bound = signature.bind_partial(self, *args, **kwargs).arguments
        except (TypeError, ValueError):
            return {}
        found: dict = {}
        for name, parameter in list(signature.parameters.items())[1:]:
            if parameter.kind is parameter.VAR_POSITIONAL:
                continue
            if parameter.kind is parameter.VAR_KEYWORD:
                found.update(bound.get(name, {}))
            elif name in bound:
                found[name] = bound[name]
            elif parameter.default is not parameter.empty:
                found[name] = parameter.default
        return {k: v for k, v in found.items() if k not in _BASE_OPTIONS}

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """Re-create a layer from :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# Attributes set while running, which never change what the layer holds.
_VOLATILE_ATTRIBUTES = frozenset(
    {"_last_output_shape", "built", "stop_training", "history", "_structure_cache",
     "_call_losses", "_build_input_shape"}
)
# Options of the base Layer that get_config writes from the live layer (or, for the input
# shape, as an InputLayer), never from the captured constructor arguments.
_BASE_OPTIONS = frozenset(
    {"name", "trainable", "dtype", "input_shape", "batch_input_shape", "input_dim",
     "batch_size", "autocast", "dynamic"}
)
# Bumped whenever any layer's attributes change; the structure caches compare against it.
_STRUCTURE_VERSION = [0]


def _bump_structure_version() -> None:
    _STRUCTURE_VERSION[0] += 1


# Attributes that hold references for bookkeeping, not children whose weights belong to us.
_UNTRACKED_ATTRIBUTES = frozenset(
    {"_regularized", "_added_losses", "optimizer", "_compiled", "history", "_callbacks",
     "compiled_loss", "compiled_metrics", "_metrics_container", "_loss_tracker",
     "_structure_cache", "_auto_config", "_build_input_shape", "_call_losses",
     "activity_regularizer"}
)  # fmt: skip


def assign_all(variables: Sequence[Any], values: Sequence[Any], owner: str) -> None:
    """Assign `values` to `variables` in order, after checking every count, shape and dtype:
    a failure raises InvalidArgumentError and changes nothing."""
    from ...errors import InvalidArgumentError

    values = list(values)
    if len(values) != len(variables):
        raise InvalidArgumentError(
            f"{owner} has {len(variables)} weights but set_weights got {len(values)} arrays; "
            "pass one array per entry of .weights (in that order).")
    converted = []
    for index, (variable, value) in enumerate(zip(variables, values)):
        value = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if tuple(value.shape) != tuple(variable.shape):
            raise InvalidArgumentError(
                f"{owner}: weight {index} '{variable.name}' has shape {tuple(variable.shape)} "
                f"but the value given has shape {tuple(value.shape)}; nothing was assigned.")
        target = variable.array.dtype
        if value.dtype.kind not in "biuf" or (value.dtype.kind == "f" and target.kind in "iub"):
            raise InvalidArgumentError(
                f"{owner}: weight {index} '{variable.name}' is {target} but the value given is "
                f"{value.dtype}; nothing was assigned.")
        converted.append(value.astype(target, copy=False))
    for variable, value in zip(variables, converted):
        xp = tf_backend.get_array_module(variable.array)
        variable._writable_array()[...] = xp.asarray(value)


# Inside a tf.function, weights are made once, outside the graph, as TensorFlow lifts them.
tracing.run_outside_traces(Layer, ("add_weight", "add_variable"))
# Methods a layer names in `_graph_lines` (reading tensor values in Python) are one line each.
tracing.trace_graph_lines(Layer)
