"""AutoGraph: `if` and `while` statements on tensor conditions become tf.cond / tf.while_loop.

The function's source is parsed, and each `if` and `while` statement is rewritten into calls of
`if_stmt` / `while_stmt` below, with the statement's branches (or condition and body) as inner
functions that take and return the variables the statement assigns. At run time a condition that
is a traced tensor builds a `tf.cond` / `tf.while_loop`; any other condition runs as Python, so
Python conditions stay Python, as in TensorFlow.

Not converted (left as Python, so a tensor condition there raises the error naming the line):
statements containing `return`, `break` or `continue`, `while ... else`, `for` loops, and
functions whose source is unavailable (lambdas, the REPL) or that use `super()`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types

from ..tensor import Tensor
from . import tracing
from .graph import Composite

_RUNTIME = "__autograph__"


class Undefined:
    """The value of a variable a converted statement assigns before it has any value."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<undefined {self.name}>"


def load(scope: dict, names: tuple) -> tuple:
    """The current values of `names` in `scope` (a `locals()`), Undefined where unbound."""
    return tuple(scope[name] if name in scope else Undefined(name) for name in names)


def _tensor_condition(value) -> bool:
    tracer = tracing.current()
    return tracer is not None and tracer.depth == 0 and isinstance(value, tracing.TracedTensor)


def _check_defined(values, names, what: str, line: int) -> None:
    for name, value in zip(names, values):
        if isinstance(value, Undefined):
            raise ValueError(f"tf.function (AutoGraph): `{name}` must have a value before the "
                             f"{what} at line {line} and in every branch of it, because the "
                             "statement depends on a tensor and becomes graph control flow. "
                             f"Give `{name}` a value before the statement.")


def if_stmt(condition, true_fn, false_fn, values: tuple, names: tuple, line: int):
    """`if condition:` as converted by AutoGraph."""
    if not _tensor_condition(condition):
        return true_fn(*values) if condition else false_fn(*values)
    from .control_flow import cond

    result = cond(condition, lambda: true_fn(*values), lambda: false_fn(*values))
    _check_defined(result, names, "`if` statement", line)
    return result


def while_stmt(condition_fn, body_fn, values: tuple, names: tuple, line: int):
    """`while condition:` as converted by AutoGraph."""
    condition = condition_fn(*values)
    if not _tensor_condition(condition):
        while condition:
            values = body_fn(*values)
            condition = condition_fn(*values)
            if _tensor_condition(condition):
                raise tracing.OperatorNotAllowedInGraphError(
                    f"tf.function (AutoGraph): the condition of the `while` loop at line {line} "
                    "became a tensor after starting as a Python value; make it a tensor from "
                    "the start (e.g. tf.constant(0) for a counter).")
        return values
    _check_defined(values, names, "`while` loop", line)
    for name, value in zip(names, values):
        if not isinstance(value, (Tensor, bool, int, float, Composite)):
            raise TypeError(f"tf.function (AutoGraph): the `while` loop at line {line} changes "
                            f"`{name}`, a {type(value).__name__}; a loop that becomes a "
                            "tf.while_loop can only carry tensors and numbers.")
    from .control_flow import while_loop

    return tuple(while_loop(condition_fn, lambda *v: tuple(body_fn(*v)), list(values)))


def for_stmt(iterable, body_fn, values: tuple, names: tuple, line: int):
    """`for item in iterable:` as converted by AutoGraph: over a traced tensor's rows, a
    tf.while_loop (the row count may depend on the data); over anything else, Python."""
    if not _tensor_condition(iterable):
        for item in iterable:
            values = body_fn(item, *values)
        return values
    _check_defined(values, names, "`for` loop", line)
    from ..ops.registry import REGISTRY

    shape = REGISTRY["shape"].function
    from .control_flow import while_loop

    count = shape(iterable)[0]
    from ..tensor import constant

    start = constant(0)
    result = while_loop(lambda index, *rest: index < count,
                        lambda index, *rest: (index + 1, *body_fn(iterable[index], *rest)),
                        [start, *values])
    return tuple(result[1:])


