"""Weights in Keras 3's HDF5 layout (``model.weights.h5`` inside a ``.keras`` file, and
``save_weights("x.weights.h5")``).

Keras addresses weights by *position*, not by the names users give layers: a Sequential or
functional model's layers are ``layers/<snake_case class name>[_k]``, numbered by class in
``model.layers`` order (a functional model's inputs count as ``InputLayer``s); other layers
and models are walked through their attributes, sorted by name; a layer's own variables are
``<path>/vars/<i>`` (trainable ones first, in creation order) and the optimizer's are
``optimizer/vars/<i>`` (iterations, learning rate, then its slots in Keras's order). This module
walks a model the way Keras's ``saving_lib`` does, so each side reads the other's files.

Loading is all-or-nothing: every group, count, shape and dtype is checked before the first
variable is assigned; datasets are written with HDF5's Fletcher-32 checksum where HDF5 allows
one (any non-scalar), so a flipped byte is an error rather than a silently wrong weight.
"""

from __future__ import annotations

import inspect
import io
import warnings
from typing import Any

import numpy as np

from tensorflowish import errors
from tensorflowish.keras.backend import to_snake_case
from tensorflowish.saving import model_config

__all__ = ["apply_weights", "read_weights", "write_weights"]

# Attributes that hold bookkeeping, not the layers and optimizers that Keras saves.
_SKIPPED_ATTRIBUTES = frozenset({
    "_layers", "_graph_layers", "_graph_inputs", "_graph_outputs", "_structure_cache",
    "_own_weights", "_regularized", "_added_losses", "compiled_loss", "compiled_metrics",
    "history", "_callbacks", "_metrics_container", "_loss_tracker", "_last_output_shape",
    "_auto_config", "_build_input_shape",
})  # fmt: skip


def _is_saveable(value: Any) -> bool:
    from tensorflowish.keras.layers import Layer
    from tensorflowish.keras.optimizers import Optimizer

    return isinstance(value, (Layer, Optimizer, model_config.InputPlaceholder))


def _holds_saveables(value: Any) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and any(
        _is_saveable(item) or _holds_saveables(item) for item in value
    )


def _children(obj: Any) -> list[tuple[str, Any]]:
    from tensorflowish.keras.layers import Layer
    from tensorflowish.keras.models import Model, Sequential

    result: list[tuple[str, Any]] = []
    if isinstance(obj, Sequential):
        result.append(("layers", obj.layers))
    elif model_config.is_functional(obj):
        result.append(("layers", model_config.functional_layer_order(obj)[0]))
    if not isinstance(obj, Layer):
        return result
    attributes = {key: value for key, value in vars(obj).items()
                  if key not in _SKIPPED_ATTRIBUTES and not key.startswith("__")}
    attributes.update(_public_properties(obj))
    if isinstance(obj, Model):
        attributes["layers"] = obj.layers
        if obj.optimizer is not None:
            attributes["optimizer"] = obj.optimizer
    # Keras walks dir(obj): public names first, then private ones ("_name" sorts as "~_name")
    for key in sorted(attributes, key=lambda name: f"~{name}" if name.startswith("_") else name):
        value = attributes[key]
        if _is_saveable(value) or _holds_saveables(value):
            result.append((key, value))
    return result


def _public_properties(obj: Any) -> dict[str, Any]:
    """Properties a layer class adds to the base classes (Keras's ``dir()`` sees them, e.g.
    MultiHeadAttention's ``key_dense``; those of Layer and Model themselves are skipped, as
    Keras skips everything a plain Layer has)."""
    from tensorflowish.keras.layers import Layer
    from tensorflowish.keras.models import Model

    base = set(dir(Model if isinstance(obj, Model) else Layer))
    found = {}
    for name in dir(type(obj)):
        if name.startswith("_") or name in base:
            continue
        if isinstance(inspect.getattr_static(type(obj), name, None), property):
            try:
                found[name] = getattr(obj, name)
            except Exception:  # noqa: BLE001 - Keras too skips properties that fail
                continue
    return found


def _own_variables(obj: Any, model: Any) -> list:
    from tensorflowish.keras.optimizers import Optimizer

    if isinstance(obj, model_config.InputPlaceholder):
        return []
    if isinstance(obj, Optimizer):
        return _optimizer_variables(obj, model)
    own = obj._direct_variables()
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


