"""Inverses, determinants, solves and the matrix exponential of `tf.linalg`, batched.

Each op's VJP is TensorFlow's (`tensorflow/python/ops/linalg_grad.py`), written with ops so that
higher-order gradients work. Ops that TensorFlow itself composes from others (`logdet`,
`cholesky_solve`, `lstsq`) are composed here the same way, so their gradients follow.

LAPACK failures (a singular matrix, a matrix that is not positive definite) raise
`tf.errors.InvalidArgumentError` on the CPU as TensorFlow does; CuPy does not check, so on the GPU
such inputs give NaN or Inf values instead.
"""

from __future__ import annotations

import collections

import numpy as np

from .linalg import matmul
from .linalg_structure import (
    band_part,
    diag_part,
    matrix_transpose,
    require_linalg_float,
    require_matrix,
    symmetrized,
)
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    binary_operands,
    format_shape,
    record,
    register,
    should_record,
    unbroadcast,
)

LogMatrixDeterminant = collections.namedtuple("LogMatrixDeterminant",
                                              ["sign", "log_abs_determinant"])


def _well_conditioned(rng, *batch, size=3):
    """Random matrices far from singular: a random matrix plus a dominant diagonal."""
    return rng.uniform(-1, 1, batch + (size, size)) + 3 * np.eye(size)


def _positive_definite(rng, *batch, size=3):
    a = rng.uniform(-1, 1, batch + (size, size))
    return a @ np.swapaxes(a, -1, -2) + size * np.eye(size)


def _lapack(op: str, function, *arrays, problem: str):
    try:
        return function(*arrays)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError(f"{op}: {problem}") from None


def _square_float(op: str, x) -> Tensor:
    x = as_tensor(x)
    require_linalg_float(op, x)
    require_matrix(op, x, square=True)
    return x


@register("linalg.inv", samples=lambda rng: [((_well_conditioned(rng),), {}),
                                              ((_well_conditioned(rng, 2),), {})])
def inv(input, adjoint: bool = False, name=None) -> Tensor:  # noqa: A002
    """The inverse of each square matrix (of its adjoint with `adjoint=True`)."""
    x = _square_float("inv", input)
    xp = array_module(x.array)
    array = x.array.swapaxes(-1, -2) if adjoint else x.array
    out = Tensor(_lapack("inv", xp.linalg.inv, array,
                         problem="Input is not invertible (the matrix is singular)."))
    if should_record((x,)):
        # d(A^-1) = -A^-1 dA A^-1, so the VJP is -A^-T g A^-T (with the roles swapped for
        # the adjoint)
        def vjp(g):
            grad = -matmul(out, matmul(g, out, transpose_b=True), transpose_a=True)
            return matrix_transpose(grad) if adjoint else grad
        record((x,), out, (vjp,))
    return out


def _batch_scale(g: Tensor, matrices: Tensor) -> Tensor:
    """g (one value per matrix) times each matrix."""
    from .shapes import reshape

    return reshape(g, tuple(g.shape) + (1, 1)) * matrices


@register("linalg.det", samples=lambda rng: [((_well_conditioned(rng),), {}),
                                              ((_well_conditioned(rng, 2, size=2),), {})])
def det(input, name=None) -> Tensor:  # noqa: A002
    """The determinant of each square matrix."""
    x = _square_float("det", input)
    xp = array_module(x.array)
    out = Tensor(xp.asarray(xp.linalg.det(x.array), dtype=x.array.dtype))
    if should_record((x,)):
        # d det(A) = det(A) tr(A^-1 dA): the VJP is g det(A) A^-T
        record((x,), out, (lambda g: _batch_scale(g * out, inv(x, adjoint=True)),))
    return out


@register("linalg.slogdet", samples=lambda rng: [((_well_conditioned(rng),), {}),
                                                  ((-_well_conditioned(rng, 2),), {})])
