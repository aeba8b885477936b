"""Attention layers against Keras 3's own outputs (same weights and inputs, masks included)."""

from __future__ import annotations

import numpy as np

import tensorflowish as tf
from tensorflowish.keras.layers import masks

layers = tf.keras.layers
VALUE_MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
QUERY_MASK = np.array([[1, 1, 0], [1, 1, 1]], bool)

Q = np.array(
    [
        [[0.61, 0.62, 0.03, -0.43], [-0.89, -0.23, -0.18, -0.91], [-0.9, 1.0, 0.3, -0.53]],
        [[-0.13, 0.95, 0.8, 0.69], [-0.22, -0.01, 0.35, -0.88], [0.11, -0.46, 0.76, -0.87]],
    ],
    np.float32,
)
V = np.array(
    [
        [
            [0.36, 0.74, -0.55, 0.79],
            [0.74, -0.96, 0.41, -1.0],
            [0.01, -0.13, -0.59, -0.35],
            [0.61, -0.37, -0.7, 0.4],
        ],
        [
            [-0.1, 0.6, -0.53, -0.36],
            [0.6, 0.01, 0.01, -0.53],
            [-0.97, 0.87, -0.83, 0.69],
            [-0.26, 0.9, -0.2, 0.87],
        ],
    ],
    np.float32,
)
MHA_WEIGHTS = [
    [
        [[0.11, -0.52, 0.48], [0.35, 0.37, -0.07]],
        [[-0.56, 0.28, -0.79], [0.38, 0.27, -0.25]],
        [[0.6, -0.61, -0.22], [0.6, -0.24, 0.43]],
        [[0.23, 0.88, 0.98], [0.45, 0.62, -0.69]],
    ],
    [[0.43, 0.7, -0.2], [0.11, -0.04, 0.92]],
    [
        [[-0.37, -0.2, -1.0], [-0.16, 0.26, 0.87]],
        [[0.85, -0.35, 0.98], [-0.62, 0.65, -0.69]],
        [[-0.19, -0.85, 0.72], [0.66, -0.72, 0.05]],
        [[-0.48, -0.02, 0.11], [-0.79, 0.73, -0.44]],
    ],
    [[-0.11, -0.89, -0.99], [-0.61, -0.32, 0.86]],
    [
        [[0.78, -0.04, -0.09], [0.33, 0.72, -0.33]],
        [[0.59, -0.2, 0.19], [0.47, 0.0, 0.38]],
        [[0.39, -0.99, -0.92], [-0.7, -0.57, -0.59]],
        [[-0.9, -0.57, 0.2], [0.77, -0.3, -0.27]],
    ],
    [[-0.17, 0.36, 0.57], [0.88, -0.25, 0.41]],
    [
        [[-0.32, 0.65, -0.54, 0.74], [0.01, 0.45, 0.07, -0.37], [-0.01, -0.9, -0.91, 0.06]],
        [[-0.05, 0.67, -0.96, 0.11], [-0.02, 0.2, 0.46, 0.05], [0.13, -0.02, 0.23, -0.5]],
    ],
    [0.11, 0.34, -0.62, 0.98],
]
MHA_OUT = [
    [
        [0.027307, 0.556165, -1.188224, 0.906012],
        [0.005827, 0.587478, -1.02303, 0.960665],
        [-0.038052, 0.796999, -0.878138, 1.059147],
    ],
    [
        [-0.011589, 0.908445, -2.104219, 0.884392],
        [-0.051651, 1.022047, -1.99043, 1.011843],
        [-0.039876, 0.937225, -1.996198, 0.983106],
    ],
]
MHA_SCORES = [
    [
        [
            [0.227729, 0.448975, 0.323296, 0.0],
            [0.178845, 0.498854, 0.322301, 0.0],
            [0.105451, 0.617617, 0.276932, 0.0],
        ],
        [
            [0.100334, 0.690942, 0.208724, 0.0],
            [0.070504, 0.764731, 0.164765, 0.0],
            [0.051569, 0.795494, 0.152937, 0.0],
        ],
    ],
    [
        [
            [0.55623, 0.44377, 0.0, 0.0],
            [0.377739, 0.622261, 0.0, 0.0],
            [0.462366, 0.537634, 0.0, 0.0],
        ],
        [
            [0.328037, 0.671963, 0.0, 0.0],
            [0.207865, 0.792135, 0.0, 0.0],
            [0.164313, 0.835687, 0.0, 0.0],
        ],
    ],
]
MHA_CAUSAL = [
    [
        [-0.21992, 1.493643, -2.357084, 1.501161],
        [0.031994, 0.827698, -1.699384, 0.771474],
        [0.050601, 0.712579, -1.675651, 0.721276],
    ],
    [
        [0.08224, 0.361091, -2.461335, 1.358772],
        [0.043244, 0.501909, -1.11935, 1.017155],
        [0.00011, 0.40802, -0.618935, 1.205797],
    ],
]
ATT_OUT = [
    [
        [0.389409, -0.110938, -0.226379, -0.172125],
        [0.36765, -0.351483, -0.164243, -0.456469],
        [0.0, 0.0, 0.0, 0.0],
    ],
    [
        [0.208932, 0.339614, -0.291681, -0.435026],
        [0.273302, 0.28536, -0.242024, -0.450659],
        [0.357486, 0.214404, -0.177082, -0.471104],
    ],
]
ATT_SCORES = [
    [
        [0.355256, 0.34941, 0.295334, 0.0],
        [0.146032, 0.419916, 0.434052, 0.0],
        [0.385286, 0.219264, 0.39545, 0.0],
    ],
    [
        [0.558669, 0.441332, 0.0, 0.0],
        [0.466712, 0.533288, 0.0, 0.0],
        [0.346448, 0.653552, 0.0, 0.0],
    ],
]
ATT_CONCAT_CAUSAL = [
    [
        [0.36, 0.74, -0.55, 0.79],
        [0.417285, 0.483725, -0.40528, 0.520157],
        [0.298947, 0.320444, -0.464163, 0.284548],
    ],
    [
        [-0.1, 0.6, -0.53, -0.36],
        [-0.02622, 0.537814, -0.473084, -0.377918],
        [-0.137198, 0.575309, -0.513799, -0.249508],
    ],
]


