"""Matrix decompositions of `tf.linalg` (qr, svd, eigh) and what is built on them (pinv, norm).

A decomposition has several outputs; each is recorded on the tape on its own, with the VJP of
TensorFlow's gradient (`linalg_grad.py`) for that output alone. The VJP is linear in the upstream
gradients, so the contributions of the outputs add up to TensorFlow's joint gradient.

Degenerate spectra: the gradients of `eigh` (through eigenvectors) and `svd` (through singular
vectors) divide by differences of eigenvalues or squared singular values, so they are infinite
(NaN in practice) where two of them coincide, as in TensorFlow. Eigen- and singular vectors are
defined up to sign; a loss that depends on their sign has no well-defined gradient.
"""

from __future__ import annotations

import collections

import numpy as np

from ..errors import UnimplementedError
from .linalg import matmul
from .linalg_structure import (
    band_part,
    diag,
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
    record,
    register,
    require_float,
    should_record,
)

Qr = collections.namedtuple("Qr", ["q", "r"])


def _record_outputs(inputs: tuple, outputs: tuple, joint_vjp) -> None:
    """Record each output of a multi-output op with `joint_vjp(upstreams)` restricted to it
    (the other upstreams zero)."""
    from .creation import zeros_like

    for position, output in enumerate(outputs):
        if not should_record(inputs):
            return

        def vjp(g, position=position):
            upstreams = [g if k == position else zeros_like(o) for k, o in enumerate(outputs)]
            return joint_vjp(*upstreams)
        record(inputs, output, (vjp,))


def _solve_upper_from_right(x: Tensor, r: Tensor) -> Tensor:
    """x @ inv(r)^T... as TensorFlow's `_TriangularSolve(x, r)`: adjoint(solve(r, adjoint(x)))."""
    from .linalg_solvers import triangular_solve

    return matrix_transpose(triangular_solve(r, matrix_transpose(x), lower=False))


@register("linalg.qr", samples=lambda rng: [((rng.uniform(-1, 1, (4, 3)),), {}),
                                             ((rng.uniform(-1, 1, (2, 3, 3)),), {})])
def qr(input, full_matrices: bool = False, name=None) -> Qr:  # noqa: A002
    """`(q, r)` with q orthonormal columns and r upper triangular, `input = q @ r`."""
    x = as_tensor(input)
    require_linalg_float("qr", x)
    require_matrix("qr", x)
    xp = array_module(x.array)
    q, r = xp.linalg.qr(x.array, mode="complete" if full_matrices else "reduced")
    q, r = Tensor(q), Tensor(r)
    rows, cols = x.array.shape[-2:]

    def joint_vjp(grad_q, grad_r):  # TensorFlow's QrGrad
        if full_matrices and rows != cols or rows < cols:
            raise UnimplementedError(
                f"qr: the gradient is implemented for full_matrices=False and matrices with at "
                f"least as many rows as columns (as TensorFlow), got {rows} x {cols} with "
                f"full_matrices={full_matrices}.")
        qdq = matmul(q, grad_q, transpose_a=True)
        qdq_ = qdq - matrix_transpose(qdq)
        rdr = matmul(r, grad_r, transpose_b=True)
        rdr_ = rdr - matrix_transpose(rdr)
        lower = band_part(qdq_ + rdr_, -1, 0)
        grad_a = matmul(q, grad_r + _solve_upper_from_right(lower, r))
        grad_b = _solve_upper_from_right(grad_q - matmul(q, qdq), r)
        return grad_a + grad_b

    _record_outputs((x,), (q, r), joint_vjp)
    return Qr(q, r)


def _symmetric(rng, *batch, size=3):
    a = rng.uniform(-1, 1, batch + (size, size))
    return a + np.swapaxes(a, -1, -2) + np.diag(np.arange(size) * 1.5)  # well-separated spectrum


@register("linalg.eigh", samples=lambda rng: [((_symmetric(rng),), {}),
                                               ((_symmetric(rng, 2),), {})],
          check_function=lambda: symmetrized(eigh))
