"""The functional API: ``Model(inputs, outputs)`` turns recorded layer calls into a graph,
and runs it."""

from __future__ import annotations

from typing import Any

from tensorflowish.keras.layers import KerasInput, map_symbolic
from tensorflowish.keras.layers.keras_tensor import flatten_symbols


def _bind_inputs(symbols: Any, values: Any) -> dict:
    """Match the actual inputs to the model's symbolic inputs (same structure)."""
    if isinstance(symbols, KerasInput):
        return {id(symbols): values}
    if isinstance(symbols, dict):
        if not isinstance(values, dict) or set(values) != set(symbols):
            raise ValueError(f"The model expects a dict of inputs with keys {sorted(symbols)}.")
        bound: dict = {}
        for key, symbol in symbols.items():
            bound.update(_bind_inputs(symbol, values[key]))
        return bound
    if not isinstance(values, (list, tuple)) or len(values) != len(symbols):
        raise ValueError(
            f"The model has {len(symbols)} inputs; call it with a list of {len(symbols)} tensors."
        )
    bound = {}
    for symbol, value in zip(symbols, values):
        bound.update(_bind_inputs(symbol, value))
    return bound


def init_graph(model: Any, inputs: Any, outputs: Any) -> None:
    """Model(inputs, outputs): collect the layers between symbolic inputs and outputs."""
    if inputs is None or outputs is None:
        raise ValueError("The functional API needs both inputs= and outputs=.")
    sources = flatten_symbols(inputs, "inputs")
    for source in sources:
        if source.node is not None:
            raise ValueError(
                "Model inputs must come straight from tf.keras.Input(...), not from a layer."
            )
    targets = flatten_symbols(outputs, "outputs")
    source_ids = {id(s) for s in sources}
    layers: list = []
    visited: set = set()

    def visit(symbol: KerasInput) -> None:
        if symbol.node is None:
            if id(symbol) not in source_ids:
                raise ValueError(
                    f"The outputs depend on an input {symbol!r} that is not in Model(inputs="
                    "...); list every tf.keras.Input the outputs are computed from."
                )
            return
        node = symbol.node
        if id(node) in visited:
            return
        visited.add(id(node))
        for parent in flatten_symbols([node.inputs, node.args, node.kwargs], None):
            visit(parent)
        if all(layer is not node.layer for layer in layers):
            layers.append(node.layer)

    for target in targets:
        visit(target)
    model._graph_inputs, model._graph_outputs = inputs, outputs
    model._graph_layers = layers
    model.built = True


def run_graph(model: Any, inputs: Any, training: bool | None) -> Any:
    bound = _bind_inputs(model._graph_inputs, inputs)
    results: dict[int, Any] = {}

    def evaluate(symbol: KerasInput) -> Any:
        if symbol.node is None:
            return bound[id(symbol)]
        node = symbol.node
        if id(node) not in results:
            actual = map_symbolic(evaluate, node.inputs)
            kwargs = map_symbolic(evaluate, dict(node.kwargs))
            if training is not None:
                kwargs["training"] = training
            results[id(node)] = node.layer(actual, *map_symbolic(evaluate, node.args), **kwargs)
        output = results[id(node)]
        return output if symbol.index is None else output[symbol.index]

    return map_symbolic(evaluate, model._graph_outputs)
