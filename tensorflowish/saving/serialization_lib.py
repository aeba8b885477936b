"""Objects to and from Keras 3's config dicts.

Every object is written as ``{"module", "class_name", "config", "registered_name"}``, with the
module of the *Keras* class (``keras.layers``, ``keras.initializers``, ...) for built-in classes,
so the configs written here load in Keras and Keras's load here. Custom classes are found through
:func:`register_keras_serializable` or ``custom_objects``. Loading never runs code from a file
unless ``safe_mode=False``: a serialized ``lambda`` is refused, as in Keras.

    >>> import tensorflowish as tf
    >>> config = tf.keras.saving.serialize_keras_object(tf.keras.initializers.Zeros())
    >>> config["module"], config["class_name"]
    ('keras.initializers', 'Zeros')
    >>> type(tf.keras.saving.deserialize_keras_object(config)).__name__
    'Zeros'
"""

from __future__ import annotations

import base64
import inspect
import marshal
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from tensorflowish import errors
from tensorflowish.saving import object_registration

__all__ = [
    "SafeModeScope", "deserialize_keras_object", "enable_unsafe_deserialization",
    "serialize_keras_object",
]  # fmt: skip

# Keras config keys that this package has no counterpart for, with the value that means "off";
# ANY: the key only matters when another (checked) option is on.
_ANY = object()
_KERAS_NEUTRAL_OPTIONS = {
    "quantization_config": None, "lora_rank": None, "lora_alpha": None, "synchronized": False,
    "renorm": False, "renorm_clipping": None, "renorm_momentum": _ANY, "sparse": False,
    "ragged": False, "optional": False, "gradient_accumulation_steps": None,
    "loss_scale_factor": None, "input_axes": None, "output_axes": None, "ignore_class": None,
    "use_gate": False, "rms_scaling": False,
}  # fmt: skip

_SAFE_MODE = [True]


def enable_unsafe_deserialization() -> None:
    """Allow loading lambdas from configs everywhere (Keras's global switch)."""
    _SAFE_MODE[0] = False


class SafeModeScope:
    """``with SafeModeScope(False):`` allows lambdas inside; None leaves the setting alone."""

    def __init__(self, safe_mode: bool | None = True) -> None:
        self.safe_mode = safe_mode

    def __enter__(self) -> SafeModeScope:
        self._previous = _SAFE_MODE[0]
        if self.safe_mode is not None:
            _SAFE_MODE[0] = bool(self.safe_mode)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _SAFE_MODE[0] = self._previous


def in_safe_mode() -> bool:
    return _SAFE_MODE[0]


# --- where built-in classes live, in Keras and here --------------------------------------------


def _namespaces() -> list[tuple[str, Any]]:
    """(Keras module, the module here holding the same classes), most specific first."""
    from tensorflowish import keras

    return [
        ("keras.optimizers.schedules", keras.optimizers.schedules),
        ("keras.layers", keras.layers),
        ("keras.initializers", keras.initializers),
        ("keras.regularizers", keras.regularizers),
        ("keras.constraints", keras.constraints),
        ("keras.optimizers", keras.optimizers),
        ("keras.losses", keras.losses),
        ("keras.metrics", keras.metrics),
        ("keras.activations", keras.activations),
    ]


def _model_classes() -> dict[str, type]:
    from tensorflowish.keras import models

    return {"Sequential": models.Sequential, "Model": models.Model, "Functional": models.Model}


def keras_module_of(cls: type) -> str | None:
    """The Keras module of a built-in class (``keras.layers`` for Dense), None for others."""
    if not cls.__module__.startswith("tensorflowish."):
        return None
    if _model_classes().get(cls.__name__) is cls:
        return "keras"
    for keras_module, namespace in _namespaces():
        if getattr(namespace, cls.__name__, None) is cls:
            return keras_module
    return None


def _builtin_class(module: str | None, class_name: str) -> Any:
    if class_name in _model_classes() and (module or "keras").startswith("keras"):
        if module in (None, "keras", "keras.models") or module.startswith("keras.src.models"):
            return _model_classes()[class_name]
    if module is not None and module.startswith("keras"):
        public = module.replace("keras.src.", "keras.")
        for keras_module, namespace in _namespaces():
            if public == keras_module or public.startswith(keras_module + "."):
                found = getattr(namespace, class_name, None)
                if isinstance(found, type):
                    return found
        for _, namespace in _namespaces():  # e.g. keras.src.layers.core.dense
            found = getattr(namespace, class_name, None)
            if isinstance(found, type) and public.split(".")[1] in namespace.__name__:
                return found
    return None


# --- serializing -------------------------------------------------------------------------------


def _dtype_policy(name: str) -> dict:
    return {
        "module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
        "registered_name": None,
    }  # fmt: skip


