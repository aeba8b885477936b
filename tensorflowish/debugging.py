"""`tf.debugging`: checks that fail loudly instead of letting NaNs or bad shapes spread."""

from __future__ import annotations

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
from .errors import InvalidArgumentError  # noqa: F401 - tf.debugging re-exports it
from .tape import enable_strict_gradients  # noqa: F401 - re-exported
from .tensor import Tensor


def check_numerics(tensor, message: str, name=None) -> Tensor:
    """Return `tensor` unchanged, or raise InvalidArgumentError if it holds a NaN or an
    infinity (the same check as `tf.debugging.assert_all_finite`)."""
    return assert_all_finite(tensor, message)


def disable_strict_gradients() -> None:
    """Go back to TensorFlow's behaviour: unconnected gradients are silently None."""
    enable_strict_gradients(False)