def eigh(tensor, name=None) -> tuple:
    """`(e, v)`: ascending eigenvalues and eigenvectors (columns) of self-adjoint matrices.

    Only the lower triangle is read. The gradient is TensorFlow's: lower-triangular, as the
    forward op depends on the lower triangle only.
    """
    x = as_tensor(tensor)
    require_linalg_float("eigh", x)
    require_matrix("eigh", x, square=True)
    xp = array_module(x.array)
    e, v = xp.linalg.eigh(x.array, UPLO="L")
    e, v = Tensor(e), Tensor(v)

    def joint_vjp(grad_e, grad_v):  # TensorFlow's SelfAdjointEigV2Grad
        xp_ = array_module(e.array)
        differences = e.array[..., None, :] - e.array[..., :, None]
        size = differences.shape[-1]
        off_diagonal = ~xp_.eye(size, dtype=bool)
        safe = xp_.where(off_diagonal, differences, 1)
        f = Tensor(xp_.where(off_diagonal, 1 / safe, 0).astype(e.array.dtype))
        inner = diag(grad_e) + f * matmul(v, grad_v, transpose_a=True)
        grad_a = matmul(v, matmul(inner, v, transpose_b=True))
        grad_a = band_part(grad_a + matrix_transpose(grad_a), -1, 0)
        return grad_a - 0.5 * diag(_diag_of(grad_a))

    _record_outputs((x,), (e, v), joint_vjp)
    return e, v


def _diag_of(x: Tensor) -> Tensor:
    from .linalg_structure import diag_part

    return diag_part(x)


@register("linalg.eigvalsh", samples=lambda rng: [((_symmetric(rng, 2),), {})],
          check_function=lambda: symmetrized(eigvalsh))
def eigvalsh(tensor, name=None) -> Tensor:
    """The ascending eigenvalues of self-adjoint matrices (lower triangle read)."""
    return eigh(tensor)[0]


def _distinct_singular_values(rng, shape):
    """Random matrices with well-separated singular values (their gradient divides by gaps)."""
    u, _ = np.linalg.qr(rng.uniform(-1, 1, shape[:-1] + (shape[-2],)))
    v, _ = np.linalg.qr(rng.uniform(-1, 1, shape[:-2] + (shape[-1], shape[-1])))
    k = min(shape[-2:])
    s = np.zeros(shape)
    s[..., np.arange(k), np.arange(k)] = np.linspace(2.0, 0.5, k)
    return u @ s @ np.swapaxes(v, -1, -2)


@register("linalg.svd", samples=lambda rng: [
    ((_distinct_singular_values(rng, (3, 3)),), {}),
    ((_distinct_singular_values(rng, (4, 3)),), {}),
    ((_distinct_singular_values(rng, (2, 2, 3)),), {}),
    ((_distinct_singular_values(rng, (4, 3)),), {"compute_uv": False})])
def svd(tensor, full_matrices: bool = False, compute_uv: bool = True, name=None):
    """Singular values `s` (descending), and with `compute_uv` also `u`, `v` so that
    `tensor = u @ diag(s) @ adjoint(v)`. Returns `s` alone or `(s, u, v)`, as TensorFlow."""
    x = as_tensor(tensor)
    require_linalg_float("svd", x)
    require_matrix("svd", x)
    xp = array_module(x.array)
    rows, cols = x.array.shape[-2:]
    if not compute_uv:
        s = Tensor(xp.linalg.svd(x.array, compute_uv=False))
        if should_record((x,)):
            def vjp_values(grad_s):
                _, u, v = svd(x, full_matrices=False)
                return matmul(u, matmul(diag(grad_s), v, transpose_b=True))
            record((x,), s, (vjp_values,))
        return s
    u, s, vh = xp.linalg.svd(x.array, full_matrices=full_matrices)
    s, u, v = Tensor(s), Tensor(u), Tensor(vh.swapaxes(-1, -2))

    def joint_vjp(grad_s, grad_u, grad_v):
        return _svd_gradient(x, s, u, v, grad_s, grad_u, grad_v, full_matrices)

    _record_outputs((x,), (s, u, v), joint_vjp)
    return s, u, v


