"""Elementwise math: each op is its forward on backend arrays and, right beside it, its VJP.

Convenience ops (subtract, divide, square, ...) are composed from primitives where that costs
nothing; the rest carry their own one-line calculus.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes as _dtypes
from ..tape import _recording_tapes, pass_through, record_binary, record_elementwise
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    binary_operands,
    broadcast_shape,
    record,
    refuse_strings,
    register,
    require_float,
    should_record,
    unbroadcast,
)


# --- sample inputs for the gradient tests (float64, random, non-zero) --------------------------
def _unary(low=-2.0, high=2.0):
    return lambda rng: [((rng.uniform(low, high, (3, 4)),), {}),
                        ((rng.uniform(low, high, ()),), {})]


def _positive(rng):
    return [((rng.uniform(0.5, 2.0, (3, 4)),), {})]


def _away_from_zero(rng):
    x = rng.uniform(0.3, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    return [((x,), {})]


def _binary(rng, positive=False):
    low = 0.5 if positive else -2.0
    draw = lambda shape: rng.uniform(low, 2.0, shape)  # noqa: E731
    return [((draw((3, 4)), draw((3, 4))), {}),
            ((draw((2, 3, 4)), draw((4,))), {}),      # broadcast the second
            ((draw((3, 1)), draw((1, 4))), {}),       # broadcast both
            ((draw(()), draw((2, 3))), {})]


def _binary_distinct(rng):
    """Pairs whose elements never tie (for max/min, whose derivative jumps at ties)."""
    x = rng.uniform(-2, 2, (3, 4))
    return [((x, x + rng.choice([-1.0, 1.0], (3, 4)) * rng.uniform(0.2, 1.0, (3, 4))), {}),
            ((rng.uniform(-2, 2, (2, 3)), np.array(0.123)), {})]


def _binary_op(op_name: str, forward, vjps, doc: str):
    """A broadcasting binary op: `forward(a, b)` on arrays, `vjps` = (VJP for x, VJP for y), each
    called as vjp(upstream, x, y, out) and summed back to its input's shape by the tape.

    The op is built once per kind rather than sharing one body through a call: these are the
    operators of every chain of tensor arithmetic, and a call less is a tenth of their cost.
    """
    def op(x, y, name=None) -> Tensor:
        # the common case, two tensors whose arrays share one dtype and one array type, needs no
        # conversion and no device check; anything else goes through binary_operands
        if isinstance(x, Tensor) and isinstance(y, Tensor):
            a, b = x.array, y.array
            if a.dtype is not b.dtype or a.__class__ is not b.__class__ or \
                    a.__class__ is not np.ndarray:  # GPU arrays: binary_operands checks devices
                x, y = binary_operands(x, y, op_name)
                a, b = x.array, y.array
        else:
            x, y = binary_operands(x, y, op_name)
            a, b = x.array, y.array
        try:
            out = Tensor(forward(a, b))
        except ValueError:
            broadcast_shape(op_name, a.shape, b.shape)
            raise
        except TypeError:
            refuse_strings(op_name, a.dtype, b.dtype)
            raise
        if _recording_tapes:
            record_binary(x, y, out, vjps)
        return out

    op.__name__ = op.__qualname__ = op_name
    op.__doc__ = doc
    return op


# (VJP for x, VJP for y), each called as vjp(upstream, x, y, out); built once, not per call.
# pass_through marks a VJP that returns the upstream gradient unchanged: the tape skips the call
_ADD_VJPS = (pass_through, pass_through)


add = register("add", "math.add", samples=_binary)(_binary_op(
    "add", operator.add, _ADD_VJPS, "x + y, elementwise with broadcasting."))


_SUBTRACT_VJPS = (pass_through, lambda g, x, y, out: negative(g))


subtract = register("subtract", "math.subtract", samples=_binary)(_binary_op(
    "subtract", operator.sub, _SUBTRACT_VJPS, "x - y, elementwise with broadcasting."))


# the VJPs call the op itself, not its tf.function dispatcher: a backward pass runs inside
# gradient(), which a trace records as one call
_MULTIPLY_VJPS = (lambda g, x, y, out: _multiply(g, y), lambda g, x, y, out: _multiply(g, x))


_multiply = _binary_op("multiply", operator.mul, _MULTIPLY_VJPS,
                       "x * y, elementwise with broadcasting.")
multiply = register("multiply", "math.multiply", samples=_binary)(_multiply)


def _divisor_pairs(rng):
    return [((rng.uniform(-2, 2, (3, 4)), rng.uniform(0.5, 2, (3, 4))), {}),
            ((rng.uniform(-2, 2, (2, 3)), rng.uniform(0.5, 2, (3,))), {})]


_DIVIDE_VJPS = (lambda g, x, y, out: divide(g, y),
                lambda g, x, y, out: negative(g * out / y))


divide = register("divide", "math.divide", "truediv", "math.truediv", samples=_divisor_pairs)(
    _binary_op("divide", operator.truediv, _DIVIDE_VJPS,
               "x / y, elementwise (integers give float64, as in TensorFlow)."))


def _without_gradient(op: str, inputs: tuple, out: Tensor) -> Tensor:
    """Record an op that has no gradient, so differentiating through it fails loudly."""
    if out.array.dtype.kind in "fV" and should_record(inputs):
        def refuse(g):
            raise LookupError(f"No gradient defined for operation '{op}': it is piecewise "
                              "constant. Wrap it in tf.stop_gradient(...) if you mean to treat "
                              "its result as a constant.")
        record(inputs, out, tuple(refuse for _ in inputs))
    return out


@register("floordiv", "math.floordiv", differentiable=False)
def floordiv(x, y, name=None) -> Tensor:
    """x // y (no gradient)."""
    x, y = binary_operands(x, y, "floordiv")
    refuse_strings("floordiv", x.array.dtype)
    _check_integer_divisor("floordiv", y)
    with np.errstate(divide="ignore", invalid="ignore"):  # floats: inf and nan, as TensorFlow
        quotient = x.array // y.array
    return _without_gradient("floordiv", (x, y), Tensor(quotient))


