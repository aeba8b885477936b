"""AutoGraph's converted calls: the functions a converted function calls are converted too.

TensorFlow's AutoGraph rewrites every call `f(a, *b, k=c)` in a converted function into
`converted_call(f, (a, *b), {'k': c})`, which converts `f` before calling it, so a tensor
`if`/`while`/`for` in a helper (or a helper of a helper) becomes graph control flow as in the
function itself. Here the rewrite is `calls_pass` (source side, run by `autograph.convert`)
and `converted_call` (run time, while tracing; a replay runs no Python, so conversion costs
nothing there). What is converted, as TensorFlow does:

- plain functions, nested functions, lambdas, methods (bound to their instance), the
  `__call__` of a user's callable object, and the function inside a `functools.partial`;
- not: functions of tensorflowish itself, of NumPy or of any installed library or the standard
  library (their file is in the interpreter's or site-packages' folders), builtins, classes,
  generator and coroutine functions, a `tf.function` (it converts its own function when it
  traces), and functions marked `tf.autograph.experimental.do_not_convert`.

A function is converted once per code object (the rewritten code is cached; each call binds it
to the function's own globals, closure cells and defaults, so closures stay live). A called
function that cannot be converted is called as it is, with a warning naming the cause, as
TensorFlow does (silently when its source cannot be read at all: built by `exec`, typed into
the REPL; TensorFlow is silent there too).
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import os
import sysconfig
import types
import warnings

RUNTIME = "__autograph__"
# builtins that read the calling frame: called directly, never through converted_call
_FRAME_BUILTINS = frozenset({"locals", "globals", "vars", "super", "eval", "exec", "dir"})
# names of the inner functions autograph._ControlFlow makes out of the user's statements
_GENERATED = ("__if_", "__while_", "__for_")


# --- source side ------------------------------------------------------------------------------
class _Calls(ast.NodeTransformer):
    """`f(a, *b, k=c, **d)` -> `__autograph__.converted_call(f, (a, *b), {'k': c, **d})` in
    a function's own statements, its lambdas and the branches AutoGraph made of them (a nested
    `def` or class is left alone: it is converted when it is called)."""

    def __init__(self, root: ast.FunctionDef) -> None:
        self.root = root
        self.converted = 0

    def visit_FunctionDef(self, node):
        if node is self.root or node.name.startswith(_GENERATED):
            self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        return node

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        function = node.func
        if isinstance(function, ast.Name) and function.id in _FRAME_BUILTINS:
            return node
        if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and \
                function.value.id == RUNTIME:
            return node  # AutoGraph's own runtime calls
        self.converted += 1
        arguments = ast.Tuple(list(node.args), ast.Load())
        keywords: ast.expr = ast.Constant(None)
        if node.keywords:
            keywords = ast.Dict([None if k.arg is None else ast.Constant(k.arg)
                                 for k in node.keywords], [k.value for k in node.keywords])
        call = ast.Call(ast.Attribute(ast.Name(RUNTIME, ast.Load()), "converted_call",
                                      ast.Load()), [function, arguments, keywords], [])
        return ast.copy_location(call, node)


def calls_pass(definition: ast.FunctionDef) -> int:
    """Rewrite the calls in `definition` (in place); how many were rewritten."""
    transformer = _Calls(definition)
    transformer.visit(definition)
    return transformer.converted


class ConversionError(Exception):
    """Why AutoGraph could not convert a function."""


class SourceUnavailable(ConversionError):
    """The function's source cannot be read (built by exec, typed into the REPL): it is called
    as it is, without a warning (as TensorFlow)."""


@functools.lru_cache(maxsize=64)
def _parsed_file(filename: str, size: int, text_hash: int) -> ast.Module:
    return ast.parse("".join(linecache.getlines(filename)), filename)


def _argument_names(arguments: ast.arguments) -> list[str]:
    names = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
    return names + [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]


def _code_argument_names(code: types.CodeType) -> list[str]:
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return list(code.co_varnames[:count])


def _inside(node: ast.AST, positions: list) -> bool:
    start, end = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)
    return all(start <= (line, column) and (end_line, end_column) <= end
               for line, end_line, column, end_column in positions)


def lambda_definition(function: types.FunctionType) -> ast.FunctionDef:
    """The syntax tree of a lambda as `def <name>(arguments): return <body>`, with the line
    numbers of its file. The lambda is found in its file's syntax tree by its line and
    argument names (and, where several match, by the columns its code covers)."""
    code = function.__code__
    filename = inspect.getsourcefile(function)
    lines = linecache.getlines(filename) if filename else []
    if not lines:
        raise SourceUnavailable("the source code of the lambda is not available")
    try:
        tree = _parsed_file(filename, len(lines), hash(tuple(lines)))
    except SyntaxError as error:
        raise ConversionError(f"its file does not parse: {error}") from None
    names = _code_argument_names(code)
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda) and
             node.lineno == code.co_firstlineno and _argument_names(node.args) == names]
    if len(found) > 1:
        positions = [p for p in code.co_positions() if None not in p]
        inside = [node for node in found if _inside(node.body, positions)]
        if inside:
            found = [min(inside, key=lambda n: (n.end_lineno - n.lineno, n.end_col_offset -
                                               n.col_offset))]
        elif len({ast.dump(node) for node in found}) == 1:
            found = found[:1]
    if len(found) != 1:
        raise ConversionError(f"{len(found)} lambdas on line {code.co_firstlineno} of "
                              f"{filename} match it" if found else
                              f"no lambda with its arguments is on line {code.co_firstlineno}")
    node = found[0]
    arguments = ast.arguments(posonlyargs=node.args.posonlyargs, args=node.args.args,
                              vararg=node.args.vararg, kwonlyargs=node.args.kwonlyargs,
                              kw_defaults=[], kwarg=node.args.kwarg, defaults=[])
    fields = {"name": "__autograph_lambda", "args": arguments,
              "body": [ast.copy_location(ast.Return(node.body), node.body)],
              "decorator_list": [], "returns": None, "type_comment": None}
    if "type_params" in ast.FunctionDef._fields:
        fields["type_params"] = []
    return ast.copy_location(ast.FunctionDef(**fields), node)


# --- run time ---------------------------------------------------------------------------------
def _library_roots() -> tuple:
    roots = {sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib",
                                                         "platlib")}
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tensorflowish/
    return tuple(os.path.realpath(root) + os.sep for root in roots if root)


_LIBRARY_ROOTS = _library_roots()
_LIBRARY_FILES: dict = {}
_LIBRARY_MODULES = ("tensorflowish", "kernels", "numpy", "scipy", "cupy", "tensorflow",
                    "keras", "jax", "torch")


def is_library(function: types.FunctionType) -> bool:
    """True for a function of tensorflowish, NumPy, an installed library or the standard
    library: called as it is (TensorFlow does not convert its own or other libraries' code)."""
    module = getattr(function, "__module__", None) or ""
    if module.split(".", 1)[0] in _LIBRARY_MODULES:
        return True
    filename = function.__code__.co_filename
    known = _LIBRARY_FILES.get(filename)
    if known is None:
        real = os.path.realpath(filename)
        known = _LIBRARY_FILES[filename] = filename.startswith("<frozen") or \
            real.startswith(_LIBRARY_ROOTS) or \
            any(part in real for part in ("/site-packages/", "/dist-packages/"))
    return known


_UNCONVERTIBLE = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR |
                  inspect.CO_ITERABLE_COROUTINE)
