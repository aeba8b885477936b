"""The small MLP the distributed tests train, built from ops directly (not Keras).

Shared by the test process (the one-process reference) and the MPI worker processes.
"""

from __future__ import annotations

import numpy as np

import tensorflowish as tf

HELD_OUT = 397  # digits kept for measuring accuracy; the other 1400 are for training


def load_digits_split(dtype=np.float64):
    """(x_train, y_train, x_test, y_test): sklearn's 8x8 digits scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(dtype)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    test, train = order[:HELD_OUT], order[HELD_OUT:]
    return x[train], y[train], x[test], y[test]


def make_params(seed: int, hidden: int = 32, dtype=np.float64) -> list:
    """Two dense layers' kernels and biases as trainable Variables."""
    rng = np.random.default_rng(seed)
    return [
        tf.Variable(rng.normal(0.0, 0.25, (64, hidden)).astype(dtype), name="hidden/kernel"),
        tf.Variable(rng.normal(0.0, 0.1, (hidden,)).astype(dtype), name="hidden/bias"),
        tf.Variable(rng.normal(0.0, 0.25, (hidden, 10)).astype(dtype), name="output/kernel"),
        tf.Variable(rng.normal(0.0, 0.1, (10,)).astype(dtype), name="output/bias"),
    ]


def logits(params, x):
    hidden_kernel, hidden_bias, output_kernel, output_bias = params
    hidden = tf.nn.dense(x, hidden_kernel, hidden_bias, activation="relu")
    return tf.nn.dense(hidden, output_kernel, output_bias)


def loss(params, x, y):
    """Mean cross-entropy over the batch."""
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(params, x))
    return tf.reduce_mean(per_example)


def accuracy(params, x, y) -> float:
    return float(np.mean(np.argmax(logits(params, x).numpy(), axis=1) == y))


def train(params, x, y, epochs: int, batch_size: int, learning_rate: float,
          wrap_tape=lambda tape: tape, seed: int = 1) -> int:
    """Plain SGD through a (possibly distributed) tape; returns the number of samples seen."""
    rng = np.random.default_rng(seed)
    seen = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            with tf.GradientTape() as tape:
                value = loss(params, x[rows], y[rows])
            gradients = wrap_tape(tape).gradient(value, params)
            for variable, gradient in zip(params, gradients):
                variable.assign_sub(learning_rate * gradient)
            seen += len(rows)
    return seen
