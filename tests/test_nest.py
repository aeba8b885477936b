"""tf.nest: flatten order, rebuilding types, structure checks (hand-computed expectations)."""

from __future__ import annotations

import collections

import pytest

import tensorflowish as tf

Point = collections.namedtuple("Point", ["x", "y"])


def test_flatten_sorts_dict_keys_and_keeps_none_as_leaf():
    structure = {"b": 1, "a": [2, (3, None)], "c": Point(4, {"z": 5, "y": 6})}
    assert tf.nest.flatten(structure) == [2, 3, None, 1, 4, 6, 5]
    assert tf.nest.flatten(7) == [7] and tf.nest.flatten(None) == [None]
    assert tf.nest.flatten("ab") == ["ab"] and tf.nest.flatten([]) == []


def test_pack_sequence_as_rebuilds_types():
    structure = {"b": 1, "a": [2, (3, None)], "c": Point(4, 5)}
    packed = tf.nest.pack_sequence_as(structure, list(range(10, 16)))
    assert packed == {"b": 13, "a": [10, (11, 12)], "c": Point(14, 15)}
    assert list(packed) == ["b", "a", "c"]  # the structure's own key order
    assert isinstance(packed["c"], Point) and isinstance(packed["a"][1], tuple)
    with pytest.raises(ValueError, match="Structure had 6 atoms, but flat_sequence had 2"):
        tf.nest.pack_sequence_as(structure, [1, 2])


def test_map_structure_over_several_structures():
    a = {"w": [1, 2], "b": 3}
    b = {"w": [10, 20], "b": 30}
    assert tf.nest.map_structure(lambda x, y: x + y, a, b) == {"w": [11, 22], "b": 33}
    tensors = tf.nest.map_structure(tf.constant, (1.0, [2.0]))
    assert isinstance(tensors, tuple) and float(tensors[1][0]) == 2.0
    with pytest.raises(ValueError, match="same nested structure"):
        tf.nest.map_structure(lambda x, y: x, [1, [2]], [1, 2])


def test_assert_same_structure():
    tf.nest.assert_same_structure({"a": (1, 2)}, {"a": (3, 4)})
    with pytest.raises(ValueError, match="same nested structure"):
        tf.nest.assert_same_structure([1, [2]], [1, 2])
    with pytest.raises(TypeError, match="sequence type"):
        tf.nest.assert_same_structure([1, 2], (1, 2))
    tf.nest.assert_same_structure([1, 2], (1, 2), check_types=False)
    with pytest.raises(ValueError, match="number of elements"):
        tf.nest.assert_same_structure([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="keys"):
        tf.nest.assert_same_structure({"a": 1}, {"b": 1})
    assert tf.nest.is_nested({}) and not tf.nest.is_nested("ab")


def test_identity_n_group_no_op():
    a, b = tf.identity_n([tf.constant([1.0, 2.0]), [3, 4]])
    assert a.numpy().tolist() == [1.0, 2.0] and b.dtype == tf.int32
    assert tf.group(a, b) is None and tf.no_op() is None