_WARNED: set = set()


def _convert_function(function: types.FunctionType):
    if getattr(function, "__autograph_do_not_convert__", False) or \
            hasattr(function, "__autograph_source__") or \
            function.__code__.co_flags & _UNCONVERTIBLE or is_library(function):
        return function
    from .autograph import convert

    try:
        return convert(function, strict=True)
    except ConversionError as error:
        key = function.__code__
        if key not in _WARNED and not isinstance(error, SourceUnavailable):
            _WARNED.add(key)
            warnings.warn(
                f"AutoGraph could not transform {function!r} and will run it as-is.\n"
                f"Cause: {error}\nTo silence this warning, decorate the function with "
                "@tf.autograph.experimental.do_not_convert", stacklevel=4)
        return function


def converted(function):
    """`function` with AutoGraph's conversion where TensorFlow would convert it (see the
    module's docstring), otherwise `function` itself."""
    kind = type(function)
    if kind is types.FunctionType:
        return _convert_function(function)
    if kind is types.MethodType:
        inner = function.__func__
        if type(inner) is not types.FunctionType:
            return function
        result = _convert_function(inner)
        return function if result is inner else types.MethodType(result, function.__self__)
    if kind is functools.partial:
        inner = converted(function.func)
        return function if inner is function.func else functools.partial(
            inner, *function.args, **function.keywords)
    if isinstance(function, type) or kind.__module__ == "builtins":
        return function
    call = inspect.getattr_static(kind, "__call__", None)  # an object of a user class
    if type(call) is types.FunctionType:
        result = _convert_function(call)
        return function if result is call else types.MethodType(result, function)
    return function


def converted_call(function, arguments: tuple, keywords: dict | None):
    """What a converted function runs for each call it makes: `function(*arguments,
    **keywords)`, with `function` converted first where TensorFlow would convert it."""
    target = converted(function)
    return target(*arguments, **keywords) if keywords else target(*arguments)
