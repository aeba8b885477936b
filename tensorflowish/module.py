"""`tf.Module`: a named container whose variables and submodules are found from its attributes."""

from __future__ import annotations

import re

from .tensor import Variable


def _walk(value, seen: set, found_variables: list, found_modules: list, recurse: bool) -> None:
    if isinstance(value, Variable):
        if id(value) not in seen:
            seen.add(id(value))
            found_variables.append(value)
    elif isinstance(value, Module):
        if id(value) not in seen:
            seen.add(id(value))
            found_modules.append(value)
            if recurse:
                for attribute in value._tracked_attributes():
                    _walk(attribute, seen, found_variables, found_modules, recurse)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            _walk(value[key], seen, found_variables, found_modules, recurse)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _walk(item, seen, found_variables, found_modules, recurse)


class Module:
    """Base class for things with variables: collects them from attributes, lists and dicts.

    >>> import tensorflowish as tf
    >>> class Affine(tf.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = tf.Variable([[1.0]])
    ...         self.parts = [tf.Variable([0.0], trainable=False)]
    >>> len(Affine().variables), len(Affine().trainable_variables)
    (2, 1)
    """

    def __init__(self, name: str | None = None) -> None:
        self._name = name or _snake_case(type(self).__name__)

    @property
    def name(self) -> str:
        return self._name

    def _tracked_attributes(self):
        """Attribute values in a stable order (sorted by attribute name, like TensorFlow)."""
        state = vars(self)
        return [state[key] for key in sorted(state) if key not in ("_name",)]

    def _collect(self, recurse: bool = True):
        seen = {id(self)}
        variables: list = []
        modules: list = []
        for attribute in self._tracked_attributes():
            _walk(attribute, seen, variables, modules, recurse)
        return variables, modules

    @property
    def variables(self) -> tuple:
        """Every variable of this module and its submodules (each once)."""
        return tuple(self._collect()[0])

    @property
    def trainable_variables(self) -> tuple:
        """The trainable ones among `variables`."""
        return tuple(v for v in self.variables if v.trainable)

    @property
    def non_trainable_variables(self) -> tuple:
        return tuple(v for v in self.variables if not v.trainable)

    @property
    def submodules(self) -> tuple:
        """Every module reachable from this one's attributes (not including itself)."""
        return tuple(self._collect()[1])

    @classmethod
    def with_name_scope(cls, method):
        return method


# tf.Module's own rule (TensorFlow's camel_to_snake), which differs from Keras's for digits
# followed by a capital: Conv2DLayer -> conv2_d_layer (Keras: conv2d_layer).
_CAMEL_TO_SNAKE = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")


def _snake_case(name: str) -> str:
    """TensorFlow's ``camel_to_snake``: ``MyDense`` -> ``my_dense``, ``HTTPServer`` ->
    ``http_server``."""
    return _CAMEL_TO_SNAKE.sub(r"_\1", name).lower()
