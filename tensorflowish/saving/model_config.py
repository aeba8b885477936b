"""Layers and models to and from Keras 3 configs: Sequential, Functional, subclassed.

A layer's config is its ``get_config()`` (constructor arguments), written with the Keras module
of its class and a ``build_config`` holding the input shape it was built for. Sequential and
functional models are written the way Keras 3 writes them (an ``InputLayer`` with
``batch_shape``; per-layer ``inbound_nodes`` referencing ``__keras_tensor__`` entries by
``keras_history``), so either side loads the other's files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tensorflowish import errors
from tensorflowish.saving import serialization_lib

__all__ = ["deserialize_layer", "functional_layer_order", "is_functional", "serialize_layer"]


def _models():
    from tensorflowish.keras import models

    return models


def is_functional(layer: Any) -> bool:
    """A model made by ``Model(inputs, outputs)`` (Keras's Functional)."""
    models = _models()
    return isinstance(layer, models.Model) and getattr(layer, "_graph_outputs", None) is not None


def _is_sequential(layer: Any) -> bool:
    return isinstance(layer, _models().Sequential)


# --- writing -----------------------------------------------------------------------------------


def _shape_list(shape: Any) -> Any:
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_shape_list(s) for s in shape]
    if hasattr(shape, "as_list"):
        try:
            return shape.as_list()
        except ValueError:
            return None
    return [None if d is None else int(d) for d in shape]


def serialize_layer(layer: Any) -> dict:
    """A layer or model as Keras 3 writes it (``build_config`` included)."""
    if _is_sequential(layer) and type(layer) is _models().Sequential:
        config = _sequential_config(layer)
    elif is_functional(layer) and type(layer) is _models().Model:
        return {
            "module": "keras.src.models.functional", "class_name": "Functional",
            "config": _functional_config(layer), "registered_name": "Functional",
            "build_config": {"input_shape": None},
        }  # fmt: skip
    else:
        config = layer.get_config()
        config.pop("batch_input_shape", None)  # Keras 3 writes the input as an InputLayer
    result = serialization_lib.serialize_with_class(layer, config)
    from tensorflowish.keras.layers import InputLayer

    inner = result["config"]
    if isinstance(inner.get("dtype"), str) and not isinstance(layer, InputLayer):
        inner["dtype"] = serialization_lib._dtype_policy(inner["dtype"])
    shape = getattr(layer, "_build_input_shape", None)
    if shape is not None:
        result["build_config"] = {"input_shape": _shape_list(shape)}
    return result


def _input_layer_config(batch_shape: Any, dtype: str, name: str) -> dict:
    return {
        "module": "keras.layers", "class_name": "InputLayer",
        "config": {"batch_shape": _shape_list(batch_shape), "dtype": dtype, "sparse": False,
                   "ragged": False, "name": name, "optional": False},
        "registered_name": None,
    }  # fmt: skip


def _sequential_config(model: Any) -> dict:
    layers = []
    spec = model._input_spec
    if spec is not None:
        dtype = model._input_dtype or model.dtype
        dtype = getattr(dtype, "name", dtype)
        first = model._layers[0] if model._layers else None
        from tensorflowish.keras.layers import InputLayer

        name = first.name if isinstance(first, InputLayer) else "input_layer"
        layers.append(_input_layer_config(spec, dtype, name))
    layers.extend(serialize_layer(layer) for layer in model.layers)
    config = {
        "name": model.name, "trainable": model.trainable,
        "dtype": serialization_lib._dtype_policy(model.dtype), "layers": layers,
    }  # fmt: skip
    if spec is not None:
        config["build_input_shape"] = _shape_list(spec)
    return config


class InputPlaceholder:
    """Stands for one ``tf.keras.Input`` in Keras's list of a functional model's layers (Keras
    makes each an ``InputLayer``, which owns no weights but takes a name and a position)."""

    def __init__(self, symbol: Any, name: str) -> None:
        self.symbol, self.name = symbol, name

    __name__ = "InputLayer"


def _flatten(structure: Any) -> list:
    if isinstance(structure, (list, tuple)):
        return [item for value in structure for item in _flatten(value)]
    if isinstance(structure, dict):
        return [item for key in structure for item in _flatten(structure[key])]
    return [structure]


def _symbols(structure: Any) -> list:
    from tensorflowish.keras.layers import KerasInput

    return [s for s in _flatten(structure) if isinstance(s, KerasInput)]


def node_parents(node: Any) -> list:
    """The symbolic tensors a recorded call consumed: its inputs, then any in its further
    arguments (``attention(query, value)``)."""
    return _symbols([node.inputs, list(node.args), node.kwargs])


