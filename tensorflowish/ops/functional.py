"""`tf.map_fn`, `tf.scan`, `tf.foldl`, `tf.foldr`: TensorFlow's higher-order functions, eagerly.

Each is a Python loop over the first dimension of `elems` (a tensor or a nested structure of
tensors with one first dimension), stacking the results; every step is ordinary ops, so the
result is differentiable like any other chain of ops.

>>> import tensorflowish as tf
>>> tf.scan(lambda total, x: total + x, tf.constant([1, 2, 3, 4])).numpy().tolist()
[1, 3, 6, 10]
>>> int(tf.foldr(lambda a, x: a * 10 + x, tf.constant([1, 2, 3])))
321
"""

from __future__ import annotations

from .. import nest
from ..errors import InvalidArgumentError
from .registry import as_tensor
from .shapes import stack

__all__ = ["map_fn", "scan", "foldl", "foldr"]


def _slices(op: str, elems) -> tuple[list, int]:
    """The flat tensors of `elems` and their common first dimension."""
    flat = [as_tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise InvalidArgumentError(f"{op}: elems must hold at least one tensor.")
    sizes = {t.array.shape[0] if t.array.ndim else None for t in flat}
    if None in sizes or len(sizes) != 1:
        raise InvalidArgumentError(f"{op}: every tensor in elems must have the same first "
                                   f"dimension, got shapes {[tuple(t.shape) for t in flat]}.")
    return flat, sizes.pop()


def _element(elems, flat: list, i: int):
    return nest.pack_sequence_as(elems, [t[i] for t in flat])


def _stacked(op: str, results: list, structure):
    """Stack a list of equally structured results along a new first axis."""
    if not results:
        raise InvalidArgumentError(f"{op}: elems has a first dimension of 0; there is nothing "
                                   "to stack.")
    columns = [nest.flatten(r) for r in results]
    return nest.pack_sequence_as(structure, [stack([as_tensor(c[k]) for c in columns], 0)
                                             for k in range(len(columns[0]))])


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False,
           infer_shape=True, name=None, fn_output_signature=None):
    """`fn` applied to each slice `elems[i]`, the results stacked: `[fn(x) for x in elems]`."""
    flat, size = _slices("map_fn", elems)
    results = [fn(_element(elems, flat, i)) for i in range(size)]
    return _stacked("map_fn", results, results[0] if results else None)


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
         swap_memory=False, infer_shape=True, reverse=False, name=None):
    """Every intermediate accumulator of `a = fn(a, elems[i])`, stacked (from the end when
    `reverse`); without `initializer` the first element starts the scan and is the first
    result."""
    flat, size = _slices("scan", elems)
    order = list(range(size))[::-1] if reverse else list(range(size))
    if initializer is None:
        if not order:
            raise InvalidArgumentError("scan: elems is empty and there is no initializer.")
        accumulator = _element(elems, flat, order[0])
        results, order = [accumulator], order[1:]
    else:
        accumulator, results = initializer, []
    for i in order:
        accumulator = fn(accumulator, _element(elems, flat, i))
        results.append(accumulator)
    if reverse:
        results.reverse()
    return _stacked("scan", results, results[0] if results else None)


def _fold(op: str, fn, elems, initializer, order_reversed: bool):
    flat, size = _slices(op, elems)
    order = list(range(size))[::-1] if order_reversed else list(range(size))
    if initializer is None:
        if not order:
            raise InvalidArgumentError(f"{op}: elems is empty and there is no initializer.")
        accumulator, order = _element(elems, flat, order[0]), order[1:]
    else:
        accumulator = initializer
    for i in order:
        accumulator = fn(accumulator, _element(elems, flat, i))
    return accumulator


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """`a = fn(a, x)` over elems from first to last; the final accumulator."""
    return _fold("foldl", fn, elems, initializer, False)


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """`a = fn(a, x)` over elems from last to first; the final accumulator."""
    return _fold("foldr", fn, elems, initializer, True)
