"""The house's layout: no import cycle between folders, no module over 600 lines without a reason.

Folders depend one way: LAYERS below lists them from the top to the bottom, and a folder imports
only folders on its own line or below it (docs/layout.md says what each holds). A folder not
listed is held only to the first rule.

Where a lower folder must call up (the tape calls ops for a jacobian, a Model's `save` calls
saving, a trace must see Keras's optimizer updates), the upper package hands the lower one what
it needs when it loads (`tensor._ops`, `tape._ops`, `model._saving`, tracing's
`trace_as_stateful`): the lower one never imports it.

The graph is read from the source with `ast`: every import, at module level or inside a function,
relative imports resolved. A package's `__init__.py` counts only by the imports inside its
functions and classes (its module-level imports assemble the public API from the folders);
`__main__.py`, the entry point, does not count. Importing a name from a
package counts as importing the module that defines it (`from tensorflowish.keras.layers import
LSTM` is an import of keras/layers/rnn/), and `import tensorflowish as tf` then `tf.keras.Model`
an import of keras/models/model.py: the package is asked where each name it re-exports comes from.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
import types
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tensorflowish"
# kernels/ is installed as tensorflowish.kernels (pyproject's package-dir).
SOURCES = {PACKAGE: ROOT / "tensorflowish", f"{PACKAGE}.kernels": ROOT / "kernels"}


# Top to bottom; folders on one line may import each other (one way: the cycle test sees to it).
LAYERS = [
    ["tools"],  # the `tensorflowish` command and the benchmarks it runs
    ["saving"],  # .keras files, weights, checkpoints, SavedModel, ONNX
    ["keras.models"],  # Model, Sequential, the functional API
    ["keras.trainers"],  # compile / fit / evaluate / predict
    ["keras.callbacks", "keras.utils"],
    ["keras.layers", "keras.layers.rnn", "keras.layers.attention", "keras.layers.preprocessing"],
    ["keras.metrics", "keras.losses"],
    ["keras"],  # activations, initializers, constraints, regularizers, mixed precision, backend
    ["keras.optimizers"],  # optimisers, learning-rate schedules, LossScaleOptimizer
    ["distribute", "datasets"],
    ["function", "function.lowering"],  # tf.function: tracing, graphs, replay plans
    ["data"],  # tf.data
    ["ops"],  # every op; it installs Tensor's operators
    ["random"],  # seeds and generators (ops draw from them)
    [""],  # the core: backend, dtypes, errors, tensor, tape, autodiff, nest, module, ...
    ["kernels"],  # the fused kernels (kernels/), which know nothing of tensors
]
LEVEL = {f"{PACKAGE}.{folder}".rstrip("."): level
         for level, folders in enumerate(LAYERS) for folder in folders}
LINE_LIMIT = 600
REASON = re.compile(r"over ~?600 lines because \S", re.IGNORECASE)


def modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package __init__)."""
    found = {}
    for prefix, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = (path, is_package)
    return found


MODULES = modules()


