"""Sequence benchmarks, each beside a hand-written NumPy/CuPy floor of the same algorithm.

* LSTM training step (issue 15: batch 64, 100 steps, 128 -> 256 units): `tf.keras.layers.LSTM`
  under a GradientTape, mean squared error on the last output, SGD. The floor is an LSTM
  written by hand the usual way: one GEMM for every step's input projection, per step one
  recurrent GEMM and the gates with in-place ufuncs, then backpropagation through time and
  the weight-gradient GEMMs over all steps at once.
* Text classifier step: Embedding(50,000 x 64) -> GlobalAveragePooling1D -> Dense(2), sparse
  softmax cross-entropy, SGD. The floor gathers rows, averages, and updates only the rows it
  used (`np.subtract.at`); the framework's table gradient is a `tf.IndexedSlices` applied row
  by row. A third workload times the same model with the gradient made dense first (what a
  vocab x dim gradient per step costs), against the same floor.

PyTorch's `nn.LSTM` is timed beside the LSTM step where it is installed (`torch_lstm_step`).
"""

from __future__ import annotations

import numpy as np

from .bench import LEARNING_RATE, Workload, _calling, _module, _random

LSTM_SIZE = (64, 100, 128, 256)  # batch, steps, input features, units
TEXT_SIZE = (64, 200, 50_000, 64)  # batch, tokens, vocabulary, embedding dim


def _sigmoid(xp, a):
    a *= -1
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)


def lstm_training_step(device: str, size: tuple = LSTM_SIZE, traced: bool = False) -> Workload:
    """One training step of an LSTM layer on a whole sequence, against a hand-written LSTM
    (`traced`: the step under tf.function, its graph replayed as a plan)."""
    import tensorflowish as tf

    batch, steps, features, units = size
    xp, rng = _module(device), np.random.default_rng(0)
    x = _random(xp, rng, (batch, steps, features))
    target = _random(xp, rng, (batch, units), 0.1)
    layer = tf.keras.layers.LSTM(units)
    tx, ttarget = tf.Tensor(x), tf.Tensor(target)
    layer(tx[:1, :2])  # build
    w0, u0, b0 = (v.array.copy() for v in layer.weights)
    optimizer = tf.keras.optimizers.SGD(LEARNING_RATE)

    def step(inputs, targets):
        with tf.GradientTape() as tape:
            h = layer(inputs)
            loss = tf.reduce_mean(tf.square(h - targets))
        grads = tape.gradient(loss, layer.trainable_weights)
        optimizer.apply_gradients(zip(grads, layer.trainable_weights))
        return loss

    w, u, b = w0.copy(), u0.copy(), b0.copy()
    n = units
    xt = xp.empty((steps, batch, features), np.float32)
    gates = xp.empty((steps, batch, 4 * n), np.float32)
    hs = xp.zeros((steps + 1, batch, n), np.float32)
    cs = xp.zeros((steps + 1, batch, n), np.float32)
    tcs = xp.empty((steps, batch, n), np.float32)
    dgates = xp.empty((steps, batch, 4 * n), np.float32)
    tmp = xp.empty((batch, n), np.float32)
    ones = xp.ones(steps * batch, np.float32)

    def floor():
        xt[...] = x.transpose(1, 0, 2)
        xp.matmul(xt.reshape(-1, features), w, out=gates.reshape(-1, 4 * n))
        xp.add(gates, b, out=gates)
        for t in range(steps):
            z = gates[t]
            z += hs[t] @ u
            _sigmoid(xp, z[:, :2 * n])
            _sigmoid(xp, z[:, 3 * n:])
            xp.tanh(z[:, 2 * n:3 * n], out=z[:, 2 * n:3 * n])
            xp.multiply(z[:, n:2 * n], cs[t], out=cs[t + 1])
            xp.multiply(z[:, :n], z[:, 2 * n:3 * n], out=tmp)
            cs[t + 1] += tmp
            xp.tanh(cs[t + 1], out=tcs[t])
            xp.multiply(z[:, 3 * n:], tcs[t], out=hs[t + 1])
        diff = hs[steps] - target
        loss = (diff * diff).mean()
        dh = diff * (2.0 / diff.size)
        dc = xp.zeros((batch, n), np.float32)
        for t in range(steps - 1, -1, -1):
            g, d = gates[t], dgates[t]
            i, f, gg, o = g[:, :n], g[:, n:2 * n], g[:, 2 * n:3 * n], g[:, 3 * n:]
            xp.multiply(dh, tcs[t], out=d[:, 3 * n:])
            d[:, 3 * n:] *= o * (1 - o)
            dc += dh * o * (1 - tcs[t] * tcs[t])
            xp.multiply(dc, gg, out=d[:, :n])
            d[:, :n] *= i * (1 - i)
            xp.multiply(dc, cs[t], out=d[:, n:2 * n])
            d[:, n:2 * n] *= f * (1 - f)
            xp.multiply(dc, i, out=d[:, 2 * n:3 * n])
            d[:, 2 * n:3 * n] *= 1 - gg * gg
            dc *= f
            dh = d @ u.T
        d2 = dgates.reshape(-1, 4 * n)
        dw = xt.reshape(-1, features).T @ d2
        du = hs[:-1].reshape(-1, n).T @ d2
        db = ones @ d2
        for param, grad in ((w, dw), (u, du), (b, db)):
            grad *= LEARNING_RATE
            param -= grad
        return loss

    flops = 2.0 * 3 * steps * batch * 4 * n * (features + n)  # forward GEMMs, twice backward
    size_name = f"b{batch} t{steps} {features}->{units}"
    if traced:  # the batch passed as arguments, as a training loop passes it
        return Workload("LSTM training step (tf.function)", size_name, flops,
                        _calling(tf.function(step), tx, ttarget), floor)
    return Workload("LSTM training step", size_name, flops, lambda: step(tx, ttarget), floor)


