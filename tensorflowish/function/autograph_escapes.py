"""AutoGraph's first pass: `break`, `continue` and `return` become flags, as TensorFlow lowers them.

A graph loop or branch cannot jump, so (like TensorFlow's AutoGraph) each jump sets a flag and
the statements after it run only while the flags are clear:

    while i < n:                      __break_1 = False
        if x[i] > 0:                  while __autograph__.and_(lambda: __autograph__.not_(
            break                             __break_1), lambda: i < n):
        i += 1                            if x[i] > 0:
                                              __break_1 = True
                                          if __autograph__.not_(__break_1):
                                              i += 1

`continue` is a flag cleared at the start of each iteration; `return value` stores the value in
`__retval`, sets `__do_return` (which also ends every enclosing loop) and the function ends with
`return __autograph__.retval(__retval)`. The `if`/`while`/`for` statements this makes are then
converted like the user's own (`autograph._ControlFlow`): on Python values they stay Python, so
nothing changes for code that never meets a tensor. `and`, `or` and `not` in the conditions of
`if` and `while` become `and_`/`or_`/`not_`, which use graph ops on tensors.
"""

from __future__ import annotations

import ast

RUNTIME = "__autograph__"
RETURN_VALUE, DO_RETURN = "__retval", "__do_return"


def _runtime_call(name: str, *arguments: ast.expr) -> ast.Call:
    return ast.Call(ast.Attribute(ast.Name(RUNTIME, ast.Load()), name, ast.Load()),
                    list(arguments), [])


def thunk(expression: ast.expr) -> ast.Lambda:
    arguments = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
    return ast.Lambda(arguments, expression)


def _assign(name: str, value: ast.expr, like: ast.AST) -> ast.Assign:
    return ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], value), like)


def _none_set(flags: list[str]) -> ast.expr:
    """`not flag1 and not flag2 ...` as runtime calls (graph ops when the flags are tensors)."""
    tests = [_runtime_call("not_", ast.Name(flag, ast.Load())) for flag in flags]
    if len(tests) == 1:
        return tests[0]
    return _runtime_call("and_", *[thunk(test) for test in tests])


def convert_condition(test: ast.expr) -> ast.expr:
    """`a and b`, `a or b`, `not a` in a condition as runtime calls (lazy, like Python's)."""
    if isinstance(test, ast.BoolOp):
        helper = "and_" if isinstance(test.op, ast.And) else "or_"
        return ast.copy_location(_runtime_call(helper, *[thunk(convert_condition(value))
                                                          for value in test.values]), test)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return ast.copy_location(_runtime_call("not_", convert_condition(test.operand)), test)
    return test


def _walk_own(statements: list):
    """Every node of `statements`, not descending into nested functions, classes or lambdas."""
    pending = list(statements)
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                      ast.Lambda)):
                pending.append(child)


def _loop_jumps(statements: list) -> set:
    """{'break', 'continue'} that belong to the loop whose body is `statements`."""
    found = set()
    pending = list(statements)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Break):
            found.add("break")
        elif isinstance(node, ast.Continue):
            found.add("continue")
        elif isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
            pending.extend(node.orelse)  # a nested loop's own body keeps its jumps
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                   ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return found


def _has_return(statements: list) -> bool:
    return any(isinstance(node, ast.Return) for node in _walk_own(statements))


def _always_returns(statements: list) -> bool:
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    if isinstance(last, (ast.With, ast.AsyncWith)):
        return _always_returns(last.body)
    if isinstance(last, ast.Try):
        return _always_returns(last.finalbody) or (
            _always_returns(last.orelse or last.body) and
            all(_always_returns(handler.body) for handler in last.handlers))
    return False


def needs_lowering(definition: ast.FunctionDef) -> bool:
    """True when a jump sits inside an `if`, `for` or `while` of the function."""
    for node in _walk_own(definition.body):
        if isinstance(node, (ast.If, ast.For, ast.While)):
            if any(isinstance(inner, (ast.Return, ast.Break, ast.Continue))
                   for inner in _walk_own(node.body + node.orelse)):
                return True
    return False


class _Loop:
    def __init__(self, number: int, jumps: set) -> None:
        self.break_flag = f"__break_{number}" if "break" in jumps else None
        self.continue_flag = f"__continue_{number}" if "continue" in jumps else None


