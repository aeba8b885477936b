"""Recurrent layers against Keras 3's own outputs, the generic cell loop, and a training run.

The expected arrays were produced by Keras 3.15 (TensorFlow 2.21) with the same weights
(`set_weights`), inputs masked by `Masking` (the first sequence's last step is all zeros).
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras.layers import masks

layers = tf.keras.layers

X = np.array(
    [
        [[0.3, -1.04, 0.75], [0.94, -1.95, -1.3], [0.13, -0.32, -0.02], [0.0, 0.0, 0.0]],
        [[0.07, 1.13, 0.47], [-0.86, 0.37, -0.96], [0.88, -0.05, -0.18], [-0.68, 1.22, -0.15]],
    ],
    np.float32,
)
LSTM_WEIGHTS = [
    [
        [0.28, -0.31, -0.03, -0.46, -0.35, 0.18, 0.24, 0.47],
        [-0.17, -0.13, -0.03, -0.31, -0.37, -0.02, -0.27, 0.17],
        [-0.06, 0.33, 0.2, -0.19, 0.33, 0.3, -0.11, -0.21],
    ],
    [
        [0.18, -0.36, -0.3, -0.49, 0.29, 0.16, 0.21, 0.28],
        [-0.04, 0.07, -0.36, -0.39, 0.17, -0.03, 0.07, 0.26],
    ],
    [0.13, 0.05, 0.06, -0.2, -0.47, -0.06, -0.29, -0.09],
]
LSTM_MASKED = [
    [[0.016588, 0.058684], [-0.188657, -0.010755], [-0.167843, -0.02044], [-0.167843, -0.02044]],
    [[-0.103931, 0.018363], [-0.146755, -0.094472], [-0.26823, -0.042648], [-0.167753, -0.081375]],
]
LSTM_MASKED_BACKWARDS = [
    [[0.0, 0.0], [-0.095893, -0.008882], [-0.263198, -0.06331], [-0.126985, 0.025762]],
    [
        [-0.084308, -0.057582],
        [-0.242223, -0.019244],
        [-0.183239, -0.113682],
        [-0.187225, -0.037816],
    ],
]
LSTM_LAST = [[-0.180378, -0.030649], [-0.167753, -0.081375]]
GRU_WEIGHTS = [
    [
        [0.35, -0.27, -0.44, -0.22, -0.21, 0.16],
        [0.06, 0.28, 0.16, -0.09, 0.31, -0.33],
        [-0.48, -0.41, 0.22, -0.04, -0.34, 0.0],
    ],
    [[-0.35, 0.2, -0.05, -0.12, -0.2, 0.13], [-0.14, -0.41, -0.38, 0.46, 0.41, 0.2]],
    [[-0.23, 0.47, 0.28, 0.22, -0.05, -0.23], [-0.4, 0.4, -0.04, -0.3, -0.19, 0.08]],
]
GRU_MASKED = [
    [[-0.474632, 0.089131], [-0.445549, 0.256343], [-0.273245, 0.139415], [-0.273245, 0.139415]],
    [[0.005339, -0.138333], [0.240789, -0.185383], [-0.082905, -0.141572], [0.203196, -0.228626]],
]
GRU_MASKED_BACKWARDS = [
    [[0.0, 0.0], [-0.170295, -0.020832], [-0.28373, 0.177161], [-0.5194, 0.187484]],
    [[0.252896, -0.114459], [-0.072267, -0.089766], [0.219483, -0.146215], [0.025722, -0.237667]],
]
GRU_LAST = [[-0.158617, 0.033957], [0.203196, -0.228626]]
SIMPLE_WEIGHTS = [
    [[-0.32, 0.36], [0.26, 0.22], [-0.07, 0.13]],
    [[0.08, 0.15], [-0.42, -0.08]],
    [-0.46, -0.01],
]
SIMPLE_MASKED = [
    [
        [-0.705868, -0.033288],
        [-0.839444, -0.356453],
        [-0.462782, -0.132811],
        [-0.462782, -0.132811],
    ],
    [[-0.217947, 0.313931], [-0.169048, -0.39761], [-0.528836, 0.271842], [-0.07106, -0.106567]],
]
SIMPLE_MASKED_BACKWARDS = [
    [[0.0, 0.0], [-0.525132, -0.036184], [-0.834753, -0.332356], [-0.667428, -0.131164]],
    [[0.085094, -0.0059], [-0.624723, 0.278113], [-0.185995, -0.445408], [-0.049268, 0.320885]],
]
SIMPLE_LAST = [[-0.414673, -0.068684], [-0.07106, -0.106567]]
BI_WEIGHTS = [
    [
        [-0.17, -0.36, -0.4, 0.09, -0.33, 0.43, 0.08, -0.15],
        [0.09, -0.48, 0.46, -0.02, 0.28, -0.42, -0.01, -0.01],
        [0.44, 0.07, -0.03, -0.23, -0.17, 0.02, -0.06, -0.48],
    ],
    [
        [0.33, 0.4, -0.36, 0.05, -0.39, 0.17, -0.22, 0.16],
        [0.23, 0.27, -0.39, 0.42, -0.27, -0.46, 0.05, -0.13],
    ],
    [0.33, 0.31, -0.18, 0.45, -0.21, 0.02, -0.24, 0.44],
    [
        [-0.34, -0.46, -0.06, 0.49, 0.39, 0.25, 0.39, 0.39],
        [0.02, -0.18, 0.27, 0.16, -0.13, -0.41, 0.25, -0.24],
        [0.44, -0.26, -0.38, 0.33, -0.35, -0.32, 0.1, 0.37],
    ],
    [
        [-0.3, -0.19, 0.28, 0.47, 0.0, -0.36, -0.49, -0.27],
        [-0.37, 0.18, -0.38, 0.01, 0.19, 0.08, -0.3, 0.3],
    ],
    [0.22, 0.24, -0.37, -0.38, 0.43, -0.1, -0.2, -0.01],
]
BI_MASKED = [
    [
        [-0.162234, 0.179029, 0.135004, 0.213459],
        [-0.152204, 0.477837, 0.140187, 0.288874],
        [-0.151976, 0.278746, 0.113273, 0.02068],
        [0.0, 0.0, 0.0, 0.0],
    ],
    [
        [0.000957, -0.094627, 0.127943, -0.171178],
        [0.078472, -0.263079, 0.124189, -0.052864],
        [-0.065144, 0.010422, 0.171565, -0.054552],
        [0.059764, -0.194488, 0.016073, -0.122318],
    ],
]


def _masked_model(layer):
    model = tf.keras.Sequential([layers.Masking(), layer])
    model(X[:1])  # build
    return model


@pytest.mark.parametrize(
    "make,weights,forward,backward,last",
    [
        (layers.LSTM, LSTM_WEIGHTS, LSTM_MASKED, LSTM_MASKED_BACKWARDS, LSTM_LAST),
        (layers.GRU, GRU_WEIGHTS, GRU_MASKED, GRU_MASKED_BACKWARDS, GRU_LAST),
        (layers.SimpleRNN, SIMPLE_WEIGHTS, SIMPLE_MASKED, SIMPLE_MASKED_BACKWARDS, SIMPLE_LAST),
    ],
    ids=["lstm", "gru", "simple_rnn"],
)
def test_outputs_match_keras(make, weights, forward, backward, last):
    for go_backwards, expected in ((False, forward), (True, backward)):
        layer = make(2, return_sequences=True, go_backwards=go_backwards)
        model = _masked_model(layer)
        layer.set_weights([np.array(w, np.float32) for w in weights])
        np.testing.assert_allclose(model(X).numpy(), expected, atol=2e-6)
    layer = make(2)
    layer(X)
    layer.set_weights([np.array(w, np.float32) for w in weights])
    np.testing.assert_allclose(layer(X).numpy(), last, atol=2e-6)


def test_bidirectional_matches_keras():
    layer = layers.Bidirectional(layers.LSTM(2, return_sequences=True))
    model = _masked_model(layer)
    layer.set_weights([np.array(w, np.float32) for w in BI_WEIGHTS])
    np.testing.assert_allclose(model(X).numpy(), BI_MASKED, atol=2e-6)
    assert [w.shape for w in layer.weights][:3] == [(3, 8), (2, 8), (8,)]


def _same_weights(source, target):
    target.set_weights(source.get_weights())


@pytest.mark.parametrize(
    "fused,cell",
    [
        (lambda **k: layers.LSTM(3, **k), lambda: layers.LSTMCell(3)),
        (lambda **k: layers.GRU(3, **k), lambda: layers.GRUCell(3)),
        (lambda **k: layers.SimpleRNN(3, **k), lambda: layers.SimpleRNNCell(3)),
    ],
    ids=["lstm", "gru", "simple_rnn"],
)
def test_fused_path_equals_the_cell_loop_forward_and_backward(fused, cell):
    """The whole-sequence op and the generic per-step loop over the same cell agree on outputs,
    final states and every gradient, with a mask, backwards, from a given initial state."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(3, 5, 4)).astype(np.float32))
    mask = tf.constant(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], bool))
    options = dict(return_sequences=True, return_state=True, go_backwards=True)
    a = fused(**options)
    b = layers.RNN(cell(), **options)
    a(x)
    b(x)
    _same_weights(a, b)
    state_count = len(a.state_size)
    initial = [tf.constant(rng.normal(size=(3, 3)).astype(np.float32)) for _ in range(state_count)]
    results = []
    for layer in (a, b):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, mask=mask, initial_state=initial)
            loss = sum(tf.reduce_sum(o * o) for o in outputs)
        grads = tape.gradient(loss, [x, *layer.trainable_weights])
        results.append(([o.numpy() for o in outputs], [g.numpy() for g in grads]))
    for left, right in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        np.testing.assert_allclose(left, right, rtol=1e-4, atol=1e-5)


