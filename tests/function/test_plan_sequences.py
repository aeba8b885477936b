"""Replay plans of sequence models: embeddings (their IndexedSlices gradients and the optimisers'
sparse updates), SimpleRNN, and masked recurrent layers, trained traced-with-plan against eager,
bit for bit, with the plan asserted to exist (no line on the gradient path falls back)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

L = tf.keras.layers


def _graph(function):
    (concrete,) = function._concrete.values()
    return concrete.graph


def _ids(shape=(4, 7), vocabulary=20, seed=1):
    """Ids with padding (0) at the end of one row and at the start of another."""
    ids = np.random.default_rng(seed).integers(1, vocabulary, shape).astype("int32")
    ids[0, 4:] = 0
    ids[1, :3] = 0
    return ids


def _sequences(shape=(4, 7, 3), seed=1):
    """Float sequences with all-zero (Masking) steps at the end of one row, the start of
    another."""
    x = np.random.default_rng(seed).standard_normal(shape).astype("float32")
    x[0, 4:] = 0.0
    x[1, :3] = 0.0
    return x


MODELS = {
    "embedding-pooling": (lambda: [tf.keras.Input((7,), dtype="int32"), L.Embedding(20, 4),
                                   L.GlobalAveragePooling1D(), L.Dense(3)], _ids),
    "masked-pooling": (lambda: [tf.keras.Input((7,), dtype="int32"),
                                L.Embedding(20, 4, mask_zero=True), L.GlobalAveragePooling1D(),
                                L.Dense(8, activation="relu"), L.Dropout(0.5), L.Dense(3)],
                       _ids),
    "embedding-lstm": (lambda: [tf.keras.Input((7,), dtype="int32"), L.Embedding(20, 4),
                                L.LSTM(5), L.Dense(3)], _ids),
    "embedding-gru": (lambda: [tf.keras.Input((7,), dtype="int32"), L.Embedding(20, 4),
                               L.GRU(5), L.Dense(3)], _ids),
    "masked-lstm": (lambda: [tf.keras.Input((7,), dtype="int32"),
                             L.Embedding(20, 4, mask_zero=True), L.LSTM(5), L.Dense(3)], _ids),
    "masked-gru": (lambda: [tf.keras.Input((7,), dtype="int32"),
                            L.Embedding(20, 4, mask_zero=True), L.GRU(5, go_backwards=True),
                            L.Dense(3)], _ids),
    "masked-simple-rnn": (lambda: [tf.keras.Input((7,), dtype="int32"),
                                   L.Embedding(20, 4, mask_zero=True),
                                   L.SimpleRNN(5, return_sequences=True),
                                   L.SimpleRNN(4, activation="relu"), L.Dense(3)], _ids),
    "simple-rnn": (lambda: [tf.keras.Input((7, 3)), L.SimpleRNN(5), L.Dense(3)], _sequences),
    "masking-stack": (lambda: [tf.keras.Input((7, 3)), L.Masking(),
                               L.SimpleRNN(5, return_sequences=True, go_backwards=True),
                               L.LSTM(4, return_sequences=True), L.GRU(3), L.Dense(3)],
                      _sequences),
    "recurrent-dropout": (lambda: [tf.keras.Input((7,), dtype="int32"),
                                   L.Embedding(20, 4, mask_zero=True),
                                   L.LSTM(5, dropout=0.2, recurrent_dropout=0.3), L.Dense(3)],
                          _ids),
    "recurrent-dropout-stack": (lambda: [tf.keras.Input((7, 3)),
                                         L.GRU(5, recurrent_dropout=0.2, return_sequences=True),
                                         L.SimpleRNN(4, dropout=0.1, recurrent_dropout=0.2),
                                         L.Dense(3)], _sequences),
    "bidirectional": (lambda: [tf.keras.Input((7,), dtype="int32"),
                               L.Embedding(20, 4, mask_zero=True), L.Dropout(0.25),
                               L.Bidirectional(L.LSTM(4)), L.Dense(3)], _ids),
    "bidirectional-sequences": (lambda: [tf.keras.Input((7,), dtype="int32"),
                                         L.Embedding(20, 4, mask_zero=True),
                                         L.Bidirectional(L.GRU(3, return_sequences=True)),
                                         L.GlobalAveragePooling1D(), L.Dense(3)], _ids),
    "convolution-pooling": (lambda: [tf.keras.Input((7,), dtype="int32"), L.Embedding(20, 4),
                                     L.Conv1D(5, 2, activation="relu"), L.MaxPooling1D(2),
                                     L.Conv1D(4, 2, padding="same"), L.AveragePooling1D(),
                                     L.Flatten(), L.Dense(3)], _ids),
    "cells": (lambda: [tf.keras.Input((7,), dtype="int32"), L.Embedding(20, 4, mask_zero=True),
                       L.RNN([L.GRUCell(4), L.SimpleRNNCell(3)], return_sequences=True),
                       L.GRU(3, reset_after=False), L.Dense(3)], _ids),
}

OPTIMIZERS = {
    "sgd": lambda: tf.keras.optimizers.SGD(0.1),
    "momentum": lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
    "adam": lambda: tf.keras.optimizers.Adam(0.01),
    "adamw": lambda: tf.keras.optimizers.AdamW(0.01, weight_decay=0.1),
}


def _make(model_name, optimizer_name):
    tf.keras.utils.set_random_seed(2)
    model = tf.keras.Sequential(MODELS[model_name][0]())
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = OPTIMIZERS[optimizer_name]()

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return model, optimizer, step


def _batches(model_name, count=3):
    rng = np.random.default_rng(3)
    make_inputs = MODELS[model_name][1]
    return [(tf.constant(make_inputs(seed=seed)), tf.constant(rng.integers(0, 3, 4)))
            for seed in range(count)]


@pytest.mark.parametrize("model_name,optimizer_name", [
    ("embedding-pooling", "sgd"), ("embedding-pooling", "momentum"),
    ("embedding-pooling", "adam"), ("embedding-pooling", "adamw"), ("masked-pooling", "adam"),
    ("embedding-lstm", "adam"), ("embedding-gru", "sgd"), ("masked-lstm", "adamw"),
    ("masked-gru", "adam"), ("masked-simple-rnn", "momentum"), ("simple-rnn", "adam"),
    ("masking-stack", "sgd"), ("recurrent-dropout", "adam"),
    ("recurrent-dropout-stack", "momentum"), ("bidirectional", "adamw"),
    ("bidirectional-sequences", "adam"), ("convolution-pooling", "sgd"), ("cells", "adamw")])
def test_sequence_model_step_plan_equals_eager(model_name, optimizer_name):
    batches = _batches(model_name)
    eager_model, eager_optimizer, eager_step = _make(model_name, optimizer_name)
    eager = [eager_step(x, y).numpy() for x, y in batches]
    planned_model, planned_optimizer, planned_step = _make(model_name, optimizer_name)
    planned_step = tf.function(planned_step)
    planned = [planned_step(x, y).numpy() for x, y in batches]
    graph = _graph(planned_step)
    assert graph.plan, graph.plan_note
    assert "apply_gradients" not in graph.plan.source  # the update is lowered too
    np.testing.assert_array_equal(planned, eager)
    for a, b in zip(planned_model.get_weights(), eager_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(planned_optimizer.variables, eager_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_embedding_gradient_stays_sparse_in_a_plan_and_two_lookups_concatenate():
    """A Variable's gradient is an IndexedSlices in the plan as in eager; two lookups of one
    table give one IndexedSlices with both lookups' rows (the tape's sum)."""
    table = tf.Variable(np.random.default_rng(0).standard_normal((6, 3)))

    def step(ids, other, scale):
        with tf.GradientTape() as tape:
            first = tf.nn.embedding_lookup(table, ids)
            second = tf.nn.embedding_lookup(table, other)
            loss = tf.reduce_sum(first * scale) + tf.reduce_sum(tf.tanh(second))
        return tape.gradient(loss, table)

    traced = tf.function(step)
    kept = []  # results of earlier calls never change (their values view the upstream gradient)
    calls = [(np.array([[1, 5], [1, 0]]), np.array([2, 5, 5]), 2.0),
             (np.array([[3, 3], [4, 0]]), np.array([0, 1, 1]), 3.0),
             (np.array([[0, 2], [2, 2]]), np.array([4, 4, 3]), -0.5)]
    for ids, other, scale in calls:
        arguments = (tf.constant(ids), tf.constant(other), tf.constant(scale, tf.float64))
        got, expected = traced(*arguments), step(*arguments)
        assert isinstance(got, tf.IndexedSlices) and isinstance(expected, tf.IndexedSlices)
        np.testing.assert_array_equal(got.values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
        assert tuple(got.dense_shape) == (6, 3)
        # against a dense reference written here
        reference = np.zeros((6, 3))
        np.add.at(reference, ids.reshape(-1), scale)
        np.add.at(reference, other, 1 - np.tanh(table.numpy()[other]) ** 2)
        np.testing.assert_allclose(tf.convert_to_tensor(got).numpy(), reference, rtol=1e-12)
        kept.append((got, got.values.numpy().copy()))
    for got, values in kept:
        np.testing.assert_array_equal(got.values.numpy(), values)
    graph = traced.get_concrete_function(*arguments).graph
    assert graph.plan, graph.plan_note


def test_a_sparse_and_a_dense_gradient_of_one_table_sum_densely():
    """A table shared by a lookup and a dense use (tied embeddings): eager's tape sums the
    IndexedSlices and the dense gradient into a dense one, in either order; so does the plan."""
    table = tf.Variable(np.random.default_rng(0).standard_normal((5, 2)))

    def step(ids, other):
        with tf.GradientTape() as tape:
            first = tf.reduce_sum(tf.tanh(tf.nn.embedding_lookup(table, ids)))
            dense = tf.reduce_sum(tf.square(table * 3.0))
            last = tf.reduce_sum(tf.nn.embedding_lookup(table, other) * 2.0)
            loss = first + dense + last
        return tape.gradient(loss, table)

    traced = tf.function(step)
    for ids, other in (([1, 1, 4], [0, 1]), ([0, 2, 2], [3, 3]), ([4, 4, 4], [2, 0])):
        arguments = (tf.constant(ids), tf.constant(other))
        got, expected = traced(*arguments), step(*arguments)
        assert isinstance(got, tf.Tensor) and isinstance(expected, tf.Tensor)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
        reference = 18.0 * table.numpy()
        np.add.at(reference, ids, 1 - np.tanh(table.numpy()[ids]) ** 2)
        np.add.at(reference, other, 2.0)
        np.testing.assert_allclose(got.numpy(), reference, rtol=1e-12)
    graph = traced.get_concrete_function(*arguments).graph
    assert graph.plan, graph.plan_note


def test_bad_ids_raise_the_ops_error_from_a_plan():
    table = tf.Variable(np.ones((4, 2), "float32"))

    @tf.function
    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.embedding_lookup(table, ids))
        return loss, tape.gradient(loss, table).values

    step(tf.constant([0, 3]))
    step(tf.constant([1, 2]))
    assert _graph(step).plan, _graph(step).plan_note
    for bad in ([0, 4], [-1, 2]):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"not in \[0, 4\)"):
            step(tf.constant(bad))


def test_keras_fit_of_a_text_classifier_runs_plans_and_equals_eager(fit_as_plan_equals_eager):
    """fit's traced steps of Embedding(mask_zero) -> LSTM -> Dense run as plans: the same
    weights and history as run_eagerly=True."""
    x = np.concatenate([_ids(seed=seed) for seed in range(4)])
    y = np.random.default_rng(4).integers(0, 3, len(x))

    def train(run_eagerly):
        tf.keras.utils.set_random_seed(7)
        model = tf.keras.Sequential([tf.keras.Input((7,), dtype="int32"),
                                     L.Embedding(20, 4, mask_zero=True), L.LSTM(5),
                                     L.Dense(3)])
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01), run_eagerly=run_eagerly,
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), history.history

    fit_as_plan_equals_eager(train)


def test_gather_on_a_variable_trains_as_a_plan_equal_to_eager():
    """tf.gather's gradient is dense here (eager's: added into zeros at the indices), and its
    out-of-range indices raise the op's error from the plan."""
    def make():
        table = tf.Variable(np.random.default_rng(0).standard_normal((6, 3)).astype("float32"))
        optimizer = tf.keras.optimizers.Adam(0.05)

        def step(indices, target):
            with tf.GradientTape() as tape:
                picked = tf.gather(table, indices)
                loss = tf.reduce_mean(tf.square(tf.reduce_sum(picked, axis=-1) - target))
            optimizer.apply_gradients([(tape.gradient(loss, table), table)])
            return loss
        return table, step

    rng = np.random.default_rng(1)
    batches = [(tf.constant(rng.integers(0, 6, (4, 2))), tf.constant(rng.standard_normal(
        (4, 2)).astype("float32"))) for _ in range(3)]
    eager_table, eager_step = make()
    eager = [eager_step(*batch).numpy() for batch in batches]
    planned_table, planned_step = make()
    planned_step = tf.function(planned_step)
    planned = [planned_step(*batch).numpy() for batch in batches]
    assert _graph(planned_step).plan, _graph(planned_step).plan_note
    np.testing.assert_array_equal(planned, eager)
    np.testing.assert_array_equal(planned_table.numpy(), eager_table.numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be in \[0, 6\)"):
        planned_step(tf.constant([[0, 6], [1, 1], [2, 2], [3, 3]]), batches[0][1])


def test_the_sequence_benchmark_steps_run_as_plans():
    """`tensorflowish bench`'s traced LSTM and text classifier steps replay as plans (their
    first call is the trace, their second compiles), with the floor's loss."""
    from tensorflowish.tools import bench_sequences

    for workload in (bench_sequences.lstm_training_step("CPU", (4, 6, 5, 7), traced=True),
                     bench_sequences.text_classifier_step("CPU", (4, 9, 50, 6), traced=True)):
        for _ in range(2):
            np.testing.assert_allclose(workload.framework().numpy(), workload.floor(),
                                       rtol=1e-5)
        graph = _graph(workload.framework.function)
        assert graph.plan, (workload.name, graph.plan_note)


def test_mixed_float16_text_classifier_fit_runs_plans_and_equals_eager(
        mixed_float16, fit_as_plan_equals_eager):
    """Under mixed_float16 the embedding and the recurrent layers compute in float16 (their
    rules take half precision: the same array calls as their ops)."""
    x = np.concatenate([_ids(seed=seed) for seed in range(4)])
    y = np.random.default_rng(4).integers(0, 3, len(x))

    def train(run_eagerly):
        tf.keras.utils.set_random_seed(7)
        model = tf.keras.Sequential([
            tf.keras.Input((7,), dtype="int32"), L.Embedding(20, 4, mask_zero=True),
            L.Bidirectional(L.GRU(4, return_sequences=True)), L.LSTM(3),
            L.Dense(3), L.Activation("softmax", dtype="float32")])
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01), run_eagerly=run_eagerly,
                      loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        assert model.layers[2].compute_dtype == "float16"
        return model.get_weights(), history.history

    fit_as_plan_equals_eager(train)


def test_slices_of_a_variable_lower_with_getitems_gradient():
    """`variable[index]` is a graph line of its own (a VariableSlice eagerly): lowered, its
    gradient is zeros with the slice's gradient assigned, as eager's."""
    v = tf.Variable(np.random.default_rng(0).standard_normal((3, 4)))

    def step(x):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.tanh(v[:, 1:3] * x)) + tf.reduce_sum(v[2] * v[0, ::-1])
        return y, tape.gradient(y, v)

    traced = tf.function(step)
    for scale in (2.0, -1.0, 0.5):
        x = tf.constant(scale, tf.float64)
        (got, got_grad), (expected, expected_grad) = traced(x), step(x)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
        np.testing.assert_array_equal(got_grad.numpy(), expected_grad.numpy())
        w = v.numpy()
        reference = np.zeros((3, 4))
        reference[:, 1:3] = scale * (1 - np.tanh(w[:, 1:3] * scale) ** 2)
        reference[2] += w[0, ::-1]
        reference[0] += w[2][::-1]
        np.testing.assert_allclose(got_grad.numpy(), reference, rtol=1e-12)
    graph = traced.get_concrete_function(x).graph
    assert graph.plan and graph.plan.lowered_lines >= 5, graph.plan_note