class Lowering:
    """Rewrites one function definition's jumps into flags (see the module's docstring)."""

    def __init__(self) -> None:
        self.counter = 0
        self.returns = False

    def lower(self, definition: ast.FunctionDef) -> None:
        self.returns = any(isinstance(node, (ast.If, ast.For, ast.While)) and
                           _has_return(node.body + node.orelse)
                           for node in _walk_own(definition.body))
        body = list(definition.body)
        self.flags: list[str] = []
        if self.returns:
            if not _always_returns(body):  # falling off the end returns None
                body.append(ast.copy_location(ast.Return(None), body[-1]))
            start = [_assign(DO_RETURN, ast.Constant(False), body[0]),
                     _assign(RETURN_VALUE, _runtime_call("Undefined", ast.Constant(
                         RETURN_VALUE)), body[0])]
            end = ast.Return(_runtime_call("retval", ast.Name(RETURN_VALUE, ast.Load())))
            lowered = self._block(body, None) + [ast.copy_location(end, body[-1])]
        else:
            start, lowered = [], self._block(body, None)
        # every loop's flags start defined, so an outer graph loop can carry an inner loop's
        start += [_assign(flag, ast.Constant(False), body[0]) for flag in self.flags]
        definition.body = start + lowered

    # --- statements ------------------------------------------------------------------------
    def _flags_set_by(self, statement, loop: _Loop | None) -> list[str]:
        """The flags `statement` may set that the statements after it must respect."""
        flags = []
        if self.returns and _has_return([statement]):
            flags.append(DO_RETURN)
        if loop is not None and not isinstance(statement, (ast.For, ast.While)):
            jumps = _loop_jumps([statement])
            if "break" in jumps and loop.break_flag:
                flags.append(loop.break_flag)
            if "continue" in jumps and loop.continue_flag:
                flags.append(loop.continue_flag)
        return flags

    def _block(self, statements: list, loop: _Loop | None) -> list:
        out: list = []
        for index, statement in enumerate(statements):
            flags = self._flags_set_by(statement, loop)  # before lowering removes the jumps
            out.extend(self._statement(statement, loop))
            rest = statements[index + 1:]
            if flags and rest:
                guarded = ast.If(_none_set(flags), self._block(rest, loop), [])
                out.append(ast.copy_location(guarded, rest[0]))
                break
        return out

    def _statement(self, statement, loop: _Loop | None) -> list:
        if isinstance(statement, ast.Break) and loop is not None:
            return [_assign(loop.break_flag, ast.Constant(True), statement)]
        if isinstance(statement, ast.Continue) and loop is not None:
            return [_assign(loop.continue_flag, ast.Constant(True), statement)]
        if isinstance(statement, ast.Return) and self.returns:
            value = statement.value if statement.value is not None else ast.Constant(None)
            return [_assign(RETURN_VALUE, value, statement),
                    _assign(DO_RETURN, ast.Constant(True), statement)]
        if isinstance(statement, ast.If):
            statement.body = self._block(statement.body, loop) or [ast.Pass()]
            statement.orelse = self._block(statement.orelse, loop)
            return [statement]
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            statement.body = self._block(statement.body, loop)
            return [statement]
        if isinstance(statement, ast.Try):
            statement.body = self._block(statement.body, loop)
            statement.orelse = self._block(statement.orelse, loop)
            for handler in statement.handlers:
                handler.body = self._block(handler.body, loop) or [ast.Pass()]
            return [statement]
        if isinstance(statement, (ast.For, ast.While)):
            return self._loop(statement)
        return [statement]

    def _loop(self, node) -> list:
        jumps = _loop_jumps(node.body)
        returns = self.returns and _has_return(node.body)
        if not jumps and not returns:
            node.body = self._block(node.body, None)
            node.orelse = self._block(node.orelse, None)
            return [node]
        self.counter += 1
        loop = _Loop(self.counter, jumps)
        self.flags += [flag for flag in (loop.break_flag, loop.continue_flag) if flag]
        before, stop = [], []
        if loop.break_flag:
            before.append(_assign(loop.break_flag, ast.Constant(False), node))
            stop.append(loop.break_flag)
        if loop.continue_flag:
            before.append(_assign(loop.continue_flag, ast.Constant(False), node))
        if returns:
            stop.append(DO_RETURN)
        body = self._block(node.body, loop)
        if loop.continue_flag:
            body = [_assign(loop.continue_flag, ast.Constant(False), node)] + body
        node.body = body
        keep_going = _none_set(stop) if stop else None
        if isinstance(node, ast.While):
            test = node.test
            if keep_going is not None:
                test = _runtime_call("and_", thunk(keep_going), thunk(test))
            node.test = ast.copy_location(test, node.test)
        elif keep_going is not None:
            node.extra_test = keep_going  # read by autograph._ControlFlow.visit_For
        orelse = self._block(node.orelse, None)
        node.orelse = []
        after = []
        if orelse:  # `else:` runs when the loop ended without break (or return)
            after.append(ast.copy_location(ast.If(_none_set(stop), orelse, []), node))
        return before + [node] + after
