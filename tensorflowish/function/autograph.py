"""AutoGraph: `if`/`while`/`for` statements on tensors become tf.cond / tf.while_loop.

The function's source is parsed; `break`, `continue` and `return` inside `if`/`for`/`while` are
first lowered to flags (`autograph_escapes.py`, TensorFlow's scheme), then each `if`, `while`
and `for` statement is rewritten into calls of `if_stmt` / `while_stmt` / `for_stmt` below,
with the statement's branches (or condition and body) as inner functions that take and return
the variables the statement assigns; `a if c else b` becomes `if_exp`, and `and`/`or`/`not` in
conditions `and_`/`or_`/`not_`. At run time a condition that is a traced tensor builds a
`tf.cond` / `tf.while_loop` (a `for` over a tensor loops over its rows, over a tf.data.Dataset
iterates it at every call); any other condition runs as Python, so Python conditions stay
Python, as in TensorFlow.

Not converted (left as Python, so a tensor condition there raises the error naming the line):
functions whose source is unavailable (lambdas, the REPL, `exec`) or that use `super()`, and
functions marked with `do_not_convert`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types

from ..tensor import Tensor
from . import tracing
from .autograph_escapes import (
    RETURN_VALUE,
    Lowering,
    convert_condition,
    needs_lowering,
    thunk,
)
from .graph import Composite

_ARRAY = Tensor.array

_RUNTIME = "__autograph__"


class Undefined:
    """The value of a variable a converted statement assigns before it has any value."""

    def __init__(self, name: str) -> None:
        self.name = name
        # the return value before a `return` ran may take zeros where a graph cond needs them
        self.fillable = name == RETURN_VALUE

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
        if isinstance(value, Undefined) and name != RETURN_VALUE:
            raise ValueError(f"tf.function (AutoGraph): `{name}` must have a value before the "
                             f"{what} at line {line} and in every branch of it, because the "
                             "statement depends on a tensor and becomes graph control flow. "
                             f"Give `{name}` a value before the statement.")


# --- what converted conditions call -----------------------------------------------------------
def _as_bool(value):
    from ..ops.math import cast

    return value if value.dtype.name == "bool" else cast(value, "bool")


def not_(value):
    """`not value`: a graph op on a tensor, Python's `not` otherwise."""
    if _tensor_condition(value):
        from ..ops.math import logical_not

        return logical_not(_as_bool(value))
    return not value


def and_(*parts):
    """`a and b and ...` from thunks, as lazy as Python's: on a tensor, a tf.cond evaluates the
    rest only where the value is true."""
    value = parts[0]()
    for index, part in enumerate(parts[1:], 1):
        if _tensor_condition(value):
            from .control_flow import cond

            rest = parts[index:]
            return cond(value, lambda rest=rest: _as_tensor_bool(and_(*rest)),
                        lambda value=value: _as_bool(value))
        if not value:
            return value
        value = part()
    return value


def or_(*parts):
    """`a or b or ...` from thunks, lazy like Python's (a tf.cond on a tensor)."""
    value = parts[0]()
    for index, part in enumerate(parts[1:], 1):
        if _tensor_condition(value):
            from .control_flow import cond

            rest = parts[index:]
            return cond(value, lambda value=value: _as_bool(value),
                        lambda rest=rest: _as_tensor_bool(or_(*rest)))
        if value:
            return value
        value = part()
    return value


def _as_tensor_bool(value):
    from ..tensor import constant

    return _as_bool(value) if isinstance(value, Tensor) else constant(bool(value))


def range_(function, *arguments):
    """`range(...)` in a converted `for`: tf.range when an argument is a traced tensor."""
    import builtins

    if function is builtins.range and any(_tensor_condition(a) for a in arguments):
        from ..ops.creation import range as tf_range

        return tf_range(*arguments)
    return function(*arguments)


class _Enumerated:
    """`enumerate(tensor)` in a converted `for`: rows with their index (a graph loop)."""

    def __init__(self, tensor, start) -> None:
        self.tensor, self.start = tensor, start


def enumerate_(function, iterable, start=0):
    """`enumerate(...)` in a converted `for`: over a traced tensor, a graph loop."""
    import builtins

    if function is builtins.enumerate and _tensor_condition(iterable):
        return _Enumerated(iterable, start)
    return function(iterable, start)


def unpack(item):
    """`a, b = item` for a loop's item: a tensor unpacks along its first dimension."""
    if isinstance(item, Tensor):
        from ..ops.shapes import unstack

        return unstack(item)
    return item


def retval(value):
    """The function's result after its `return`s became flags (None if none ran)."""
    return None if isinstance(value, Undefined) else value


