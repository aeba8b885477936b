"""`tf.debugging`: checks that fail loudly instead of letting NaNs or bad shapes spread."""

from __future__ import annotations

from . import backend
from .errors import InvalidArgumentError  # noqa: F401 - tf.debugging's checks raise it
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


def assert_equal(x, y, message: str = "", summarize=None, name=None) -> None:
    """Raise InvalidArgumentError unless x == y everywhere."""
    x, y = as_tensor(x), as_tensor(y)
    if not bool((x == y).numpy().all()):
        raise InvalidArgumentError(f"{message} Condition x == y did not hold: x={x.numpy()} "
                                   f"y={y.numpy()}")


def assert_shapes(shapes, message: str = "") -> None:
    """Check tensors against expected shapes given as lists (None matches any size)."""
    for tensor, expected in shapes:
        shape = as_tensor(tensor).shape
        if len(shape) != len(expected) or any(e is not None and not isinstance(e, str) and
                                              e != s for s, e in zip(shape, expected)):
            raise InvalidArgumentError(f"{message} expected shape {list(expected)}, got "
                                       f"{format_shape(shape)}.")


def disable_strict_gradients() -> None:
    """Go back to TensorFlow's behaviour: unconnected gradients are silently None."""
    enable_strict_gradients(False)
