"""``tf.saved_model.save`` / ``tf.saved_model.load`` for ``tf.Module``s and Keras models.

What is saved (in ``export_dir``):

* ``variables/variables.index`` + ``variables/variables.safetensors`` -- every variable, by its
  path through the object graph (a :class:`tf.train.Checkpoint` of the object);
* ``saved_model.json`` -- the object's structure: for each object its class (module and name),
  its plain attributes (numbers, strings, lists of them), its children, and the
  ``tf.function``-decorated methods with the input signatures they were declared with;
* for a Keras model, ``model.keras`` -- its Keras config and weights.

How this differs from TensorFlow's SavedModel: **no graph is serialized** (tensorflowish runs
eagerly). A loaded object runs the *Python code of its class*, which must be importable when it
is loaded (a Keras model is rebuilt from its config instead). If the class cannot be imported,
the loaded object still has its variables and submodules, and calling one of its functions
raises an error that says so. Functions saved with an ``input_signature`` check their inputs
against it on every call, as a restored TensorFlow concrete function does. TensorFlow's own
SavedModel folders (``saved_model.pb``) cannot be loaded here.

    >>> import tempfile, tensorflowish as tf
    >>> class Doubler(tf.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.factor = tf.Variable(2.0)
    ...     @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    ...     def __call__(self, x):
    ...         return x * self.factor
    >>> folder = tempfile.mkdtemp()
    >>> tf.saved_model.save(Doubler(), folder)
    >>> tf.saved_model.load(folder)(tf.constant([1.0, 2.0])).numpy().tolist()
    [2.0, 4.0]
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

from tensorflowish import errors
from tensorflowish.atomic import atomic_write

__all__ = ["load", "save"]

FORMAT = "tensorflowish-saved-model/1"
_PLAIN = (bool, int, float, str, type(None))
# Bookkeeping attributes of layers and models that are not part of their state.
_SKIPPED = frozenset({"_auto_config", "_build_input_shape", "_structure_cache", "_own_weights",
                      "_regularized", "_added_losses", "history", "_last_output_shape"})


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _spec_to_json(spec: Any) -> dict:
    shape = getattr(spec, "shape", None)
    dims = None if shape is None else [None if d is None else int(d) for d in
                                       (shape.as_list() if hasattr(shape, "as_list") else shape)]
    dtype = getattr(spec, "dtype", None)
    return {"shape": dims, "dtype": getattr(dtype, "name", dtype), "name": spec.name
            if getattr(spec, "name", None) else None}


def _functions_of(obj: Any) -> dict:
    """The tf.function-decorated methods of an object's class, with their signatures."""
    found = {}
    for klass in type(obj).__mro__:
        for name, member in vars(klass).items():
            if name in found or not hasattr(member, "python_function"):
                continue
            signature = getattr(member, "input_signature", None)
            found[name] = {"input_signature": None if signature is None
                           else [_spec_to_json(s) for s in signature]}
    return found