def _tensorize(values: tuple) -> tuple:
    """Python numbers assigned in a branch of a graph `if` become tensors (TensorFlow's cond
    outputs are tensors), so the branches can disagree on them."""
    from ..tensor import constant

    return tuple(constant(value) if type(value) in (bool, int, float) else value
                 for value in values)


def if_exp(condition, true_fn, false_fn):
    """`a if condition else b`: a tf.cond on a tensor condition, Python otherwise."""
    if not _tensor_condition(condition):
        return true_fn() if condition else false_fn()
    from .control_flow import cond

    return cond(condition, lambda: _tensorize((true_fn(),))[0],
                lambda: _tensorize((false_fn(),))[0])


# --- statements -------------------------------------------------------------------------------
def if_stmt(condition, true_fn, false_fn, values: tuple, names: tuple, line: int):
    """`if condition:` as converted by AutoGraph."""
    if not _tensor_condition(condition):
        return true_fn(*values) if condition else false_fn(*values)
    from .control_flow import cond

    try:
        result = cond(condition, lambda: _tensorize(true_fn(*values)),
                      lambda: _tensorize(false_fn(*values)))
    except (TypeError, ValueError) as error:
        if not str(error).startswith("tf.cond:"):
            raise
        named = str(error)
        for index, name in enumerate(names):
            shown = "the return value" if name == RETURN_VALUE else f"`{name}`"
            named = named.replace(f"output {index} ", f"{shown} ", 1)
        raise type(error)(
            f"tf.function (AutoGraph): the `if` statement at line {line} depends on a tensor, so "
            f"both branches become a graph cond and must agree: {named} (A `return` under a "
            "tensor condition needs every path, the end of the function included, to return "
            "values of the same structure and dtype.)") from None
    _check_defined(result, names, "`if` statement", line)
    return result


def _placeholders(body, values: tuple, names: tuple, line: int, item=None) -> tuple:
    """Loop values with the not-yet-returned `__retval` replaced by zeros shaped like what the
    body returns (found by tracing the body once more, without running its effects)."""
    if not any(isinstance(v, Undefined) and n == RETURN_VALUE for v, n in zip(values, names)):
        return values
    from ..ops.creation import zeros
    from .graph import map_structure

    tracer = tracing.current()
    arguments = values if item is None else (item, *values)
    _, result, _ = tracer.sub_trace(lambda: body(*arguments), dry_run=True)
    result = tuple(result)[-len(values):]
    filled = []
    for value, name, example in zip(values, names, result):
        if isinstance(value, Undefined) and name == RETURN_VALUE:
            if isinstance(example, Undefined):
                raise ValueError(f"tf.function (AutoGraph): the loop at line {line} returns "
                                 "from the function, but its return value could not be worked "
                                 "out; return tensors.")
            value = map_structure(lambda leaf: zeros(_ARRAY.__get__(leaf).shape, leaf.dtype)
                                  if isinstance(leaf, Tensor) else leaf, example)
        filled.append(value)
    return tuple(filled)


def _check_carried(values, names, what: str, line: int) -> None:
    _check_defined(values, names, what, line)
    for name, value in zip(names, values):
        if not isinstance(value, (Tensor, bool, int, float, Composite, type(None))):
            raise TypeError(f"tf.function (AutoGraph): the {what} at line {line} changes "
                            f"`{name}`, a {type(value).__name__}; a loop that becomes a "
                            "tf.while_loop can only carry tensors and numbers.")


def while_stmt(condition_fn, body_fn, values: tuple, names: tuple, line: int):
    """`while condition:` as converted by AutoGraph."""
    condition = condition_fn(*values)
    if not _tensor_condition(condition):
        while condition:
            values = body_fn(*values)
            condition = condition_fn(*values)
            if _tensor_condition(condition):
                break  # a tensor now decides (a `break` under a tensor condition): a graph loop
        else:
            return values
    values = _placeholders(body_fn, values, names, line)
    _check_carried(values, names, "`while` loop", line)
    from .control_flow import while_loop

    return tuple(while_loop(condition_fn, lambda *v: tuple(body_fn(*v)), list(values)))


def _traced_dataset(iterable) -> bool:
    tracer = tracing.current()
    if tracer is None or tracer.depth:
        return False
    from ..data import Dataset

    return isinstance(iterable, Dataset)


