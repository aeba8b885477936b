"""Lowering rules of more math ops and activations: pow, erf, the composed activations
(gelu, silu, relu6, selu), add_n and broadcast_to (their eager ops: `ops/math.py`,
`ops/nn.py`, `ops/shapes.py`).

The composed ops (selu, silu, gelu's tanh form) are one graph line but record several ops on
eager's tape; each rule repeats those ops' forwards, then their VJPs in the tape's order
(reversed records, a tensor's contributions summed as `previous + gradient`), so a plan's
values and gradients equal eager's bit for bit. A Python or NumPy float in an eager formula is
converted as `binary_operands` converts it (to the tensor's dtype) once, at plan time.
"""

from __future__ import annotations

import numpy as np

from ...ops import registry
from ...ops.math import erf_array
from . import PASS, Backward, Line, Lowered, NotLowered, lowering, unbroadcaster
from .elementwise import General, _binary, _unary, _x


def _constant(value, dtype):
    """`value` as eager's binary ops convert a literal beside a tensor of `dtype`."""
    like = registry.Tensor(np.zeros((), dtype))
    return registry.binary_operands(like, value, "multiply")[1].array


def _float_dtype(line: Line, argument: str) -> np.dtype:
    dtype = line.dtype(line.tensor(argument, float_only=True))
    if dtype != line.output_dtype:
        raise NotLowered("the output dtype differs from the input's")
    return dtype


# --- pow -----------------------------------------------------------------------------------
@lowering("pow", half=True)
def pow_(line: Line) -> Lowered:
    x, y = line.binary("x", "y")
    dtype = line.dtype(x)
    if dtype.kind not in "fV":
        raise NotLowered("integer or complex powers")
    one = _constant(1, dtype)

    def gradient_x(g, a, b, out):  # eager: g * y * x ** (y - 1)
        return g * b * a ** (b - one)

    def gradient_y(g, a, b, out):  # eager's _pow_vjp_y: 0 where x <= 0
        positive = np.greater(a, 0)
        safe_x = np.where(positive, a, np.ones_like(a))
        grad = g * out * np.log(safe_x)
        return np.where(positive, grad, np.zeros_like(grad))
    return _binary(line, np.power, General(gradient_x, ("in0", "in1")),
                   General(gradient_y, ("in0", "in1", "out")), ufunc=True)


def _shares(line: Line, argument: str, count: int, forward, gradient) -> Lowered:
    """A composed unary op whose input gets `count` gradient shares on eager's tape (one per
    recorded op reading it): the input is listed `count` times, so the plan adds the shares
    `gradient(g, x, out)` returns to the input's gradient one by one, in the tape's order (a
    share summed first would round differently when the input has other consumers)."""
    x = line.tensor(argument, float_only=True)

    def forward_once(a, *repeated):
        return forward(a)

    def vjp(needs, overwrite):
        return Backward(gradient, ("in0", "out"))
    return Lowered(forward_once, [x] * count, vjp)


# --- erf and the activations -----------------------------------------------------------------
@lowering("math.erf", half=True)
def erf(line: Line) -> Lowered:
    dtype = _float_dtype(line, "x")
    scale = _constant(2 / np.sqrt(np.pi), dtype)

    def gradient(g, x, out):  # eager: g * (2 / sqrt(pi)) * exp(-(x * x))
        return g * scale * np.exp(np.negative(x * x))
    return _unary(line, erf_array, _x(gradient), ufunc=False)


@lowering("nn.relu6", half=True)
def relu6(line: Line) -> Lowered:
    x = line.tensor("features")
    dtype = line.dtype(x)
    if dtype.kind not in "fiuV":
        raise NotLowered(f"relu6 of {dtype}")
    six = _constant(6, dtype)

    def forward(a):
        return np.clip(a, 0, 6).astype(a.dtype, copy=False)

    def gradient(g, x, out):
        inside = np.greater(out, 0).astype(g.dtype) * np.greater(six, out).astype(g.dtype)
        return g * inside
    return _unary(line, forward, General(gradient, ("out",)), float_only=False, ufunc=False)


def _elu(a):
    return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))


@lowering("nn.selu", half=True)
def selu(line: Line) -> Lowered:
    dtype = _float_dtype(line, "features")
    scale, alpha = _constant(1.0507009873554805, dtype), _constant(1.6732632423543772, dtype)
    one = _constant(1, dtype)

    def forward(a):  # scale * where(x > 0, x, alpha * elu(x))
        return scale * np.where(np.greater(a, 0), a, alpha * _elu(a))

    def gradient(g, x, out):
        # the tape, last record first: multiply(scale, w), where, multiply(alpha, e), elu
        positive = np.greater(x, 0)
        g_w = g * scale
        g_x = np.where(positive, g_w, np.zeros_like(g_w))
        g_e = np.where(positive, np.zeros_like(g_w), g_w) * alpha
        e = _elu(x)
        return g_x, np.where(np.greater(x, 0), g_e, g_e * (e + one))
    return _shares(line, "features", 2, forward, gradient)