def folder_of(name: str) -> str:
    """The folder a module lives in (a package's __init__ lives in its own folder)."""
    return name if MODULES[name][1] else name.rpartition(".")[0]


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _absolute(package: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _parse(name: str) -> tuple[ast.Module, str, str]:
    path, is_package = MODULES[name]
    source = path.read_text()
    return ast.parse(source), source, name if is_package else name.rpartition(".")[0]


def _home(package: str, names: tuple[str, ...]) -> str:
    """The module that `package.names[0].names[1]...` comes from: a submodule by its path, a
    name a package's __init__ re-exports (or makes, like the registry's tf.* ops) by the module
    that defines it (asked of the imported package: the __init__ may build names in a loop)."""
    current, value = package, importlib.import_module(package)
    for name in names:
        if f"{current}.{name}" in MODULES:
            current = f"{current}.{name}"
            value = importlib.import_module(current)
            continue
        value = getattr(value, name, None)
        if isinstance(value, types.ModuleType):  # a namespace made in an __init__ (tf.nn)
            if value.__name__ in MODULES:
                current = value.__name__
            continue
        home = getattr(value, "__module__", None)
        if not isinstance(home, str):
            home = type(value).__module__
        return home if home in MODULES else current
    return current


def _through_packages(target: str, names: list[str]) -> list[str]:
    resolved = _resolve(target)
    if resolved is None:
        return []
    if not MODULES[resolved][1] or not names:
        return [resolved]
    return [_home(resolved, tuple(names))]


def _attribute_chain(node: ast.Attribute) -> tuple[str, list[str]] | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return (node.id, names[::-1]) if isinstance(node, ast.Name) else None


def imports_of(name: str, in_functions_only: bool = False) -> list[tuple[str, int, str]]:
    """(imported module, line, source text) for every import in the module, at any depth
    (function-level imports too), relative imports resolved. Importing a package counts as
    importing what the module uses from it: `from tensorflowish.keras.layers import LSTM` is an
    import of keras/layers/rnn/lstm.py, and `import tensorflowish as tf` then `tf.keras.Model`
    an import of keras/models/model.py. With `in_functions_only`, only the import statements
    inside functions and classes."""
    tree, source, package = _parse(name)
    source_lines = source.splitlines()
    packages: dict[str, tuple[str, int, str]] = {}  # local alias of a package -> (package, ...)
    found = []
    nested = {id(inner) for node in tree.body
              if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
              for inner in ast.walk(node)} if in_functions_only else set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if in_functions_only and id(node) not in nested:
            continue
        text = source_lines[node.lineno - 1].strip()
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolved = _resolve(alias.name)
                if resolved is None:
                    continue
                if MODULES[resolved][1] and resolved == alias.name:
                    local = alias.asname or alias.name
                    packages[local] = (resolved, node.lineno, text)
                else:
                    found.append((resolved, node.lineno, text))
            continue
        base = _absolute(package, node)
        for alias in node.names:
            for target in _through_packages(base, [alias.name]):
                if MODULES[target][1] and target == f"{base}.{alias.name}":
                    packages[alias.asname or alias.name] = (target, node.lineno, text)
                found.append((target, node.lineno, text))
    if packages and not in_functions_only:
        inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        for node in ast.walk(tree):
            if id(node) in inner:
                continue
            chain = isinstance(node, ast.Attribute) and _attribute_chain(node)
            if chain and chain[0] in packages:
                package_name, line, text = packages[chain[0]]
                for target in _through_packages(package_name, chain[1]):
                    found.append((target, line, f"{text}  (uses {chain[0]}.{'.'.join(chain[1])})"))
    return found


@functools.cache
def folder_graph() -> dict[tuple[str, str], list[str]]:
    """(folder, folder it imports) -> the import lines that make the edge."""
    edges = defaultdict(list)
    for name, (path, _) in MODULES.items():
        if path.name == "__main__.py":
            continue
        for target, line, text in imports_of(name, in_functions_only=path.name == "__init__.py"):
            a, b = folder_of(name), folder_of(target)
            if a != b:
                edges[(a, b)].append(f"{path.relative_to(ROOT)}:{line}: {text}")
    return edges


def cycles(edges) -> list[list[str]]:
    """The strongly connected components of more than one folder (Tarjan's algorithm)."""
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(set(graph) | {b for _, b in edges}):
        if node not in index:
            visit(node)
    return result


def describe(component: list[str], edges) -> str:
    lines = [f"import cycle between the folders {', '.join(component)}:"]
    for (a, b), where in sorted(edges.items()):
        if a in component and b in component:
            lines.append(f"  {a} -> {b}")
            lines += [f"      {line}" for line in sorted(set(where))[:6]]
            if len(set(where)) > 6:
                lines.append(f"      ... and {len(set(where)) - 6} more")
    return "\n".join(lines)


def test_no_import_cycle_between_folders():
    edges = folder_graph()
    found = cycles(edges)
    assert not found, (
        "Folders must depend one way (see this test's docstring and docs/layout.md). Move the "
        "code to the folder it belongs to, or let the upper package hand the lower one what it "
        "needs when it loads.\n" + "\n".join(describe(c, edges) for c in found))


def test_folders_depend_in_the_documented_order():
    upward = [f"{a} -> {b}\n" + "\n".join(f"      {line}" for line in sorted(set(lines))[:6])
              for (a, b), lines in sorted(folder_graph().items())
              if a in LEVEL and b in LEVEL and LEVEL[b] < LEVEL[a]]
    assert not upward, (
        "These imports go up the layers (LAYERS in tests/test_layout.py, docs/layout.md): move "
        "the code down, or let the upper package hand the lower one what it needs when it "
        "loads:\n" + "\n".join(upward))


def test_the_cycle_finder_finds_cycles():
    edges = {("a", "b"): ["a.py:1"], ("b", "c"): ["b.py:1"], ("c", "a"): ["c.py:1"],
             ("c", "d"): ["c.py:2"], ("d", "e"): ["d.py:1"]}
    assert cycles(edges) == [["a", "b", "c"]]
    message = describe(["a", "b", "c"], edges)
    assert "a -> b" in message and "c.py:1" in message and "d.py" not in message
    assert cycles({("a", "b"): [], ("b", "c"): []}) == []


def test_imports_are_read_at_every_depth_and_through_packages():
    """The graph sees function-level imports, relative ones, and what `tf.` names point to."""
    targets = {target for target, _, _ in imports_of("tensorflowish.tools.bench")}
    assert "tensorflowish.keras.optimizers.sgd" in targets  # tf.keras.optimizers.SGD, in a function
    assert "tensorflowish.backend" in targets  # from .. import backend
    targets = {target for target, _, _ in imports_of("tensorflowish.keras.layers.core")}
    assert "tensorflowish.ops.nn" in targets  # tf.nn.dense: a name the package makes in a loop
    assert folder_of("tensorflowish.keras.layers") == "tensorflowish.keras.layers"
    assert folder_of("tensorflowish.keras.layers.core") == "tensorflowish.keras.layers"
def test_no_module_over_600_lines_without_a_reason():
    """A module past 600 lines (the package's, the tests', the benchmarks', the examples') is
    split by what it holds, or says at its top why it is not ("Over 600 lines because ..." in
    its first 15 lines)."""
    too_long = []
    folders = ("tensorflowish", "kernels", "tests", "benchmarks", "examples", "scripts", "docs")
    for path in sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py")):
        lines = path.read_text().splitlines()
        if len(lines) > LINE_LIMIT and not REASON.search("\n".join(lines[:15])):
            too_long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
    assert not too_long, ("Split these modules by what they hold, or write at their top why "
                          "they are one (\"Over 600 lines because ...\"):\n" + "\n".join(too_long))


def test_the_reason_must_be_written_out():
    assert REASON.search("Over 600 lines because Layer is one class")
    assert not REASON.search("This module has over 600 lines.")


def test_the_upper_packages_hand_down_what_the_lower_ones_call():
    """The inversions of docs/layout.md are in place once `tensorflowish` is imported."""
    import tensorflowish as tf
    from tensorflowish import ops, saving, tape, tensor
    from tensorflowish.function import plan, tracing
    from tensorflowish.keras.layers import layer
    from tensorflowish.keras.models import model, sequential

    assert tensor._ops is ops and tape._ops is ops
    assert layer._saving is saving and model._saving is saving and sequential._saving is saving
    assert (tf.keras.layers.Layer, ("add_weight", "add_variable"), False) in \
        tracing._LIFTED_METHODS
    assert {base for base, _, _ in tracing._STATEFUL_METHODS} == {
        tf.keras.optimizers.Optimizer, tf.keras.metrics.Metric}
    assert (tf.distribute, "allreduce_gradients") in \
        [(owner, name) for owner, name, _ in tracing._STATEFUL_FUNCTIONS]
    assert plan._UPDATE_LOWERINGS
    assert tf.constant([1.0]).cpu().numpy().tolist() == [1.0]  # Tensor.cpu through tensor._ops