def for_stmt(iterable, body_fn, extra_test, values: tuple, names: tuple, line: int):
    """`for item in iterable:` as converted by AutoGraph: over a traced tensor's rows, a
    tf.while_loop (the row count may depend on the data); over anything else, Python.
    `extra_test(*values)` (from a `break` or `return` in the body) ends the loop when false.
    Over a tf.data.Dataset inside a traced function: one graph line iterating the dataset at
    every call (`dataset_loop.dataset_for`)."""
    if _traced_dataset(iterable):
        from .dataset_loop import dataset_for

        if any(isinstance(v, Undefined) and n == RETURN_VALUE for v, n in zip(values, names)):
            tracer = tracing.current()
            tracer.depth += 1
            try:
                first = next(iter(iterable))
            finally:
                tracer.depth -= 1
            values = _placeholders(body_fn, values, names, line, item=first)
        _check_carried(values, names, "`for` loop", line)
        return dataset_for(iterable, body_fn, extra_test, values)
    enumerated = isinstance(iterable, _Enumerated)
    if enumerated:
        start_index, iterable = iterable.start, iterable.tensor
    if not _tensor_condition(iterable):
        for item in iterable:
            if extra_test is not None:
                going = extra_test(*values)
                if not _tensor_condition(going) and not going:
                    break  # a tensor flag: later iterations run under their guards
            values = body_fn(item, *values)
        return values
    from ..ops.registry import REGISTRY
    from ..tensor import constant
    from .control_flow import while_loop

    shape = REGISTRY["shape"].function
    count = shape(iterable)[0]
    if any(isinstance(v, Undefined) and n == RETURN_VALUE for v, n in zip(values, names)):
        from ..ops.creation import zeros

        row = zeros(_ARRAY.__get__(iterable).shape[1:], iterable.dtype)
        values = _placeholders(body_fn, values, names, line,
                               item=(constant(start_index), row) if enumerated else row)
    _check_carried(values, names, "`for` loop", line)

    def test(index, *rest):
        if extra_test is None:
            return index < count
        return and_(lambda: index < count, lambda: extra_test(*rest))

    def item(index):
        return (index + start_index, iterable[index]) if enumerated else iterable[index]

    result = while_loop(test, lambda index, *rest: (index + 1, *body_fn(item(index), *rest)),
                        [constant(0), *values])
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