@lowering("nn.silu", half=True)
def silu(line: Line) -> Lowered:
    dtype = _float_dtype(line, "features")
    beta, one = _constant(line.literal("beta"), dtype), _constant(1, dtype)
    from .elementwise import _sigmoid

    def sigmoid(t):  # the sigmoid op: rounded back where NumPy computed bfloat16 in float32
        s = _sigmoid(t)
        return s if s.dtype == dtype else s.astype(dtype)

    def forward(a):  # x * sigmoid(x * beta)
        return a * sigmoid(a * beta)

    def gradient(g, x, out):
        # the tape: multiply(x, s) first (x's share g * s), then sigmoid, then x * beta
        s = sigmoid(x * beta)
        g_s = g * x
        return g * s, g_s * (s * (one - s)) * beta
    return _shares(line, "features", 2, forward, gradient)


@lowering("nn.gelu", half=True)
def gelu(line: Line) -> Lowered:
    dtype = _float_dtype(line, "features")
    if line.literal("approximate"):
        return _gelu_tanh(line, dtype)
    half, one = _constant(0.5, dtype), _constant(1, dtype)
    root_half = float(1 / np.sqrt(2))
    inverse_root_half = _constant(1 / np.sqrt(2), dtype)
    density = _constant(1 / np.sqrt(2 * np.pi), dtype)

    def forward(a):
        return 0.5 * a * (1 + erf_array(a * root_half))

    def gradient(g, x, out):
        phi = np.exp(np.negative(x * x * half)) * density
        return g * (half * (one + erf_array(x * inverse_root_half)) + x * phi)
    return _unary(line, forward, _x(gradient), ufunc=False)


def _gelu_tanh(line: Line, dtype) -> Lowered:
    half, one = _constant(0.5, dtype), _constant(1, dtype)
    cubic, c = _constant(0.044715, dtype), _constant(np.sqrt(2 / np.pi), dtype)

    def parts(a):
        t1 = half * a
        t2 = cubic * a
        t3 = t2 * a
        t4 = t3 * a
        t7 = np.tanh(c * (a + t4))
        return t1, t2, t3, t4, t7

    def forward(a):  # 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)))
        t1, _, _, _, t7 = parts(a)
        return t1 * (one + t7)

    def gradient(g, x, out):
        t1, t2, t3, _, t7 = parts(x)
        g_t1 = g * (one + t7)
        g_t5 = g * t1 * (one - t7 * t7) * c  # through 1 + t7 (passes), tanh, c * t5
        g_t3 = g_t5 * x  # t3 * x
        g_t2 = g_t3 * x  # t2 * x
        # x's shares: x + t4, t3 * x, t2 * x, 0.044715 * x, 0.5 * x
        return g_t5, g_t5 * t3, g_t3 * t2, g_t2 * cubic, g_t1 * half
    return _shares(line, "features", 5, forward, gradient)


# --- add_n and broadcast_to ----------------------------------------------------------------
@lowering("add_n", half=True)
def add_n(line: Line) -> Lowered:
    items = line.literal_structure("inputs")
    if not items:
        raise NotLowered("no inputs")
    operands = [line.tensor_value(item) for item in items]
    shape, dtype = line.output_shape, line.output_dtype
    if any(line.shape(o) != shape or line.dtype(o) != dtype for o in operands):
        raise NotLowered("inputs of different shapes or dtypes")
    if dtype.kind not in "fiuV":
        raise NotLowered(f"add_n of {dtype}")

    def forward(*arrays):
        total = arrays[0]
        for array in arrays[1:]:
            total = total + array
        return total
    if len(operands) == 1:  # eager returns the input itself
        return Lowered(lambda a: a, operands, lambda needs, overwrite: PASS, fresh=False)
    return Lowered(forward, operands, lambda needs, overwrite: PASS)


@lowering("broadcast_to", half=True)
def broadcast_to(line: Line) -> Lowered:
    x = line.tensor("input")
    original, target = tuple(line.shape(x)), tuple(line.output_shape)
    if original == target:
        return Lowered(lambda a: a, [x], lambda needs, overwrite: PASS, fresh=False)
    reduce = unbroadcaster(target, original)

    def vjp(needs, overwrite):
        return Backward(lambda g: (reduce(g),))
    return Lowered(lambda a: np.broadcast_to(a, target), [x], vjp, fresh=False)
