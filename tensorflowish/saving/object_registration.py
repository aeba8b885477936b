"""Custom objects known by name: ``register_keras_serializable`` and ``custom_object_scope``.

A class (or function) registered as ``package>Name`` is written into configs under that name and
found again when a file is loaded, as in Keras 3, so a model using custom layers loads without
``custom_objects=``.

    >>> import tensorflowish as tf
    >>> @tf.keras.saving.register_keras_serializable(package="demo")
    ... class Twice(tf.keras.layers.Layer):
    ...     def call(self, inputs):
    ...         return inputs * 2.0
    >>> tf.keras.saving.get_registered_name(Twice)
    'demo>Twice'
    >>> tf.keras.saving.get_registered_object("demo>Twice") is Twice
    True
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
    "get_registered_object", "register_keras_serializable",
]  # fmt: skip

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_SCOPES = threading.local()


def _scope_stack() -> list[dict[str, Any]]:
    if not hasattr(_SCOPES, "stack"):
        _SCOPES.stack = []
    return _SCOPES.stack


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable:
    """Decorator registering a class or function as ``package>name`` (name: its own name)."""

    def decorator(arg: Any) -> Any:
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                f"Cannot register {arg.__name__}: a serializable class must define get_config() "
                "(subclass a tf.keras class, or add get_config/from_config)."
            )
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj: Any) -> str:
    """``package>Name`` for a registered object, else its plain name (as Keras does)."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return obj.__name__


def is_registered(obj: Any) -> bool:
    """Whether ``obj`` was registered with :func:`register_keras_serializable`."""
    try:
        return obj in _GLOBAL_CUSTOM_NAMES
    except TypeError:  # unhashable
        return False


def get_registered_object(
    name: str, custom_objects: Mapping[str, Any] | None = None, module_objects: Any = None
) -> Any:
    """The object for ``name``: from the innermost ``custom_object_scope``, then
    ``custom_objects``, then the registry, then ``module_objects``; None if nowhere."""
    for scope in reversed(_scope_stack()):
        if name in scope:
            return scope[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_custom_objects() -> dict[str, Any]:
    """The global registry (name -> object); adding to it registers an object by that name."""
    return _GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes those names loadable inside."""

    def __init__(self, *custom_objects: Mapping[str, Any] | None) -> None:
        self._objects: dict[str, Any] = {}
        for mapping in custom_objects:
            self._objects.update(mapping or {})

    def __enter__(self) -> CustomObjectScope:
        _scope_stack().append(self._objects)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _scope_stack().pop()


custom_object_scope = CustomObjectScope
