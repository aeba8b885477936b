"""`tf.debugging.assert_*`: eager checks that return None or raise `tf.errors`' classes.

Value checks raise `InvalidArgumentError` (also a ValueError) with TensorFlow's "Condition ...
did not hold" message and the first offending entries; rank and shape checks raise it too (a
ValueError, as TensorFlow's static checks do); dtype checks raise TypeError.

>>> import tensorflowish as tf
>>> tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", "Q")), (tf.zeros([2]), ("N",))])
>>> tf.debugging.assert_less(tf.constant([1, 2]), 3)
"""

from __future__ import annotations

import numpy as np

from . import backend
from .errors import InvalidArgumentError
from .tensor import Tensor, convert_to_tensor, format_shape

__all__ = ["Assert", "assert_all_finite", "assert_equal", "assert_greater",
           "assert_greater_equal", "assert_integer", "assert_less", "assert_less_equal",
           "assert_near", "assert_negative", "assert_non_negative", "assert_non_positive",
           "assert_none_equal", "assert_positive", "assert_proper_iterable", "assert_rank",
           "assert_rank_at_least", "assert_rank_in", "assert_same_float_dtype", "assert_scalar",
           "assert_shapes", "assert_type", "is_numeric_tensor"]


def _values(x) -> np.ndarray:
    return x.numpy() if isinstance(x, Tensor) else np.asarray(
        convert_to_tensor(x).numpy())


def _prefix(message) -> str:
    return f"{message}\n" if message else ""


