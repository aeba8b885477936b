"""TensorFlow's beginner quickstart, written as the guide writes it, on the digits dataset.

Only the import line differs from https://www.tensorflow.org/tutorials/quickstart/beginner
(and the dataset: 8x8 digits that ship with scikit-learn instead of a download of MNIST).
"""

from __future__ import annotations

import numpy as np


def test_beginner_quickstart(capsys):
    import tensorflowish as tf

    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.digits.load_data()
    x_train, x_test = x_train / 16.0, x_test / 16.0

    model = tf.keras.models.Sequential([
        tf.keras.layers.Flatten(input_shape=(8, 8)),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10)
    ])

    predictions = model(x_train[:1]).numpy()
    tf.nn.softmax(predictions).numpy()

    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss_fn(y_train[:1], predictions).numpy()

    model.compile(optimizer='adam',
                  loss=loss_fn,
                  metrics=['accuracy'])

    model.fit(x_train, y_train, epochs=5)

    model.evaluate(x_test,  y_test, verbose=2)

    probability_model = tf.keras.Sequential([
      model,
      tf.keras.layers.Softmax()
    ])

    probabilities = probability_model(x_test[:5])

    # --- what the guide shows, checked ---
    assert predictions.shape == (1, 10)
    output = capsys.readouterr().out
    assert output.count("Epoch ") == 5
    final = output.strip().splitlines()[-1]
    assert final.startswith("12/12 - ") and "accuracy: " in final
    accuracy = float(final.split("accuracy: ")[1].split()[0])
    assert accuracy > 0.9
    np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, rtol=1e-5)
