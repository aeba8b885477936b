"""A training loop written by hand: tf.data batches, a GradientTape, an optimiser, metrics.

The same model as keras_mlp.py, without fit(): what fit() does for you, step by step.

    python examples/custom_training_loop.py --epochs 5
"""

import argparse

import tensorflowish as tf


def main(epochs: int = 5, batch_size: int = 32) -> float:
    tf.random.set_seed(0)
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.digits.load_data()
    x_train, x_test = (x_train / 16.0).astype("float32"), (x_test / 16.0).astype("float32")
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train))
    train = train.batch(batch_size)
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(256)

    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=(8, 8)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(10),
    ])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam(learning_rate=3e-3)
    train_loss = tf.keras.metrics.Mean(name="loss")
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="test_accuracy")

    def train_step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = loss_fn(labels, logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss.update_state(loss)
        train_accuracy.update_state(labels, logits)

    for epoch in range(epochs):
        for metric in (train_loss, train_accuracy, test_accuracy):
            metric.reset_state()
        for images, labels in train:
            train_step(images, labels)
        for images, labels in test:
            test_accuracy.update_state(labels, model(images, training=False))
        print(f"epoch {epoch + 1}: loss {float(train_loss.result()):.4f}, accuracy "
              f"{float(train_accuracy.result()):.3f}, test accuracy "
              f"{float(test_accuracy.result()):.3f}")
    return float(test_accuracy.result())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    main(parser.parse_args().epochs)
