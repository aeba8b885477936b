"""The object graph a ``tf.train.Checkpoint`` walks: every variable and optimizer slot
reachable from an object, each under its path (the attribute names on the way, TensorFlow's
keys), with the bookkeeping a restore needs (layers not built yet, variables reachable twice,
checkpoints inside). Reading and writing the values is :mod:`tensorflowish.saving.tf_checkpoint`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_UNBUILT = "\0unbuilt"  # object_graph's entry listing the layers not built yet
_ALIASES = "\0aliases"  # ... the second paths of variables reachable twice
_CHECKPOINTS = "\0checkpoints"  # ... the Checkpoint objects inside (for deferred values)


def _bookkeeping(graph: dict) -> tuple[list, dict, list]:
    return graph.pop(_UNBUILT), graph.pop(_ALIASES), graph.pop(_CHECKPOINTS)


# Attributes of layers and models that are bookkeeping, not children to checkpoint.
_SKIPPED = frozenset({
    "_own_weights", "_regularized", "_added_losses", "_structure_cache", "_last_output_shape",
    "compiled_loss", "compiled_metrics", "history", "_callbacks", "_graph_inputs",
    "_graph_outputs", "_name", "_build_input_shape", "_auto_config", "_save_counter",
})  # fmt: skip



class _SlotRef:
    """One optimizer slot array, addressed like a variable."""

    def __init__(self, optimizer: Any, variable: Any, slot: str) -> None:
        self.optimizer, self.variable, self.slot = optimizer, variable, slot

    def value(self) -> np.ndarray:
        from tensorflowish import backend

        return np.asarray(backend.to_numpy(self.optimizer._slots_for(self.variable)[self.slot]))

    def assign(self, array: np.ndarray) -> None:
        from tensorflowish import backend

        slots = self.optimizer._slots_for(self.variable)
        xp = backend.get_array_module(slots[self.slot])
        slots[self.slot] = xp.asarray(array.astype(slots[self.slot].dtype, copy=True))

    @property
    def shape(self) -> tuple:
        return tuple(self.variable.shape)


class _VariableRef:
    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def value(self) -> np.ndarray:
        return np.asarray(self.variable.numpy())

    def assign(self, array: np.ndarray) -> None:
        self.variable.assign(array.astype(self.variable.dtype.as_numpy_dtype, copy=False))

    @property
    def shape(self) -> tuple:
        return tuple(self.variable.shape)


def _children(obj: Any) -> list[tuple[str, Any]]:
    """The named children of a trackable object, in a stable order."""
    from tensorflowish.keras.optimizers import Optimizer
    from tensorflowish.module import Module
    from tensorflowish.saving.tf_checkpoint import Checkpoint

    if isinstance(obj, Checkpoint):
        counter = obj.__dict__.get("_save_counter")  # tracked once made, as in TensorFlow
        return sorted(obj._children.items()) + (
            [("save_counter", counter)] if counter is not None else [])
    if isinstance(obj, dict):
        return [(str(key), obj[key]) for key in sorted(obj, key=str)]
    if isinstance(obj, (list, tuple)):
        return [(str(index), item) for index, item in enumerate(obj)]
    if isinstance(obj, Optimizer):
        found = [("iterations", obj.iterations)]
        if obj._learning_rate_variable is not None and obj._schedule is None:
            found.append(("learning_rate", obj._learning_rate_variable))
        return found
    if isinstance(obj, Module) or hasattr(obj, "__dict__"):
        state = vars(obj)
        return [(key, state[key]) for key in sorted(state) if key not in _SKIPPED]
    return []


def _trackable(value: Any) -> bool:
    from tensorflowish.keras.optimizers import Optimizer
    from tensorflowish.module import Module
    from tensorflowish.saving.tf_checkpoint import Checkpoint
    from tensorflowish.tensor import Variable

    return isinstance(value, (Variable, Module, Optimizer, Checkpoint, list, tuple, dict))


def object_graph(root: Any) -> dict[str, Any]:
    """``{path: reference}`` for every variable (and optimizer slot) reachable from ``root``."""
    from tensorflowish.keras.layers import Layer
    from tensorflowish.keras.optimizers import Optimizer
    from tensorflowish.saving.tf_checkpoint import Checkpoint
    from tensorflowish.tensor import Variable

    found: dict[str, Any] = {}
    variable_paths: dict[int, str] = {}
    visited: set[int] = set()
    optimizers: list[tuple[str, Any]] = []
    layers: list[tuple[str, Any]] = []

    aliases: dict[str, str] = {}
    checkpoints: list[tuple[str, Any]] = []

    def visit(obj: Any, path: str) -> None:
        if isinstance(obj, Variable):
            if id(obj) not in variable_paths:
                variable_paths[id(obj)] = path
                found[path] = _VariableRef(obj)
            else:  # one variable, two paths (a list and a dict holding it): one value
                aliases[path] = variable_paths[id(obj)]
            return
        if id(obj) in visited:
            return
        visited.add(id(obj))
        if isinstance(obj, Checkpoint):
            checkpoints.append((path, obj))
        if isinstance(obj, Optimizer):
            optimizers.append((path, obj))
        if isinstance(obj, Layer):
            layers.append((path, obj))
        for name, child in _children(obj):
            if _trackable(child):
                visit(child, f"{path}/{name}" if path else name)

    visit(root, "")
    found[_UNBUILT] = [(path, layer) for path, layer in layers if not layer.built]
    found[_ALIASES] = aliases
    found[_CHECKPOINTS] = checkpoints
    for path, layer in layers:  # weights made by add_weight but kept in no attribute
        for index, variable in enumerate(layer._own_weights):
            if id(variable) not in variable_paths:
                variable_paths[id(variable)] = f"{path}/.weights/{index}"
                found[f"{path}/.weights/{index}"] = _VariableRef(variable)
    by_id = {id(ref.variable): ref.variable for ref in found.values()
             if isinstance(ref, _VariableRef)}
    for path, optimizer in optimizers:
        for key, (variable, slots) in list(optimizer._slots.items()):
            if key in variable_paths and by_id.get(key) is variable:
                for slot in slots:
                    slot_path = f"{variable_paths[key]}/.OPTIMIZER_SLOT/{path}/{slot}"
                    found[slot_path] = _SlotRef(optimizer, variable, slot)
        for variable_id, variable_path in variable_paths.items():  # slots yet to be created
            variable = by_id.get(variable_id)
            if variable is None or not getattr(variable, "trainable", False):
                continue
            for slot in optimizer._slot_names:
                slot_path = f"{variable_path}/.OPTIMIZER_SLOT/{path}/{slot}"
                found.setdefault(slot_path, _PendingSlot(optimizer, variable, slot))
    return found


class _PendingSlot(_SlotRef):
    """A slot the optimizer has not created yet: restored by creating it (TensorFlow's
    deferred restoration of slot variables); never saved."""
