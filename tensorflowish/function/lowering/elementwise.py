"""Lowering rules of the elementwise ops: arithmetic, unary math and the simple activations.

Each VJP repeats its eager op's formula (`tensorflowish/ops/math.py`, `ops/nn.py`) on arrays,
in the same order of operations, so a plan's gradients equal eager's bit for bit.
"""

from __future__ import annotations

import numpy as np

from . import PASS, Backward, Line, Lowered, NotLowered, lowering, unbroadcaster


# --- binary arithmetic ---------------------------------------------------------------------
# A gradient is None (the upstream passes through), `Direct(ufunc, saved)` (ufunc(g) or
# ufunc(g, saved input or output): one call that a plan may run in place into g), or
# `General(function, uses)` (function(g, x, y, out), reading only what `uses` names).
class Direct:
    def __init__(self, ufunc, saved: str | None = None) -> None:
        self.ufunc, self.saved = ufunc, saved

    def __call__(self, g, x, y, out):
        if self.saved is None:
            return self.ufunc(g)
        return self.ufunc(g, {"in0": x, "in1": y, "out": out}[self.saved])

    @property
    def uses(self) -> tuple:
        return () if self.saved is None else (self.saved,)


class General:
    def __init__(self, function, uses: tuple) -> None:
        self.function, self.uses = function, uses

    def __call__(self, g, x, y, out):
        return self.function(g, x, y, out)


def _binary(line: Line, forward, gradient_x, gradient_y, ufunc) -> Lowered:
    """A broadcasting binary op with one gradient rule per input, each summed back to its
    input's shape (as the tape's unbroadcast)."""
    x, y = line.binary("x", "y")
    out_shape = line.output_shape
    reducers = (unbroadcaster(out_shape, line.shape(x)), unbroadcaster(out_shape, line.shape(y)))
    rules = (gradient_x, gradient_y)

    def vjp(needs, overwrite):
        wanted = [i for i in (0, 1) if needs[i]]
        if all(rules[i] is None and reducers[i] is None for i in wanted):
            return PASS
        if len(wanted) == 1 and reducers[wanted[0]] is None and \
                isinstance(rules[wanted[0]], Direct):
            direct = rules[wanted[0]]
            return Backward(direct.ufunc, direct.uses, single=True, ufunc=True)
        uses = set()
        for i in wanted:
            uses.update(() if rules[i] is None else rules[i].uses)
        saves = tuple(name if name in uses else None for name in ("in0", "in1", "out"))

        def backward(g, a, b, out):
            grads = [None, None]
            for i in wanted:
                grad = g if rules[i] is None else rules[i](g, a, b, out)
                grads[i] = grad if reducers[i] is None else reducers[i](grad)
            return grads
        fresh = not any(rules[i] is None and reducers[i] is None for i in wanted)
        return Backward(backward, saves, fresh=fresh)

    return Lowered(forward, [x, y], vjp, ufunc=ufunc)


@lowering("add", half=True)
def add(line: Line) -> Lowered:
    return _binary(line, np.add, None, None, ufunc=True)


@lowering("subtract", half=True)
def subtract(line: Line) -> Lowered:
    return _binary(line, np.subtract, None, Direct(np.negative), ufunc=True)


@lowering("multiply", half=True)
def multiply(line: Line) -> Lowered:
    return _binary(line, np.multiply, Direct(np.multiply, "in1"), Direct(np.multiply, "in0"),
                   ufunc=True)


@lowering("divide", half=True)
def divide(line: Line) -> Lowered:
    x, y = line.binary("x", "y")
    if line.dtype(x).kind not in "fcV":  # integers divide into float64: left to the op
        raise NotLowered("integer division")
    return _binary(line, np.true_divide, Direct(np.true_divide, "in1"),
                   General(lambda g, x, y, out: -(g * out / y), ("in1", "out")), ufunc=True)


@lowering("maximum", half=True)
def maximum(line: Line) -> Lowered:
    # eager: the gradient goes to x where x >= y (math.maximum's VJPs)
    return _extremum(line, np.maximum, np.greater_equal, np.less)


@lowering("minimum", half=True)
def minimum(line: Line) -> Lowered:
    return _extremum(line, np.minimum, np.less_equal, np.greater)


def _extremum(line: Line, forward, x_wins, y_wins) -> Lowered:
    def gradient_x(g, x, y, out):
        return g * x_wins(x, y).astype(g.dtype)

    def gradient_y(g, x, y, out):
        return g * y_wins(x, y).astype(g.dtype)
    return _binary(line, forward, General(gradient_x, ("in0", "in1")),
                   General(gradient_y, ("in0", "in1")), ufunc=True)


@lowering("math.squared_difference")
def squared_difference(line: Line) -> Lowered:
    x, y = line.binary("x", "y")
    if line.dtype(x).kind not in "fc":
        raise NotLowered("integer operands")

    def forward(a, b):
        difference = a - b
        return difference * difference

    # eager: d = subtract(x, y), then multiply(d, d), whose two VJPs (g * d each) are summed
    def gradient_x(g, a, b, out):
        difference = a - b
        return g * difference + g * difference

    def gradient_y(g, a, b, out):
        return -gradient_x(g, a, b, out)
    return _binary(line, forward, General(gradient_x, ("in0", "in1")),
                   General(gradient_y, ("in0", "in1")), ufunc=False)