def _svd_gradient(x, s, u, v, grad_s, grad_u, grad_v, full_matrices):
    """TensorFlow's SvdGrad for real matrices."""
    rows, cols = x.array.shape[-2:]
    if full_matrices and abs(rows - cols) > 1:
        raise UnimplementedError(
            "svd: the gradient with full_matrices=True is only defined when the two matrix "
            f"dimensions differ by at most 1 (as TensorFlow), got {rows} x {cols}.")
    m, n = rows, cols
    adjoint = m > n
    if adjoint:  # differentiate A^T = V S U^T and transpose at the end
        m, n = n, m
        u, v, grad_u, grad_v = v, u, grad_v, grad_u
    if full_matrices and abs(m - n) == 1:
        u, grad_u = u[..., :m], grad_u[..., :m]
    xp = array_module(s.array)
    s_array = s.array
    squares = s_array * s_array
    differences = squares[..., None, :] - squares[..., :, None]
    off_diagonal = ~xp.eye(differences.shape[-1], dtype=bool)
    nonzero = off_diagonal & (differences != 0)
    f = Tensor(xp.where(nonzero, 1 / xp.where(nonzero, differences, 1), 0).astype(s_array.dtype))
    s_matrix = diag(s)
    v1 = v[..., :, :m]
    grad_v1 = grad_v[..., :, :m]
    f_u = f * matmul(u, grad_u, transpose_a=True)
    f_v = f * matmul(v1, grad_v1, transpose_a=True)
    middle = diag(grad_s) + matmul(f_u + matrix_transpose(f_u), s_matrix) + \
        matmul(s_matrix, f_v + matrix_transpose(f_v))
    grad = matmul(u, matmul(middle, v1, transpose_b=True))
    if m != n:
        from .math import reciprocal

        gv1t = matrix_transpose(grad_v1)
        term = gv1t - matmul(matmul(gv1t, v1), v1, transpose_b=True)
        if full_matrices:
            v2, grad_v2 = v[..., :, m:n], grad_v[..., :, m:n]
            term = term - matmul(matmul(v1, grad_v2, transpose_a=True), v2, transpose_b=True)
        grad = grad + matmul(matmul(u, diag(reciprocal(s))), term)
    return matrix_transpose(grad) if adjoint else grad


@register("linalg.pinv", samples=lambda rng: [((_distinct_singular_values(rng, (4, 3)),), {}),
                                               ((_distinct_singular_values(rng, (2, 2, 3)),),
                                                {})])
def pinv(a, rcond=None, validate_args: bool = False, name=None) -> Tensor:
    """The Moore-Penrose pseudo-inverse through the SVD; singular values at most
    `rcond * max(s)` count as zero (default rcond: 10 * max(rows, cols) * machine epsilon)."""
    from .math import reciprocal, where
    from .reductions import reduce_max

    a = as_tensor(a)
    require_linalg_float("pinv", a)
    require_matrix("pinv", a)
    if rcond is None:
        rcond = 10.0 * max(a.array.shape[-2:]) * float(np.finfo(a.array.dtype).eps)
    s, u, v = svd(a, full_matrices=False)
    cutoff = float(rcond) * reduce_max(s, axis=-1, keepdims=True)
    keep = s > cutoff
    safe = where(keep, s, 1.0 + 0.0 * s)
    inverse = where(keep, reciprocal(safe), 0.0 * s)
    return matmul(v * inverse[..., None, :], u, transpose_b=True)


_VECTOR_ORDS = ("euclidean", "fro", 1, 2, np.inf)


@register("norm", "linalg.norm", samples=lambda rng: [
    ((rng.uniform(0.2, 1, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4)),), {}),
    ((rng.uniform(0.2, 1, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4)),), {"ord": 1, "axis": 1}),
    ((rng.uniform(-1, 1, (2, 5)),), {"ord": np.inf, "axis": -1, "keepdims": True}),
    ((rng.uniform(0.2, 1, (5,)),), {"ord": 3}),
    ((rng.uniform(-1, 1, (2, 3, 4)),), {"ord": "fro", "axis": [-2, -1]}),
    ((_distinct_singular_values(rng, (3, 4)),), {"ord": 2, "axis": [0, 1]}),
    ((rng.uniform(-1, 1, (3, 4)),), {"ord": 1, "axis": [0, 1]}),
    ((rng.uniform(-1, 1, (3, 4)),), {"ord": np.inf, "axis": [0, 1]})])
