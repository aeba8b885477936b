"""Eager stand-ins for TensorFlow's control ops: identity_n, group and no_op.

Eagerly every op has already run when it returns, so `group` and `no_op` have nothing to wait
for: they exist so code written for TensorFlow runs unchanged.
"""

from __future__ import annotations

from .registry import as_tensor, register
from .shapes import identity


@register("identity_n", samples=lambda rng: [(([rng.uniform(-1, 1, (2, 3)),
                                                rng.uniform(-1, 1, (4,))],), {})])
def identity_n(input, name=None) -> list:  # noqa: A002
    """A list of tensors with the same values as the tensors in `input`."""
    return [identity(as_tensor(x)) for x in input]


@register("group", differentiable=False)
def group(*inputs, **kwargs) -> None:
    """Nothing to wait for in eager mode: returns None, as TensorFlow's eager `tf.group` does."""
    unexpected = set(kwargs) - {"name"}
    if unexpected:
        raise TypeError(f"group: unexpected keyword arguments {sorted(unexpected)}.")


@register("no_op", differentiable=False)
def no_op(name=None) -> None:
    """Does nothing and returns None (eager `tf.no_op`)."""
