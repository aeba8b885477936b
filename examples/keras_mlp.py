"""A Keras MLP on the handwritten digits that scikit-learn ships (no download).

    pip install "tensorflowish[datasets]"
    python examples/keras_mlp.py --epochs 10
"""

import argparse

import tensorflowish as tf


def main(epochs: int = 10) -> float:
    tf.random.set_seed(0)
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.digits.load_data()
    x_train, x_test = x_train / 16.0, x_test / 16.0   # pixels are 0..16

    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=(8, 8)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, validation_split=0.1, verbose=2,
              callbacks=[tf.keras.callbacks.EarlyStopping(patience=2)])
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.3f}")
    probabilities = tf.keras.Sequential([model, tf.keras.layers.Softmax()])(x_test[:3])
    print("first three digits:", [int(p) for p in tf.argmax(probabilities, axis=1)],
          "labels:", [int(label) for label in y_test[:3]])
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    main(parser.parse_args().epochs)
