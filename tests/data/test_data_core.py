"""tf.data.Dataset over in-memory arrays: structure, transformations, the batched fast path."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.data import sources as data_module

Dataset = tf.data.Dataset


def test_from_tensor_slices_single_tuple_and_dict():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6)
    elements = list(Dataset.from_tensor_slices(x))
    assert len(elements) == 6 and isinstance(elements[0], tf.Tensor)
    np.testing.assert_array_equal(elements[2].numpy(), [4.0, 5.0])
    pairs = list(Dataset.from_tensor_slices((x, y)))
    assert isinstance(pairs[0], tuple) and int(pairs[3][1]) == 3
    records = list(Dataset.from_tensor_slices({"features": x, "label": y}))
    assert set(records[0]) == {"features", "label"} and int(records[5]["label"]) == 5
    from_list = list(Dataset.from_tensor_slices([1.0, 2.0, 3.0]))
    assert [float(v) for v in from_list] == [1.0, 2.0, 3.0]
    assert len(Dataset.from_tensor_slices(tf.constant(x))) == 6


def test_mismatched_lengths_and_scalars_are_clear_errors():
    with pytest.raises(ValueError, match="same first dimension.*\\(5, 2\\).*\\(4,\\)"):
        Dataset.from_tensor_slices((np.zeros((5, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="from_tensors"):
        Dataset.from_tensor_slices(np.float32(1.0))


def test_batch_with_and_without_remainder():
    ds = Dataset.range(10)
    assert [b.numpy().tolist() for b in ds.batch(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(ds.batch(4)) == 3 and len(ds.batch(4, drop_remainder=True)) == 2
    assert [len(b) for b in ds.batch(4, drop_remainder=True)] == [4, 4]
    with pytest.raises(ValueError, match="at least 1"):
        ds.batch(0)


def test_shuffle_is_a_permutation_reproducible_with_a_seed():
    ds = Dataset.range(100)
    first = [int(v) for v in ds.shuffle(100, seed=3)]
    assert sorted(first) == list(range(100)) and first != list(range(100))
    assert first == [int(v) for v in ds.shuffle(100, seed=3)]
    reshuffled = ds.shuffle(100, seed=3)
    assert [int(v) for v in reshuffled] != [int(v) for v in reshuffled]
    fixed = ds.shuffle(100, seed=3, reshuffle_each_iteration=False)
    assert [int(v) for v in fixed] == [int(v) for v in fixed]


def test_shuffle_follows_the_global_seed():
    tf.random.set_seed(11)
    a = [int(v) for v in Dataset.range(20).shuffle(20)]
    tf.random.set_seed(11)
    b = [int(v) for v in Dataset.range(20).shuffle(20)]
    assert a == b


def test_small_buffer_shuffles_locally_like_tensorflow():
    order = [int(v) for v in Dataset.range(50).shuffle(5, seed=0)]
    assert sorted(order) == list(range(50))
    # With a buffer of 5, element i can only appear once the input has reached it.
    for position, value in enumerate(order):
        assert value <= position + 4


def test_fast_path_equals_the_element_by_element_path():
    x = np.random.default_rng(0).normal(size=(37, 3)).astype(np.float32)
    y = np.arange(37)
    fast = Dataset.from_tensor_slices((x, y)).shuffle(37, seed=5).batch(8)
    # map() forces the generic per-element path; the identity map must not change anything.
    slow = Dataset.from_tensor_slices((x, y)).shuffle(37, seed=5).map(lambda a, b: (a, b)).batch(8)
    for (xa, ya), (xb, yb) in zip(fast, slow):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    batches = list(fast)
    assert [b[0].shape.as_list() for b in batches][-1] == [5, 3]
    np.testing.assert_array_equal(x[batches[0][1].numpy()], batches[0][0].numpy())


def test_fast_path_slices_whole_arrays(monkeypatch):
    calls = []
    original = data_module._SliceDataset._gather

    def counting(self, rows):
        calls.append(rows)
        return original(self, rows)

    monkeypatch.setattr(data_module._SliceDataset, "_gather", counting)
    x = np.zeros((1000, 4), dtype=np.float32)
    list(Dataset.from_tensor_slices((x, np.arange(1000))).shuffle(1000).batch(100))
    assert len(calls) == 10  # one gather per batch, not one per element


def test_map_take_skip_repeat_prefetch_unbatch():
    ds = Dataset.range(6).map(lambda v: v * 2)
    assert [int(v) for v in ds] == [0, 2, 4, 6, 8, 10]
    assert [int(v) for v in ds.take(2)] == [0, 2]
    assert [int(v) for v in ds.skip(4)] == [8, 10]
    assert [int(v) for v in ds.take(2).repeat(2)] == [0, 2, 0, 2]
    assert [int(v) for v in ds.repeat().take(8)][-1] == 2
    assert [int(v) for v in ds.prefetch(tf.data.AUTOTUNE)] == [0, 2, 4, 6, 8, 10]
    assert int(ds.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
    with pytest.raises(TypeError, match="infinite"):
        len(ds.repeat())
    pairs = Dataset.from_tensor_slices((np.arange(4.0), np.arange(4))).map(lambda a, b: (a + 1, b))
    assert [float(a) for a, _ in pairs] == [1.0, 2.0, 3.0, 4.0]
    assert [int(v) for v in Dataset.range(5).batch(2).unbatch()] == [0, 1, 2, 3, 4]


def test_zip_and_as_numpy_iterator():
    zipped = Dataset.zip((Dataset.range(3), Dataset.range(10, 13)))
    assert [(int(a), int(b)) for a, b in zipped] == [(0, 10), (1, 11), (2, 12)]
    arrays = list(Dataset.from_tensor_slices(np.ones((2, 2))).as_numpy_iterator())
    assert isinstance(arrays[0], np.ndarray)


def test_batching_keeps_dtypes_and_dict_structure():
    ds = Dataset.from_tensor_slices({"x": np.ones((5, 2), np.float32), "y": np.arange(5)})
    batch = next(iter(ds.batch(5)))
    assert batch["x"].dtype == tf.float32 and batch["y"].dtype == tf.int64
    generic = next(iter(ds.map(lambda d: d).batch(5)))
    assert generic["x"].shape.as_list() == [5, 2]
