"""Lowering rules: each registry op's forward and VJP on raw backend arrays, for replay plans.

A traced graph replays op by op through the registry (Tensor objects, checks, tape records).
A replay plan (`tensorflowish.function.plan`) instead runs each line through the lowering rule
of its op: a function on NumPy arrays specialised at plan time to the line's static shapes,
dtypes and literal arguments, so nothing is checked or wrapped per call.

A rule is registered per op (by the registry's name of it) with `@lowering("multiply")`, and
is called once per graph line as `rule(line)`, where `line` (a `Line`) gives the line's bound
arguments with their static shapes and dtypes. It returns a `Lowered`, or raises `NotLowered`
for a configuration it does not cover (the line then runs through its op on Tensors, or the
whole graph replays op by op when the line is on a gradient path).

Every rule computes what its eager op computes, with the same array calls in the same order, so
a plan's results equal eager's; `tests/function/test_lowering.py` checks each rule against its
op on the registry's samples (values and VJPs, float64).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

import numpy as np

from ...ops import registry

__all__ = ["Lowered", "Backward", "Line", "Operand", "NotLowered", "lowering", "rule_for",
           "coverage", "unbroadcaster", "HALF_PRECISION", "is_half"]


class NotLowered(Exception):
    """A rule does not cover this line (its arguments, dtypes or backend)."""


@dataclasses.dataclass(frozen=True)
class Operand:
    """An array input of a lowered line: a graph slot, or a constant made at plan time."""

    slot: int | None = None
    constant: object = None

    @property
    def is_slot(self) -> bool:
        return self.slot is not None


@dataclasses.dataclass
class Backward:
    """A line's VJP for the inputs a gradient needs: `function(g, *saved)` returns one
    gradient (or None) per input.

    `saves` names what follows the upstream gradient `g`: `"in0"`, `"in1"`... (inputs), `"out"`,
    `"res"` (the forward's residual) or `None` (passed as None: not needed here). `fresh`: the
    gradients are new arrays (never `g` or a saved array). `single`: `function` returns the
    one needed gradient itself, not a tuple; with `ufunc` it also accepts `out=` of `g`'s shape,
    so a plan may compute it into `g`'s buffer. `passthrough`: every needed input's gradient
    is `g` itself (no call at all). `sparse`: the dense shape of the first input, whose
    gradient `function` returns as an `IndexedSlices`'s (values, indices) (an embedding
    table's): kept sparse for a Variable, as eager's tape keeps it, else made dense.

    `buffers`: per input, `(shape, dtype)` of a buffer `function` can compute that input's
    gradient into (None where it cannot): it then accepts `out=`, a tuple with one array or
    None per input, each array contiguous, of that shape and dtype, not overlapping its
    arguments (a plan passes buffers it keeps from call to call). `aliases`: the `saves` entries
    (`"res"`...) whose buffers the gradients may be views of although `fresh` (a residual the
    backward scales in place)."""

    function: Callable | None
    saves: tuple = ()
    fresh: bool = True
    single: bool = False
    ufunc: bool = False
    passthrough: bool = False
    sparse: tuple | None = None
    buffers: tuple = ()
    aliases: tuple = ()


PASS = Backward(None, fresh=False, passthrough=True)


@dataclasses.dataclass
class Lowered:
    """One line on arrays: `forward(*inputs)` gives the output (with `residual`: a pair of the
    output and what the backward needs beside the inputs and output).

    `vjp(needs, overwrite)` returns the `Backward` for the inputs flagged in `needs` (with
    `overwrite`, it may write into the upstream gradient).
    `ufunc`: forward accepts `out=` (an elementwise ufunc whose output has an input's shape and
    dtype), so a plan may compute it in place into a dead input buffer, or into a buffer of the
    output's shape and dtype. `fresh`: the output is a new array, never a view of an input.

    `buffers`: `(shape, dtype)` per result (the output, then the residual with `residual`) that
    `forward` can compute into (None where it cannot); `forward` then accepts `out=`, a tuple
    of one array or None per result (contiguous, of that shape and dtype, not overlapping the
    inputs; the output may be a view of its buffer). A plan passes buffers it allocates once
    and keeps from call to call, for results that never leave the call. With `buffers`, the
    residual is a new array (or a view of its buffer), never a view of an input; without,
    the plan assumes it may hold the inputs."""

    forward: Callable
    inputs: list
    vjp: Callable | None = None
    residual: bool = False
    ufunc: bool = False
    fresh: bool = True
    buffers: tuple = ()
    # set by the plan before `vjp` is called: the backward runs once per forward (a
    # non-persistent tape), so it may write into the residual
    consume_residual: bool = False
    # positions of inputs the eager op does not record on a tape (a recurrent op's masks):
    # never differentiated, and they do not make the output tracked
    untracked: tuple = ()


class Line:
    """A graph line as a rule sees it: arguments by parameter name, static shapes and dtypes."""

    def __init__(self, name: str, function: Callable, args: tuple, kwargs: dict, specs: dict,
                 output_slots: list[int]) -> None:
        self.name = name
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except TypeError as error:
            raise NotLowered(f"arguments do not bind: {error}") from None
        bound.apply_defaults()
        self.arguments = bound.arguments
        self.specs = specs
        self.output_slots = output_slots
        self.half = name in HALF_PRECISION  # the rule computes half precision as its op does

    def __getitem__(self, name: str):
        return self.arguments[name]

    def literal_structure(self, name: str) -> list:
        """A list or tuple argument (of tensors and literals)."""
        value = self.arguments[name]
        if not isinstance(value, (list, tuple)):
            raise NotLowered(f"argument {name} is not a list")
        return list(value)

    def tensor_value(self, value, float_only: bool = False) -> Operand:
        """One tensor (a Slot) or literal of a list argument, as an operand."""
        return self._operand(value, "a list item", float_only)

    def literal(self, name: str):
        """An argument that must be a plain Python value (not a traced tensor)."""
        value = self.arguments[name]
        if _has_slot(value):
            raise NotLowered(f"argument {name} is a tensor")
        return value

    # --- static types ------------------------------------------------------------------
    def shape(self, operand: Operand) -> tuple:
        if operand.slot is None:
            return np.shape(operand.constant)
        return self.specs[operand.slot][0]

    def dtype(self, operand: Operand) -> np.dtype:
        if operand.slot is None:
            return np.asarray(operand.constant).dtype
        return self.specs[operand.slot][1]

    @property
    def output_shape(self) -> tuple:
        return self.specs[self.output_slots[0]][0]

    @property
    def output_dtype(self) -> np.dtype:
        return self.specs[self.output_slots[0]][1]

    # --- operands ------------------------------------------------------------------------
    def tensor(self, name: str, float_only: bool = False) -> Operand:
        """An argument converted as the op's `as_tensor` converts it."""
        return self._operand(self.arguments[name], f"argument {name}", float_only)

    def _operand(self, value, name: str, float_only: bool) -> Operand:
        if value.__class__.__name__ == "Slot":
            if value.index not in self.specs:
                raise NotLowered(f"{name} is not a tensor")
            operand = Operand(slot=value.index)
        elif _has_slot(value):
            raise NotLowered(f"{name} is a structure of tensors")
        else:
            operand = Operand(constant=registry.as_tensor(value).array)
        if not _plain_dtype(self.dtype(operand), float_only, self.half):
            raise NotLowered(f"{name} of dtype {self.dtype(operand)}")
        return operand

    def binary(self, x_name: str, y_name: str) -> tuple[Operand, Operand]:
        """Both operands as `registry.binary_operands` makes them (literals take the dtype of
        the tensor beside them)."""
        x, y = self.arguments[x_name], self.arguments[y_name]
        x_slot, y_slot = x.__class__.__name__ == "Slot", y.__class__.__name__ == "Slot"
        if _has_slot(x) and not x_slot or _has_slot(y) and not y_slot:
            raise NotLowered("an operand is a structure of tensors")
        if (x_slot and x.index not in self.specs) or (y_slot and y.index not in self.specs):
            raise NotLowered("an operand is not a tensor")
        if x_slot and y_slot:
            a, b = Operand(slot=x.index), Operand(slot=y.index)
        elif x_slot or y_slot:
            like = self.specs[(x if x_slot else y).index][1]
            dummy = registry.Tensor(np.zeros((), like))
            first, second = (dummy, y) if x_slot else (x, dummy)
            first, second = registry.binary_operands(first, second, self.name)
            a = Operand(slot=x.index) if x_slot else Operand(constant=first.array)
            b = Operand(slot=y.index) if y_slot else Operand(constant=second.array)
        else:
            first, second = registry.binary_operands(x, y, self.name)
            a, b = Operand(constant=first.array), Operand(constant=second.array)
        if self.dtype(a) != self.dtype(b) or not _plain_dtype(self.dtype(a), half=self.half):
            raise NotLowered("operand dtypes differ or are not numbers")
        return a, b


def _plain_dtype(dtype: np.dtype, float_only: bool = False, half: bool = False) -> bool:
    """float32/float64 (complex too), or integers and bools unless `float_only`: the dtypes the
    rules compute as eager does; float16 and bfloat16 (ml_dtypes, kind "V") too for the rules
    registered with `half=True` (half precision accumulates in float32 in sums and products,
    and NumPy functions without a bfloat16 loop compute in float32 and are rounded back: those
    rules do as their ops do)."""
    if dtype.kind in "fc":
        return dtype.itemsize > 2 or (half and dtype == np.float16)
    if dtype.kind == "V":
        return half and dtype.name == "bfloat16"
    return not float_only and dtype.kind in "iub"


def is_half(dtype) -> bool:
    """float16 or bfloat16: the dtypes eager accumulates in float32 (sums, products)."""
    return dtype.itemsize == 2 and dtype.kind in "fV"


def _has_slot(value) -> bool:
    if value.__class__.__name__ == "Slot":
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_slot(item) for item in value)
    if isinstance(value, dict):
        return any(_has_slot(item) for item in value.values())
    return False


