"""What AutoGraph's converted code calls at run time (as `__autograph__`): `if_stmt`,
`while_stmt`, `for_stmt`, `if_exp`, `and_`/`or_`/`not_`, `range_`/`enumerate_`, `unpack`,
`retval`, `converted_call` (each call the function makes; `autograph_calls.py`), and
`load`/`Undefined` for variables without a value yet.

On a traced tensor condition these build tf.cond / tf.while_loop (or a dataset loop); on any
other value they run as Python, so Python conditions stay Python. The source transformation
that produces the calls is in `autograph.py`.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import tracing
from .autograph_calls import converted_call  # noqa: F401 - called by converted code
from .autograph_escapes import RETURN_VALUE
from .graph import Composite

_ARRAY = Tensor.array


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


_MISSING = object()


def _attribute_values(attributes) -> list:
    """(object, attribute, value) for the attributes a statement assigns, before it runs."""
    if attributes is None:
        return []
    try:
        pairs = attributes()
    except NameError:  # the object itself is first made inside the statement
        return []
    return [(owner, name, getattr(owner, name, _MISSING)) for owner, name in pairs]


def _check_attributes(before: list, what: str, line: int) -> None:
    """A graph statement traces its branches (or its loop body once): an attribute assigned
    there would keep a value of the trace, so it is refused (never silently frozen)."""
    for owner, name, value in before:
        if getattr(owner, name, _MISSING) is not value:
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
            raise tracing.OperatorNotAllowedInGraphError(
                f"tf.function (AutoGraph): the {what} at line {line} depends on a tensor and "
                f"assigns the attribute `{name}` of a {type(owner).__name__}: its branches (or "
                "its loop body, once) are traced, so the attribute would keep a value of the "
                "trace instead of each call's. Assign a local variable in the statement and "
                "set the attribute after it, or keep the state in a tf.Variable (assign).")


# --- statements -------------------------------------------------------------------------------
def if_stmt(condition, true_fn, false_fn, values: tuple, names: tuple, line: int,
            attributes=None):
    """`if condition:` as converted by AutoGraph."""
    if not _tensor_condition(condition):
        return true_fn(*values) if condition else false_fn(*values)
    before = _attribute_values(attributes)
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
    _check_attributes(before, "`if` statement", line)
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


def while_stmt(condition_fn, body_fn, values: tuple, names: tuple, line: int,
               attributes=None):
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
    before = _attribute_values(attributes)
    values = _placeholders(body_fn, values, names, line)
    _check_carried(values, names, "`while` loop", line)
    from .control_flow import while_loop

    result = tuple(while_loop(condition_fn, lambda *v: tuple(body_fn(*v)), list(values)))
    _check_attributes(before, "`while` loop", line)
    return result


def _traced_dataset(iterable) -> bool:
    tracer = tracing.current()
    if tracer is None or tracer.depth:
        return False
    from ..data import Dataset

    return isinstance(iterable, Dataset)


def for_stmt(iterable, body_fn, extra_test, values: tuple, names: tuple, line: int,
             attributes=None):
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
        before = _attribute_values(attributes)
        result = dataset_for(iterable, body_fn, extra_test, values)
        _check_attributes(before, "`for` loop", line)
        return result
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

    before = _attribute_values(attributes)
    result = while_loop(test, lambda index, *rest: (index + 1, *body_fn(item(index), *rest)),
                        [constant(0), *values])
    _check_attributes(before, "`for` loop", line)
    return tuple(result[1:])