def walk(model: Any) -> list[tuple[str, Any, list]]:
    """(path, object, its own variables) for everything Keras saves, in Keras's order."""
    found: list[tuple[str, Any, list]] = []
    visited: set[int] = set()

    def visit(obj: Any, path: str) -> None:
        if id(obj) in visited:
            return
        visited.add(id(obj))
        found.append((path, obj, _own_variables(obj, model)))
        for name, child in _children(obj):
            child_path = f"{path}/{name}" if path else name
            if _is_saveable(child):
                visit(child, child_path)
            else:
                visit_container(child, child_path)

    def visit_container(container: Any, path: str) -> None:
        if isinstance(container, dict):
            container = list(container.values())
        used: dict[str, int] = {}
        for item in container:
            if not _is_saveable(item):
                continue
            name = to_snake_case(type(item).__name__ if not isinstance(
                item, model_config.InputPlaceholder) else "InputLayer")
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            visit(item, f"{path}/{name}")

    visit(model, "")
    return found


def keras_trainable_variables(model: Any) -> list:
    """The model's trainable variables in Keras's order (what its optimizer's slots follow)."""
    if model_config.is_functional(model):
        result, seen = [], set()
        for layer in model_config.functional_layer_order(model)[0]:
            if isinstance(layer, model_config.InputPlaceholder):
                continue
            for variable in layer.trainable_weights:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    result.append(variable)
        return result
    return list(model.trainable_weights)


def _slot_groups(optimizer: Any) -> list[tuple[str, ...]]:
    """Keras 3 creates an optimizer's slots per variable, all kinds together (Adam's momentum
    and velocity, Adadelta's, Ftrl's, Adafactor's r, c, v), except RMSprop, which makes each
    kind for all variables in turn, and Adam's velocity_hat, made after the rest."""
    from tensorflowish.keras.optimizers import RMSprop

    names = tuple(optimizer._slot_names)
    if isinstance(optimizer, RMSprop):
        return [(name,) for name in names]
    if "v_hat" in names:
        return [tuple(n for n in names if n != "v_hat"), ("v_hat",)]
    return [names] if names else []


class _SlotRef:
    """One optimizer slot (a raw array in the optimizer's state), shaped like a variable."""

    def __init__(self, slots: dict, name: str) -> None:
        self.slots, self.slot = slots, name

    @property
    def shape(self) -> tuple:
        # Keras keeps unused scalar placeholders (Adafactor's r and c of a vector)
        return tuple(self.slots[self.slot].shape) if self.slot in self.slots else ()

    @property
    def dtype(self) -> Any:
        return self.slots[self.slot].dtype if self.slot in self.slots else np.float32

    def numpy(self) -> np.ndarray:
        from tensorflowish import backend

        if self.slot not in self.slots:
            return np.zeros((), np.float32)
        return np.asarray(backend.to_numpy(self.slots[self.slot]))

    def assign(self, value: np.ndarray) -> None:
        from tensorflowish import backend

        if self.slot not in self.slots:
            return
        current = self.slots[self.slot]
        xp = backend.get_array_module(current)
        self.slots[self.slot] = xp.asarray(value.astype(current.dtype, copy=True))


class _LearningRateRef:
    """The learning rate, kept as float64 here and float32 in Keras's files."""

    def __init__(self, optimizer: Any) -> None:
        self.variable = optimizer._learning_rate_variable

    shape = ()
    dtype = np.dtype("float32")

    def numpy(self) -> np.ndarray:
        return np.asarray(self.variable.numpy(), dtype=np.float32)

    def assign(self, value: np.ndarray) -> None:
        self.variable.assign(float(value))


class _ScalarStateRef:
    """A float the optimizer keeps as an attribute and Keras as a scalar variable (Nadam's
    product of momentum factors, Keras's ``_u_product``)."""

    shape = ()
    dtype = np.dtype("float32")

    def __init__(self, optimizer: Any, attribute: str) -> None:
        self.optimizer, self.attribute = optimizer, attribute

    def numpy(self) -> np.ndarray:
        return np.asarray(getattr(self.optimizer, self.attribute), dtype=np.float32)

    def assign(self, value: np.ndarray) -> None:
        setattr(self.optimizer, self.attribute, float(value))


def _optimizer_variables(optimizer: Any, model: Any, build: bool = False) -> list:
    refs: list = [optimizer.iterations]
    if optimizer._schedule is None:
        refs.append(_LearningRateRef(optimizer))
    variables = keras_trainable_variables(model)
    if not optimizer._slots and not build:
        return refs  # not built yet: Keras saves iterations and the learning rate only
    slots = [optimizer._slots_for(variable) for variable in variables]
    for group in _slot_groups(optimizer):
        for per_variable in slots:
            refs.extend(_SlotRef(per_variable, name) for name in group)
    if hasattr(optimizer, "_momentum_product"):  # Nadam
        refs.append(_ScalarStateRef(optimizer, "_momentum_product"))
    return refs


# --- writing -----------------------------------------------------------------------------------


def _host(value: Any) -> np.ndarray:
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    return array if array.flags.c_contiguous else np.array(array, order="C")  # keeps shape ()