def slogdet(input, name=None) -> LogMatrixDeterminant:  # noqa: A002
    """`(sign, log_abs_determinant)` of each square matrix, without overflow for big ones."""
    x = _square_float("slogdet", input)
    xp = array_module(x.array)
    sign, log_abs = xp.linalg.slogdet(x.array)
    sign = Tensor(xp.asarray(sign, dtype=x.array.dtype))
    log_abs = Tensor(xp.asarray(log_abs, dtype=x.array.dtype))
    if should_record((x,)):  # the sign is piecewise constant: no gradient
        record((x,), log_abs, (lambda g: _batch_scale(g, inv(x, adjoint=True)),))
    return LogMatrixDeterminant(sign, log_abs)


@register("linalg.solve", samples=lambda rng: [
    ((_well_conditioned(rng), rng.uniform(-1, 1, (3, 2))), {}),
    ((_well_conditioned(rng, 2), rng.uniform(-1, 1, (2, 3, 1))), {"adjoint": True})])
def solve(matrix, rhs, adjoint: bool = False, name=None) -> Tensor:
    """X with `matrix @ X = rhs` (or `adjoint(matrix) @ X = rhs`), batched."""
    a, b = _solve_operands("solve", matrix, rhs)
    out = Tensor(_solve_arrays("solve", a.array.swapaxes(-1, -2) if adjoint else a.array,
                               b.array))
    if should_record((a, b)):
        def vjp(g, needs):
            grad_b = solve(a, g, adjoint=not adjoint)  # one solve serves both gradients
            grad_a = _matrix_gradient(out, grad_b, adjoint) if needs[0] else None
            return _solve_gradients(a, b, grad_a, grad_b, needs)
        record((a, b), out, vjp)
    return out


def _solve_operands(op: str, matrix, rhs) -> tuple[Tensor, Tensor]:
    """The square float matrices and right-hand sides of a solve, with errors in the user's
    terms when they do not fit."""
    a, b = binary_operands(matrix, rhs, op)
    require_linalg_float(op, a)
    require_matrix(op, a, square=True)
    require_matrix(op, b)
    if b.array.shape[-2] != a.array.shape[-1]:
        raise InvalidArgumentError(f"{op}: matrix {format_shape(a.array.shape)} and rhs "
                                   f"{format_shape(b.array.shape)} differ in the number of "
                                   f"equations ({a.array.shape[-1]} != {b.array.shape[-2]}).")
    return a, b


def _matrix_gradient(out: Tensor, grad_rhs: Tensor, adjoint: bool) -> Tensor:
    """The gradient for the matrix of X = solve(A, B), given the one for B (a solve with the
    other adjoint): -grad_B X^T, or -X grad_B^T for the adjoint system."""
    if adjoint:
        return -matmul(out, grad_rhs, transpose_b=True)
    return -matmul(grad_rhs, out, transpose_b=True)


def _solve_gradients(a: Tensor, b: Tensor, grad_a, grad_b: Tensor, needs) -> list:
    """The gradients of a solve's matrix and rhs, summed back over broadcast batch axes."""
    return [unbroadcast(grad_a, a.array.shape) if needs[0] else None,
            unbroadcast(grad_b, b.array.shape) if needs[1] else None]


def _solve_arrays(op: str, a, b):
    xp = array_module(a)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = xp.broadcast_to(a, batch + a.shape[-2:])
    b = xp.broadcast_to(b, batch + b.shape[-2:])
    return _lapack(op, xp.linalg.solve, a, b,
                   problem="Input matrix is not invertible (singular); no unique solution.")


def _triangular(rng, *batch, lower=True):
    a = rng.uniform(-1, 1, batch + (3, 3)) + 3 * np.eye(3)
    return np.tril(a) if lower else np.triu(a)


@register("linalg.triangular_solve", samples=lambda rng: [
    ((_triangular(rng), rng.uniform(-1, 1, (3, 2))), {}),
    ((_triangular(rng, 2, lower=False), rng.uniform(-1, 1, (2, 3, 2))), {"lower": False}),
    ((_triangular(rng, 2), rng.uniform(-1, 1, (3, 1))), {"adjoint": True})])