def serialize_function(function: Any) -> Any:
    """A function as Keras writes it: a built-in activation/loss by name, a registered one by
    its registered name, a lambda as its marshalled code (loadable only with safe_mode=False)."""
    from tensorflowish.keras import activations

    if function is None:
        return None
    name = activations.serialize(function)
    if name is not None and activations._BY_NAME.get(name) is function:
        return name
    if object_registration.is_registered(function):
        return {
            "module": "builtins", "class_name": "function",
            "config": object_registration.get_registered_name(function),
            "registered_name": "function",
        }  # fmt: skip
    if isinstance(function, types.FunctionType) and function.__name__ == "<lambda>":
        code = base64.b64encode(marshal.dumps(function.__code__)).decode("ascii")
        closure = (
            tuple(serialize_keras_object(cell.cell_contents) for cell in function.__closure__)
            if function.__closure__ else None
        )  # fmt: skip
        return {
            "class_name": "__lambda__",
            "config": {"value": [code, serialize_keras_object(function.__defaults__), closure]},
        }
    if isinstance(function, types.FunctionType):
        return {
            "module": function.__module__, "class_name": "function",
            "config": function.__name__, "registered_name": "function",
        }  # fmt: skip
    if hasattr(function, "get_config"):
        return serialize_keras_object(function)
    raise errors.UnimplementedError(
        None, None,
        f"Cannot serialize {function!r}: register it with "
        "@tf.keras.saving.register_keras_serializable() or use a built-in.",
    )


def serialize_keras_object(obj: Any) -> Any:
    """A JSON-ready description of ``obj`` in Keras 3's format."""
    from tensorflowish.dtypes import DType
    from tensorflowish.tensor import Tensor

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(item) for item in obj]
    if isinstance(obj, Mapping):
        return {str(key): serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, DType):
        return obj.name
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, Tensor):
        return {"class_name": "__tensor__",
                "config": {"value": obj.numpy().tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "get_config")):
        return serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise errors.UnimplementedError(
            None, None,
            f"Cannot serialize a {type(obj).__name__}: it has no get_config(). Give it one, or "
            "pass plain values.",
        )
    from tensorflowish.keras.layers import Layer

    if isinstance(obj, Layer):
        from tensorflowish.saving import model_config

        return model_config.serialize_layer(obj)
    return serialize_with_class(obj, obj.get_config())


def serialize_with_class(obj: Any, config: dict) -> dict:
    """``{"module", "class_name", "config", "registered_name"}`` around ``config``."""
    cls = type(obj)
    inner = {key: serialize_keras_object(value) for key, value in config.items()}
    if object_registration.is_registered(cls):
        return {"module": cls.__module__, "class_name": cls.__name__, "config": inner,
                "registered_name": object_registration.get_registered_name(cls)}
    keras_module = keras_module_of(cls)
    if keras_module is not None:
        return {"module": keras_module, "class_name": cls.__name__, "config": inner,
                "registered_name": None}
    return {"module": cls.__module__, "class_name": cls.__name__, "config": inner,
            "registered_name": cls.__name__}


# --- deserializing -----------------------------------------------------------------------------


def resolve_class(config: Mapping, custom_objects: Mapping[str, Any] | None) -> Any:
    """The class (or function) a serialized object names, or a NotFoundError saying how to
    provide it."""
    class_name = config.get("class_name")
    registered_name = config.get("registered_name") or class_name
    module = config.get("module")
    found = object_registration.get_registered_object(registered_name, custom_objects)
    if found is None and class_name != registered_name:
        found = object_registration.get_registered_object(class_name, custom_objects)
    if found is None:
        found = _builtin_class(module, class_name)
    if found is None:
        raise errors.NotFoundError(
            None, None,
            f"Could not locate class '{class_name}' (registered name {registered_name!r}, module "
            f"{module!r}). Make sure custom classes are decorated with "
            "@tf.keras.saving.register_keras_serializable(), or pass them in "
            f"custom_objects={{'{class_name}': {class_name}}}.",
        )
    return found


def _deserialize_function(config: Any, custom_objects: Mapping[str, Any] | None) -> Any:
    from tensorflowish.keras import activations

    if isinstance(config, str):
        found = object_registration.get_registered_object(config, custom_objects)
        return found if found is not None else activations.get(config)
    name = config["config"]
    found = object_registration.get_registered_object(name, custom_objects)
    if found is None:
        found = activations._BY_NAME.get(name)
    if found is None:  # a built-in loss or metric function
        from tensorflowish.keras import losses, metrics

        for namespace in (losses, metrics):
            candidate = getattr(namespace, name, None)
            if callable(candidate) and not isinstance(candidate, type):
                found = candidate
                break
    if found is None:
        raise errors.NotFoundError(
            None, None,
            f"Could not locate function '{name}'. Register it with "
            "@tf.keras.saving.register_keras_serializable() or pass it in custom_objects.",
        )
    return found


