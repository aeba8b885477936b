"""Classify handwritten digits read row by row: each 8x8 image is a sequence of 8 rows.

An LSTM reads the rows one by one and a Dense layer classifies its last output, the way
sequence classifiers are built in Keras. Needs no download (the UCI digits ship with
scikit-learn).

    python examples/digits_lstm.py            # ~97% on 400 held-out digits
    python examples/digits_lstm.py --epochs 3 --units 32
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tensorflowish as tf


def load(test_size: int = 400, seed: int = 0):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)  # (1797, 8 rows, 8 pixels)
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return (x[test_size:], y[test_size:]), (x[:test_size], y[:test_size])


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--cell", choices=("lstm", "gru", "simple_rnn"), default="lstm")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    tf.keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load(seed=args.seed)
    recurrent = {"lstm": tf.keras.layers.LSTM, "gru": tf.keras.layers.GRU,
                 "simple_rnn": tf.keras.layers.SimpleRNN}[args.cell]
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(8, 8)),
        recurrent(args.units),
        tf.keras.layers.Dense(10),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.005),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - started
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    print(f"{args.cell} ({args.units} units) over 8 rows of 8 pixels: test accuracy "
          f"{accuracy:.2%} on {len(x_test)} held-out digits ({args.epochs} epochs, "
          f"{seconds:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
