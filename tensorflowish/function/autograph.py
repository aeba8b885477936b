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

Every call the function makes becomes `converted_call(f, args, kwargs)`, which converts the
called function too where TensorFlow would (`autograph_calls.py`). The rewritten code is made once
per code object (`_CONVERTED`) and bound at each use to the function's globals, closure cells and
defaults. Lambdas are found in their file's syntax tree; `super()` becomes
`super(__class__, self)`.

Not converted (left as Python, so a tensor condition there raises the error naming the line):
functions whose source is unavailable (the REPL, `exec`) and functions marked with
`do_not_convert`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
import weakref

from . import autograph_runtime
from .autograph_calls import ConversionError, SourceUnavailable, calls_pass, lambda_definition
from .autograph_escapes import (
    Lowering,
    convert_condition,
    needs_lowering,
    thunk,
)

_RUNTIME = "__autograph__"


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


def _attribute_stores(statement) -> list[tuple[str, str]]:
    """(name, attribute) for each `name.attribute = ...` in a statement (not in user-defined
    nested functions, classes or lambdas)."""
    found: list = []
    pending = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                isinstance(node.value, ast.Name) and (node.value.id, node.attr) not in found:
            found.append((node.value.id, node.attr))
        for child in ast.iter_child_nodes(node):
            user_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                not child.name.startswith(("__if_", "__while_", "__for_"))
            if not (user_function or isinstance(child, (ast.ClassDef, ast.Lambda))):
                pending.append(child)
    return found


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
        keywords = []
        stored = _attribute_stores(node)
        if stored:  # checked at run time: a graph statement must not assign attributes
            pairs = ast.Tuple([ast.Tuple([ast.Name(base, ast.Load()), ast.Constant(attribute)],
                                         ast.Load()) for base, attribute in stored], ast.Load())
            keywords.append(ast.keyword("attributes", thunk(pairs)))
        call = ast.Call(ast.Attribute(runtime, helper, ast.Load()),
                        [*arguments, load, listed, line], keywords)
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


_CONVERTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code -> entry


def _transform(function: types.FunctionType):
    """(converted code object, its source) for `function`, or None when nothing in it needs
    converting. Raises ConversionError when its source cannot be read or rewritten."""
    if function.__code__.co_name == "<lambda>":
        definition, offset = lambda_definition(function), 0
    else:
        try:
            # the code's own source: inspect would follow a decorator's __wrapped__ instead
            lines, first_line = inspect.getsourcelines(function.__code__)
            source = textwrap.dedent("".join(lines))
            tree = _parse(source)
        except (OSError, TypeError) as error:
            raise SourceUnavailable(f"could not get source code ({error})") from None
        except (SyntaxError, IndentationError) as error:
            raise ConversionError(f"its source does not parse: {error}") from None
        definition, offset = tree.body[0] if tree.body else None, first_line - 1
        if not isinstance(definition, ast.FunctionDef) or \
                definition.name != function.__code__.co_name:
            raise ConversionError("its source is not the definition of a function of that name")
        definition.decorator_list = []
        # defaults are the function's own values (bound below), never evaluated again here
        definition.args.defaults = []
        definition.args.kw_defaults = [None] * len(definition.args.kwonlyargs)
    # zero-argument super() reads the method's first argument and its class cell: made explicit,
    # so it still works inside the branches and loop bodies AutoGraph makes into functions
    uses_super = "__class__" in function.__code__.co_freevars
    if uses_super:
        _explicit_super(definition)
    if needs_lowering(definition):
        Lowering().lower(definition)
    transformer = _ControlFlow(offset, definition)
    definition = transformer.visit(definition)
    calls = calls_pass(definition)
    if not transformer.converted and not calls:
        return None
    free = [name for name in function.__code__.co_freevars if name != "__class__"]
    # a name of its own in the factory, so the function's name still means what it meant
    # (a global, or the closure cell of a recursive nested function)
    ast.fix_missing_locations(definition)
    source, definition.name = ast.unparse(definition), "__autograph_converted"
    body: list = [definition]
    if uses_super:  # inside a class body, so the code has a `__class__` cell to bind
        fields = {"name": "__autograph_class", "bases": [], "keywords": [], "body": body,
                  "decorator_list": []}
        if "type_params" in ast.ClassDef._fields:
            fields["type_params"] = []
        body = [ast.ClassDef(**fields)]
    factory = _definition("__autograph_factory", [_RUNTIME, *free], body)
    module = ast.Module([factory], type_ignores=[])
    ast.fix_missing_locations(module)
    if offset:
        ast.increment_lineno(module, offset)
    filename = function.__code__.co_filename
    try:
        code = compile(module, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise ConversionError(f"the converted source does not compile: {error}") from None
    pending, inner = [code], None
    while pending and inner is None:
        for constant in pending.pop().co_consts:
            if isinstance(constant, types.CodeType):
                if constant.co_name == definition.name:
                    inner = constant
                pending.append(constant)
    return inner.replace(co_name=function.__code__.co_name), source


class _Super(ast.NodeTransformer):
    def __init__(self, first: str) -> None:
        self.first = first

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "super" and not node.args and \
                not node.keywords:
            node.args = [ast.Name("__class__", ast.Load()), ast.Name(self.first, ast.Load())]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = \
        lambda self, node: node


def _explicit_super(definition: ast.FunctionDef) -> None:
    """`super()` -> `super(__class__, <first argument>)` in the function's own statements."""
    positional = [*definition.args.posonlyargs, *definition.args.args]
    if not positional:
        raise ConversionError("it calls super() but takes no positional argument")
    transformer = _Super(positional[0].arg)
    for statement in definition.body:
        transformer.visit(statement)


def convert(function, strict: bool = False):
    """`function` with its tensor-dependent `if`/`while`/`for` statements and its calls
    converted, or `function` itself when there is nothing to convert or (unless `strict`, which
    raises ConversionError) its source cannot be read. The rewritten code is made once per code
    object and bound at each call to the function's globals, closure cells and defaults."""
    if isinstance(function, types.MethodType):
        converted = convert(function.__func__, strict)
        return function if converted is function.__func__ else types.MethodType(
            converted, function.__self__)
    if not isinstance(function, types.FunctionType) or \
            getattr(function, "__autograph_do_not_convert__", False):
        return function
    key = function.__code__
    entry = _CONVERTED.get(key)
    if entry is None:
        try:
            entry = _transform(function) or False
        except ConversionError as error:
            entry = error
        _CONVERTED[key] = entry
    if isinstance(entry, ConversionError):
        if strict:
            raise entry
        return function
    if entry is False:
        return function
    code, source = entry
    cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ()))
    closure = tuple(types.CellType(autograph_runtime) if name == _RUNTIME else cells[name]
                    for name in code.co_freevars)
    converted = types.FunctionType(code, function.__globals__, function.__name__,
                                   function.__defaults__, closure)
    converted.__kwdefaults__ = function.__kwdefaults__
    converted.__qualname__ = function.__qualname__
    converted.__module__ = function.__module__
    converted.__doc__ = function.__doc__
    converted.__dict__.update(function.__dict__)
    converted.__wrapped__ = function
    converted.__autograph_source__ = source
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