def _input_names(model: Any) -> dict[int, str]:
    """A unique name for each model input, as Keras names InputLayers."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for symbol in _symbols(model._graph_inputs):
        name = symbol.name
        if not name or name in used:
            base, k = "input_layer", 0
            name = base
            while name in used:
                k += 1
                name = f"{base}_{k}"
        used.add(name)
        names[id(symbol)] = name
    return names


def functional_layer_order(model: Any) -> tuple[list, dict, dict]:
    """Keras's order of a functional model's layers (its ``map_graph``: deepest first, ties by
    first visit), with an InputPlaceholder per input; also each node's index within its layer
    and each input's name."""
    input_names = _input_names(model)
    placeholders = {id(s): InputPlaceholder(s, input_names[id(s)])
                    for s in _symbols(model._graph_inputs)}
    finished: set = set()
    ordered_nodes: list = []
    indices: dict = {}
    node_key = {}

    def operation_of(symbol: Any) -> Any:
        return symbol.node.layer if symbol.node is not None else placeholders[id(symbol)]

    def key_of(symbol: Any) -> Any:
        return id(symbol.node) if symbol.node is not None else ("input", id(symbol))

    def visit(symbol: Any) -> None:
        key = key_of(symbol)
        if key in finished:
            return
        operation = operation_of(symbol)
        indices.setdefault(id(operation), (len(indices), operation))
        if symbol.node is not None:
            for parent in node_parents(symbol.node):
                visit(parent)
        finished.add(key)
        node_key[key] = symbol
        ordered_nodes.append(key)

    for output in _symbols(model._graph_outputs):
        visit(output)
    node_depth: dict = {}
    operation_depth: dict = {}
    for key in reversed(ordered_nodes):
        symbol = node_key[key]
        operation = operation_of(symbol)
        depth = max(node_depth.setdefault(key, 0), operation_depth.get(id(operation), 0))
        operation_depth[id(operation)] = depth
        node_depth[key] = depth
        if symbol.node is not None:
            for parent in node_parents(symbol.node):
                parent_key = key_of(parent)
                node_depth[parent_key] = max(depth + 1, node_depth.get(parent_key, 0))
    for symbol in _symbols(model._graph_inputs):  # inputs the outputs do not use
        placeholder = placeholders[id(symbol)]
        if id(placeholder) not in operation_depth:
            operation_depth[id(placeholder)] = 0
            indices[id(placeholder)] = (-1, placeholder)
    operations = sorted(
        (operation for _, operation in indices.values()),
        key=lambda op: (-operation_depth[id(op)], indices[id(op)][0]),
    )
    node_index: dict = {}
    counts: dict = {}
    for key in ordered_nodes:
        symbol = node_key[key]
        if symbol.node is not None and id(symbol.node) not in node_index:
            layer_id = id(symbol.node.layer)
            node_index[id(symbol.node)] = counts.get(layer_id, 0)
            counts[layer_id] = counts.get(layer_id, 0) + 1
    return operations, node_index, input_names


def _functional_config(model: Any) -> dict:
    operations, node_index, input_names = functional_layer_order(model)

    def history(symbol: Any) -> list:
        if symbol.node is None:
            return [input_names[id(symbol)], 0, 0]
        return [symbol.node.layer.name, node_index[id(symbol.node)], symbol.index or 0]

    def tensor(symbol: Any) -> dict:
        return {"class_name": "__keras_tensor__",
                "config": {"shape": _shape_list(symbol.shape), "dtype": symbol.dtype.name,
                           "keras_history": history(symbol)}}

    def structure(value: Any, leaf: Any) -> Any:
        from tensorflowish.keras.layers import KerasInput

        if isinstance(value, KerasInput):
            return leaf(value)
        if isinstance(value, (list, tuple)):
            return [structure(v, leaf) for v in value]
        if isinstance(value, dict):
            return {k: structure(v, leaf) for k, v in value.items()}
        return serialization_lib.serialize_keras_object(value)

    nodes_of: dict = {}
    for symbol in _all_nodes(model):
        nodes_of.setdefault(id(symbol.node.layer), {})[id(symbol.node)] = symbol.node
    layers = []
    for operation in operations:
        if isinstance(operation, InputPlaceholder):
            entry = _input_layer_config(operation.symbol.shape, operation.symbol.dtype.name,
                                        operation.name)
            entry.update(name=operation.name, inbound_nodes=[])
            layers.append(entry)
            continue
        entry = serialize_layer(operation)
        nodes = sorted(nodes_of.get(id(operation), {}).values(), key=lambda n: node_index[id(n)])
        entry["name"] = operation.name
        entry["inbound_nodes"] = [
            {"args": [structure(node.inputs, tensor), *structure(list(node.args), tensor)],
             "kwargs": structure(dict(node.kwargs), tensor)}
            for node in nodes
        ]
        layers.append(entry)
    return {
        "name": model.name, "trainable": model.trainable, "layers": layers,
        "input_layers": structure(model._graph_inputs, history),
        "output_layers": structure(model._graph_outputs, history),
    }  # fmt: skip


def _all_nodes(model: Any) -> list:
    """One symbol per recorded layer call between the model's inputs and outputs."""
    seen: set = set()
    found: list = []

    def visit(symbol: Any) -> None:
        if symbol.node is None or id(symbol.node) in seen:
            return
        seen.add(id(symbol.node))
        found.append(symbol)
        for parent in node_parents(symbol.node):
            visit(parent)

    for output in _symbols(model._graph_outputs):
        visit(output)
    return found


# --- reading -----------------------------------------------------------------------------------


