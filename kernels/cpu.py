"""The NumPy twins of the CUDA kernels: the same functions, on ``numpy.ndarray``.

Everything works in place with ``out=`` on the buffers the result needs anyway; the only other
memory is the boolean mask of relu/leaky_relu and, where an activation needs two terms, one
scratch array. Arguments are validated by ``tensorflowish.kernels`` before they get here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SQRT1_2 = 0.70710678118654752440  # 1/sqrt(2)
INV_SQRT_2PI = 0.39894228040143267794  # 1/sqrt(2*pi)

_scipy_erf: Any = None  # scipy.special.erf once looked up; False where SciPy is missing

# Cephes' erf/erfc rational approximations (accurate to ~4e-16 relative in float64).
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)


def _polynomial(x: np.ndarray, coefficients: tuple[float, ...], monic: bool) -> np.ndarray:
    result = x + coefficients[0] if monic else np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        result *= x
        result += c
    return result


def erf_numpy(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The error function with NumPy only (NumPy has no ``erf`` ufunc)."""
    z = np.asarray(z)
    magnitude = np.abs(z)
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        squared = z * z
        small = z * _polynomial(squared, _ERF_T, False) / _polynomial(squared, _ERF_U, True)
        # erf(|z|) = 1 - exp(-z^2) P(|z|)/Q(|z|) for |z| > 1, which is exactly 1 beyond |z| ~ 6
        large = np.exp(-squared)
        large *= _polynomial(magnitude, _ERFC_P, False)
        large /= _polynomial(magnitude, _ERFC_Q, True)
        np.subtract(1, large, out=large)
        np.copysign(large, z, out=large)
    result = np.where(magnitude <= 1, small, large)
    result[np.isnan(z)] = np.nan
    if out is None:
        return result.astype(z.dtype, copy=False)
    out[...] = result
    return out


