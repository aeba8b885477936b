"""Data-parallel training over several processes (Horovod's recipe) with tensorflowish.distribute.

Each process trains on its own shard of the data; the gradients are averaged across processes
before every update, so all copies of the model stay identical; rank 0 alone prints.

    pip install "tensorflowish[distributed,datasets]"     # mpi4py and the mpich launcher
    python examples/data_parallel.py --processes 2         # starts itself under mpiexec.gforker
    UCX_NET_DEVICES=lo mpiexec.gforker -n 2 python examples/data_parallel.py   # the same, by hand

Without a launcher it runs as one process (size 1): the same code, nothing to communicate.
"""

import argparse
import sys

import tensorflowish as tf
from tensorflowish import distribute


def main(epochs: int = 5, global_batch: int = 64) -> float:
    distribute.init()
    tf.random.set_seed(0)   # every rank builds the same model; broadcast makes sure of it
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.digits.load_data()
    x_train, x_test = (x_train / 16.0).astype("float32"), (x_test / 16.0).astype("float32")
    # this rank's part: every size()-th example, all shards the same length
    x_shard, y_shard = distribute.shard((x_train, y_train), drop_remainder=True)
    batch = global_batch // distribute.size()   # the global batch stays the same
    train = tf.data.Dataset.from_tensor_slices((x_shard, y_shard)).shuffle(len(x_shard))
    train = train.batch(batch, drop_remainder=True)

    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=(8, 8)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(10),
    ])
    distribute.broadcast_variables(model.variables, root_rank=0)   # all ranks start alike
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam(learning_rate=3e-3)

    for epoch in range(epochs):
        total, steps = 0.0, 0
        for images, labels in train:
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(images, training=True))
            tape = distribute.DistributedGradientTape(tape)   # gradients averaged over ranks
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            total, steps = total + float(loss), steps + 1
        logs = distribute.allreduce_metrics({"loss": total / steps})   # the mean over ranks
        if distribute.is_chief():
            print(f"epoch {epoch + 1}: loss {logs['loss']:.4f} ({distribute.size()} processes)")
    predictions = tf.argmax(model(x_test), axis=1).numpy()
    accuracy = float((predictions == y_test).mean())
    if distribute.is_chief():
        print(f"test accuracy: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=1,
                        help="start this many processes under mpiexec.gforker (default 1)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    if args.processes > 1 and distribute.size() == 1:
        sys.exit(distribute.launch(args.processes, [sys.executable, __file__, "--epochs",
                                                    str(args.epochs)], timeout=600))
    main(args.epochs)
