"""Optimisers given an `IndexedSlices` gradient (an embedding table's) update as Keras 3 does.

Keras 3 on TensorFlow densifies a sparse gradient wherever the update mixes it with dense state
(moments, accumulators, momentum, weight decay), so rows an embedding did not look up still
move and their moments still decay; only plain SGD touches just the looked-up rows. The
expected tables below are what TensorFlow 2.21 / Keras 3.15 gave for the program in `_train`
(run under TensorFlow, its results pasted here): a 4x2 table of ones, three steps looking up
rows [0], [1], [2, 1], loss sum(embedding * [1, -2]), learning rate 0.1.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

KERAS_3_15 = {
    "Adadelta": [[0.9998586, 1.000141], [0.9997153, 1.000285], [0.9998586, 1.000141], [1, 1]],
    "Adafactor": [[0.9, 1.1], [0.7521034, 1.247897], [0.8442838, 1.155716], [1, 1]],
    "Adagrad": [[0.9046537, 1.098773], [0.8356472, 1.169046], [0.9046537, 1.098773], [1, 1]],
    "Adam": [[0.7812007, 1.2188], [0.8397415, 1.160259], [0.9361191, 1.063881], [1, 1]],
    "Adam-ams": [[0.781286, 1.218714], [0.8397415, 1.160259], [0.9361191, 1.063881], [1, 1]],
    "AdamW": [[0.780108, 1.217493], [0.8385718, 1.159029], [0.9349195, 1.062681],
              [0.9988005, 0.9988005]],
    "Adamax": [[0.8226351, 1.177365], [0.8772578, 1.122742], [0.9630997, 1.0369], [1, 1]],
    "Ftrl": [[0.6031424, 0.9425992], [-0.1643528, 0.1690458], [-0.09534626, 0.09877297], [0, 0]],
    "Lion": [[0.6999999, 1.3], [0.8, 1.2], [0.9, 1.1], [1, 1]],
    "Nadam": [[0.878786, 1.121214], [0.8161919, 1.183808], [0.8931442, 1.106856], [1, 1]],
    "RMSprop": [[0.6837724, 1.316228], [0.4543567, 1.545643], [0.6837724, 1.316228], [1, 1]],
    "RMSprop-mc": [[0.416667, 1.583333], [0.245094, 1.754906], [0.6666669, 1.333333], [1, 1]],
    "SGD": [[0.9, 1.2], [0.8, 1.4], [0.9, 1.2], [1, 1]],
    "SGD-m": [[0.729, 1.542], [0.71, 1.58], [0.9, 1.2], [1, 1]],
    "SGD-n": [[0.6561, 1.6878], [0.539, 1.922], [0.81, 1.38], [1, 1]],
    "SGD-wd": [[0.872289, 1.166319], [0.771299, 1.368299], [0.870299, 1.170299],
               [0.970299, 0.970299]],
}

OPTIONS = {"SGD-m": dict(momentum=0.9), "SGD-n": dict(momentum=0.9, nesterov=True),
           "SGD-wd": dict(weight_decay=0.1), "Adam-ams": dict(amsgrad=True),
           "RMSprop-mc": dict(momentum=0.5, centered=True)}


def _train(name: str, dense: bool, ids=([[0]], [[1]], [[2, 1]])) -> np.ndarray:
    embedding = tf.keras.layers.Embedding(4, 2, embeddings_initializer="ones")
    embedding.build((None, 1))
    optimizer = getattr(tf.keras.optimizers, name.split("-")[0])(0.1, **OPTIONS.get(name, {}))
    for batch in ids:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(embedding(tf.constant(batch)) * tf.constant([1.0, -2.0]))
        (grad,) = tape.gradient(loss, embedding.trainable_variables)
        assert isinstance(grad, tf.IndexedSlices)
        if dense:
            grad = tf.convert_to_tensor(grad)
        optimizer.apply_gradients([(grad, embedding.embeddings)])
    return embedding.embeddings.numpy()


@pytest.mark.parametrize("name", sorted(KERAS_3_15))
def test_sparse_gradient_updates_as_keras(name):
    np.testing.assert_allclose(_train(name, dense=False), KERAS_3_15[name], rtol=2e-6,
                               atol=2e-6)
    # and exactly as the same gradient given dense
    np.testing.assert_allclose(_train(name, dense=False), _train(name, dense=True), rtol=1e-6,
                               atol=1e-7)


def test_plain_sgd_touches_only_the_looked_up_rows():
    table = _train("SGD", dense=False, ids=([[0, 0]], [[1]]))
    # row 0 looked up twice: its gradient summed; rows 2 and 3 never looked up
    np.testing.assert_allclose(table, [[0.8, 1.4], [0.9, 1.2], [1, 1], [1, 1]], rtol=1e-6)
    assert tf.keras.optimizers.SGD(0.1)._sparse_rows
    assert not tf.keras.optimizers.SGD(0.1, momentum=0.9)._sparse_rows
    assert not tf.keras.optimizers.Adam()._sparse_rows