def erf(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = erf(z)``; ``out`` may be ``z``."""
    global _scipy_erf
    if _scipy_erf is None:  # looked up on first use: importing SciPy takes a while
        try:
            from scipy.special import erf as scipy_erf
        except ImportError:
            scipy_erf = False
        _scipy_erf = scipy_erf
    if _scipy_erf:  # one pass where SciPy is installed
        return _scipy_erf(z, out=out)
    return erf_numpy(z, out=out)


# small read-only arrays the kernels use again and again, made once per shape:
# ("ones", length, dtype) for sums done by BLAS; ("row_starts", rows, classes) for flat indices
_CONSTANTS: dict = {}


def _constant(kind: str, length: int, parameter) -> np.ndarray:
    key = (kind, length, parameter)
    array = _CONSTANTS.get(key)
    if array is None:
        if len(_CONSTANTS) >= 128:  # a few batch and class sizes are the norm; never let it grow
            _CONSTANTS.clear()
        if kind == "ones":
            array = np.ones(length, parameter)
        else:
            array = np.arange(0, length * parameter, parameter, dtype=np.intp)
        array.setflags(write=False)
        _CONSTANTS[key] = array
    return array


def column_sums(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a.sum(axis=0)`` of a matrix as a BLAS matrix-vector product: 2-8x faster than NumPy's
    reduction from 32x32 to 512x2048 (float32, OpenBLAS), and closer to the float64 sum.
    ``out``: a contiguous array of the result's shape and dtype to write it into."""
    ones = _constant("ones", a.shape[0], a.dtype)
    return np.dot(ones, a) if out is None else np.dot(ones, a, out=out)


def row_sums(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a.sum(axis=1)`` of a matrix, as a BLAS matrix-vector product (see column_sums)."""
    return np.dot(a, _constant("ones", a.shape[1], a.dtype), out=out)


def _activate_in_place(y: np.ndarray, activation: str, alpha: float) -> None:
    if activation == "relu":
        # max, not a multiply by the mask y > 0: that gives -0.0 for negative inputs (TensorFlow
        # and PyTorch give +0.0), and for a layer of up to ~8k units max is faster too (one
        # ufunc, no bool-to-float cast); at 512x2048 it costs ~0.1 ms more, <1 % of the GEMM
        np.maximum(y, 0, out=y)
    elif activation == "leaky_relu":
        np.multiply(y, alpha, out=y, where=np.less_equal(y, 0))
    elif activation == "sigmoid":
        with np.errstate(over="ignore"):  # exp(1000) = inf gives sigmoid = 0, as it should
            np.negative(y, out=y)
            np.exp(y, out=y)
        np.add(y, 1, out=y)
        np.reciprocal(y, out=y)
    elif activation == "tanh":
        np.tanh(y, out=y)


def _gelu(z: np.ndarray, out: np.ndarray) -> None:
    """out = z * Phi(z) = 0.5 z (1 + erf(z / sqrt 2)), exact form; ``out`` is not ``z``."""
    np.multiply(z, SQRT1_2, out=out)
    erf(out, out=out)
    np.add(out, 1, out=out)
    np.multiply(out, z, out=out)
    np.multiply(out, 0.5, out=out)


def dense_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    activation: str,
    alpha: float,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``y = act(x @ kernel + bias)`` (and ``pre``, the value before a gelu); ``out``: a
    contiguous array of y's shape and dtype, not overlapping the inputs, to compute y into (a
    replay plan's buffer, kept from call to call)."""
    y = np.empty((x.shape[0], kernel.shape[1]), dtype=x.dtype) if out is None else out
    np.matmul(x, kernel, out=y)
    if bias is not None:
        np.add(y, bias, out=y)
    if activation == "gelu":
        pre = y.copy()
        _gelu(pre, out=y)
        return y, pre
    _activate_in_place(y, activation, alpha)
    return y, None


def activation_gradient(
    dy: np.ndarray,
    y: np.ndarray,
    pre: np.ndarray | None,
    activation: str,
    alpha: float,
    overwrite_dy: bool,
) -> np.ndarray:
    """g = dy * act'(z), into dy itself when ``overwrite_dy``; dy itself for ``linear``."""
    if activation == "linear":
        return dy
    if activation == "relu":  # the usual hidden layer: one multiply, into dy or a new array
        return np.multiply(dy, np.greater(y, 0), out=dy if overwrite_dy else None)
    g = dy if overwrite_dy else np.empty_like(dy)
    if activation == "leaky_relu":
        if g is not dy:
            np.copyto(g, dy)
        np.multiply(g, alpha, out=g, where=np.less_equal(y, 0))
    elif activation in ("sigmoid", "tanh"):
        # sigmoid' = y (1 - y), tanh' = 1 - y^2; build it in g unless g is dy
        derivative = np.empty_like(dy) if g is dy else g
        if activation == "sigmoid":
            np.subtract(1, y, out=derivative)
            np.multiply(derivative, y, out=derivative)
        else:
            np.multiply(y, y, out=derivative)
            np.subtract(1, derivative, out=derivative)
        np.multiply(dy, derivative, out=g)
    elif activation == "gelu":
        # gelu'(z) = Phi(z) + z phi(z)
        density = np.multiply(pre, pre)
        np.multiply(density, -0.5, out=density)
        np.exp(density, out=density)
        np.multiply(density, pre, out=density)
        np.multiply(density, INV_SQRT_2PI, out=density)
        cdf = np.empty_like(dy) if g is dy else g
        np.multiply(pre, SQRT1_2, out=cdf)
        erf(cdf, out=cdf)
        np.add(cdf, 1, out=cdf)
        np.multiply(cdf, 0.5, out=cdf)
        np.add(cdf, density, out=cdf)
        np.multiply(dy, cdf, out=g)
    return g


def dense_backward(
    dy: np.ndarray,
    x: np.ndarray,
    kernel: np.ndarray,
    y: np.ndarray,
    pre: np.ndarray | None,
    activation: str,
    alpha: float,
    need_dx: bool,
    need_dkernel: bool,
    need_dbias: bool,
    overwrite_dy: bool,
    out: tuple | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(dx, dkernel, dbias), each None where not needed. ``out``: (dx, dkernel, dbias) arrays
    (or None each) of the results' shapes and dtypes, contiguous and not overlapping the inputs,
    to compute them into."""
    g = activation_gradient(dy, y, pre, activation, alpha, overwrite_dy)
    if out is None:  # eager's path: no out= keywords to parse (~0.1 us a call)
        dkernel = np.matmul(x.T, g) if need_dkernel else None
        dx = np.matmul(g, kernel.T) if need_dx else None
        dbias = column_sums(g) if need_dbias else None
        return dx, dkernel, dbias
    dx_out, dkernel_out, dbias_out = out
    dkernel = np.matmul(x.T, g, out=dkernel_out) if need_dkernel else None
    dx = np.matmul(g, kernel.T, out=dx_out) if need_dx else None
    dbias = column_sums(g, out=dbias_out) if need_dbias else None
    return dx, dkernel, dbias


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # the shifted logits, then the gradient
    grad = np.subtract(logits, np.maximum.reduce(logits, axis=1, keepdims=True))
    label_dot_shifted = np.einsum("ij,ij->i", labels, grad)
    np.exp(grad, out=grad)
    exp_sum = row_sums(grad)
    np.divide(grad, exp_sum[:, None], out=grad)
    np.subtract(grad, labels, out=grad)
    loss = np.log(exp_sum)
    np.multiply(loss, row_sums(labels), out=loss)
    np.subtract(loss, label_dot_shifted, out=loss)
    return loss, grad


def sparse_softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, out: tuple | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(loss per row, gradient of the summed loss with respect to the logits). ``out``: (loss,
    grad) arrays (or None each) of the results' shapes and dtypes, contiguous and not overlapping
    the inputs, to compute them into."""
    loss_out, grad_out = (None, None) if out is None else out
    rows, classes = logits.shape
    maxima = np.maximum.reduce(logits, axis=1, keepdims=True)
    # the labelled entries as positions in the flat grad: one index array serves the read and the
    # update, and take() plus a 1-D update cost half of indexing grad[rows, labels] twice.
    # The labels lie in [0, classes) (checked before), so casting them to intp loses nothing.
    labelled = np.add(_constant("row_starts", rows, classes), labels, dtype=np.intp,
                      casting="unsafe")
    grad = np.subtract(logits, maxima) if grad_out is None else \
        np.subtract(logits, maxima, out=grad_out)
    flat_grad = grad.reshape(-1)  # a view: grad is contiguous
    picked = flat_grad.take(labelled)
    np.exp(grad, out=grad)
    exp_sum = row_sums(grad)
    np.divide(grad, exp_sum[:, None], out=grad)
    flat_grad[labelled] -= 1
    loss = np.log(exp_sum) if loss_out is None else np.log(exp_sum, out=loss_out)
    np.subtract(loss, picked, out=loss)
    return loss, grad


def sgd_update(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray | None,
    learning_rate: float,
    momentum: float,
    nesterov: bool,
) -> None:
    step = np.multiply(grad, learning_rate)  # the one scratch array
    if step.__class__ is not np.ndarray:  # a 0-d variable: NumPy gave a scalar
        step = np.asarray(step)
    if momentum == 0:
        np.subtract(param, step, out=param)
        return
    np.multiply(velocity, momentum, out=velocity)
    np.subtract(velocity, step, out=velocity)
    if nesterov:
        np.subtract(param, step, out=param)
        np.multiply(velocity, momentum, out=step)
        np.add(param, step, out=param)
    else:
        np.add(param, velocity, out=param)


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr_t: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    decay_factor: float,
) -> None:
    if decay_factor != 1:
        np.multiply(param, decay_factor, out=param)
    scratch = np.subtract(grad, m)
    if scratch.__class__ is not np.ndarray:  # a 0-d variable: NumPy gave a scalar
        scratch = np.asarray(scratch)
    np.multiply(scratch, 1 - beta_1, out=scratch)
    np.add(m, scratch, out=m)
    np.multiply(grad, grad, out=scratch)
    np.subtract(scratch, v, out=scratch)
    np.multiply(scratch, 1 - beta_2, out=scratch)
    np.add(v, scratch, out=v)
    np.sqrt(v, out=scratch)
    np.add(scratch, epsilon, out=scratch)
    np.divide(m, scratch, out=scratch)
    np.multiply(scratch, lr_t, out=scratch)
    np.subtract(param, scratch, out=param)


def adagrad_update(
    param: np.ndarray,
    grad: np.ndarray,
    accumulator: np.ndarray,
    learning_rate: float,
    epsilon: float,
    decay_factor: float,
) -> None:
    if decay_factor != 1:
        np.multiply(param, decay_factor, out=param)
    scratch = np.multiply(grad, grad)
    np.add(accumulator, scratch, out=accumulator)
    np.add(accumulator, epsilon, out=scratch)
    np.sqrt(scratch, out=scratch)
    np.divide(grad, scratch, out=scratch)
    np.multiply(scratch, learning_rate, out=scratch)
    np.subtract(param, scratch, out=param)


def nadam_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    learning_rate: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    m_coef: float,
    grad_coef: float,
    v_coef: float,
    decay_factor: float,
) -> None:
    if decay_factor != 1:
        np.multiply(param, decay_factor, out=param)
    scratch = np.subtract(grad, m)
    np.multiply(scratch, 1 - beta_1, out=scratch)
    np.add(m, scratch, out=m)
    np.multiply(grad, grad, out=scratch)
    np.subtract(scratch, v, out=scratch)
    np.multiply(scratch, 1 - beta_2, out=scratch)
    np.add(v, scratch, out=v)
    denominator = np.multiply(v, v_coef)
    np.sqrt(denominator, out=denominator)
    np.add(denominator, epsilon, out=denominator)
    np.multiply(m, m_coef, out=scratch)
    # the second scratch array: m_hat needs grad and m together
    np.add(scratch, np.multiply(grad, grad_coef), out=scratch)
    np.divide(scratch, denominator, out=scratch)
    np.multiply(scratch, learning_rate, out=scratch)
    np.subtract(param, scratch, out=param)


def lion_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    learning_rate: float,
    beta_1: float,
    beta_2: float,
    decay_factor: float,
) -> None:
    if decay_factor != 1:
        np.multiply(param, decay_factor, out=param)
    direction = np.multiply(m, beta_1)
    scratch = np.multiply(grad, 1 - beta_1)
    np.add(direction, scratch, out=direction)
    # into the other buffer: NumPy's sign is ~7x slower in place (measured, NumPy 2.4)
    np.sign(direction, out=scratch)
    np.multiply(scratch, learning_rate, out=scratch)
    np.subtract(param, scratch, out=param)
    np.multiply(m, beta_2, out=m)
    np.multiply(grad, 1 - beta_2, out=scratch)
    np.add(m, scratch, out=m)