def _own_nodes(statements: list):
    """The nodes of `statements`, not inside nested functions, classes or lambdas."""
    pending = list(statements)
    while pending:
        node = pending.pop()
        yield node
        pending.extend(child for child in ast.iter_child_nodes(node) if not isinstance(
            child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)))


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
    def __init__(self, offset: int, definition: ast.FunctionDef) -> None:
        self.counter = 0
        self.converted = 0
        self.offset = offset  # the first line of the function in its file, minus one
        # names the function declares `global` / `nonlocal`: not state of a converted statement
        # (its branches and bodies declare them too, so assignments reach the same variable)
        self.declarations: list = []
        self.declared: set = set()
        for node in _own_nodes(definition.body):
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                self.declarations.append(type(node)(list(node.names)))
                self.declared.update(node.names)

    def _state(self, names: list[str]) -> list[str]:
        return [name for name in names if name not in self.declared]

    def _inner(self, name: str, parameters: list[str], body: list) -> ast.FunctionDef:
        return _definition(name, parameters, [*self.declarations, *body])

    def _function(self, name: str, names: list[str], body: list, returns: ast.expr | None):
        if returns is None:
            returns = ast.Tuple([ast.Name(n, ast.Load()) for n in names], ast.Load())
        return self._inner(name, names, list(body) + [ast.Return(returns)])

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
        names = self._state(names)
        if escapes:
            return node
        self.counter += 1
        self.converted += 1
        true_name, false_name = f"__if_true_{self.counter}", f"__if_false_{self.counter}"
        definitions = [self._function(true_name, names, node.body, None),
                       self._function(false_name, names, node.orelse or [ast.Pass()], None)]
        call = self._call("if_stmt", node, [convert_condition(node.test),
                                            ast.Name(true_name, ast.Load()),
                                            ast.Name(false_name, ast.Load())], names)
        return [*definitions, call]

    def visit_IfExp(self, node: ast.IfExp):
        """`a if test else b` becomes a lazy tf.cond when `test` is a tensor."""
        self.generic_visit(node)
        self.converted += 1
        call = ast.Call(ast.Attribute(ast.Name(_RUNTIME, ast.Load()), "if_exp", ast.Load()),
                        [convert_condition(node.test), thunk(node.body), thunk(node.orelse)],
                        [])
        return ast.copy_location(call, node)

    def visit_For(self, node: ast.For):
        self.generic_visit(node)
        names, escapes = _assigned(node.body)
        if escapes or node.orelse:
            return node
        targets, _ = _assigned([ast.Assign([node.target], ast.Constant(None))])
        names = [n for n in self._state(names) if n not in targets]
        self.counter += 1
        self.converted += 1
        body_name = f"__for_body_{self.counter}"
        body = list(node.body)
        if isinstance(node.target, ast.Name):
            item = node.target.id
        else:  # `for a, b in ...`: unpack the item (a tensor row by its first dimension)
            item = f"__item_{self.counter}"
            unpack = ast.Call(ast.Attribute(ast.Name(_RUNTIME, ast.Load()), "unpack",
                                            ast.Load()), [ast.Name(item, ast.Load())], [])
            body.insert(0, ast.copy_location(ast.Assign([node.target], unpack), node))
        definitions = [self._inner(body_name, [item, *names], body + [
            ast.Return(ast.Tuple([ast.Name(n, ast.Load()) for n in names], ast.Load()))])]
        extra = ast.Constant(None)
        if getattr(node, "extra_test", None) is not None:
            extra = ast.Name(f"__for_test_{self.counter}", ast.Load())
            definitions.append(self._function(extra.id, names, [], node.extra_test))
        iterable = node.iter
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and \
                iterable.func.id in ("range", "enumerate") and not iterable.keywords:
            # range(n) / enumerate(x) over tensors: a graph loop (TensorFlow converts them too)
            iterable = ast.copy_location(ast.Call(
                ast.Attribute(ast.Name(_RUNTIME, ast.Load()), iterable.func.id + "_",
                              ast.Load()), [iterable.func, *iterable.args], []), iterable)
        call = self._call("for_stmt", node, [iterable, ast.Name(body_name, ast.Load()), extra],
                          names)
        return [*definitions, call]

    def visit_While(self, node: ast.While):
        self.generic_visit(node)
        names, escapes = _assigned(node.body)
        names = self._state(names)
        if escapes or node.orelse or not names:
            return node
        self.counter += 1
        self.converted += 1
        test_name, body_name = f"__while_test_{self.counter}", f"__while_body_{self.counter}"
        definitions = [self._function(test_name, names, [], convert_condition(node.test)),
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
    if not isinstance(function, types.FunctionType) or "super" in function.__code__.co_names \
            or getattr(function, "__autograph_do_not_convert__", False):
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
    if needs_lowering(definition):
        Lowering().lower(definition)
    transformer = _ControlFlow(first_line - 1, definition)
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
    converted.__autograph_source__ = ast.unparse(definition)
    return converted


def why_not_converted(function, autograph: bool = True) -> str | None:
    """Why AutoGraph left `function`'s own statements as Python (None if it converted them)."""
    name = getattr(function, "__name__", repr(function))
    if not autograph:
        return (f"AutoGraph is off for `{name}` (autograph=False): tensor conditions in it are not "
                "converted; remove autograph=False or use tf.cond / tf.while_loop.")
    function = getattr(function, "__func__", function)
    if not isinstance(function, types.FunctionType):
        return None
    if getattr(function, "__autograph_do_not_convert__", False):
        return (f"`{name}` is marked do_not_convert, so AutoGraph left its statements as Python; "
                "use tf.cond / tf.while_loop there.")
    if "super" in function.__code__.co_names:
        return (f"AutoGraph does not convert `{name}` because it calls super(); move the tensor "
                "`if`/`while` into a helper method, or use tf.cond / tf.while_loop.")
    try:
        inspect.getsource(function)
    except (OSError, TypeError):
        return (f"AutoGraph could not read the source of `{name}` (a lambda, code typed into the "
                "REPL or built by exec), so its `if`/`while`/`for` were not converted: define it "
                "in a file, or use tf.cond / tf.while_loop.")
    return None


def to_code(entity, recursive=True, experimental_optional_features=None) -> str:
    """The Python source AutoGraph runs for `entity` (TensorFlow's tf.autograph.to_code): its
    `if`/`while`/`for` statements as calls of this module's `if_stmt`/`while_stmt`/`for_stmt`,
    its jumps as flags. The source itself when there is nothing to convert."""
    function = getattr(entity, "python_function", entity)
    converted = convert(function)
    source = getattr(converted, "__autograph_source__", None)
    if source is not None:
        return source + "\n"
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as error:
        raise ValueError(f"tf.autograph.to_code: the source of {function!r} cannot be read "
                         "(a lambda, a builtin or code typed into the REPL).") from error


def do_not_convert(func=None):
    """Leave `func` as Python when a tf.function converts its caller's control flow
    (TensorFlow's tf.autograph.experimental.do_not_convert)."""
    def mark(function):
        function.__autograph_do_not_convert__ = True
        return function
    return mark if func is None else mark(func)