# --- the rule table --------------------------------------------------------------------------
RULES: dict[str, Callable[[Line], Lowered]] = {}  # registry name -> rule
HALF_PRECISION: set[str] = set()  # rules taking float16/bfloat16 operands (checked in both)


def lowering(*names: str, half: bool = False):
    """Register a rule for the registry ops named `names` (their first registry name); with
    `half`, its operands may be float16 or bfloat16 (the rule then computes as the eager op
    does in them: tests/function/test_lowering.py checks it on the samples cast to each)."""
    def decorate(rule):
        for name in names:
            if name not in registry.REGISTRY:
                raise KeyError(f"lowering rule for {name!r}: no such registry op")
            RULES[name] = rule
            if half:
                HALF_PRECISION.add(name)
        return rule
    return decorate


_BY_FUNCTION: dict = {}
# graph lines that are not registry ops but compute like one (recorded as calls of their own,
# such as `Variable.__getitem__`): function -> (line name, rule)
LINE_RULES: dict[Callable, tuple[str, Callable]] = {}


def lowering_of_line(function: Callable, name: str):
    """Register a rule for the non-registry graph line calling `function` (a pure call that
    tracing records as a line of its own); the plan lowers such a line like an op's."""
    def decorate(rule):
        LINE_RULES[function] = (name, rule)
        return rule
    return decorate


