"""`tf.types.experimental.TraceType`: how an argument's Python object chooses its graph.

An argument whose object has `__tf_tracing_type__(context)` is keyed by the TraceType that method
returns (by its `__eq__` and `__hash__`), instead of by the object's identity, so two objects of
one kind share a trace (TensorFlow's tracing protocol).
"""

from __future__ import annotations

import abc


class TraceType(abc.ABC):
    """The type of a tf.function argument, for choosing (or making) its trace.

    Here traces are matched by equality (`__eq__` and `__hash__`); `is_subtype_of` and
    `most_specific_common_supertype` are part of TensorFlow's protocol and are kept for it.
    """

    @abc.abstractmethod
    def is_subtype_of(self, other: TraceType) -> bool:
        """Whether a trace made for `other` accepts this type."""

    @abc.abstractmethod
    def most_specific_common_supertype(self, others) -> TraceType | None:
        """The most specific type that both this type and every one of `others` are."""

    def placeholder_value(self, placeholder_context=None):
        """The value a trace for this type runs on (here the call's own argument is used)."""
        raise NotImplementedError

    @abc.abstractmethod
    def __eq__(self, other) -> bool:
        ...

    @abc.abstractmethod
    def __hash__(self) -> int:
        ...


def tracing_key(value):
    """The signature entry of an argument that follows the tracing protocol, or None."""
    method = getattr(type(value), "__tf_tracing_type__", None)
    if method is None:
        return None
    trace_type = method(value, None)
    hash(trace_type)  # a TraceType must be hashable to key the graph cache
    return ("trace_type", type(trace_type).__name__, trace_type)