# --- unary math --------------------------------------------------------------------------
def _unary(line: Line, forward, gradient, float_only=True, ufunc=True) -> Lowered:
    """`forward(a)`; the input's gradient is `gradient`: a `Direct` or
    `General(function(g, x, out), uses)`."""
    argument = "features" if "features" in line.arguments else "x"
    x = line.tensor(argument, float_only=float_only)
    if line.dtype(x) != line.output_dtype:
        raise NotLowered("the output dtype differs from the input's")
    if line.dtype(x).kind == "V":  # bfloat16: as eager, NumPy's float32 results rounded back
        forward, ufunc = _rounded_back(forward, line.dtype(x)), False
    if isinstance(gradient, Direct):
        backward = Backward(gradient.ufunc, gradient.uses, single=True, ufunc=True)
    else:
        function = gradient.function
        saves = tuple(name if name in gradient.uses else None for name in ("in0", "out"))
        backward = Backward(lambda g, a, out: (function(g, a, out),), saves)
    return Lowered(forward, [x], lambda needs, overwrite: backward, ufunc=ufunc)


def _rounded_back(forward, dtype):
    def rounded(a):
        result = forward(a)
        return result if result.dtype == dtype else result.astype(dtype)
    return rounded


# the unary ops whose eager forward and VJP on float16 and bfloat16 are these same NumPy calls
# (a Python float in a VJP is taken in g's dtype, as the eager VJP's ops take it)
_HALF = {"negative", "abs", "square", "sqrt", "exp", "math.log", "tanh", "sigmoid", "nn.relu"}


def _unary_rule(name: str, forward, gradient, float_only=True, ufunc=True):
    def rule(line: Line) -> Lowered:
        return _unary(line, forward, gradient, float_only=float_only, ufunc=ufunc)
    rule.__name__ = name.split(".")[-1]
    lowering(name, half=name in _HALF)(rule)


def _x(function):
    return General(function, ("in0",))


def _out(function):
    return General(function, ("out",))


_unary_rule("negative", np.negative, Direct(np.negative), float_only=False)
_unary_rule("abs", np.abs, _x(lambda g, x, out: g * np.sign(x)), float_only=False)
_unary_rule("square", lambda a: a * a, _x(lambda g, x, out: g * (x * 2)), float_only=False,
            ufunc=False)
_unary_rule("sqrt", np.sqrt, _out(lambda g, x, out: g * g.dtype.type(0.5) / out))
_unary_rule("math.reciprocal", lambda a: 1 / a, _out(lambda g, x, out: -(g * out * out)),
            ufunc=False)
_unary_rule("exp", np.exp, Direct(np.multiply, "out"))
_unary_rule("math.expm1", np.expm1, _out(lambda g, x, out: g * (out + 1)))
_unary_rule("math.log", np.log, Direct(np.true_divide, "in0"))
_unary_rule("math.log1p", np.log1p, _x(lambda g, x, out: g / (x + 1)))
_unary_rule("math.sin", np.sin, _x(lambda g, x, out: g * np.cos(x)))
_unary_rule("math.cos", np.cos, _x(lambda g, x, out: -(g * np.sin(x))))
_unary_rule("tanh", np.tanh, _out(lambda g, x, out: g * (1 - out * out)))


def _sigmoid(a):
    y = np.tanh(a * 0.5)
    y += 1
    y *= 0.5
    return y


_unary_rule("sigmoid", _sigmoid, _out(lambda g, x, out: g * (out * (1 - out))), ufunc=False)
_unary_rule("nn.relu", lambda a: np.maximum(a, 0),
            _out(lambda g, x, out: g * np.greater(out, 0).astype(g.dtype)), float_only=False,
            ufunc=False)


@lowering("nn.leaky_relu")
def leaky_relu(line: Line) -> Lowered:
    alpha = line.literal("alpha")

    def forward(a):
        return np.where(a > 0, a, a * alpha)

    def gradient(g, x, out):
        return np.where(np.greater(x, 0), g, g * alpha)
    return _unary(line, forward, _x(gradient), ufunc=False)


@lowering("nn.elu")
def elu(line: Line) -> Lowered:
    def forward(a):
        return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))

    def gradient(g, x, out):
        return np.where(np.greater(x, 0), g, g * (out + 1))
    return _unary(line, forward, General(gradient, ("in0", "out")), ufunc=False)


@lowering("nn.softplus")
def softplus(line: Line) -> Lowered:
    def forward(a):
        return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))

    def gradient(g, x, out):
        return g * _sigmoid(x)
    return _unary(line, forward, _x(gradient), ufunc=False)


@lowering("clip_by_value")
def clip_by_value(line: Line) -> Lowered:
    t = line.tensor("t")
    if line.dtype(t).kind not in "fciu":
        raise NotLowered("clip of booleans")
    low = _literal_like(line, "clip_value_min", line.dtype(t))
    high = _literal_like(line, "clip_value_max", line.dtype(t))

    def forward(a):
        return np.clip(a, low, high)

    def backward(g, a):
        inside = np.logical_and(np.greater_equal(a, low), np.less_equal(a, high))
        return (np.where(inside, g, np.zeros_like(g)),)
    return Lowered(forward, [t], lambda needs, overwrite: Backward(backward, ("in0",)))


def _literal_like(line: Line, name: str, dtype):
    from ...ops import registry

    value = line.literal(name)
    return registry.binary_operands(registry.Tensor(np.zeros((), dtype)), value, line.name)[1] \
        .array