def test_multi_head_attention_matches_keras():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    layer(Q, V)
    assert [tuple(w.shape) for w in layer.weights] == [np.shape(w) for w in MHA_WEIGHTS]
    layer.set_weights([np.array(w, np.float32) for w in MHA_WEIGHTS])
    out, scores = layer(
        tf.constant(Q),
        tf.constant(V),
        query_mask=QUERY_MASK,
        value_mask=VALUE_MASK,
        return_attention_scores=True,
    )
    np.testing.assert_allclose(out.numpy(), MHA_OUT, atol=3e-6)
    np.testing.assert_allclose(scores.numpy(), MHA_SCORES, atol=3e-6)
    causal = layer(tf.constant(Q), tf.constant(Q), use_causal_mask=True)
    np.testing.assert_allclose(causal.numpy(), MHA_CAUSAL, atol=3e-6)


def test_multi_head_attention_takes_the_keras_masks_of_its_inputs():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    layer(Q, V)
    layer.set_weights([np.array(w, np.float32) for w in MHA_WEIGHTS])
    query, value = tf.constant(Q), tf.constant(V)
    masks.set_keras_mask(value, tf.constant(VALUE_MASK))
    np.testing.assert_allclose(layer(query, value).numpy(), MHA_OUT, atol=3e-6)
    # a query step masked by its Keras mask attends to nothing: its output is the output bias
    masks.set_keras_mask(query, tf.constant(QUERY_MASK))
    out, scores = layer(query, value, return_attention_scores=True)
    assert np.all(scores.numpy()[0, :, 2] == 0)
    np.testing.assert_allclose(out.numpy()[0, 2], MHA_WEIGHTS[-1], atol=1e-6)
    np.testing.assert_allclose(out.numpy()[0, :2], np.array(MHA_OUT)[0, :2], atol=3e-6)


def test_attention_matches_keras():
    layer = layers.Attention(use_scale=True)
    layer([Q, V])
    layer.set_weights([np.array(0.7, np.float32)])
    out, scores = layer(
        [tf.constant(Q), tf.constant(V)],
        mask=[QUERY_MASK, VALUE_MASK],
        return_attention_scores=True,
    )
    np.testing.assert_allclose(out.numpy(), ATT_OUT, atol=3e-6)
    np.testing.assert_allclose(scores.numpy(), ATT_SCORES, atol=3e-6)
    key = Q[:, :, ::-1][:, [0, 1, 2, 0]]
    concat = layers.Attention(score_mode="concat")
    out = concat([tf.constant(Q), tf.constant(V), tf.constant(key)], use_causal_mask=True)
    np.testing.assert_allclose(out.numpy(), ATT_CONCAT_CAUSAL, atol=3e-6)


def test_attention_gradients_reach_every_weight_and_input():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.1)
    query, value = tf.constant(Q), tf.constant(V)
    with tf.GradientTape() as tape:
        tape.watch([query, value])
        out = layer(query, value, value_mask=VALUE_MASK, training=True)
        loss = tf.reduce_sum(out * out)
    grads = tape.gradient(loss, [query, value, *layer.trainable_weights])
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    # a masked value step receives no gradient
    assert np.all(grads[1].numpy()[1, 2:] == 0) and np.any(grads[1].numpy()[1, :2] != 0)


def test_multi_head_attention_applies_constraints_and_activity_regularizer():
    layer = tf.keras.layers.MultiHeadAttention(2, 3, kernel_constraint="non_neg",
                                               bias_constraint="non_neg",
                                               activity_regularizer="l2")
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 4, 5)).astype(np.float32))
    with tf.GradientTape() as tape:
        out = layer(x, x)
        loss = tf.reduce_sum(out)
    np.testing.assert_allclose(float(layer.losses[-1]), 0.01 * np.sum(np.square(out.numpy())),
                               rtol=1e-5)
    tf.keras.optimizers.SGD(10.0).apply_gradients(
        zip(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights))
    assert len(layer.trainable_weights) == 8
    for weight in layer.trainable_weights:
        assert weight.numpy().min() >= 0.0