def text_classifier_step(device: str, size: tuple = TEXT_SIZE,
                         dense_gradient: bool = False, traced: bool = False) -> Workload:
    """Embedding -> mean over tokens -> Dense(2), one SGD step; the floor updates only the rows
    it looked up. With dense_gradient the framework densifies the table's gradient first;
    `traced`: the step under tf.function (the table's gradient stays sparse in its plan)."""
    import tensorflowish as tf

    batch, tokens, vocabulary, dim = size
    xp, rng = _module(device), np.random.default_rng(0)
    ids = xp.asarray(rng.integers(1, vocabulary, (batch, tokens)).astype(np.int32))
    labels = xp.asarray(rng.integers(0, 2, batch).astype(np.int32))
    model = tf.keras.Sequential([
        tf.keras.layers.Embedding(vocabulary, dim),
        tf.keras.layers.GlobalAveragePooling1D(),
        tf.keras.layers.Dense(2),
    ])
    tids, tlabels = tf.Tensor(ids), tf.Tensor(labels)
    model(tids[:1])
    table0, kernel0, bias0 = (v.array.copy() for v in model.weights)
    optimizer = tf.keras.optimizers.SGD(LEARNING_RATE)
    variables = model.trainable_weights

    def step(inputs, targets):
        with tf.GradientTape() as tape:
            logits = model(inputs)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits))
        grads = tape.gradient(loss, variables)
        if dense_gradient:
            grads = [tf.convert_to_tensor(g) for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    table, kernel, bias = table0.copy(), kernel0.copy(), bias0.copy()
    rows = xp.arange(batch)
    flat_ids = ids.reshape(-1)

    def floor():
        vectors = table[ids]  # (batch, tokens, dim)
        pooled = vectors.mean(axis=1)
        logits = pooled @ kernel
        logits += bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = xp.exp(logits)
        total = exp.sum(axis=1)
        loss = (xp.log(total) - logits[rows, labels]).mean()
        exp /= total[:, None]
        exp[rows, labels] -= 1
        exp *= 1.0 / batch
        dpooled = exp @ kernel.T
        dkernel = pooled.T @ exp
        dbias = exp.sum(axis=0)
        dpooled *= LEARNING_RATE / tokens
        step = xp.broadcast_to(dpooled[:, None, :], (batch, tokens, dim)).reshape(-1, dim)
        if xp is np:
            np.subtract.at(table, flat_ids, step)
        else:
            import cupyx

            cupyx.scatter_add(table, flat_ids, -step)
        xp.subtract(kernel, dkernel * LEARNING_RATE, out=kernel)
        xp.subtract(bias, dbias * LEARNING_RATE, out=bias)
        return loss

    name = "text classifier step (dense gradient)" if dense_gradient else "text classifier step"
    size_name = f"b{batch} t{tokens} vocab {vocabulary} x {dim}"
    if traced:
        return Workload(name + " (tf.function)", size_name, 0.0,
                        _calling(tf.function(step), tids, tlabels), floor)
    return Workload(name, size_name, 0.0, lambda: step(tids, tlabels), floor)


def torch_lstm_step(size: tuple = LSTM_SIZE):
    """PyTorch's nn.LSTM training step on the CPU (same sizes and loss), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    batch, steps, features, units = size
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(features, units, batch_first=True)
    x = torch.randn(batch, steps, features)
    target = torch.randn(batch, units) * 0.1
    optimizer = torch.optim.SGD(lstm.parameters(), lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        _, (h, _) = lstm(x)
        loss = ((h[0] - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        return loss
    return step


def sequence_workloads(device: str, quick: bool = False) -> list[Workload]:
    """The sequence workloads (smaller under `quick`)."""
    lstm_size = (16, 20, 32, 64) if quick else LSTM_SIZE
    text_size = (16, 50, 5000, 32) if quick else TEXT_SIZE
    return [lstm_training_step(device, lstm_size), text_classifier_step(device, text_size),
            text_classifier_step(device, text_size, dense_gradient=True),
            # the same steps traced by tf.function (replay plans; see docs/function.md)
            lstm_training_step(device, lstm_size, traced=True),
            text_classifier_step(device, text_size, traced=True)]
