"""Matrix structure ops of `tf.linalg`: transpose of the last two axes, diagonals, bands, trace.

Every op works on batches: the last two axes are the matrix, the leading ones are the batch.
Gradients are the same structural op applied to the upstream gradient (a diagonal's gradient is
a diagonal, a band's gradient the same band).
"""

from __future__ import annotations

from ..errors import UnimplementedError
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    format_shape,
    record,
    register,
    should_record,
)


def require_matrix(op: str, x: Tensor, square: bool = False) -> None:
    """A clear InvalidArgumentError unless `x` is a (batch of) matrix, square if asked."""
    shape = x.array.shape
    if len(shape) < 2:
        raise InvalidArgumentError(f"{op}: expects a matrix or a batch of matrices (rank >= 2), "
                                   f"got shape {format_shape(shape)}.")
    if square and shape[-1] != shape[-2]:
        raise InvalidArgumentError(f"{op}: Input matrix must be square; got shape "
                                   f"{format_shape(shape)} (the last two dimensions are "
                                   f"{shape[-2]} x {shape[-1]}).")


def require_linalg_float(op: str, *tensors: Tensor) -> None:
    """float32/float64 (or complex): TensorFlow's decompositions and solvers have no float16 or
    bfloat16 kernels, and neither have LAPACK nor cuSOLVER."""
    for tensor in tensors:
        dtype = tensor.array.dtype
        if dtype.kind not in "fc" or dtype.itemsize < 4:
            raise TypeError(f"{op}: expects float32, float64 or complex matrices, got "
                            f"{tensor.dtype.name} (shape {format_shape(tensor.array.shape)}). "
                            "Use tf.cast(x, tf.float32).")


def symmetrized(function):
    """What the gradient check differentiates for an op that reads one triangle: the op of the
    symmetric part, so that perturbing one entry is a symmetric perturbation (the kind of
    perturbation TensorFlow's gradients for these ops assume)."""
    def check(x, *args, **kwargs):
        return function(0.5 * (x + matrix_transpose(x)), *args, **kwargs)
    return check


def _matrices(rng, *shapes):
    return [((rng.uniform(-1, 1, shape),), {}) for shape in shapes]


@register("linalg.matrix_transpose", "linalg.adjoint",
          samples=lambda rng: _matrices(rng, (3, 4), (2, 3, 4)))
def matrix_transpose(a, name=None, conjugate: bool = False) -> Tensor:
    """Swap the last two axes of a batch of matrices (`tf.linalg.adjoint` conjugates too)."""
    a = as_tensor(a)
    require_matrix("matrix_transpose", a)
    array = a.array.swapaxes(-1, -2)
    if conjugate and array.dtype.kind == "c":
        array = array.conj()
    out = Tensor(array)
    if should_record((a,)):
        record((a,), out, (lambda g: matrix_transpose(g, conjugate=conjugate),))
    return out


def _single_k(op: str, k) -> int:
    if isinstance(k, (tuple, list)):
        if len(k) == 2 and int(k[0]) == int(k[1]):
            return int(k[0])
        raise UnimplementedError(f"{op}: only a single diagonal is supported (k an int), got "
                                 f"k={list(k)}; take the diagonals one at a time.")
    return int(k)


def _diagonal_indices(xp, rows: int, cols: int, k: int):
    length = max(0, min(rows, cols - k) if k >= 0 else min(rows + k, cols))
    row = xp.arange(length) + max(-k, 0)
    return row, row + k


@register("linalg.diag_part",
          samples=lambda rng: [((rng.uniform(-1, 1, (3, 4)),), {}),
                               ((rng.uniform(-1, 1, (2, 4, 3)),), {"k": -1})])
def diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT") -> Tensor:  # noqa: A002
    """The `k`-th diagonal of each matrix (k > 0 above the main one, k < 0 below)."""
    x = as_tensor(input)
    require_matrix("diag_part", x)
    k = _single_k("diag_part", k)
    rows, cols = x.array.shape[-2:]
    if not -rows < k < cols and rows and cols:
        raise InvalidArgumentError(f"diag_part: k={k} is outside a {rows} x {cols} matrix.")
    xp = array_module(x.array)
    row, col = _diagonal_indices(xp, rows, cols, k)
    out = Tensor(x.array[..., row, col])
    if should_record((x,)):
        record((x,), out, (lambda g: diag(g, k=k, num_rows=rows, num_cols=cols),))
    return out


@register("linalg.diag", samples=lambda rng: [((rng.uniform(-1, 1, (3,)),), {}),
                                               ((rng.uniform(-1, 1, (2, 3)),), {"k": 1})])
def diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0,
         align="RIGHT_LEFT") -> Tensor:
    """Matrices with `diagonal` on their `k`-th diagonal and `padding_value` elsewhere.

    >>> import tensorflowish as tf
    >>> tf.linalg.diag([1.0, 2.0]).numpy().tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    d = as_tensor(diagonal)
    if d.array.ndim < 1:
        raise InvalidArgumentError("diag: `diagonal` must have rank >= 1, got a scalar.")
    k = _single_k("diag", k)
    length = d.array.shape[-1]
    square = length + abs(k)  # TensorFlow's default: the smallest square matrix that fits
    rows = int(num_rows) if int(num_rows) >= 0 else square
    cols = int(num_cols) if int(num_cols) >= 0 else square
    xp = array_module(d.array)
    row, col = _diagonal_indices(xp, rows, cols, k)
    if len(row) != length:
        raise InvalidArgumentError(f"diag: a diagonal of length {length} does not fit as "
                                   f"diagonal k={k} of a {rows} x {cols} matrix.")
    array = xp.full(d.array.shape[:-1] + (rows, cols), padding_value, dtype=d.array.dtype)
    array[..., row, col] = d.array
    out = Tensor(array)
    if should_record((d,)):
        record((d,), out, (lambda g: diag_part(g, k=k),))
    return out


@register("linalg.set_diag", samples=lambda rng: [
    ((rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3,))), {}),
    ((rng.uniform(-1, 1, (2, 3, 3)), rng.uniform(-1, 1, (2, 2))), {"k": 1})])
def set_diag(input, diagonal, name="set_diag", k=0, align="RIGHT_LEFT") -> Tensor:  # noqa: A002
    """A copy of `input` whose `k`-th diagonal is replaced by `diagonal`."""
    x, d = as_tensor(input), as_tensor(diagonal)
    require_matrix("set_diag", x)
    k = _single_k("set_diag", k)
    rows, cols = x.array.shape[-2:]
    xp = array_module(x.array)
    row, col = _diagonal_indices(xp, rows, cols, k)
    expected = x.array.shape[:-2] + (len(row),)
    if d.array.shape != expected:
        raise InvalidArgumentError(f"set_diag: diagonal must have shape {format_shape(expected)}"
                                   f" for input {format_shape(x.array.shape)} and k={k}, got "
                                   f"{format_shape(d.array.shape)}.")
    array = x.array.copy()
    array[..., row, col] = d.array.astype(array.dtype, copy=False)
    out = Tensor(array)
    if should_record((x, d)):
        def vjp_input(g):
            from .creation import zeros

            return set_diag(g, zeros(expected, dtype=g.dtype), k=k)
        record((x, d), out, (vjp_input, lambda g: diag_part(g, k=k)))
    return out


def _band_mask(xp, rows: int, cols: int, num_lower: int, num_upper: int):
    offset = xp.arange(cols)[None, :] - xp.arange(rows)[:, None]  # col - row
    mask = xp.ones((rows, cols), dtype=bool)
    if num_lower >= 0:
        mask &= offset >= -num_lower
    if num_upper >= 0:
        mask &= offset <= num_upper
    return mask


@register("linalg.band_part", samples=lambda rng: [
    ((rng.uniform(-1, 1, (4, 5)), 1, 2), {}), ((rng.uniform(-1, 1, (2, 3, 3)), -1, 0), {})],
    grad_arguments=(0,))
def band_part(input, num_lower, num_upper, name=None) -> Tensor:  # noqa: A002
    """Zero everything outside a band: `num_lower` subdiagonals, `num_upper` superdiagonals
    (a negative count keeps the whole triangle). `band_part(x, -1, 0)` is the lower triangle."""
    x = as_tensor(input)
    require_matrix("band_part", x)
    num_lower, num_upper = int(num_lower), int(num_upper)
    xp = array_module(x.array)
    mask = _band_mask(xp, *x.array.shape[-2:], num_lower, num_upper)
    out = Tensor(xp.where(mask, x.array, xp.zeros((), dtype=x.array.dtype)))
    if should_record((x,)):
        record((x,), out, (lambda g: band_part(g, num_lower, num_upper),))
    return out


@register("linalg.trace", samples=lambda rng: _matrices(rng, (3, 3), (2, 3, 4)))
def trace(x, name=None) -> Tensor:
    """The sum of each matrix's main diagonal."""
    from .reductions import reduce_sum

    return reduce_sum(diag_part(x), axis=-1)
