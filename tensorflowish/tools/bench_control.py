"""Control flow on a gradient path, beside a hand-written NumPy/CuPy floor.

* Recurrent step (`tf.while_loop`): `h = tanh(x @ W_in)`, then `steps` times
  `h = tanh(h @ W + b)` in a `tf.while_loop` inside a GradientTape, mean squared error against
  a target, SGD on the three weights. Traced by tf.function the loop lowers as sub-plans (the
  body's forward and its traced backward, run over the saved iterations in reverse:
  docs/function.md, "Control flow on a gradient path"); eager runs the ops one by one. The
  floor is the same network written by hand: a Python loop saving each step's `h`, then
  backpropagation through time.
"""

from __future__ import annotations

import numpy as np

from .bench import LEARNING_RATE, Workload, _calling, _module, _random

RECURRENT_SIZE = (64, 32, 128, 16)  # batch, features, units, steps


def recurrent_loop_step(device: str, size: tuple = RECURRENT_SIZE,
                        traced: bool = False) -> Workload:
    """One training step through a `tf.while_loop` (`traced`: under tf.function)."""
    import tensorflowish as tf

    batch, features, units, steps = size
    xp, rng = _module(device), np.random.default_rng(0)
    x = _random(xp, rng, (batch, features))
    target = _random(xp, rng, (batch, units), 0.1)
    w_in0 = _random(xp, rng, (features, units), 0.2)
    w0 = _random(xp, rng, (units, units), 0.2)
    b0 = xp.zeros(units, np.float32)
    variables = [tf.Variable(v.copy()) for v in (w_in0, w0, b0)]
    w_in_v, w_v, b_v = variables
    optimizer = tf.keras.optimizers.SGD(LEARNING_RATE)
    tx, ttarget = tf.Tensor(x), tf.Tensor(target)

    def step(inputs, targets):
        with tf.GradientTape() as tape:
            h = tf.tanh(tf.matmul(inputs, w_in_v))
            _, h = tf.while_loop(lambda i, h: i < steps,
                                 lambda i, h: (i + 1, tf.tanh(tf.matmul(h, w_v) + b_v)),
                                 [tf.constant(0), h])
            loss = tf.reduce_mean(tf.square(h - targets))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    w_in, w, b = w_in0.copy(), w0.copy(), b0.copy()
    hs = xp.empty((steps + 1, batch, units), np.float32)

    def floor():
        xp.tanh(x @ w_in, out=hs[0])
        for t in range(steps):
            z = hs[t] @ w
            z += b
            xp.tanh(z, out=hs[t + 1])
        diff = hs[steps] - target
        loss = (diff * diff).mean()
        dh = diff * (2.0 / diff.size)
        dw = xp.zeros_like(w)
        db = xp.zeros_like(b)
        for t in range(steps - 1, -1, -1):
            dz = dh * (1 - hs[t + 1] * hs[t + 1])
            dw += hs[t].T @ dz
            db += dz.sum(axis=0)
            dh = dz @ w.T
        dz = dh * (1 - hs[0] * hs[0])
        dw_in = x.T @ dz
        for param, grad in ((w_in, dw_in), (w, dw), (b, db)):
            grad *= LEARNING_RATE
            param -= grad
        return loss

    flops = 2.0 * 3 * batch * units * (features + steps * units)  # forward GEMMs, 2x backward
    size_name = f"b{batch} {features}->{units} x{steps}"
    if traced:
        return Workload("while_loop recurrent step (tf.function)", size_name, flops,
                        _calling(tf.function(step), tx, ttarget), floor)
    return Workload("while_loop recurrent step", size_name, flops, lambda: step(tx, ttarget),
                    floor)


def control_workloads(device: str, quick: bool = False) -> list[Workload]:
    """The control-flow workloads (smaller under `quick`)."""
    size = (16, 16, 32, 8) if quick else RECURRENT_SIZE
    return [recurrent_loop_step(device, size), recurrent_loop_step(device, size, traced=True)]
