"""Matrix multiplication: 2-D and batched, with TensorFlow's transpose flags."""

from __future__ import annotations

from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    binary_operands,
    format_shape,
    record,
    register,
    should_record,
    unbroadcast,
)


def _matmul_samples(rng):
    draw = lambda *shape: rng.uniform(-1, 1, shape)  # noqa: E731
    return [((draw(3, 4), draw(4, 5)), {}),
            ((draw(4, 3), draw(4, 5)), {"transpose_a": True}),
            ((draw(3, 4), draw(5, 4)), {"transpose_b": True}),
            ((draw(4, 3), draw(5, 4)), {"transpose_a": True, "transpose_b": True}),
            ((draw(2, 3, 4), draw(2, 4, 5)), {}),          # batched
            ((draw(2, 3, 4), draw(4, 5)), {})]             # batch broadcast


def _swap(array):
    return array.swapaxes(-1, -2)


def _adjoint_flags(a, b, transpose_a, transpose_b, adjoint_a, adjoint_b) -> tuple[bool, bool]:
    """For real matrices the adjoint is the transpose (complex conjugation is not available)."""
    from ..errors import InvalidArgumentError, UnimplementedError

    if (transpose_a and adjoint_a) or (transpose_b and adjoint_b):
        raise InvalidArgumentError("matmul: set at most one of transpose_X and adjoint_X for "
                                   "each operand.")
    if a.array.dtype.kind == "c":
        raise UnimplementedError("matmul: adjoint_a/adjoint_b of complex matrices is not "
                                 "implemented; conjugate and use transpose_a/transpose_b.")
    return transpose_a or adjoint_a, transpose_b or adjoint_b


@register("linalg.matmul", "matmul", samples=_matmul_samples)
def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False, adjoint_a: bool = False,
           adjoint_b: bool = False, a_is_sparse: bool = False, b_is_sparse: bool = False,
           output_type=None, grad_a: bool = False, grad_b: bool = False, name=None) -> Tensor:
    """Matrix product of the last two axes (leading axes broadcast as batch dimensions).

    >>> import tensorflowish as tf
    >>> tf.matmul(tf.ones([2, 3]), tf.ones([3, 4])).shape
    TensorShape([2, 4])
    """
    a, b = binary_operands(a, b, "matmul")
    if adjoint_a or adjoint_b:
        transpose_a, transpose_b = _adjoint_flags(a, b, transpose_a, transpose_b, adjoint_a,
                                                  adjoint_b)
    if a.array.ndim < 2 or b.array.ndim < 2:
        raise InvalidArgumentError(f"matmul: expects tensors of rank >= 2, got shapes "
                         f"{format_shape(a.array.shape)} @ {format_shape(b.array.shape)}; use "
                         "tf.reshape or tf.expand_dims to add a dimension.")
    left = _swap(a.array) if transpose_a else a.array
    right = _swap(b.array) if transpose_b else b.array
    if left.shape[-1] != right.shape[-2]:
        flags = ((" (transpose_a)" if transpose_a else "") +
                 (" (transpose_b)" if transpose_b else ""))
        raise InvalidArgumentError(
            f"matmul: inner dimensions differ: {format_shape(a.array.shape)} @ "
                         f"{format_shape(b.array.shape)}{flags}: {left.shape[-1]} != "
                         f"{right.shape[-2]}.")
    try:
        if left.dtype.itemsize == 2 and left.dtype.kind in "fV":
            # float16/bfloat16 accumulate in float32, as TensorFlow's (and cuBLAS's) GEMMs
            out = Tensor(array_module(left).matmul(left.astype("float32"),
                                                   right.astype("float32")).astype(left.dtype))
        else:
            out = Tensor(array_module(left).matmul(left, right))
    except ValueError:
        raise InvalidArgumentError(f"matmul: batch dimensions do not broadcast: "
                         f"{format_shape(a.array.shape)} @ {format_shape(b.array.shape)}."
                         ) from None
    if should_record((a, b)):
        # TensorFlow's MatMulGrad: each case is one matmul with the right flags
        def vjp_a(g):
            if not transpose_a:
                grad = matmul(g, b, transpose_b=not transpose_b)
            elif not transpose_b:
                grad = matmul(b, g, transpose_b=True)
            else:
                grad = matmul(b, g, transpose_a=True, transpose_b=True)
            return unbroadcast(grad, a.array.shape)

        def vjp_b(g):
            if not transpose_b:
                grad = matmul(a, g, transpose_a=not transpose_a)
            elif not transpose_a:
                grad = matmul(g, a, transpose_a=True)
            else:
                grad = matmul(g, a, transpose_a=True, transpose_b=True)
            return unbroadcast(grad, b.array.shape)
        record((a, b), out, (vjp_a, vjp_b))
    return out