def _check_integer_divisor(op: str, y: Tensor) -> None:
    """Integer division by zero raises, as TensorFlow does on the CPU (NumPy gives 0)."""
    if y.array.dtype.kind in "iu" and not bool(y.array.all()):
        raise InvalidArgumentError(f"{op}: Integer division by zero (the divisor of dtype "
                                   f"{y.dtype.name} holds a 0).")


def _mod(a, b):
    if b.dtype.kind in "iu" and not bool(b.all()):
        raise InvalidArgumentError(f"floormod: Integer division by zero (the divisor of dtype "
                                   f"{b.dtype.name} holds a 0).")
    with np.errstate(divide="ignore", invalid="ignore"):  # floats: nan, as TensorFlow
        return a % b


floormod = register(
    "math.floormod", "math.mod", "mod",
    samples=lambda rng: [((rng.uniform(0.1, 5, (3, 4)), rng.uniform(0.7, 1.3, (3, 4))), {})],
)(_binary_op("floormod", _mod,
             (pass_through, lambda g, x, y, out: negative(g * _constant(floor(x / y)))),
             "x % y with the sign of y, like Python and TensorFlow."))


def _pow_vjp_y(g, x, y, out):
    # d(x^y)/dy = x^y log(x), taken as 0 where x <= 0 (as TensorFlow does)
    positive = greater(x, 0)
    safe_x = where(positive, x, ones_like_(x))
    grad = g * out * log(safe_x)
    return where(positive, grad, zeros_like_(grad))


pow = register(  # noqa: A001 - TensorFlow's name
    "pow", "math.pow",
    samples=lambda rng: [((rng.uniform(0.5, 2, (3, 4)), rng.uniform(-2, 2, (3, 4))), {}),
                         ((rng.uniform(0.5, 2, (2, 3)), np.array(3.0)), {})],
)(_binary_op("pow", operator.pow, (lambda g, x, y, out: g * y * x ** (y - 1), _pow_vjp_y),
             "x ** y, elementwise."))


maximum = register("maximum", "math.maximum", samples=_binary_distinct)(_binary_op(
    "maximum", lambda a, b: array_module(a).maximum(a, b),
    (lambda g, x, y, out: g * cast(greater_equal(x, y), g.dtype),
     lambda g, x, y, out: g * cast(less(x, y), g.dtype)),
    "Elementwise max; the gradient goes to x where x >= y (as in TensorFlow)."))


minimum = register("minimum", "math.minimum", samples=_binary_distinct)(_binary_op(
    "minimum", lambda a, b: array_module(a).minimum(a, b),
    (lambda g, x, y, out: g * cast(less_equal(x, y), g.dtype),
     lambda g, x, y, out: g * cast(greater(x, y), g.dtype)),
    "Elementwise min; the gradient goes to x where x <= y."))