def test_embedding_mask_reaches_the_rnn():
    embedding = layers.Embedding(10, 4, mask_zero=True)
    ids = tf.constant([[3, 4, 0, 0], [5, 6, 7, 0]])
    vectors = embedding(ids)
    np.testing.assert_array_equal(masks.get_keras_mask(vectors).numpy(), ids.numpy() != 0)
    layer = layers.LSTM(3)
    masked = layer(vectors)
    # the last output is the state after the last valid step
    unmasked = layer(vectors[:1, :2])
    np.testing.assert_allclose(masked.numpy()[0], unmasked.numpy()[0], rtol=1e-6)


def test_return_state_stateful_and_initial_state():
    layer = layers.LSTM(3, return_state=True, stateful=True)
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 4, 5)).astype(np.float32))
    whole, h, c = layer(x)
    np.testing.assert_allclose(whole.numpy(), h.numpy())
    layer.reset_states()
    layer(x[:, :2])
    second, _, _ = layer(x[:, 2:])  # continues from the carried states
    np.testing.assert_allclose(second.numpy(), whole.numpy(), rtol=1e-5, atol=1e-6)
    layer.reset_states()
    restarted, _, _ = layer(x[:, 2:])
    assert not np.allclose(restarted.numpy(), whole.numpy())
    with pytest.raises(ValueError, match="has 2 state"):
        layers.LSTM(3)(x, initial_state=[h])


