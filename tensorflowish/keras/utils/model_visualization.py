"""``keras.utils.plot_model`` / ``model_to_dot``: the model's layers as a Graphviz graph.

The graph is built with pydot (the ``graphviz`` extra); rendering it to PNG/SVG/PDF needs
Graphviz's ``dot`` program on the PATH. A ``.dot`` file is the graph's source and needs no
Graphviz.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

__all__ = ["model_to_dot", "plot_model"]


def _pydot() -> Any:
    try:
        import pydot
    except ImportError as error:
        raise ImportError(
            "You must install pydot (`pip install pydot`, or the extra: pip install "
            '"tensorflowish[graphviz]") for `plot_model` to work.'
        ) from error
    return pydot


def _check_graphviz(pydot: Any) -> None:
    try:
        pydot.Dot.create(pydot.Dot())
    except (OSError, Exception) as error:  # noqa: BLE001 - pydot raises several kinds
        raise ImportError(
            "You must install graphviz (its `dot` program: e.g. `apt-get install graphviz`; see "
            "https://graphviz.gitlab.io/download/) for `plot_model` to render an image; or save "
            f"the graph's source with to_file='model.dot'. ({error})"
        ) from None


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _label(layer: Any, show_shapes: bool, show_dtype: bool, show_layer_names: bool,
           show_layer_activations: bool, show_trainable: bool, shapes: Any) -> str:
    kind = type(layer).__name__
    lines = [f"{layer.name} ({kind})" if show_layer_names else kind]
    activation = getattr(layer, "activation", None)
    if show_layer_activations and activation is not None:
        lines.append(f"activation: {getattr(activation, '__name__', activation)}")
    if show_dtype:
        lines.append(f"dtype: {getattr(layer, 'dtype', '?')}")
    if show_shapes:
        lines.append(f"output: {_shape_text(shapes)}")
    if show_trainable:
        lines.append(f"trainable: {getattr(layer, 'trainable', True)}")
    return "\\n".join(lines)


def _graph(model: Any) -> tuple[list, list]:
    """``(nodes, edges)``: nodes are (key, layer-or-input, output shape), edges key pairs."""
    from tensorflowish.keras.layers.keras_tensor import KerasInput, flatten_symbols

    nodes: list = []
    edges: list = []
    if getattr(model, "_graph_outputs", None) is not None:  # functional (or a built Sequential)
        seen: dict[int, str] = {}

        def visit(symbol: KerasInput) -> str:
            holder = symbol.node if symbol.node is not None else symbol
            if id(holder) in seen:
                return seen[id(holder)]
            if symbol.node is None:
                key = f"input_{len(seen)}"
                seen[id(holder)] = key
                nodes.append((key, _InputStandIn(symbol), tuple(symbol.shape)))
                return key
            parents = [visit(p) for p in flatten_symbols(
                [symbol.node.inputs, symbol.node.args, symbol.node.kwargs], None)]
            key = f"layer_{len(seen)}"
            seen[id(holder)] = key
            nodes.append((key, symbol.node.layer, tuple(symbol.shape)))
            edges.extend((parent, key) for parent in parents)
            return key

        for output in flatten_symbols(model._graph_outputs, None):
            visit(output)
        return nodes, edges
    previous = None
    for index, layer in enumerate(getattr(model, "layers", [])):
        key = f"layer_{index}"
        nodes.append((key, layer, getattr(layer, "output_shape", None)))
        if previous is not None and type(model).__name__ == "Sequential":
            edges.append((previous, key))
        previous = key
    return nodes, edges


class _InputStandIn:
    """An Input symbol shown as Keras shows it: an InputLayer."""

    def __init__(self, symbol: Any) -> None:
        self.name = symbol.name or "input_layer"
        self.dtype = getattr(symbol.dtype, "name", symbol.dtype)


_InputStandIn.__name__ = "InputLayer"


def model_to_dot(
    model: Any,
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    subgraph: bool = False,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    **kwargs: Any,
) -> Any:
    """A ``pydot.Dot`` graph of the model: one box per layer, arrows along the data flow."""
    pydot = _pydot()
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, dpi=str(dpi))
    dot.set_node_defaults(shape="record")
    nodes, edges = _graph(model)
    for key, layer, shapes in nodes:
        label = _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations,
                       show_trainable, shapes)  # fmt: skip
        dot.add_node(pydot.Node(key, label=label))
    for source, target in edges:
        dot.add_edge(pydot.Edge(source, target))
    return dot


def plot_model(
    model: Any,
    to_file: str = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    **kwargs: Any,
) -> Any:
    """Draw the model to ``to_file`` (format from its extension: png, svg, pdf, ... or dot).

    Needs pydot; every format but ``.dot`` also needs Graphviz's ``dot`` program (a clear
    ImportError says which is missing). The file is written atomically.
    """
    pydot = _pydot()
    extension = os.path.splitext(os.fspath(to_file))[1].lstrip(".").lower() or "png"
    if extension != "dot":
        _check_graphviz(pydot)
    dot = model_to_dot(
        model, show_shapes=show_shapes, show_dtype=show_dtype,
        show_layer_names=show_layer_names, rankdir=rankdir, expand_nested=expand_nested,
        dpi=dpi, show_layer_activations=show_layer_activations, show_trainable=show_trainable,
    )  # fmt: skip
    target = os.fspath(to_file)
    directory = os.path.dirname(os.path.abspath(target))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".plot-", suffix=f".{extension}")
    os.close(handle)
    try:
        if extension == "dot":
            with open(temporary, "w", encoding="utf-8") as stream:
                stream.write(dot.to_string())
        else:
            dot.write(temporary, format=extension)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return None