def _describe(obj: Any, seen: dict, path: str) -> dict:
    from tensorflowish.module import Module
    from tensorflowish.tensor import Variable

    if isinstance(obj, Variable):
        return {"kind": "variable", "path": path}
    if isinstance(obj, (list, tuple)):
        return {"kind": "list", "items": [_describe(v, seen, f"{path}/{i}" if path else str(i))
                                          for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        return {"kind": "dict", "items": {str(k): _describe(v, seen, f"{path}/{k}" if path
                                                            else str(k)) for k, v in obj.items()}}
    if isinstance(obj, Module):
        if id(obj) in seen:
            return {"kind": "reference", "path": seen[id(obj)]}
        seen[id(obj)] = path
        children, plain = {}, {}
        for key, value in sorted(vars(obj).items()):
            if key in _SKIPPED:
                continue
            if isinstance(value, (Variable, Module, list, tuple, dict)) and _holds_state(value):
                children[key] = _describe(value, seen, f"{path}/{key}" if path else key)
            elif _plain(value):
                plain[key] = value
        return {"kind": "module", "module": type(obj).__module__,
                "class": type(obj).__qualname__, "attributes": plain, "children": children,
                "functions": _functions_of(obj)}
    return {"kind": "value", "value": obj if _plain(obj) else None}


def _holds_state(value: Any) -> bool:
    from tensorflowish.module import Module
    from tensorflowish.tensor import Variable

    if isinstance(value, (Variable, Module)):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and any(_holds_state(v) for v in value)


def save(obj: Any, export_dir: str | os.PathLike, signatures: Any = None, options: Any = None) \
        -> None:
    """Save a ``tf.Module`` (or Keras model): its variables, structure and tf.functions."""
    from tensorflowish.keras.models import Model
    from tensorflowish.module import Module
    from tensorflowish.saving import tf_checkpoint

    if not isinstance(obj, Module):
        raise TypeError(
            f"tf.saved_model.save expects a tf.Module (or a Keras model), got "
            f"{type(obj).__name__}."
        )
    folder = os.fspath(export_dir)
    os.makedirs(os.path.join(folder, "variables"), exist_ok=True)
    if isinstance(obj, Model):
        obj.save(os.path.join(folder, "model.keras"))
    tf_checkpoint.Checkpoint(root=obj).write(os.path.join(folder, "variables", "variables"))
    structure = _describe(obj, {}, "root")
    names = {}
    if signatures is not None:
        if not isinstance(signatures, dict):
            signatures = {"serving_default": signatures}
        for key, function in signatures.items():
            names[key] = getattr(function, "__name__", None)
    document = {"format": FORMAT, "root": structure, "signatures": names,
                "keras_model": isinstance(obj, Model)}
    atomic_write(os.path.join(folder, "saved_model.json"),
                 json.dumps(document, indent=1).encode())


class _RestoredModule:
    """A module whose class could not be imported: its variables and children only."""


def _restored_class(description: dict) -> type | None:
    from tensorflowish.module import Module

    try:
        module = importlib.import_module(description["module"])
        cls: Any = module
        for part in description["class"].split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        return None
    return cls if isinstance(cls, type) and issubclass(cls, Module) else None


def _rebuild(description: dict, variables: dict, built: dict) -> Any:
    kind = description["kind"]
    if kind == "variable":
        return variables[description["path"]]
    if kind == "list":
        return [_rebuild(item, variables, built) for item in description["items"]]
    if kind == "dict":
        return {k: _rebuild(v, variables, built) for k, v in description["items"].items()}
    if kind == "reference":
        return built[description["path"]]
    if kind == "value":
        return description["value"]
    cls = _restored_class(description)
    if cls is None:
        obj = _RestoredModule()
        for name in description["functions"]:
            setattr(obj, name, _unavailable(description, name))
    else:
        checked = {name: _checked(getattr(cls, name), info["input_signature"], name)
                   for name, info in description["functions"].items()
                   if info["input_signature"] is not None and hasattr(cls, name)}
        if checked:  # a subclass, so that even obj(...) (type(obj).__call__) is checked
            cls = type(cls.__name__, (cls,), {**checked, "__module__": cls.__module__})
        obj = cls.__new__(cls)
    built[len(built)] = obj
    for key, value in description["attributes"].items():
        object.__setattr__(obj, key, value)
    for key, child in description["children"].items():
        object.__setattr__(obj, key, _rebuild(child, variables, built))
    return obj


def _unavailable(description: dict, name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise errors.UnimplementedError(
            f"{name}() of the saved {description['class']} cannot run: tensorflowish saves no "
            f"graph, and the class ({description['module']}.{description['class']}) is not "
            "importable here. Import the module that defines it before tf.saved_model.load."
        )

    return call


def _checked(function: Any, signature: list, name: str) -> Any:
    from tensorflowish.tensor import Tensor

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        values = list(args) + list(kwargs.values())
        if len(values) != len(signature):
            raise errors.InvalidArgumentError(
                f"{name}() was saved for {len(signature)} inputs {signature}, got {len(values)}."
            )
        for value, spec in zip(values, signature):
            shape = tuple(value.shape) if isinstance(value, Tensor) else None
            dtype = value.dtype.name if isinstance(value, Tensor) else None
            compatible = shape is not None and spec["shape"] is not None and \
                len(shape) == len(spec["shape"]) and all(
                    s is None or s == d for s, d in zip(spec["shape"], shape))
            if not compatible or (spec["dtype"] and dtype != spec["dtype"]):
                raise errors.InvalidArgumentError(
                    f"Could not find matching concrete function to call {name}(): it was saved "
                    f"for inputs {signature}, got shape {shape} dtype {dtype}."
                )
        return function(self, *args, **kwargs)

    return call


def load(export_dir: str | os.PathLike, tags: Any = None, options: Any = None) -> Any:
    """Load what :func:`save` wrote: the object with its variables, submodules and functions."""
    from tensorflowish.saving import tf_checkpoint

    folder = os.fspath(export_dir)
    document_path = os.path.join(folder, "saved_model.json")
    if not os.path.exists(document_path):
        if os.path.exists(os.path.join(folder, "saved_model.pb")):
            raise errors.UnimplementedError(
                f"{folder} is a TensorFlow SavedModel (saved_model.pb): its graph cannot be "
                "run here. Export the model from TensorFlow as a .keras file (model.save) and "
                "load that with tf.keras.models.load_model."
            )
        raise errors.NotFoundError(f"No SavedModel written by tensorflowish at {folder}.")
    with open(document_path, encoding="utf-8") as stream:
        document = json.load(stream)
    if document.get("format") != FORMAT:
        raise errors.DataLossError(f"{document_path}: unknown format {document.get('format')!r}.")
    prefix = os.path.join(folder, "variables", "variables")
    if document.get("keras_model"):
        from tensorflowish.saving import load_model

        model = load_model(os.path.join(folder, "model.keras"), compile=False)
        tf_checkpoint.Checkpoint(root=model).read(prefix).expect_partial()
        return model
    stored, _ = tf_checkpoint._read_paths(prefix)
    import tensorflowish as tf

    variables = {}
    for path, array in stored.items():
        if path.startswith("root/") and "/.OPTIMIZER_SLOT/" not in path:
            variables[path] = tf.Variable(array, name=path.rsplit("/", 1)[-1])
    root = _rebuild(document["root"], variables, {})
    signatures = {}
    for key, name in (document.get("signatures") or {}).items():
        if name and hasattr(root, name):
            signatures[key] = getattr(root, name)
    try:
        object.__setattr__(root, "signatures", signatures)
    except AttributeError:
        pass
    return root