def _load_lambda(config: Mapping) -> Any:
    if in_safe_mode():
        raise errors.InvalidArgumentError(
            None, None,
            "Requested the deserialization of a `lambda` object. This carries a potential risk "
            "of arbitrary code execution and thus it is disallowed by default. If you trust the "
            "source of the saved model, pass `safe_mode=False` to the loading function in order "
            "to allow `lambda` loading, or call "
            "`tf.keras.saving.enable_unsafe_deserialization()`.",
        )
    code, defaults, closure = config["value"]
    raw = marshal.loads(base64.b64decode(code.encode("ascii")))
    import tensorflowish

    cells = tuple(types.CellType(value) for value in closure) if closure else None
    return types.FunctionType(
        raw, {"tf": tensorflowish, "__builtins__": __builtins__},
        closure=cells, argdefs=tuple(defaults) if defaults else None,
    )  # fmt: skip


def deserialize_keras_object(
    config: Any,
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
    **kwargs: Any,
) -> Any:
    """Re-create an object from :func:`serialize_keras_object`'s output (or from Keras's)."""
    with SafeModeScope(safe_mode if safe_mode is False else None):
        return _deserialize(config, custom_objects)


def _deserialize(config: Any, custom_objects: Mapping[str, Any] | None) -> Any:
    if isinstance(config, list):
        return [_deserialize(item, custom_objects) for item in config]
    if not isinstance(config, Mapping):
        return config
    if "class_name" not in config or "config" not in config:
        return {key: _deserialize(value, custom_objects) for key, value in config.items()}
    class_name = config["class_name"]
    inner = config["config"]
    if class_name == "__lambda__":
        return _load_lambda(inner)
    if class_name in ("__numpy__", "__tensor__"):
        return np.asarray(inner["value"], dtype=inner["dtype"])
    if class_name == "__tuple__":
        return tuple(_deserialize(v, custom_objects) for v in inner["value"])
    if class_name == "DTypePolicy" or class_name == "FloatDTypePolicy":
        return inner["name"]
    if class_name == "function":
        return _deserialize_function(config, custom_objects)
    cls = resolve_class(config, custom_objects)
    from tensorflowish.keras.layers import Layer

    if isinstance(cls, type) and issubclass(cls, Layer):
        from tensorflowish.saving import model_config

        return model_config.deserialize_layer(config, cls, custom_objects)
    if not isinstance(cls, type):  # a registered function
        return cls
    arguments = {key: _deserialize(value, custom_objects) for key, value in inner.items()}
    return instantiate(cls, arguments)


def accepted_arguments(cls: type) -> set[str] | None:
    """The keyword arguments ``cls(...)`` accepts along its ``**kwargs`` chain; None if any
    constructor in the chain takes arbitrary keywords it does not name."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        parameters = inspect.signature(init).parameters.values()
        names.update(p.name for p in parameters
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
    # The chain ends in a base of this package that takes **kwargs only to name the bad ones
    # (Layer, Optimizer): what the chain names is what it accepts.
    return names if any(k.__module__.startswith("tensorflowish.") for k in cls.__mro__) \
        else None


def without_keras_only_options(cls: type, config: Mapping[str, Any]) -> dict:
    """``config`` less the Keras options this package does not have, when they are off; an
    UnimplementedError naming the option when one is on."""
    accepted = accepted_arguments(cls)
    if accepted is None:
        return dict(config)
    result = {}
    for key, value in config.items():
        if key in accepted:
            result[key] = value
            continue
        neutral = _KERAS_NEUTRAL_OPTIONS.get(key, KeyError)
        if value is None or neutral is _ANY or (neutral is not KeyError and value == neutral):
            continue
        if neutral is KeyError and key in ("name", "trainable", "dtype"):
            continue  # objects (initializers, regularizers) that take no name
        raise errors.UnimplementedError(
            None, None,
            f"{cls.__name__} here has no option {key!r} (the file sets it to {value!r}); "
            f"the options it takes are {sorted(accepted)}.",
        )
    return result


def instantiate(cls: type, arguments: dict) -> Any:
    """``cls.from_config(arguments)``, after dropping Keras options that are off."""
    arguments = without_keras_only_options(cls, arguments)
    try:
        return cls.from_config(arguments) if hasattr(cls, "from_config") else cls(**arguments)
    except TypeError as error:
        raise errors.InvalidArgumentError(
            None, None,
            f"Could not re-create {cls.__name__} from its config {arguments}: {error}. A class "
            "whose constructor arguments differ from its get_config() keys must define "
            "from_config().",
        ) from error
