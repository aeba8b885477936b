"""`tf.debugging`: checks that fail loudly instead of letting NaNs or bad shapes spread."""

from __future__ import annotations

from . import backend
from .assertions import (  # noqa: F401 - tf.debugging.assert_*
    Assert,
    assert_all_finite,
    assert_equal,
    assert_greater,
    assert_greater_equal,
    assert_integer,
    assert_less,
    assert_less_equal,
    assert_near,
    assert_negative,
    assert_non_negative,
    assert_non_positive,
    assert_none_equal,
    assert_positive,
    assert_proper_iterable,
    assert_rank,
    assert_rank_at_least,
    assert_rank_in,
    assert_same_float_dtype,
    assert_scalar,
    assert_shapes,
    assert_type,
    is_numeric_tensor,
)
from .errors import InvalidArgumentError
from .ops.registry import as_tensor, format_shape
from .tape import enable_strict_gradients  # noqa: F401 - re-exported
from .tensor import Tensor


def check_numerics(tensor, message: str, name=None) -> Tensor:
    """Return `tensor` unchanged, or raise if it holds a NaN or an infinity."""
    tensor = as_tensor(tensor)
    xp = backend.get_array_module(tensor.array)
    if tensor.array.dtype.kind in "fc" and not bool(xp.isfinite(tensor.array).all()):
        nans = int(xp.isnan(tensor.array).sum())
        infs = int(xp.isinf(tensor.array).sum())
        raise InvalidArgumentError(f"{message} : Tensor had {nans} NaN and {infs} Inf values "
                                   f"(shape {format_shape(tensor.shape)}, "
                                   f"dtype {tensor.dtype.name}).")
    return tensor


def disable_strict_gradients() -> None:
    """Go back to TensorFlow's behaviour: unconnected gradients are silently None."""
    enable_strict_gradients(False)
