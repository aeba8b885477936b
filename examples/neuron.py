"""One neuron learns by gradient descent: sigmoid(x @ w + b), its cost, backpropagation.

    python examples/neuron.py
"""

import argparse

import tensorflowish as tf


def main(steps: int = 200) -> float:
    tf.random.set_seed(0)
    w = tf.Variable(tf.random.normal([3, 1], stddev=0.1))
    b = tf.Variable(tf.zeros([1]))
    x = tf.constant([[0.1, 0.9, 0.2], [0.8, 0.1, 0.7], [0.2, 0.8, 0.1], [0.9, 0.3, 0.8]])
    y = tf.constant([[1.0], [0.0], [1.0], [0.0]])

    for step in range(steps):
        with tf.GradientTape() as tape:
            prediction = tf.sigmoid(x @ w + b)            # a neuron
            loss = tf.reduce_mean((prediction - y) ** 2)  # the cost C
        dw, db = tape.gradient(loss, [w, b])              # backpropagation: the gradient of C
        w.assign_sub(2.0 * dw)                            # gradient descent
        b.assign_sub(2.0 * db)
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step}: loss {float(loss):.4f}")
    print("predictions:", [round(float(p), 2) for p in tf.sigmoid(x @ w + b)[:, 0]])
    return float(loss)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    main(parser.parse_args().steps)
