"""`tf.errors`: TensorFlow's error classes, each also an instance of its natural Python base.

TensorFlow raises `tf.errors.InvalidArgumentError` where Python code would raise `ValueError`.
tensorflowish raises classes that are both, so `except tf.errors.InvalidArgumentError` and
`except ValueError` catch the same error:

>>> import tensorflowish as tf
>>> try:
...     tf.reshape(tf.zeros([2, 3]), [4])
... except tf.errors.InvalidArgumentError as error:
...     isinstance(error, ValueError)
True
"""

from __future__ import annotations

__all__ = ["OpError", "CancelledError", "UnknownError", "InvalidArgumentError",
           "DeadlineExceededError", "NotFoundError", "AlreadyExistsError",
           "PermissionDeniedError", "UnauthenticatedError", "ResourceExhaustedError",
           "FailedPreconditionError", "AbortedError", "OutOfRangeError", "UnimplementedError",
           "InternalError", "UnavailableError", "DataLossError", "AxisError",
           "IndexOutOfRangeError", "DTypeMismatchError", "check_axis", "check_axes"]


class OpError(Exception):
    """The base of TensorFlow's op errors: `message`, `op` and `error_code` as TensorFlow has.

    Construct with just a message (`InvalidArgumentError("...")`) or TensorFlow's
    `(node_def, op, message)` triple.
    """

    error_code = 2  # UNKNOWN

    def __init__(self, *args) -> None:
        if len(args) == 3 and not isinstance(args[2], BaseException):
            node_def, op, message = args
        else:
            node_def, op = None, None
            message = args[0] if args else ""
        super().__init__(message)
        self._message = str(message)
        self.node_def = node_def
        self.op = op

    @property
    def message(self) -> str:
        return self._message

    def __reduce__(self):  # picklable (errors cross process boundaries in tf.data and MPI)
        return (type(self), (self._message,))


class CancelledError(OpError):
    error_code = 1


class UnknownError(OpError):
    error_code = 2


class InvalidArgumentError(OpError, ValueError):
    """Bad shapes, values or axes: also a ValueError."""

    error_code = 3


class DeadlineExceededError(OpError, TimeoutError):
    error_code = 4


class NotFoundError(OpError, FileNotFoundError):
    """A file, key or object that does not exist: also a FileNotFoundError."""

    error_code = 5


class AlreadyExistsError(OpError, FileExistsError):
    error_code = 6


class PermissionDeniedError(OpError, PermissionError):
    error_code = 7


class UnauthenticatedError(OpError):
    error_code = 16


class ResourceExhaustedError(OpError, MemoryError):
    """Out of memory (host or device): also a MemoryError."""

    error_code = 8


class FailedPreconditionError(OpError, RuntimeError):
    """The system is not in a state to run the op (e.g. an uninitialized variable)."""

    error_code = 9


class AbortedError(OpError, RuntimeError):
    error_code = 10


class OutOfRangeError(OpError, IndexError):
    """Iterating past the end, or an index out of range: also an IndexError."""

    error_code = 11


class UnimplementedError(OpError, NotImplementedError):
    """An op or argument combination that is not implemented: also a NotImplementedError."""

    error_code = 12


class InternalError(OpError, RuntimeError):
    error_code = 13


class UnavailableError(OpError, RuntimeError):
    error_code = 14


class DataLossError(OpError, OSError):
    """Unrecoverable damage in a file: also an OSError."""

    error_code = 15


class AxisError(InvalidArgumentError, IndexError):
    """An axis outside [-rank, rank): an InvalidArgumentError (so also a ValueError)."""


class IndexOutOfRangeError(InvalidArgumentError, IndexError):
    """An index outside a dimension (gather, slicing): InvalidArgumentError and IndexError."""


class DTypeMismatchError(InvalidArgumentError, TypeError):
    """Operands of incompatible dtypes (TensorFlow: InvalidArgumentError; Python: TypeError)."""


def check_axis(op: str, axis, rank: int) -> int:
    """`axis` as a non-negative int, or AxisError naming the op, the axis and the rank.

    The one check every op taking an axis uses: axes never wrap modulo the rank.
    """
    try:
        value = int(axis)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{op}: axis must be an integer, got {axis!r}.") from None
    if not -rank <= value < rank:
        raise AxisError(f"{op}: axis {value} is out of range for a tensor of rank {rank} "
                        f"(expected an axis in [{-rank}, {rank})).")
    return value + rank if value < 0 else value


def check_axes(op: str, axis, rank: int) -> tuple[int, ...]:
    """Every axis in `axis` (an int or a sequence) checked as `check_axis` does, no repeats."""
    items = [axis] if not hasattr(axis, "__len__") else list(axis)
    axes = tuple(check_axis(op, a, rank) for a in items)
    if len(set(axes)) != len(axes):
        raise InvalidArgumentError(f"{op}: axis {list(items)} repeats an axis (rank {rank}).")
    return axes