def _inner(config: Mapping, custom_objects: Any) -> dict:
    return {key: serialization_lib._deserialize(value, custom_objects)
            for key, value in config.items()}


def build_layer(layer: Any, input_shape: Any) -> None:
    """Create a layer's weights for ``input_shape`` (Keras's ``build_from_config``)."""
    if layer.built and (layer.weights or input_shape is None):
        return
    if input_shape is None:
        return
    models = _models()
    if isinstance(layer, models.Model):
        layer.build(tuple(input_shape))
        return
    shape = [tuple(s) for s in input_shape] if input_shape and isinstance(
        input_shape[0], (list, tuple)) else tuple(input_shape)
    layer.build(shape)
    layer.built = True
    object.__setattr__(layer, "_build_input_shape", shape)


def deserialize_layer(config: Mapping, cls: type, custom_objects: Any) -> Any:
    """A layer or model from its Keras config (built when the config says how)."""
    from tensorflowish.keras.layers import InputLayer

    models = _models()
    inner = config["config"]
    if config.get("class_name") == "Functional" or (
        cls is models.Model and "input_layers" in inner
    ):
        return _functional_from_config(inner, custom_objects)
    if cls is models.Sequential:
        return _sequential_from_config(inner, custom_objects)
    if cls is InputLayer:
        return _input_layer(inner)
    arguments = _inner(inner, custom_objects)
    layer = serialization_lib.instantiate(cls, arguments)
    build = config.get("build_config") or {}
    if build.get("input_shape") is not None:
        build_layer(layer, build["input_shape"])
    return layer


def _input_layer(inner: Mapping) -> Any:
    from tensorflowish.keras.layers import InputLayer

    shape = inner.get("batch_shape") or inner.get("batch_input_shape")
    for key, neutral in (("sparse", False), ("ragged", False), ("optional", False)):
        if inner.get(key, neutral) != neutral:
            raise errors.UnimplementedError(f"InputLayer({key}=True) is not supported here.")
    return InputLayer(batch_input_shape=tuple(shape), dtype=inner.get("dtype"),
                      name=inner.get("name"))


def _sequential_from_config(inner: Mapping, custom_objects: Any) -> Any:
    from tensorflowish.keras.layers import InputLayer

    models = _models()
    layers = [serialization_lib._deserialize(entry, custom_objects) for entry in inner["layers"]]
    model = models.Sequential(name=inner.get("name"))
    for layer in layers:
        model.add(layer)
    shape = inner.get("build_input_shape")
    if not model.built and shape is not None and not isinstance(layers[0], InputLayer):
        model.build(tuple(shape))
    if inner.get("trainable") is False:
        model.trainable = False
    return model


def _functional_from_config(inner: Mapping, custom_objects: Any) -> Any:
    from tensorflowish.keras.layers import Input

    models = _models()
    created: dict[str, Any] = {}
    outputs: dict[tuple, Any] = {}
    pending: list = []
    for entry in inner["layers"]:
        name = entry.get("name") or entry["config"]["name"]
        if entry.get("class_name") == "InputLayer":
            spec = entry["config"]
            shape = spec.get("batch_shape") or spec.get("batch_input_shape")
            outputs[(name, 0)] = Input(shape=tuple(shape[1:]), batch_size=shape[0],
                                       name=name, dtype=spec.get("dtype"))
            continue
        layer = serialization_lib._deserialize(entry, custom_objects)
        created[name] = layer
        pending.extend((name, node) for node in entry.get("inbound_nodes", []))
    calls: dict[str, int] = {}

    def ready(value: Any) -> bool:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, index, _ = value["config"]["keras_history"]
            return (name, index) in outputs
        if isinstance(value, dict):
            return all(ready(v) for v in value.values())
        if isinstance(value, list):
            return all(ready(v) for v in value)
        return True

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, index, tensor_index = value["config"]["keras_history"]
            result = outputs[(name, index)]
            return result[tensor_index] if isinstance(result, (list, tuple)) else result
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            return serialization_lib._deserialize(value, custom_objects)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    while pending:
        progress = False
        for item in list(pending):
            name, node = item
            if not ready(node):
                continue
            args = resolve(node.get("args", []))
            kwargs = {k: v for k, v in resolve(node.get("kwargs", {})).items() if v is not None}
            index = calls.get(name, 0)
            outputs[(name, index)] = created[name](*args, **kwargs)
            calls[name] = index + 1
            pending.remove(item)
            progress = True
        if not progress:
            missing = sorted({n for n, _ in pending})
            raise errors.InvalidArgumentError(
                f"The functional model's config cannot be connected: the calls of layers "
                f"{missing} refer to layers or nodes that the config does not define."
            )

    def endpoints(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            name, index, tensor_index = value
            result = outputs[(name, index)]
            return result[tensor_index] if isinstance(result, (list, tuple)) else result
        if isinstance(value, dict):
            return {k: endpoints(v) for k, v in value.items()}
        return [endpoints(v) for v in value]

    model = models.Model(endpoints(inner["input_layers"]), endpoints(inner["output_layers"]),
                         name=inner.get("name"))
    if inner.get("trainable") is False:
        model.trainable = False
    return model