# --- the source transformation --------------------------------------------------------------
class _Assigned(ast.NodeVisitor):
    """The names a block of statements assigns (not inside nested functions or classes)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.escapes = False  # a return, break or continue: not convertible

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store) and node.id not in self.names:
            self.names.append(node.id)

    def visit_Return(self, node) -> None:
        self.escapes = True

    def visit_Break(self, node) -> None:
        self.escapes = True

    visit_Continue = visit_Break

    def visit_FunctionDef(self, node) -> None:
        if node.name not in self.names and not node.name.startswith(
                ("__if_", "__while_", "__for_")):
            self.names.append(node.name)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node) -> None:
        pass

    def visit_For(self, node) -> None:  # a break inside a nested loop is that loop's own
        for child in [node.target, *node.body, *node.orelse]:
            escapes = self.escapes
            self.visit(child)
            if not isinstance(child, ast.Return):
                self.escapes = escapes or any(isinstance(n, ast.Return) for n in ast.walk(child))

    visit_While = visit_For


def _assigned(statements: list) -> tuple[list[str], bool]:
    visitor = _Assigned()
    for statement in statements:
        visitor.visit(statement)
    return visitor.names, visitor.escapes


def _parse(source: str) -> ast.AST:
    return ast.parse(source)


def _definition(name: str, parameters: list[str], body: list) -> ast.FunctionDef:
    """`def name(*parameters): body` as a syntax tree (on every supported Python)."""
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in parameters],
                              vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                              defaults=[])
    fields = {"name": name, "args": arguments, "body": body, "decorator_list": [],
              "returns": None, "type_comment": None}
    if "type_params" in ast.FunctionDef._fields:
        fields["type_params"] = []
    return ast.FunctionDef(**fields)


class _ControlFlow(ast.NodeTransformer):
    def __init__(self, offset: int) -> None:
        self.counter = 0
        self.converted = 0
        self.offset = offset  # the first line of the function in its file, minus one

    def _function(self, name: str, names: list[str], body: list, returns: ast.expr | None):
        if returns is None:
            returns = ast.Tuple([ast.Name(n, ast.Load()) for n in names], ast.Load())
        return _definition(name, names, list(body) + [ast.Return(returns)])

    def _call(self, helper: str, node, arguments: list[ast.expr], names: list[str]):
        runtime = ast.Name(_RUNTIME, ast.Load())
        load = ast.Call(ast.Attribute(runtime, "load", ast.Load()),
                        [ast.Call(ast.Name("locals", ast.Load()), [], []),
                         ast.Tuple([ast.Constant(n) for n in names], ast.Load())], [])
        listed = ast.Tuple([ast.Constant(n) for n in names], ast.Load())
        line = ast.Constant(node.lineno + self.offset)
        call = ast.Call(ast.Attribute(runtime, helper, ast.Load()),
                        [*arguments, load, listed, line], [])
        target = ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())
        return ast.Assign([target], call) if names else ast.Expr(call)

    def visit_FunctionDef(self, node):
        if getattr(self, "_inside", False):
            return node  # nested functions are converted when they are called traced, not here
        self._inside = True
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = lambda self, node: node

    def visit_If(self, node: ast.If):
        self.generic_visit(node)
        names, escapes = _assigned(node.body + node.orelse)
        if escapes:
            return node
        self.counter += 1
        self.converted += 1
        true_name, false_name = f"__if_true_{self.counter}", f"__if_false_{self.counter}"
        definitions = [self._function(true_name, names, node.body, None),
                       self._function(false_name, names, node.orelse or [ast.Pass()], None)]
        call = self._call("if_stmt", node, [node.test, ast.Name(true_name, ast.Load()),
                                            ast.Name(false_name, ast.Load())], names)
        return [*definitions, call]

    def visit_For(self, node: ast.For):
        self.generic_visit(node)
        names, escapes = _assigned(node.body)
        if escapes or node.orelse or not isinstance(node.target, ast.Name):
            return node
        names = [n for n in names if n != node.target.id]
        self.counter += 1
        self.converted += 1
        body_name = f"__for_body_{self.counter}"
        definition = _definition(body_name, [node.target.id, *names], list(node.body) + [
            ast.Return(ast.Tuple([ast.Name(n, ast.Load()) for n in names], ast.Load()))])
        call = self._call("for_stmt", node, [node.iter, ast.Name(body_name, ast.Load())], names)
        return [definition, call]

    def visit_While(self, node: ast.While):
        self.generic_visit(node)
        names, escapes = _assigned(node.body)
        if escapes or node.orelse or not names:
            return node
        self.counter += 1
        self.converted += 1
        test_name, body_name = f"__while_test_{self.counter}", f"__while_body_{self.counter}"
        definitions = [self._function(test_name, names, [], node.test),
                       self._function(body_name, names, node.body, None)]
        call = self._call("while_stmt", node, [ast.Name(test_name, ast.Load()),
                                               ast.Name(body_name, ast.Load())], names)
        return [*definitions, call]


def convert(function):
    """`function` with its tensor-dependent `if`/`while` statements converted, or `function`
    itself when there is nothing to convert or its source cannot be read."""
    if isinstance(function, types.MethodType):
        converted = convert(function.__func__)
        return function if converted is function.__func__ else types.MethodType(
            converted, function.__self__)
    if not isinstance(function, types.FunctionType) or "super" in function.__code__.co_names:
        return function
    try:
        source = textwrap.dedent(inspect.getsource(function))
        filename = inspect.getsourcefile(function) or "<autograph>"
        _, first_line = inspect.getsourcelines(function)
        tree = _parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return function
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, ast.FunctionDef) or definition.name != function.__name__:
        return function
    definition.decorator_list = []
    transformer = _ControlFlow(first_line - 1)
    definition = transformer.visit(definition)
    if not transformer.converted:
        return function
    free = list(function.__code__.co_freevars)
    factory = _definition("__autograph_factory", [_RUNTIME, *free],
                          [definition, ast.Return(ast.Name(definition.name, ast.Load()))])
    module = ast.Module([factory], type_ignores=[])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, first_line - 1)
    try:
        code = compile(module, filename, "exec")
    except SyntaxError:
        return function
    scope: dict = {}
    exec(code, function.__globals__, scope)  # noqa: S102 - the user's own function, rewritten
    import sys

    cells = [cell.cell_contents for cell in function.__closure__ or ()]
    converted = scope["__autograph_factory"](sys.modules[__name__], *cells)
    converted.__defaults__ = function.__defaults__
    converted.__kwdefaults__ = function.__kwdefaults__
    converted.__wrapped__ = function
    return converted