def write_weights(model: Any) -> bytes:
    """The model's weights (and its optimizer's state, when compiled) as HDF5 bytes."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for path, obj, variables in walk(model):
            group = handle.require_group(f"{path}/vars" if path else "vars")
            name = getattr(obj, "name", None)
            if isinstance(name, str):
                group.attrs["name"] = name
            for index, variable in enumerate(variables):
                array = _host(variable)
                if array.ndim:
                    group.create_dataset(str(index), data=array, chunks=array.shape,
                                         fletcher32=True)
                else:
                    group.create_dataset(str(index), data=array)
    return buffer.getvalue()


# --- reading -----------------------------------------------------------------------------------


def read_weights(data: bytes, source: str) -> dict[str, list[np.ndarray]]:
    """``{path: [arrays in vars order]}`` from HDF5 bytes; a clear error for a damaged file."""
    import h5py

    found: dict[str, list[np.ndarray]] = {}
    try:
        with h5py.File(io.BytesIO(data), "r") as handle:
            def visit(name: str, item: Any) -> None:
                if isinstance(item, h5py.Group) and name.split("/")[-1] == "vars":
                    path = name[: -len("vars")].rstrip("/")
                    keys = sorted(item.keys(), key=lambda k: int(k) if k.isdigit() else -1)
                    if any(not key.isdigit() for key in keys):
                        raise errors.DataLossError(
                            f"{source}: group {name!r} has datasets {keys}, expected 0, 1, ..."
                        )
                    found[path] = [np.asarray(item[key][()]) for key in keys]

            handle.visititems(visit)
            if "vars" in handle:
                visit("vars", handle["vars"])
    except errors.OpError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise errors.DataLossError(
            f"{source} is damaged or is not a Keras HDF5 weight file: {error}. Re-create it "
            "with model.save / save_weights, or restore it from a backup."
        ) from error
    return found


def apply_weights(model: Any, stored: dict[str, list[np.ndarray]], source: str,
                  skip_mismatch: bool = False, load_optimizer: bool = True) -> None:
    """Assign the arrays read by :func:`read_weights` to the model; everything is checked
    first, so on any error nothing has changed."""
    plan: list[tuple[Any, np.ndarray]] = []
    problems: list[str] = []
    expected_paths: set[str] = set()
    optimizer_path = None
    for path, obj, variables in walk(model):
        from tensorflowish.keras.optimizers import Optimizer

        if isinstance(obj, Optimizer):
            optimizer_path = path
            continue
        expected_paths.add(path)
        arrays = stored.get(path, [])
        if not variables and not arrays:
            continue
        if len(arrays) != len(variables):
            problems.append(
                f"layer at '{path or '/'}' ({getattr(obj, 'name', type(obj).__name__)}) has "
                f"{len(variables)} weights, the file has {len(arrays)} there"
            )
            continue
        for position, (variable, array) in enumerate(zip(variables, arrays)):
            if tuple(array.shape) != tuple(variable.shape):
                message = (f"'{path}' weight {position} "
                           f"({getattr(variable, 'name', '')}) has shape "
                           f"{tuple(variable.shape)} in the model, {tuple(array.shape)} in the "
                           "file")
                if not skip_mismatch:
                    problems.append(message)
                continue
            plan.append((variable, array))
    extra = sorted(path for path, arrays in stored.items()
                   if arrays and path not in expected_paths
                   and not (path == "optimizer" or path.endswith("/optimizer")))
    if extra:
        problems.append(f"the file has weights at {extra} that match no layer of this model")
    if problems:
        raise errors.InvalidArgumentError(
            f"Cannot load weights from {source} into model '{model.name}': "
            + "; ".join(problems)
            + ". Nothing was changed. The architecture in code must match the saved one."
        )
    optimizer_plan = _optimizer_plan(model, stored.get(optimizer_path or "optimizer"), source) \
        if load_optimizer and getattr(model, "optimizer", None) is not None else []
    for variable, array in plan + optimizer_plan:
        _assign(variable, array)


def _optimizer_plan(model: Any, arrays: list | None, source: str) -> list:
    if not arrays or len(arrays) <= 2 and len(arrays) < 2:
        return []
    refs = _optimizer_variables(model.optimizer, model, build=len(arrays) > 2)
    if len(refs) != len(arrays) or any(
        tuple(r.shape) != tuple(a.shape) for r, a in zip(refs, arrays)
    ):
        warnings.warn(
            f"{source}: the optimizer state in the file ({len(arrays)} variables) does not fit "
            f"this model's optimizer ({len(refs)}); the optimizer starts fresh.",
            stacklevel=3,
        )
        return []
    return list(zip(refs, arrays))


def _assign(variable: Any, array: np.ndarray) -> None:
    from tensorflowish.tensor import Variable

    if isinstance(variable, Variable):
        variable.assign(array.astype(variable.dtype.as_numpy_dtype, copy=False))
    else:
        variable.assign(array)
