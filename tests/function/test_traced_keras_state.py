"""Keras state inside a traced function: sparse gradients are graph values (replayed, not frozen
at the trace's batch), metrics made while tracing are built outside the graph, and layers that
draw or update on the host (`_graph_lines`) do so at every call."""

from __future__ import annotations

import numpy as np

import tensorflowish as tf


def test_sparse_gradient_is_a_value_of_each_call():
    table = tf.Variable(np.zeros((6, 2), np.float32))
    optimizer = tf.keras.optimizers.SGD(1.0)

    @tf.function
    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.embedding_lookup(table, ids))
        gradient = tape.gradient(loss, table)
        optimizer.apply_gradients([(gradient, table)])
        return gradient

    step(tf.constant([0, 1]))
    gradient = step(tf.constant([3, 4]))  # a replay: rows 3 and 4, not the trace's 0 and 1
    assert step.experimental_get_tracing_count() == 1
    assert isinstance(gradient, tf.IndexedSlices)
    assert gradient.indices.numpy().tolist() == [3, 4]
    expected = np.zeros((6, 2), np.float32)
    expected[[0, 1, 3, 4]] = -1.0
    np.testing.assert_array_equal(table.numpy(), expected)


def test_metric_made_while_tracing_is_not_reset_at_each_call():
    made = {}

    @tf.function
    def running_mean(x):
        if "mean" not in made:
            made["mean"] = tf.keras.metrics.Mean()
        made["mean"].update_state(x)
        return made["mean"].result()

    assert float(running_mean(tf.constant(1.0))) == 1.0
    assert float(running_mean(tf.constant(3.0))) == 2.0  # (1 + 3) / 2: not reset by the replay
    assert float(running_mean(tf.constant(8.0))) == 4.0


def test_dropout_and_batch_normalization_run_at_every_call():
    tf.random.set_seed(5)
    dropout = tf.keras.layers.Dropout(0.5)
    norm = tf.keras.layers.BatchNormalization(momentum=0.5)
    x = tf.constant(np.arange(1.0, 33.0, dtype=np.float32).reshape(8, 4))
    step = tf.function(lambda x: norm(dropout(x, training=True), training=True))
    first, second = step(x).numpy(), step(x).numpy()
    assert step.experimental_get_tracing_count() == 1
    assert not np.array_equal(first, second)  # a new mask at the replay
    # eagerly, from the same seed: the same masks in the same order
    tf.random.set_seed(5)
    eager_dropout = tf.keras.layers.Dropout(0.5)
    eager_norm = tf.keras.layers.BatchNormalization(momentum=0.5)
    for traced in (first, second):
        np.testing.assert_array_equal(
            eager_norm(eager_dropout(x, training=True), training=True).numpy(), traced)
    np.testing.assert_array_equal(norm.moving_mean.numpy(), eager_norm.moving_mean.numpy())
    assert np.abs(norm.moving_mean.numpy()).max() > 0