def triangular_solve(matrix, rhs, lower: bool = True, adjoint: bool = False,
                     name=None) -> Tensor:
    """Solve with a triangular matrix; only its `lower` (or upper) triangle is read.

    The CPU and GPU both solve the masked triangle with the general LU solver (NumPy and CuPy
    have no batched triangular solver), which gives the same values.
    """
    a, b = _solve_operands("triangular_solve", matrix, rhs)
    xp = array_module(a.array)
    triangle = xp.tril(a.array) if lower else xp.triu(a.array)
    out = Tensor(_solve_arrays("triangular_solve",
                               triangle.swapaxes(-1, -2) if adjoint else triangle, b.array))
    if should_record((a, b)):
        def vjp(g, needs):
            grad_b = triangular_solve(a, g, lower=lower, adjoint=not adjoint)
            grad_a = None
            if needs[0]:
                grad_a = _matrix_gradient(out, grad_b, adjoint)
                grad_a = band_part(grad_a, -1, 0) if lower else band_part(grad_a, 0, -1)
            return _solve_gradients(a, b, grad_a, grad_b, needs)
        record((a, b), out, vjp)
    return out


@register("linalg.cholesky", samples=lambda rng: [((_positive_definite(rng),), {}),
                                                   ((_positive_definite(rng, 2),), {})],
          check_function=lambda: symmetrized(cholesky))
def cholesky(input, name=None) -> Tensor:  # noqa: A002
    """The lower-triangular L with L @ L^T = input, for symmetric positive-definite matrices.

    Only the lower triangle of `input` is read. The gradient is TensorFlow's symmetric one: it
    assumes a symmetric perturbation of the input.
    """
    x = _square_float("cholesky", input)
    xp = array_module(x.array)
    lower = xp.tril(x.array)
    symmetric = lower + xp.tril(x.array, -1).swapaxes(-1, -2)
    out = Tensor(_lapack("cholesky", xp.linalg.cholesky, symmetric,
                         problem="Cholesky decomposition was not successful: the input must "
                                 "be symmetric positive definite."))
    if should_record((x,)):
        def vjp(g):  # TensorFlow's CholeskyGrad (Murray, 2016)
            from .creation import eye

            size = x.array.shape[-1]
            l_inverse = triangular_solve(out, eye(size, dtype=g.dtype.name))
            middle = matmul(out, g, transpose_a=True)
            middle = band_part(middle, -1, 0) - 0.5 * _diagonal_matrix(middle)
            grad = matmul(matmul(l_inverse, middle, transpose_a=True), l_inverse)
            return 0.5 * (grad + matrix_transpose(grad))
        record((x,), out, (vjp,))
    return out


def _diagonal_matrix(x: Tensor) -> Tensor:
    from .linalg_structure import diag

    return diag(diag_part(x))


@register("linalg.cholesky_solve", samples=lambda rng: [
    ((np.linalg.cholesky(_positive_definite(rng)), rng.uniform(-1, 1, (3, 2))), {})])
def cholesky_solve(chol, rhs, name=None) -> Tensor:
    """Solve A X = rhs given `chol`, the Cholesky factor of A (two triangular solves)."""
    y = triangular_solve(chol, rhs, lower=True)
    return triangular_solve(chol, y, lower=True, adjoint=True)


@register("linalg.logdet", samples=lambda rng: [((_positive_definite(rng, 2),), {})],
          check_function=lambda: symmetrized(logdet))
def logdet(matrix, name=None) -> Tensor:
    """log(det(matrix)) of a symmetric positive-definite matrix, through its Cholesky factor."""
    from .math import log
    from .reductions import reduce_sum

    return 2.0 * reduce_sum(log(diag_part(cholesky(matrix))), axis=-1)