def _unary_op(name, x, forward, vjp, float_only=True):
    """Shared body of a unary op: `vjp(g, x, out)` gives the input gradient."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if float_only and x.array.dtype.kind not in "fcV":
        require_float(name, x)  # raises, saying what to do
    array = forward(x.array)
    if array.dtype is not x.array.dtype and array.dtype != x.array.dtype and float_only:
        array = array.astype(x.array.dtype)  # bfloat16: some NumPy functions return float32
    out = Tensor(array)
    if _recording_tapes:
        record_elementwise((x,), out, (vjp,))
    return out


@register("negative", "math.negative", "math.neg", samples=_unary())
def negative(x, name=None) -> Tensor:
    """-x."""
    return _unary_op("negative", x, lambda a: -a, lambda g, x, out: negative(g), float_only=False)


@register("abs", "math.abs", samples=lambda rng: _away_from_zero(rng))
def abs(x, name=None) -> Tensor:  # noqa: A001 - TensorFlow's name
    """|x|; the gradient is sign(x)."""
    return _unary_op("abs", x, lambda a: array_module(a).abs(a),
                     lambda g, x, out: g * sign(x), float_only=False)


@register("math.sign", "sign", differentiable=False)
def sign(x, name=None) -> Tensor:
    """-1, 0 or 1; its gradient is zero (as in TensorFlow)."""
    return _unary_op("sign", x, lambda a: array_module(a).sign(a),
                     lambda g, x, out: zeros_like_(g), float_only=False)


@register("math.floor", "floor", differentiable=False)
def floor(x, name=None) -> Tensor:
    """Round down (no gradient)."""
    x = as_tensor(x)
    require_float("floor", x)  # TensorFlow defines floor for floating-point types only
    return _without_gradient("floor", (x,), Tensor(array_module(x.array).floor(x.array)))


@register("math.ceil", differentiable=False)
def ceil(x, name=None) -> Tensor:
    """Round up (no gradient)."""
    x = as_tensor(x)
    require_float("ceil", x)  # TensorFlow defines ceil for floating-point types only
    return _without_gradient("ceil", (x,), Tensor(array_module(x.array).ceil(x.array)))


@register("math.round", "round", differentiable=False)
def round(x, name=None) -> Tensor:  # noqa: A001 - TensorFlow's name
    """Round half to even, like TensorFlow (no gradient)."""
    x = as_tensor(x)
    return _without_gradient("round", (x,), Tensor(array_module(x.array).round(x.array)))


@register("square", "math.square", samples=_unary())
def square(x, name=None) -> Tensor:
    """x * x."""
    return _unary_op("square", x, lambda a: a * a, lambda g, x, out: g * (x * 2),
                     float_only=False)


@register("sqrt", "math.sqrt", samples=_positive)
def sqrt(x, name=None) -> Tensor:
    """Square root; the gradient is 0.5 / sqrt(x)."""
    return _unary_op("sqrt", x, lambda a: array_module(a).sqrt(a),
                     lambda g, x, out: g * 0.5 / out)


@register("math.rsqrt", "rsqrt", samples=_positive)
def rsqrt(x, name=None) -> Tensor:
    """1 / sqrt(x)."""
    return reciprocal(sqrt(x))


@register("math.reciprocal", "reciprocal", samples=lambda rng: _away_from_zero(rng))
def reciprocal(x, name=None) -> Tensor:
    """1 / x."""
    return _unary_op("reciprocal", x, lambda a: 1 / a,
                     lambda g, x, out: negative(g * out * out))


@register("exp", "math.exp", samples=_unary())
def exp(x, name=None) -> Tensor:
    """e ** x; the gradient reuses the output."""
    return _unary_op("exp", x, lambda a: array_module(a).exp(a), lambda g, x, out: g * out)


@register("math.expm1", samples=_unary())
def expm1(x, name=None) -> Tensor:
    """exp(x) - 1, accurate near 0."""
    return _unary_op("expm1", x, lambda a: array_module(a).expm1(a),
                     lambda g, x, out: g * (out + 1))


@register("math.log", "log", samples=_positive)
def log(x, name=None) -> Tensor:
    """Natural logarithm."""
    return _unary_op("log", x, lambda a: array_module(a).log(a), lambda g, x, out: g / x)


@register("math.log1p", samples=_positive)
def log1p(x, name=None) -> Tensor:
    """log(1 + x), accurate near 0."""
    return _unary_op("log1p", x, lambda a: array_module(a).log1p(a),
                     lambda g, x, out: g / (x + 1))


@register("math.sin", "sin", samples=_unary())
def sin(x, name=None) -> Tensor:
    """Sine."""
    return _unary_op("sin", x, lambda a: array_module(a).sin(a), lambda g, x, out: g * cos(x))


@register("math.cos", "cos", samples=_unary())
def cos(x, name=None) -> Tensor:
    """Cosine."""
    return _unary_op("cos", x, lambda a: array_module(a).cos(a),
                     lambda g, x, out: negative(g * sin(x)))


@register("tanh", "math.tanh", "nn.tanh", "keras.activations.tanh", samples=_unary())
def tanh(x, name=None) -> Tensor:
    """Hyperbolic tangent; the gradient comes from the output: 1 - y²."""
    return _unary_op("tanh", x, lambda a: array_module(a).tanh(a),
                     lambda g, x, out: g * (1 - out * out))


@register("sigmoid", "math.sigmoid", "nn.sigmoid", "keras.activations.sigmoid",
          samples=_unary(-6, 6))
def sigmoid(x, name=None) -> Tensor:
    """1 / (1 + e^-x), computed stably as (tanh(x/2) + 1) / 2; gradient y(1 - y)."""
    def forward(a):
        y = array_module(a).tanh(a * 0.5)
        y += 1
        y *= 0.5
        return y
    return _unary_op("sigmoid", x, forward, lambda g, x, out: g * (out * (1 - out)))


@register("math.erf", "erf", samples=_unary())
def erf(x, name=None) -> Tensor:
    """The error function; gradient 2/sqrt(pi) exp(-x²)."""
    return _unary_op("erf", x, erf_array,
                     lambda g, x, out: g * (2 / np.sqrt(np.pi)) * exp(negative(x * x)))


def erf_array(a):
    """erf on a backend array (SciPy/CuPy's special functions, or math.erf elementwise)."""
    xp = array_module(a)
    if xp is not np:
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(a)
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:
        import math

        return np.vectorize(math.erf, otypes=[a.dtype])(a)
    return scipy_erf(a).astype(a.dtype, copy=False)


@register("add_n", "math.add_n",
          samples=lambda rng: [(([rng.uniform(-1, 1, (2, 3)) for _ in range(3)],), {})],
          grad_arguments=(0,))
def add_n(inputs, name=None) -> Tensor:
    """The elementwise sum of a list of tensors of one shape (composed from add)."""
    inputs = list(inputs)
    if not inputs:
        raise InvalidArgumentError("add_n needs at least one tensor.")
    total = as_tensor(inputs[0])
    for item in inputs[1:]:
        total = add(total, item)
    return total


@register("math.squared_difference", samples=_binary)
def squared_difference(x, y, name=None) -> Tensor:
    """(x - y)², elementwise with broadcasting (composed: its gradient comes from the parts)."""
    difference = subtract(x, y)
    return multiply(difference, difference)


# --- comparisons and logic: no gradient ---------------------------------------------------------
def _compare(name, x, y, function):
    x, y = binary_operands(x, y, name)
    refuse_strings(name, x.array.dtype, y.array.dtype)
    return Tensor(function(x.array, y.array))


@register("equal", "math.equal", differentiable=False)
def equal(x, y, name=None) -> Tensor:
    """x == y elementwise (bool)."""
    return _compare("equal", x, y, lambda a, b: a == b)


@register("not_equal", "math.not_equal", differentiable=False)
def not_equal(x, y, name=None) -> Tensor:
    """x != y elementwise (bool)."""
    return _compare("not_equal", x, y, lambda a, b: a != b)


@register("less", "math.less", differentiable=False)
def less(x, y, name=None) -> Tensor:
    """x < y elementwise (bool)."""
    return _compare("less", x, y, lambda a, b: a < b)


@register("less_equal", "math.less_equal", differentiable=False)
def less_equal(x, y, name=None) -> Tensor:
    """x <= y elementwise (bool)."""
    return _compare("less_equal", x, y, lambda a, b: a <= b)


@register("greater", "math.greater", differentiable=False)
def greater(x, y, name=None) -> Tensor:
    """x > y elementwise (bool)."""
    return _compare("greater", x, y, lambda a, b: a > b)


@register("greater_equal", "math.greater_equal", differentiable=False)
def greater_equal(x, y, name=None) -> Tensor:
    """x >= y elementwise (bool)."""
    return _compare("greater_equal", x, y, lambda a, b: a >= b)


@register("logical_and", "math.logical_and", differentiable=False)
def logical_and(x, y, name=None) -> Tensor:
    """Elementwise and of two bool tensors."""
    return _compare("logical_and", x, y, lambda a, b: a & b)


@register("logical_or", "math.logical_or", differentiable=False)
def logical_or(x, y, name=None) -> Tensor:
    """Elementwise or of two bool tensors."""
    return _compare("logical_or", x, y, lambda a, b: a | b)


@register("logical_not", "math.logical_not", differentiable=False)
def logical_not(x, name=None) -> Tensor:
    """Elementwise not of a bool tensor."""
    x = as_tensor(x)
    return Tensor(~x.array)


@register("math.is_nan", differentiable=False)
def is_nan(x, name=None) -> Tensor:
    """True where x is NaN."""
    x = as_tensor(x)
    require_float("is_nan", x)  # TensorFlow defines is_nan for floating-point types only
    return Tensor(array_module(x.array).isnan(x.array))


@register("math.is_finite", differentiable=False)
def is_finite(x, name=None) -> Tensor:
    """True where x is finite."""
    x = as_tensor(x)
    require_float("is_finite", x)  # TensorFlow defines is_finite for floating-point types only
    return Tensor(array_module(x.array).isfinite(x.array))


# --- selection, clipping and casting -------------------------------------------------------------
@register("where", samples=lambda rng: [
    ((rng.uniform(-1, 1, (3, 4)) > 0, rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (3, 4))), {}),
    ((rng.uniform(-1, 1, (3, 1)) > 0, rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,))), {})])
