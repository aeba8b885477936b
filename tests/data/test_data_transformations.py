"""tf.data transformations, each against TensorFlow 2.21's output for the same pipeline
(recorded by hand from TensorFlow, or computed in the test with plain Python)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

D = tf.data.Dataset


def values(dataset):
    def plain(x):
        if isinstance(x, tuple):
            return tuple(plain(v) for v in x)
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return np.asarray(x).tolist()

    return [plain(x) for x in dataset.as_numpy_iterator()]


def test_filter_enumerate_concatenate_take_while():
    evens = D.range(10).filter(lambda x: x % 2 == 0)
    assert values(evens) == [0, 2, 4, 6, 8]
    assert int(evens.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    assert int(D.range(3).repeat().filter(lambda x: x > 0).cardinality()) == -2  # as TF
    assert values(D.from_tensor_slices([7, 8]).enumerate(start=5)) == [(5, 7), (6, 8)]
    spec = D.range(3).enumerate().element_spec
    assert spec == (tf.TensorSpec((), tf.int64), tf.TensorSpec((), tf.int64))
    both = D.range(3).concatenate(D.range(10, 12))
    assert values(both) == [0, 1, 2, 10, 11] and len(both) == 5
    assert values(D.range(10).take_while(lambda x: x < 3)) == [0, 1, 2]
    with pytest.raises(TypeError, match="scalar boolean"):
        list(D.range(3).filter(lambda x: x * 2))
    with pytest.raises(TypeError, match="different dtypes"):
        D.range(3).concatenate(D.from_tensor_slices([1.0, 2.0]))


def test_zip_takes_datasets_or_a_structure_and_stops_at_the_shortest():
    assert values(D.zip(D.range(2), D.range(3))) == [(0, 0), (1, 1)]
    assert values(D.zip((D.range(2), D.range(5)))) == [(0, 0), (1, 1)]
    named = D.zip({"a": D.range(2), "b": D.range(10, 12)})
    assert values(named) == [{"a": 0, "b": 10}, {"a": 1, "b": 11}]


def test_flat_map_and_interleave_in_tensorflows_order():
    assert values(D.range(3).flat_map(lambda x: D.range(x))) == [0, 0, 1]
    # TensorFlow 2.21 gives exactly these orders
    repeated = D.range(1, 4).interleave(
        lambda x: D.from_tensors(x).repeat(3), cycle_length=2, block_length=2
    )
    assert values(repeated) == [1, 1, 2, 2, 1, 2, 3, 3, 3]
    uneven = D.range(1, 6).interleave(lambda x: D.from_tensors(x).repeat(x), cycle_length=3)
    assert values(uneven) == [1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 4, 5, 5, 5]
    parallel = D.range(1, 6).interleave(
        lambda x: D.from_tensors(x).repeat(x), cycle_length=3, num_parallel_calls=3
    )
    assert values(parallel) == values(uneven)
    with pytest.raises(TypeError, match="must return a tf.data.Dataset"):
        list(D.range(2).flat_map(lambda x: x))


def test_window_as_tensorflow_cuts_it():
    def windows(dataset):
        return values(dataset.flat_map(lambda w: w.batch(10)))

    assert windows(D.range(7).window(3, shift=2)) == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6]]
    assert windows(D.range(7).window(3, shift=2, drop_remainder=True)) == [
        [0, 1, 2], [2, 3, 4], [4, 5, 6],
    ]  # fmt: skip
    assert windows(D.range(10).window(3, shift=1, stride=3)) == [
        [0, 3, 6], [1, 4, 7], [2, 5, 8], [3, 6, 9], [4, 7], [5, 8], [6, 9], [7], [8], [9],
    ]  # fmt: skip
    assert int(D.range(7).window(3, shift=2).cardinality()) == 4
    assert int(D.range(10).window(3, 1, 3, drop_remainder=True).cardinality()) == 4
    pairs = D.zip(D.range(4), D.range(10, 14)).window(2)
    first_x, first_y = next(iter(pairs))
    assert values(first_x) == [0, 1] and values(first_y) == [10, 11]


def test_padded_batch_pads_to_the_longest_or_to_a_shape():
    ragged = D.range(1, 4).map(lambda n: tf.fill([n], n))
    assert values(ragged.padded_batch(3)) == [[[1, 0, 0], [2, 2, 0], [3, 3, 3]]]
    assert ragged.padded_batch(3).element_spec == tf.TensorSpec((None, None), tf.int64)
    fixed = ragged.padded_batch(2, padded_shapes=[5], padding_values=np.int64(-1),
                                drop_remainder=True)  # fmt: skip
    assert values(fixed) == [[[1, -1, -1, -1, -1], [2, 2, -1, -1, -1]]]
    assert fixed.element_spec == tf.TensorSpec((2, 5), tf.int64)
    pairs = ragged.map(lambda x: (x, tf.reduce_sum(x))).padded_batch(2)
    assert values(pairs) == [([[1, 0], [2, 2]], [1, 4]), ([[3, 3, 3]], [9])]
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller size"):
        list(ragged.padded_batch(3, padded_shapes=[2]))


def test_batch_of_different_shapes_says_to_use_padded_batch():
    ragged = D.range(1, 3).map(lambda n: tf.fill([n], n))
    with pytest.raises(tf.errors.InvalidArgumentError, match="padded_batch"):
        list(ragged.batch(2))


def test_bucket_by_sequence_length_matches_tensorflow():
    lengths = [3, 1, 5, 2, 4, 6, 1, 2]
    ds = D.from_generator(
        lambda: ([1] * n for n in lengths), output_signature=tf.TensorSpec((None,), tf.int32)
    )
    buckets = ds.bucket_by_sequence_length(lambda x: tf.shape(x)[0], [3, 5], [2, 2, 2])
    assert values(buckets) == [
        [[1, 0], [1, 1]], [[1, 1, 1, 0], [1, 1, 1, 1]],
        [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], [[1, 0], [1, 1]],
    ]  # fmt: skip
    to_boundary = ds.bucket_by_sequence_length(
        lambda x: tf.shape(x)[0], [3, 7], [2, 2, 2], pad_to_bucket_boundary=True
    )
    assert [np.shape(b) for b in values(to_boundary)] == [(2, 6), (2, 2), (2, 6), (2, 2)]
    with pytest.raises(ValueError, match=r"len\(bucket_boundaries\) \+ 1"):
        ds.bucket_by_sequence_length(lambda x: tf.shape(x)[0], [3], [2])


def test_unbatch_and_rebatch():
    assert values(D.range(5).batch(2).unbatch()) == [0, 1, 2, 3, 4]
    assert int(D.range(6).batch(2).unbatch().cardinality()) == -2  # as TF
    assert values(D.range(10).batch(4).rebatch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert values(D.range(10).batch(4).rebatch([1, 2])) == [
        [0], [1, 2], [3], [4, 5], [6], [7, 8], [9],
    ]  # fmt: skip
    assert values(D.range(10).batch(4).rebatch(3, drop_remainder=True))[-1] == [6, 7, 8]


def test_reduce_and_scan_keep_the_state_dtype():
    assert int(D.range(5).reduce(np.int64(0), lambda total, x: total + x)) == 10
    count_and_sum = D.range(1, 4).reduce(
        (np.int64(0), np.int64(0)), lambda state, x: (state[0] + 1, state[1] + x)
    )
    assert [int(v) for v in count_and_sum] == [3, 6]
    scanned = D.range(5).scan(tf.constant(0, tf.int64), lambda state, x: (state + x, state * 2))
    assert values(scanned) == [0, 0, 2, 6, 12] and int(scanned.cardinality()) == 5
    with pytest.raises(TypeError, match="dtype"):
        D.range(3).reduce(np.int64(0), lambda total, x: tf.cast(total + x, tf.float32))


def test_ignore_errors_skips_bad_elements_and_whole_bad_batches():
    def inverse(x):
        tf.debugging.check_numerics(1.0 / x, "division by zero")
        return 1.0 / x

    data = D.from_tensor_slices([1.0, 2.0, 0.0, 4.0])
    with pytest.raises(tf.errors.InvalidArgumentError):
        list(data.map(inverse))
    assert values(data.map(inverse).ignore_errors()) == [1.0, 0.5, 0.25]
    # TensorFlow drops the batch that held the error, including its good element 0.25
    batches = D.from_tensor_slices([1.0, 2.0, 0.0, 4.0, 5.0]).map(inverse).batch(2)
    kept = values(batches.ignore_errors())
    assert kept[0] == [1.0, 0.5] and kept[1] == pytest.approx([0.2]) and len(kept) == 2
    threaded = data.map(inverse, num_parallel_calls=2).prefetch(1).ignore_errors()
    assert values(threaded) == [1.0, 0.5, 0.25]
    with pytest.warns(UserWarning, match="dropped an element"):
        assert len(values(data.map(inverse).ignore_errors(log_warning=True))) == 3


def test_cache_replays_the_first_full_pass():
    calls = []

    def record(x):
        calls.append(int(x))
        return x

    cached = D.range(3).map(record).cache()
    assert values(cached) == [0, 1, 2] and values(cached) == [0, 1, 2]
    assert calls == [0, 1, 2]
    with pytest.raises(NotImplementedError, match="save"):
        D.range(3).cache("/tmp/somewhere")


def test_element_spec_is_tensorspecs_and_cardinality_follows_tensorflow():
    ds = D.from_tensor_slices((np.zeros((5, 3), np.float32), np.arange(5)))
    assert ds.element_spec == (tf.TensorSpec((3,), tf.float32), tf.TensorSpec((), tf.int64))
    assert ds.batch(2).element_spec[0] == tf.TensorSpec((None, 3), tf.float32)
    assert ds.batch(2, drop_remainder=True).element_spec[0] == tf.TensorSpec((2, 3), tf.float32)
    expected = "TensorSpec(shape=(None, 3), dtype=tf.float32, name=None)"
    assert repr(tf.TensorSpec((None, 3))) == expected
    assert int(ds.repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
    assert int(ds.take(2).cardinality()) == 2 and int(ds.batch(2).cardinality()) == 3
    assert int(ds.map(lambda x, y: x, num_parallel_calls=2).cardinality()) == 5
    assert int(ds.prefetch(1).cardinality()) == 5 and int(ds.cache().cardinality()) == 5
    assert int(tf.data.experimental.cardinality(ds.ignore_errors())) == -2


def test_iterator_get_next_and_get_single_element():
    iterator = iter(D.range(2))
    assert int(iterator.get_next()) == 0 and int(next(iterator)) == 1
    with pytest.raises(tf.errors.OutOfRangeError):
        iterator.get_next()
    assert int(D.range(4, 5).get_single_element()) == 4
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than one"):
        D.range(2).get_single_element()
    assert [int(x) for x in D.range(3).apply(lambda ds: ds.skip(1))] == [1, 2]


def test_options_merge_and_drive_determinism():
    options = tf.data.Options()
    options.deterministic = False
    options.threading.private_threadpool_size = 3
    ds = D.range(3).with_options(options).map(lambda x: x)
    assert ds.options().deterministic is False
    assert ds.options().threading.private_threadpool_size == 3
    assert D.range(3).options().deterministic is None
    with pytest.raises(AttributeError, match="Cannot set the property"):
        options.determinstic = True
    later = tf.data.Options()
    later.deterministic = True
    assert ds.with_options(later).options().deterministic is True
    # unordered output still holds every element
    unordered = D.range(50).with_options(options).map(lambda x: x * 2, num_parallel_calls=4)
    assert sorted(values(unordered)) == list(range(0, 100, 2))


def test_counter_sample_and_choose_from_datasets():
    assert values(D.counter(start=5, step=-2).take(3)) == [5, 3, 1]
    assert int(tf.data.experimental.Counter().cardinality()) == tf.data.INFINITE_CARDINALITY
    zeros, ones = D.from_tensors(np.int64(0)).repeat(), D.from_tensors(np.int64(1)).repeat()
    mixed = values(D.sample_from_datasets([zeros, ones], weights=[0.8, 0.2], seed=1).take(2000))
    assert abs(np.mean(mixed) - 0.2) < 0.03
    # an exhausted dataset drops out; stop_on_empty_dataset ends everything
    short = [D.range(3), D.range(10, 12)]
    assert sorted(values(D.sample_from_datasets(short, seed=2))) == [0, 1, 2, 10, 11]
    uneven = [D.range(1), D.range(10, 100)]
    stopped = values(D.sample_from_datasets(uneven, seed=2, stop_on_empty_dataset=True))
    assert 0 in stopped and len(stopped) < 91  # ends when range(1) is picked a second time
    choice = D.from_tensor_slices(np.array([0, 1, 1, 0, 2], np.int64))
    picked = D.choose_from_datasets([D.range(3), D.range(10, 13), D.range(20, 23)], choice)
    assert values(picked) == [0, 10, 11, 1, 20]
    with pytest.raises(TypeError, match="int64"):
        D.choose_from_datasets([D.range(3)], D.range(2).map(lambda x: tf.cast(x, tf.int32)))


def test_a_huge_range_streams():
    huge = D.range(0, 10**12, 7)
    assert len(huge) == -(-10**12 // 7)
    assert values(huge.skip(2).take(3)) == [14, 21, 28]
    assert values(D.range(10**9).batch(3).take(1)) == [[0, 1, 2]]


def test_group_by_window_and_unique_as_tensorflows_docs_show():
    grouped = D.range(10).group_by_window(
        key_func=lambda x: x % 2, reduce_func=lambda key, window: window.batch(5), window_size=5
    )
    assert values(grouped) == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]  # TensorFlow's docstring
    leftovers = D.range(10).group_by_window(
        lambda x: x % 2, lambda key, window: window.batch(3), window_size=3
    )
    assert values(leftovers) == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    sized = D.range(6).group_by_window(
        lambda x: x % 2, lambda key, window: window.batch(10),
        window_size_func=lambda key: key + 1,
    )  # fmt: skip
    assert values(sized) == [[0], [2], [1, 3], [4], [5]]  # key 0: windows of 1, key 1: of 2
    with pytest.raises(ValueError, match="tf.int64 scalar"):
        list(D.range(3).group_by_window(lambda x: tf.cast(x, tf.int32), lambda k, w: w, 2))
    assert values(D.from_tensor_slices(np.array([1, 1, 2, 3, 3, 1])).unique()) == [1, 2, 3]
    with pytest.raises(TypeError, match="integer or string scalars"):
        D.from_tensor_slices(np.zeros((3, 2))).unique()
