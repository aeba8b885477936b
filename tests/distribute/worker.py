"""What each MPI process runs in the distributed tests: `worker.py SCENARIO OUTPUT_DIR`.

Started by the tests through `distribute.launch(2, ...)` (mpiexec.gforker on loopback). The
"main" scenario writes what every rank saw to OUTPUT_DIR/rank<r>.npz for the test to check;
the fault scenarios make rank 1 misbehave and let the library stop the job.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import distributed_mlp as mlp  # next to this script
import numpy as np

import tensorflowish as tf
from tensorflowish import distribute


class PlainSGD:
    """The smallest optimiser: anything with apply_gradients can be wrapped."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate

    def apply_gradients(self, grads_and_vars) -> None:
        for gradient, variable in grads_and_vars:
            if gradient is not None:
                variable.assign_sub(self.learning_rate * gradient)


def main_scenario(output: Path) -> None:
    distribute.init()
    me, world = distribute.rank(), distribute.size()
    saved: dict = {"rank": me, "size": world, "local_rank": distribute.local_rank(),
                   "local_size": distribute.local_size(), "chief": distribute.is_chief()}
    x_train, y_train, x_test, y_test = mlp.load_digits_split()

    # each rank starts from different weights; the broadcast makes them rank 0's
    params = mlp.make_params(seed=100 + me)
    distribute.broadcast_variables(params, root_rank=0)
    for index, variable in enumerate(params):
        saved[f"param{index}"] = variable.numpy().copy()

    # two halves of one batch of 64: the averaged gradients equal the whole batch's gradient
    half = 32
    rows = slice(me * half, (me + 1) * half)
    with tf.GradientTape() as tape:
        value = mlp.loss(params, x_train[rows], y_train[rows])
    gradients = distribute.DistributedGradientTape(tape).gradient(value, params)
    for index, gradient in enumerate(gradients):
        saved[f"gradient{index}"] = gradient.numpy()

    # None stays None where it is None everywhere; None on one rank only counts as zeros there
    unused = tf.Variable(np.ones(3), name="unused")
    sometimes = tf.Variable(np.ones(2), name="sometimes")
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(params[1] * 1.0)
        if me == 1:
            value = value + tf.reduce_sum(sometimes * 4.0)
    structured = distribute.DistributedGradientTape(tape).gradient(
        value, {"bias": params[1], "unused": unused, "sometimes": sometimes})
    saved["none_stays_none"] = structured["unused"] is None
    saved["sometimes_gradient"] = structured["sometimes"].numpy()

    # the optimiser wrapper: one step on the halves equals one step on the whole batch
    optimizer = distribute.DistributedOptimizer(PlainSGD(0.5))
    saved["delegated_learning_rate"] = optimizer.learning_rate
    stepped = mlp.make_params(seed=7)
    with tf.GradientTape() as tape:
        value = mlp.loss(stepped, x_train[rows], y_train[rows])
    optimizer.apply_gradients(zip(tape.gradient(value, stepped), stepped))
    for index, variable in enumerate(stepped):
        saved[f"stepped{index}"] = variable.numpy()

    # the other collectives
    mine = tf.constant([me + 1.0, 10.0 * (me + 1)], dtype=tf.float64)
    for op in ("average", "sum", "min", "max"):
        saved[f"allreduce_{op}"] = distribute.allreduce(mine, op=op).numpy()
    saved["allreduce_int_sum"] = distribute.allreduce(tf.constant([me + 1]), op="sum").numpy()
    saved["allreduce_float32"] = distribute.allreduce(tf.constant([me + 1.0])).numpy()
    saved["broadcast"] = distribute.broadcast(tf.constant([me + 5.0]), root_rank=1).numpy()
    saved["metrics"] = json.dumps(distribute.allreduce_metrics(
        {"loss": 1.0 + me, "accuracy": 0.5 + 0.25 * me}, weight=1 + me))
    distribute.barrier()

    # mismatches are named on every rank, and the ranks stay usable afterwards
    messages = []
    for different in (
        lambda: distribute.allreduce(tf.zeros([3 + me, 2], dtype=tf.float64)),
        lambda: distribute.allreduce(tf.zeros([4], dtype=tf.float32 if me else tf.float64)),
        lambda: distribute.allreduce(tf.zeros([4])) if me == 0 else distribute.barrier(),
    ):
        try:
            different()
            messages.append("no error")
        except distribute.MismatchError as error:
            messages.append(str(error))
    saved["mismatch_messages"] = json.dumps(messages)
    saved["after_mismatch"] = distribute.allreduce(tf.constant([1.0]), op="sum").numpy()

    # training on the digits: each rank its own shard, gradients averaged
    x_shard, y_shard = distribute.shard((x_train, y_train), drop_remainder=True)
    saved["shard_rows"] = len(x_shard)
    model = mlp.make_params(seed=3)
    distribute.broadcast_variables(model)
    start = time.perf_counter()
    mlp.train(model, x_shard, y_shard, epochs=int(os.environ.get("EPOCHS", "8")),
              batch_size=64 // world, learning_rate=0.5,
              wrap_tape=distribute.DistributedGradientTape)
    saved["train_seconds"] = time.perf_counter() - start
    saved["accuracy"] = mlp.accuracy(model, x_test, y_test)
    for index, variable in enumerate(model):
        saved[f"trained{index}"] = variable.numpy()
    np.savez(output / f"rank{me}.npz", **saved)


def fault_scenario(kind: str) -> None:
    distribute.init()
    me = distribute.rank()
    distribute.barrier()
    if me == 1:
        if kind == "raise":
            raise ValueError("deliberate failure on rank 1")
        if kind == "exit-early":
            return
        if kind == "hang":
            time.sleep(120)
        if kind == "kill":
            os.kill(os.getpid(), 9)
    for _ in range(1000):  # rank 0 keeps training; it must be stopped with an error
        distribute.allreduce(tf.ones([10]))
        time.sleep(0.01)
    print("rank 0 was never stopped", flush=True)


def gpu_scenario() -> None:
    """Each rank on its own GPU: gradients and broadcasts go through NCCL."""
    distribute.init()
    me = distribute.rank()
    with tf.device(f"GPU:{distribute.local_rank()}"):
        params = mlp.make_params(seed=100 + me)  # created on this rank's GPU
        distribute.broadcast_variables(params)
        x_train, y_train, _, _ = mlp.load_digits_split()
        rows = slice(me * 32, (me + 1) * 32)
        with tf.GradientTape() as tape:
            value = mlp.loss(params, tf.constant(x_train[rows]), tf.constant(y_train[rows]))
        gradients = distribute.DistributedGradientTape(tape).gradient(value, params)
        total = distribute.allreduce(tf.constant([me + 1.0]), op="sum")
    assert float(total.numpy()[0]) == 3.0
    reference = distribute.broadcast(gradients[0], root_rank=0)
    assert np.array_equal(reference.numpy(), gradients[0].numpy())


if __name__ == "__main__":
    scenario, output_dir = sys.argv[1], Path(sys.argv[2])
    if scenario == "main":
        main_scenario(output_dir)
    elif scenario == "gpu":
        gpu_scenario()
    else:
        fault_scenario(scenario)