def test_dropout_changes_training_outputs_only():
    layer = layers.GRU(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = tf.ones((3, 6, 5))
    inference = layer(x).numpy()
    np.testing.assert_array_equal(layer(x, training=False).numpy(), inference)
    assert not np.allclose(layer(x, training=True).numpy(), inference)


def test_time_distributed_applies_one_layer_to_every_step():
    dense = layers.Dense(2)
    wrapped = layers.TimeDistributed(dense)
    x = tf.constant(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    out = wrapped(x)
    # one GEMM over all steps vs one over a single row: float32 rounding may differ, and an
    # output near 0 (random weights) needs an absolute tolerance
    np.testing.assert_allclose(out.numpy()[1, 2], dense(x[1:2, 2]).numpy()[0], rtol=1e-6,
                               atol=1e-5)


def test_user_cell_runs_in_rnn():
    class MinimalRNNCell(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units))
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units))

        def call(self, inputs, states):
            output = tf.matmul(inputs, self.kernel) + tf.matmul(states[0], self.recurrent_kernel)
            return output, [output]

    layer = layers.RNN(MinimalRNNCell(2), return_sequences=True)
    x = np.random.default_rng(0).normal(size=(1, 3, 2)).astype(np.float32)
    out = layer(tf.constant(x)).numpy()
    k, u = layer.cell.kernel.numpy(), layer.cell.recurrent_kernel.numpy()
    h = np.zeros((1, 2), np.float32)
    for t in range(3):
        h = x[:, t] @ k + h @ u
        np.testing.assert_allclose(out[:, t], h, rtol=1e-5)


def _order_task(count: int, seed: int):
    """Label 1 when token 1 comes before token 2 in the sequence: a bag of words cannot tell."""
    rng = np.random.default_rng(seed)
    x = rng.integers(3, 12, (count, 8))
    y = rng.integers(0, 2, count)
    for row, label in zip(x, y):
        length = rng.integers(4, 9)
        row[length:] = 0
        i, j = sorted(rng.choice(length, 2, replace=False))
        row[i], row[j] = (1, 2) if label else (2, 1)
    return x.astype(np.int32), y.astype(np.int32)


