"""`ConcreteFunction.graph.as_graph_def()`: a traced graph listed as TensorFlow lists a GraphDef.

This is a read-only summary, not TensorFlow's protocol buffer: one node per input
(`Placeholder`), per captured value (`Const`, or `VarHandleOp` for a variable), per graph line
(its op name; a `cond`, `switch_case`, `while_loop` or dataset loop is one node, as TensorFlow
keeps branches and loop bodies in functions of its library) and per output (`Identity`), each
with `name`, `op` and `input` (the names of the nodes it reads, `name:i` for the i-th output of
a node with several). Counting the nodes shows what a trace unrolled.
"""

from __future__ import annotations

import dataclasses

from .graph import Graph, Slot, flatten


@dataclasses.dataclass
class NodeDef:
    """One node: its unique name, its op and the nodes it reads."""

    name: str
    op: str
    input: list[str]

    def __str__(self) -> str:
        inputs = "".join(f'\n  input: "{name}"' for name in self.input)
        return f'node {{\n  name: "{self.name}"\n  op: "{self.op}"{inputs}\n}}'


@dataclasses.dataclass
class GraphDef:
    """The nodes of a traced graph (`node`), in execution order."""

    node: list[NodeDef]

    def __str__(self) -> str:
        return "\n".join(str(node) for node in self.node)


def as_graph_def(graph: Graph) -> GraphDef:
    """The GraphDef-like listing of `graph` (see the module's docstring)."""
    names: dict[str, int] = {}
    producers: dict[int, str] = {}  # slot -> "node" or "node:i"

    def unique(base: str) -> str:
        count = names.get(base, 0)
        names[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def reads(arguments) -> list[str]:
        leaves: list = []
        flatten(arguments, leaves)
        return [producers[leaf.index] for leaf in leaves
                if isinstance(leaf, Slot) and leaf.index in producers]

    nodes = []
    for slot, name in zip(graph.input_slots, graph.input_names):
        if slot not in producers:
            node = NodeDef(unique(name), "Placeholder", [])
            producers[slot] = node.name
            nodes.append(node)
    for slot, value in graph.captures:
        is_variable = hasattr(value, "assign")
        node = NodeDef(unique("ReadVariableOp" if is_variable else "Const"),
                       "VarHandleOp" if is_variable else "Const", [])
        producers[slot] = node.name
        nodes.append(node)
    for call in graph.calls:
        node = NodeDef(unique(call.name), call.name, reads([call.args, call.kwargs]))
        nodes.append(node)
        many = len(call.output_slots) > 1
        for index, slot in enumerate(call.output_slots):
            producers[slot] = f"{node.name}:{index}" if many else node.name
    outputs: list = []
    flatten(graph.output_template, outputs)
    for leaf in outputs:
        if isinstance(leaf, Slot) and leaf.index in producers:
            nodes.append(NodeDef(unique("Identity"), "Identity", [producers[leaf.index]]))
    return GraphDef(nodes)
