"""`tf.nest`: nested structures of lists, tuples, namedtuples, dicts and attrs classes.

As in TensorFlow, dictionaries flatten in sorted key order, `None` and strings are leaves, and
`pack_sequence_as` rebuilds a structure of the same types (dictionaries keep their own order).

>>> import tensorflowish as tf
>>> tf.nest.flatten({"b": 1, "a": [2, (3, None)]})
[2, 3, None, 1]
>>> tf.nest.map_structure(lambda x: x * 10, {"a": [1, 2], "b": 3})
{'a': [10, 20], 'b': 30}
"""

from __future__ import annotations

import collections.abc

__all__ = ["flatten", "is_nested", "map_structure", "pack_sequence_as", "assert_same_structure"]


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _is_attrs(value) -> bool:
    return hasattr(type(value), "__attrs_attrs__")


def is_nested(seq) -> bool:
    """True for lists, tuples, dicts (any Mapping) and attrs objects; False for leaves."""
    return isinstance(seq, (list, tuple, collections.abc.Mapping)) or _is_attrs(seq)


def _sorted_keys(mapping) -> list:
    try:
        return sorted(mapping)
    except TypeError:
        raise TypeError(f"tf.nest: dictionary keys must be sortable, got "
                        f"{list(mapping)!r}.") from None


def _children(value) -> list:
    """The direct children of a nested value, in flattening order."""
    if isinstance(value, collections.abc.Mapping):
        return [value[key] for key in _sorted_keys(value)]
    if _is_attrs(value):
        return [getattr(value, a.name) for a in type(value).__attrs_attrs__]
    return list(value)


def _rebuild(value, children: list):
    """A value of `value`'s type holding `children` (in flattening order)."""
    if isinstance(value, collections.abc.Mapping):
        by_key = dict(zip(_sorted_keys(value), children))
        items = [(key, by_key[key]) for key in value]
        if isinstance(value, collections.defaultdict):
            result = collections.defaultdict(value.default_factory)
            result.update(items)
            return result
        return type(value)(items)
    if _is_namedtuple(value):
        return type(value)(*children)
    if _is_attrs(value):
        return type(value)(*children)
    if type(value) is list:
        return list(children)
    return type(value)(children)  # tuple and list subclasses


def flatten(structure, expand_composites=False) -> list:
    """Every leaf of `structure`, depth first (dictionaries by sorted key)."""
    if not is_nested(structure):
        return [structure]
    leaves = []
    for child in _children(structure):
        leaves.extend(flatten(child))
    return leaves


def _count(structure) -> int:
    return len(flatten(structure))


def pack_sequence_as(structure, flat_sequence, expand_composites=False):
    """`flat_sequence` poured back into the shape of `structure`."""
    flat = list(flat_sequence) if is_nested(flat_sequence) else None
    if flat is None:
        raise TypeError(f"pack_sequence_as: flat_sequence must be a sequence, got "
                        f"{type(flat_sequence).__name__}.")
    if not is_nested(structure):
        if len(flat) != 1:
            raise ValueError(f"Structure is a scalar but len(flat_sequence) == {len(flat)} > 1")
        return flat[0]
    expected = _count(structure)
    if expected != len(flat):
        raise ValueError(f"Could not pack sequence. Structure had {expected} atoms, but "
                         f"flat_sequence had {len(flat)} items.  Structure: {structure!r}, "
                         f"flat_sequence: {flat!r}.")
    position = 0

    def build(value):
        nonlocal position
        if not is_nested(value):
            position += 1
            return flat[position - 1]
        return _rebuild(value, [build(child) for child in _children(value)])
    return build(structure)


def _same_type(a, b) -> bool:
    if isinstance(a, collections.abc.Mapping) and isinstance(b, collections.abc.Mapping):
        return True  # TensorFlow treats any two mappings alike
    if _is_namedtuple(a) or _is_namedtuple(b):
        return _is_namedtuple(a) and _is_namedtuple(b) and type(a).__name__ == \
            type(b).__name__ and type(a)._fields == type(b)._fields
    return type(a) is type(b)


def assert_same_structure(nest1, nest2, check_types=True, expand_composites=False) -> None:
    """ValueError if the two structures nest differently; with `check_types`, TypeError if
    their sequence types differ (a list against a tuple)."""
    def walk(a, b, path):
        if is_nested(a) != is_nested(b):
            nested, leaf = (a, b) if is_nested(a) else (b, a)
            raise ValueError(
                f"The two structures don't have the same nested structure.\n\nFirst structure: "
                f"{nest1!r}\n\nSecond structure: {nest2!r}\n\nMore specifically: at {path or '/'}"
                f" {nested!r} is a sequence, while {leaf!r} is not.")
        if not is_nested(a):
            return
        if check_types and not _same_type(a, b):
            raise TypeError(f"The two structures don't have the same sequence type. At "
                            f"{path or '/'} the first has type {type(a).__name__}, the second "
                            f"{type(b).__name__}. First: {nest1!r}; second: {nest2!r}.")
        if isinstance(a, collections.abc.Mapping) and isinstance(b, collections.abc.Mapping) \
                and set(a) != set(b):
            raise ValueError(f"The two dictionaries don't have the same set of keys at "
                             f"{path or '/'}: {sorted(map(str, a))} and {sorted(map(str, b))}.")
        first, second = _children(a), _children(b)
        if len(first) != len(second):
            raise ValueError(f"The two structures don't have the same number of elements at "
                             f"{path or '/'}: {len(first)} and {len(second)}. First: {nest1!r};"
                             f" second: {nest2!r}.")
        for i, (x, y) in enumerate(zip(first, second)):
            walk(x, y, f"{path}/{i}")
    walk(nest1, nest2, "")


def map_structure(func, *structure, **kwargs):
    """`func` applied to the leaves of the structures (which must match), in their shape."""
    check_types = kwargs.pop("check_types", True)
    kwargs.pop("expand_composites", None)
    if kwargs:
        raise ValueError(f"map_structure: unexpected keyword arguments {sorted(kwargs)}; only "
                         "check_types and expand_composites are accepted.")
    if not callable(func):
        raise TypeError(f"map_structure: func must be callable, got {func!r}.")
    if not structure:
        raise ValueError("map_structure: must pass at least one structure.")
    for other in structure[1:]:
        assert_same_structure(structure[0], other, check_types=check_types)
    leaves = [flatten(s) for s in structure]
    return pack_sequence_as(structure[0], [func(*args) for args in zip(*leaves)])
