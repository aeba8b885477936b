"""Parallel map and prefetch: they really run concurrently (shown with barriers and events,
never with timings), keep the order, pass errors through in place, and never touch a tape."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tensorflowish as tf

D = tf.data.Dataset


def test_parallel_map_runs_calls_at_the_same_time_and_keeps_the_order():
    # four calls must be inside the function at once, or the barrier breaks after 10 s
    barrier = threading.Barrier(4, timeout=10)
    threads = set()

    def slow_square(x):
        threads.add(threading.get_ident())
        barrier.wait()
        return x * x

    ds = D.range(8).map(slow_square, num_parallel_calls=4)
    assert [int(v) for v in ds] == [0, 1, 4, 9, 16, 25, 36, 49]
    assert len(threads) == 4 and threading.get_ident() not in threads


def test_parallel_map_passes_tuples_and_structures():
    ds = D.from_tensor_slices((np.arange(5.0), np.arange(5))).map(
        lambda x, y: {"sum": x + tf.cast(y, tf.float64), "y": [y, y]},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    first = next(iter(ds))
    assert float(first["sum"]) == 0.0 and isinstance(first["y"], tuple)
    assert [float(e["sum"]) for e in ds] == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_prefetch_produces_ahead_in_a_background_thread():
    produced = []
    ready = threading.Event()

    def numbers():
        for i in range(6):
            produced.append((i, threading.get_ident()))
            if len(produced) == 3:
                ready.set()
            yield i

    ds = D.from_generator(numbers, output_signature=tf.TensorSpec((), tf.int64)).prefetch(2)
    iterator = iter(ds)
    assert int(next(iterator)) == 0
    # while we hold element 0, the thread fills the buffer: elements 1 and 2 are made
    assert ready.wait(10)
    assert {ident for _, ident in produced} != {threading.get_ident()}
    assert [int(v) for v in iterator] == [1, 2, 3, 4, 5]


def test_errors_cross_threads_in_their_place():
    def check(x):
        tf.debugging.assert_less(x, tf.constant(3, tf.int64))
        return x

    ds = D.range(5).map(check, num_parallel_calls=2).prefetch(2)
    iterator = iter(ds)
    assert [int(next(iterator)) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(tf.errors.InvalidArgumentError):
        next(iterator)
    with pytest.raises(ValueError, match="num_parallel_calls"):
        D.range(3).map(check, num_parallel_calls=0)


def test_an_abandoned_prefetch_does_not_block():
    ds = D.range(10).repeat().map(lambda x: x + 1, num_parallel_calls=2).prefetch(4)
    for index, _ in enumerate(ds):
        if index == 3:
            break  # the iterator and its threads are dropped here


def test_work_in_pipeline_threads_never_lands_on_the_training_tape():
    scale = tf.Variable(2.0)  # read by the map function while the tape records
    ds = D.range(64).map(
        lambda x: tf.cast(x, tf.float32) * scale, num_parallel_calls=4
    ).prefetch(8)
    weight = tf.Variable(3.0)
    for value in ds:
        with tf.GradientTape() as tape:
            loss = weight * weight * value
        records = len(tape._records)
        gradient = tape.gradient(loss, weight)
        assert records == 2  # weight * weight, then * value: nothing from the map threads
        np.testing.assert_allclose(float(gradient), 6.0 * float(value))


def test_a_second_thread_cannot_record_while_one_tape_records():
    errors = []

    def other_thread():
        try:
            with tf.GradientTape():
                pass
        except RuntimeError as error:
            errors.append(str(error))

    with tf.GradientTape():
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert errors and "another thread" in errors[0]
    other_thread()  # with no tape recording, any thread may record
    assert len(errors) == 1