def _compare(condition: str, test, x, y, message, summarize) -> None:
    if isinstance(x, Tensor) and isinstance(y, Tensor) and x.dtype != y.dtype:
        raise TypeError(f"{_prefix(message)}assert: x ({x.dtype.name}) and y ({y.dtype.name}) "
                        "must have the same dtype; use tf.cast.")
    a, b = _values(x), _values(y)
    try:
        holds = np.broadcast_to(test(a, b), np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise InvalidArgumentError(f"{_prefix(message)}Condition {condition}: shapes "
                                   f"{format_shape(a.shape)} and {format_shape(b.shape)} are not "
                                   "broadcastable.") from None
    if holds.all():
        return
    count = 3 if summarize is None else int(summarize)
    bad = np.argwhere(~holds)[:count]
    xa, yb = np.broadcast_to(a, holds.shape), np.broadcast_to(b, holds.shape)
    pick = tuple(bad.T)
    raise InvalidArgumentError(
        f"{_prefix(message)}Condition {condition} did not hold.\nIndices of first "
        f"{len(bad)} different values:\n{bad.tolist()}\nCorresponding x values:\n"
        f"{xa[pick].tolist()}\nCorresponding y values:\n{yb[pick].tolist()}")


def _named(check, function_name: str, condition: str):
    check.__name__ = check.__qualname__ = function_name
    check.__doc__ = f"Raise InvalidArgumentError unless {condition} holds everywhere."
    return check


def _binary_assert(function_name: str, condition: str, test):
    def check(x, y, message=None, summarize=None, name=None) -> None:
        _compare(condition, test, x, y, message, summarize)
    return _named(check, function_name, condition)


assert_equal = _binary_assert("assert_equal", "x == y", np.equal)
assert_none_equal = _binary_assert("assert_none_equal", "x != y", np.not_equal)
assert_less = _binary_assert("assert_less", "x < y", np.less)
assert_less_equal = _binary_assert("assert_less_equal", "x <= y", np.less_equal)
assert_greater = _binary_assert("assert_greater", "x > y", np.greater)
assert_greater_equal = _binary_assert("assert_greater_equal", "x >= y", np.greater_equal)


def _sign_assert(function_name: str, condition: str, test):
    def check(x, message=None, summarize=None, name=None) -> None:
        _compare(condition, lambda a, b: test(a, 0), x, 0, message, summarize)
    return _named(check, function_name, condition)


assert_positive = _sign_assert("assert_positive", "x > 0", np.greater)
assert_negative = _sign_assert("assert_negative", "x < 0", np.less)
assert_non_negative = _sign_assert("assert_non_negative", "x >= 0", np.greater_equal)
assert_non_positive = _sign_assert("assert_non_positive", "x <= 0", np.less_equal)


def assert_near(x, y, rtol=None, atol=None, message=None, summarize=None, name=None) -> None:
    """Raise unless |x - y| <= atol + rtol * |y| everywhere (defaults: 10 * eps of the dtype)."""
    a, b = _values(x), _values(y)
    eps = np.finfo(a.dtype).eps if a.dtype.kind == "f" else np.finfo(np.float64).eps
    rtol = 10 * eps if rtol is None else rtol
    atol = 10 * eps if atol is None else atol
    _compare(f"x and y are near (rtol={rtol}, atol={atol})",
             lambda p, q: np.abs(p - q) <= atol + rtol * np.abs(q), a, b, message, summarize)


def assert_all_finite(x, message, name=None) -> Tensor:
    """`x` unchanged, or InvalidArgumentError if it holds a NaN or an infinity."""
    tensor = convert_to_tensor(x)
    xp = backend.get_array_module(tensor.array)
    if tensor.array.dtype.kind in "fc" and not bool(xp.isfinite(tensor.array).all()):
        nans = int(xp.isnan(tensor.array).sum())
        infs = int(xp.isinf(tensor.array).sum())
        raise InvalidArgumentError(f"{message} : Tensor had {nans} NaN and {infs} Inf values "
                                   f"(shape {format_shape(tensor.shape)}, "
                                   f"dtype {tensor.dtype.name}).")
    return tensor


def _rank_of(x) -> tuple[int, tuple]:
    shape = tuple(convert_to_tensor(x).shape) if not isinstance(x, Tensor) else tuple(x.shape)
    return len(shape), shape


def assert_rank(x, rank, message=None, name=None) -> None:
    """Raise unless `x` has exactly `rank` dimensions."""
    actual, shape = _rank_of(x)
    if actual != int(rank):
        raise InvalidArgumentError(f"{_prefix(message)}Tensor must have rank {int(rank)}.  "
                                   f"Received rank {actual}, shape {format_shape(shape)}")


def assert_rank_at_least(x, rank, message=None, name=None) -> None:
    """Raise unless `x` has at least `rank` dimensions."""
    actual, shape = _rank_of(x)
    if actual < int(rank):
        raise InvalidArgumentError(f"{_prefix(message)}Tensor must have rank at least "
                                   f"{int(rank)}.  Received rank {actual}, shape "
                                   f"{format_shape(shape)}")


def assert_rank_in(x, ranks, message=None, name=None) -> None:
    """Raise unless the rank of `x` is one of `ranks`."""
    actual, shape = _rank_of(x)
    ranks = [int(r) for r in ranks]
    if actual not in ranks:
        raise InvalidArgumentError(f"{_prefix(message)}Tensor must have rank in {ranks}.  "
                                   f"Received rank {actual}, shape {format_shape(shape)}")


def assert_scalar(tensor, message=None, name=None) -> None:
    """Raise unless `tensor` is a scalar (rank 0)."""
    actual, shape = _rank_of(tensor)
    if actual != 0:
        raise InvalidArgumentError(f"{_prefix(message)}Expected scalar shape, saw shape: "
                                   f"{format_shape(shape)}.")


def assert_shapes(shapes, data=None, summarize=None, message=None, name=None) -> None:
    """Check tensors against symbolic shapes: ints must match, a letter must be the same size
    everywhere it appears, None or '.' matches anything, '*' (first entry) any leading dims."""
    sizes = {}
    items = shapes.items() if isinstance(shapes, dict) else shapes
    for tensor, expected in items:
        _, shape = _rank_of(tensor.deref() if hasattr(tensor, "deref") else tensor)
        if isinstance(expected, str):  # "NQ" is ("N", "Q")
            expected = list(expected)
        elif isinstance(expected, (int, np.integer)) or expected is None:
            expected = [expected]
        else:
            expected = list(expected)
        leading = bool(expected) and expected[0] == "*"
        spec = expected[1:] if leading else expected
        if (len(shape) < len(spec)) if leading else (len(shape) != len(spec)):
            raise InvalidArgumentError(f"{_prefix(message)}Specified by shape {expected}: tensor "
                                       f"of shape {format_shape(shape)} must have rank "
                                       f"{'at least ' if leading else ''}{len(spec)}.")
        for position, (size, want) in enumerate(zip(shape[len(shape) - len(spec):], spec)):
            if want is None or want == ".":
                continue
            if isinstance(want, str):
                if want in sizes and sizes[want][0] != size:
                    raise InvalidArgumentError(
                        f"{_prefix(message)}Dimension {want!r} is {sizes[want][0]} in a tensor of "
                        f"shape {format_shape(sizes[want][1])} but {size} in a tensor of shape "
                        f"{format_shape(shape)}.")
                sizes.setdefault(want, (size, shape))
            elif int(want) != size:
                raise InvalidArgumentError(f"{_prefix(message)}Tensor of shape "
                                           f"{format_shape(shape)}: dimension {position} must "
                                           f"have size {int(want)}. Received size {size}.")


def assert_type(tensor, tf_type, message=None, name=None) -> None:
    """TypeError unless `tensor` has dtype `tf_type`."""
    from .dtypes import as_dtype

    tensor = convert_to_tensor(tensor)
    if tensor.dtype != as_dtype(tf_type):
        raise TypeError(f"{_prefix(message)}tensor must be of type {as_dtype(tf_type)!r}; got "
                        f"{tensor.dtype!r}")


def assert_integer(x, message=None, name=None) -> None:
    """TypeError unless `x` has an integer dtype."""
    tensor = convert_to_tensor(x)
    if not tensor.dtype.is_integer:
        raise TypeError(f"{_prefix(message)}Expected an integer tensor, got dtype "
                        f"{tensor.dtype.name} (shape {format_shape(tensor.shape)}).")


def assert_proper_iterable(values) -> None:
    """TypeError if `values` is a tensor, array, string or not iterable at all."""
    if isinstance(values, (Tensor, np.ndarray, str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"Expected argument 'values' to be a 'proper' iterable (a list or tuple "
                        f"of tensors), found {type(values).__name__}.")


def assert_same_float_dtype(tensors=None, dtype=None):
    """The one float dtype of `tensors` (and `dtype`), or ValueError naming the mismatch."""
    from .dtypes import as_dtype, float32

    found = as_dtype(dtype) if dtype is not None else None
    for tensor in tensors or []:
        current = convert_to_tensor(tensor).dtype
        if not current.is_floating:
            raise ValueError(f"Expected floating point type, got {current.name}.")
        if found is not None and current != found:
            raise ValueError(f"Expected dtype {found.name}, got {current.name}.")
        found = current
    return found if found is not None else float32


def is_numeric_tensor(tensor) -> bool:
    """True for a Tensor of a numeric (integer, float or complex) dtype."""
    return isinstance(tensor, Tensor) and tensor.array.dtype.kind in "iufc"


def Assert(condition, data, summarize=None, name=None) -> None:  # noqa: N802 - TensorFlow's name
    """Raise InvalidArgumentError showing `data` unless `condition` (a bool scalar) is True."""
    if not bool(np.all(_values(condition))):
        shown = [_values(d).tolist() if isinstance(d, Tensor) else d for d in data]
        raise InvalidArgumentError(f"assertion failed: {shown}")