@register("linalg.lstsq", samples=lambda rng: [
    ((rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (4, 2))), {}),
    ((rng.uniform(-1, 1, (2, 2, 3)), rng.uniform(-1, 1, (2, 2, 1))), {}),
    ((rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (4, 2))), {"l2_regularizer": 0.1})])
def lstsq(matrix, rhs, l2_regularizer=0.0, fast: bool = True, name=None) -> Tensor:
    """Least-squares solutions X minimising ||matrix @ X - rhs||² + l2_regularizer ||X||².

    `fast=True` (TensorFlow's default) solves the normal equations through a Cholesky factor:
    (AᵀA + λI)⁻¹Aᵀb when A is tall, Aᵀ(AAᵀ + λI)⁻¹b when it is wide. `fast=False` gives the
    minimum-norm solution through the pseudo-inverse (λ must then be 0).
    """
    from .creation import eye

    a, b = binary_operands(matrix, rhs, "lstsq")
    require_linalg_float("lstsq", a)
    require_matrix("lstsq", a)
    require_matrix("lstsq", b)
    rows, cols = a.array.shape[-2:]
    if b.array.shape[-2] != rows:
        raise InvalidArgumentError(f"lstsq: matrix {format_shape(a.array.shape)} and rhs "
                                   f"{format_shape(b.array.shape)} differ in their number of "
                                   f"rows ({rows} != {b.array.shape[-2]}).")
    if not fast:
        if float(l2_regularizer) != 0:
            raise InvalidArgumentError("lstsq: l2_regularizer must be 0 with fast=False.")
        from .linalg_decompositions import pinv

        return matmul(pinv(a), b)
    if rows >= cols:
        gram = matmul(a, a, transpose_a=True)
        if float(l2_regularizer):
            gram = gram + float(l2_regularizer) * eye(cols, dtype=a.dtype.name)
        return cholesky_solve(cholesky(gram), matmul(a, b, transpose_a=True))
    gram = matmul(a, a, transpose_b=True)
    if float(l2_regularizer):
        gram = gram + float(l2_regularizer) * eye(rows, dtype=a.dtype.name)
    return matmul(a, cholesky_solve(cholesky(gram), b), transpose_a=True)


# Padé approximant of degree 13 with scaling and squaring (Higham 2005), as scipy and TensorFlow
_PADE_13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
            129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
            40840800., 960960., 16380., 182., 1.)
_THETA_13 = 5.371920351148152


def _expm_array(a):
    xp = array_module(a)
    norm = float(xp.abs(a).sum(axis=-2).max()) if a.size else 0.0
    squarings = max(0, int(np.ceil(np.log2(norm / _THETA_13)))) if norm > 0 else 0
    a = a / (2.0 ** squarings)
    b = _PADE_13
    identity = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2
             + b[1] * identity)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 \
        + b[0] * identity
    result = xp.linalg.solve(v - u, v + u)
    for _ in range(squarings):
        result = result @ result
    return result.astype(a.dtype, copy=False)


@register("linalg.expm", samples=lambda rng: [((rng.uniform(-1, 1, (3, 3)),), {}),
                                               ((rng.uniform(-2, 2, (2, 2, 2)),), {})])
def expm(input, name=None) -> Tensor:  # noqa: A002
    """The matrix exponential of each square matrix (Padé 13 with scaling and squaring)."""
    x = _square_float("expm", input)
    out = Tensor(_expm_array(x.array))
    if should_record((x,)):
        # The VJP is the upper-right block of expm([[Aᵀ, g], [0, Aᵀ]]) (Van Loan's block
        # formula for the Fréchet derivative), itself an expm, so higher orders follow.
        def vjp(g):
            from .creation import zeros_like
            from .shapes import concat

            at = matrix_transpose(x)
            block = concat([concat([at, g], -1), concat([zeros_like(g), at], -1)], -2)
            size = x.array.shape[-1]
            return expm(block)[..., :size, size:]
        record((x,), out, (vjp,))
    return out