def has_line_rule(function: Callable) -> bool:
    """Whether a non-registry graph line calling `function` has a rule (a pure call, lowered
    although tracing records it as a stateful line)."""
    if not _BY_FUNCTION:
        rule_for(None)  # loads the rule modules
    return function in LINE_RULES


def rule_for(function: Callable) -> tuple[str, Callable] | None:
    """(registry name, rule) of the op whose undecorated function a graph line calls."""
    if not _BY_FUNCTION:
        _load()
        for name, info in registry.REGISTRY.items():
            _BY_FUNCTION[getattr(info.function, "__wrapped__", info.function)] = name
    if function in LINE_RULES:
        return LINE_RULES[function]
    name = _BY_FUNCTION.get(function)
    if name is None or name not in RULES:
        return None
    return name, RULES[name]


def coverage() -> tuple[list[str], list[str]]:
    """(registry ops with a lowering rule, differentiable registry ops without one)."""
    _load()
    covered = sorted(name for name in registry.REGISTRY if name in RULES)
    missing = sorted(name for name, info in registry.REGISTRY.items()
                     if name not in RULES and info.differentiable)
    return covered, missing


def _load() -> None:
    from . import (  # noqa: F401
        contractions,
        convolution,
        elementwise,
        embedding,
        indexing,
        math_more,
        more,
        nn,
        precision,
        recurrent,
        scans,
        selection,
        shapes,
        shapes_more,
        static,
    )


# --- shared helpers ---------------------------------------------------------------------
def unbroadcaster(from_shape: tuple, to_shape: tuple) -> Callable | None:
    """A function summing a gradient of `from_shape` back to `to_shape` as the tape's
    `unbroadcast` does (None when the shapes are equal)."""
    from_shape, to_shape = tuple(from_shape), tuple(to_shape)
    if from_shape == to_shape:
        return None
    extra = len(from_shape) - len(to_shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, size in enumerate(to_shape)
                                       if size == 1 and from_shape[extra + i] != 1)
    add_reduce = np.add.reduce

    def reduce(g):
        if axes:
            if is_half(g.dtype):  # as eager's reduce_sum: in float32, rounded once
                g = add_reduce(g, axes, np.float32, None, False).astype(g.dtype)
            else:
                dtype = g.dtype if g.dtype.kind in "iu" else None
                g = add_reduce(g, axes, dtype, None, False)
        if np.shape(g) != to_shape:
            g = g.reshape(to_shape)
        return g
    return reduce