def where(condition, x=None, y=None, name=None) -> Tensor:
    """Pick x where condition is true, else y (broadcasting). With x and y None: the indices."""
    condition = as_tensor(condition)
    xp = array_module(condition.array)
    if x is None and y is None:  # the coordinates of the true (non-zero) entries, int64
        return Tensor(xp.argwhere(condition.array).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where: x and y must both be given or both be None.")
    if condition.array.dtype != np.bool_:
        raise TypeError(f"where: condition must be bool, got {condition.dtype.name}; "
                        "compare first, e.g. tf.where(x > 0, ...).")
    x, y = binary_operands(x, y, "where")
    broadcast_shape("where", condition.array.shape, np.broadcast_shapes(x.array.shape,
                                                                        y.array.shape))
    out = Tensor(xp.where(condition.array, x.array, y.array))
    if should_record((x, y)):
        def vjp_x(g):
            return unbroadcast(where(condition, g, zeros_like_(g)), x.array.shape)

        def vjp_y(g):
            return unbroadcast(where(condition, zeros_like_(g), g), y.array.shape)
        record((x, y), out, (vjp_x, vjp_y))
    return out


@register("clip_by_value", samples=lambda rng: [((rng.uniform(-2, 2, (3, 4)), -0.5, 0.7), {})],
          grad_arguments=(0,))
def clip_by_value(t, clip_value_min, clip_value_max, name=None) -> Tensor:
    """Clamp to [min, max]; the gradient passes only where t was inside the range."""
    t = as_tensor(t)
    low = binary_operands(t, clip_value_min, "clip_by_value")[1]
    high = binary_operands(t, clip_value_max, "clip_by_value")[1]
    xp = array_module(t.array)
    # astype: NumPy's clip returns float32 for bfloat16 (a no-op for every other dtype)
    out = Tensor(xp.clip(t.array, low.array, high.array).astype(t.array.dtype, copy=False))
    if should_record((t,)):
        def vjp(g):
            inside = logical_and(greater_equal(t, low), less_equal(t, high))
            return where(inside, g, zeros_like_(g))
        record((t,), out, (vjp,))
    return out


@register("cast", "dtypes.cast", samples=lambda rng: [((rng.uniform(-2, 2, (3, 4)), "float32"),
                                                       {})], grad_arguments=(0,))
def cast(x, dtype, name=None) -> Tensor:
    """Convert to another dtype; float-to-float casts pass the gradient back."""
    x = as_tensor(x)
    target = _dtypes.numpy_dtype(dtype)
    if x.array.dtype == target:
        from .shapes import snapshot

        return snapshot(x)
    out = Tensor(x.array.astype(target))
    if x.array.dtype.kind in "fcV" and target.kind in "fcV" and should_record((x,)):
        source = x.array.dtype
        record((x,), out, (lambda g: cast(g, source),))
    return out


# --- small helpers used by VJPs (not public ops) ------------------------------------------------
def zeros_like_(t: Tensor) -> Tensor:
    return Tensor(array_module(t.array).zeros_like(t.array))


def ones_like_(t: Tensor) -> Tensor:
    return Tensor(array_module(t.array).ones_like(t.array))


def _constant(t: Tensor) -> Tensor:
    """The same array as a fresh tensor no tape knows (a stop_gradient for VJPs)."""
    return Tensor(t.array)