def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002
    """Vector norms (`ord` 'euclidean', 1, 2, inf or any p > 0) over one axis or the whole
    tensor, and matrix norms ('fro', 'euclidean', 1, 2, inf) over a pair of axes.

    >>> import tensorflowish as tf
    >>> float(tf.norm([3.0, 4.0]))
    5.0
    """
    from .reductions import reduce_max, reduce_sum
    from .shapes import reshape, transpose

    x = as_tensor(tensor)
    require_float("norm", x)  # composed of reductions, so half precision works
    keepdims = bool(keepdims)
    ndim = x.array.ndim
    axes = [axis] if isinstance(axis, (int, np.integer)) else (
        None if axis is None else [int(a) for a in axis])
    if axes is not None:
        from ..errors import check_axis

        axes = [check_axis("norm", a, ndim) for a in axes]
        if len(axes) not in (1, 2) or len(set(axes)) != len(axes):
            raise InvalidArgumentError(f"norm: axis must be one axis or a pair of distinct axes, "
                                       f"got {axis!r}.")
    is_matrix = axes is not None and len(axes) == 2
    if is_matrix:
        if ord not in _VECTOR_ORDS:
            raise InvalidArgumentError(f"norm: a matrix norm takes ord 'fro', 'euclidean', 1, 2 "
                                       f"or inf, got ord={ord!r}.")
        if ord in ("euclidean", "fro"):
            result = _vector_norm(x, 2, tuple(axes))
        else:
            rows, cols = axes
            rest = [a for a in range(ndim) if a not in axes]
            moved = transpose(x, rest + [rows, cols])
            if ord == 2:
                if moved.array.dtype.itemsize == 2:  # half: the SVD in float32
                    from .math import cast

                    result = cast(reduce_max(svd(cast(moved, "float32"), compute_uv=False),
                                             axis=-1), moved.dtype)
                else:
                    result = reduce_max(svd(moved, compute_uv=False), axis=-1)
            elif ord == 1:  # the largest absolute column sum
                result = reduce_max(reduce_sum(abs_(moved), axis=-2), axis=-1)
            else:
                result = reduce_max(reduce_sum(abs_(moved), axis=-1), axis=-1)
            if keepdims:
                shape = list(x.array.shape)
                shape[rows] = shape[cols] = 1
                result = reshape(result, shape)
            return result
    elif ord == "fro":
        raise InvalidArgumentError("norm: ord='fro' is a matrix norm: pass a pair of axes.")
    elif ord not in _VECTOR_ORDS and not (isinstance(ord, (int, float)) and ord > 0):
        raise InvalidArgumentError(f"norm: a vector norm takes ord 'euclidean', 1, 2, inf or a "
                                   f"positive number, got ord={ord!r}.")
    else:
        result = _vector_norm(x, 2 if ord == "euclidean" else ord,
                              None if axes is None else tuple(axes))
    if keepdims:
        return result
    return reshape(result, ()) if axes is None else _squeeze_axes(result, axes)


def abs_(x):
    from .math import abs as absolute

    return absolute(x)


def _vector_norm(x: Tensor, order, axes):
    from .math import pow, sqrt
    from .reductions import reduce_max, reduce_sum

    if order == 2:
        return sqrt(reduce_sum(x * x, axis=axes, keepdims=True))
    if order == np.inf:
        return reduce_max(abs_(x), axis=axes, keepdims=True)
    if order == 1:
        return reduce_sum(abs_(x), axis=axes, keepdims=True)
    return pow(reduce_sum(pow(abs_(x), float(order)), axis=axes, keepdims=True),
               1.0 / float(order))


def _squeeze_axes(x: Tensor, axes) -> Tensor:
    from .shapes import reshape

    shape = [size for i, size in enumerate(x.array.shape) if i not in axes]
    return reshape(x, shape)