def test_bidirectional_lstm_learns_word_order_where_a_bag_of_words_cannot():
    tf.random.set_seed(0)
    x, y = _order_task(1200, 0)
    x_test, y_test = _order_task(300, 1)

    def train(model):
        model.compile(
            optimizer=tf.keras.optimizers.Adam(0.01),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        model.fit(x, y, epochs=12, batch_size=50, verbose=0)
        return model.evaluate(x_test, y_test, verbose=0)[1]

    recurrent = tf.keras.Sequential(
        [
            layers.Embedding(12, 8, mask_zero=True),
            layers.Bidirectional(layers.LSTM(8)),
            layers.Dense(2),
        ]
    )
    bag = tf.keras.Sequential(
        [
            layers.Embedding(12, 8),
            layers.Lambda(lambda e: tf.reduce_mean(e, axis=1)),
            layers.Dense(8, activation="relu"),
            layers.Dense(2),
        ]
    )
    recurrent_accuracy, bag_accuracy = train(recurrent), train(bag)
    print("accuracy: recurrent", recurrent_accuracy, "bag of words", bag_accuracy)
    assert recurrent_accuracy > 0.9, recurrent_accuracy
    assert bag_accuracy < 0.7, bag_accuracy


def _finite_difference_check(layer, x, mask=None, eps=1e-6):
    """Every weight's gradient of sum(output * w) against central differences (float64)."""
    x = tf.constant(x)
    layer(x, mask=mask) if mask is not None else layer(x)
    out0 = layer(x, mask=mask) if mask is not None else layer(x)
    outputs = out0 if isinstance(out0, list) else [out0]
    probes = [np.random.default_rng(i).uniform(0.5, 1.5, o.shape) for i, o in enumerate(outputs)]

    def objective():
        result = layer(x, mask=mask) if mask is not None else layer(x)
        result = result if isinstance(result, list) else [result]
        return sum(tf.reduce_sum(r * p) for r, p in zip(result, probes))

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = objective()
    grads = tape.gradient(value, [x, *layer.trainable_weights])
    for variable, grad in zip([None, *layer.trainable_weights], grads):
        if variable is None:
            continue
        original = variable.numpy()
        numeric = np.zeros_like(original)
        for index in np.ndindex(original.shape):
            for sign in (1, -1):
                shifted = original.copy()
                shifted[index] += sign * eps
                variable.assign(shifted)
                numeric[index] += sign * float(objective()) / (2 * eps)
            variable.assign(original)
        np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=variable.name)


@pytest.mark.parametrize("make", [
    lambda: layers.LSTM(2, return_sequences=True, return_state=True, dtype="float64"),
    lambda: layers.GRU(2, go_backwards=True, return_sequences=True, dtype="float64"),
    lambda: layers.SimpleRNN(2, return_state=True, dtype="float64"),
    lambda: layers.Bidirectional(layers.LSTM(2, return_sequences=True, dtype="float64"),
                                 dtype="float64"),
    lambda: layers.GRU(2, reset_after=False, dtype="float64"),  # the generic cell loop
], ids=["lstm", "gru-backwards", "simple_rnn", "bidirectional", "gru-reset-before"])
def test_layer_gradients_match_finite_differences_with_a_mask(make):
    x = np.random.default_rng(5).normal(size=(2, 4, 3))
    mask = tf.constant(np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool))
    _finite_difference_check(make(), x, mask)


def test_attention_gradients_match_finite_differences():
    class SelfAttention(layers.Layer):
        def __init__(self):
            super().__init__(dtype="float64")
            self.attention = layers.MultiHeadAttention(2, 2, dtype="float64")

        def call(self, inputs, mask=None):
            return self.attention(inputs, inputs, attention_mask=mask, use_causal_mask=True)

    x = np.random.default_rng(6).normal(size=(2, 3, 4))
    mask = tf.constant(np.array([[[1, 1, 0]] * 3, [[1, 1, 1]] * 3], bool))
    _finite_difference_check(SelfAttention(), x, mask)


@pytest.mark.parametrize("make", [layers.SimpleRNN, layers.LSTM, layers.GRU],
                         ids=["simple_rnn", "lstm", "gru"])
def test_constraints_and_activity_regularizer_are_applied(make):
    """kernel/recurrent/bias constraints hold after an optimiser step; the activity
    regularizer adds a loss; both survive get_config/from_config."""
    layer = make(3, kernel_constraint="non_neg", recurrent_constraint="non_neg",
                 bias_constraint="non_neg", activity_regularizer="l2")
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 4, 5)).astype(np.float32))
    layer(x)
    optimizer = tf.keras.optimizers.SGD(10.0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    assert len(layer.losses) == 1
    expected = 0.01 * np.sum(np.square(layer(x).numpy()))
    np.testing.assert_allclose(float(layer.losses[-1]), expected, rtol=1e-5)
    optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_weights),
                                  layer.trainable_weights))
    for weight in layer.trainable_weights:
        assert weight.numpy().min() >= 0.0
    clone = make.from_config(layer.get_config())
    assert type(clone.cell.kernel_constraint).__name__ == "NonNeg"
    assert clone.activity_regularizer is not None
