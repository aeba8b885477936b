"""Static shapes with None dimensions inside traces with relaxed inputs (input_signature with
None, reduce_retracing): every dimension that depends on a relaxed input reads None, as
TensorFlow's shape inference gives it (tensorflowish/function/shape_probe.py), and a graph whose
shapes cannot be inferred retraces for new sizes instead of replaying wrongly.

Values are checked against NumPy written here, for several sizes, each through the replay.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function import shape_probe

RNG = np.random.default_rng(7)


def _data(*shape):
    return RNG.uniform(-1, 1, shape).astype(np.float32)


def test_reduce_retracing_shape_read_of_an_op_output():
    seen = []

    @tf.function(reduce_retracing=True)
    def f(x):
        y = x * 2.0
        seen.append(tuple(y.shape))
        return tf.reshape(y, (-1, y.shape[1] * y.shape[2]))

    for n in (2, 3, 4, 5):
        x = _data(n, 3, 2)
        np.testing.assert_allclose(f(tf.constant(x)).numpy(), (x * 2.0).reshape(n, 6), rtol=1e-6)
    assert seen == [(2, 3, 2), (None, 3, 2)]  # the second trace is relaxed, and serves 3, 4, 5
    assert f.experimental_get_tracing_count() == 2


def test_reduce_retracing_none_in_reshape_fails_at_trace():
    @tf.function(reduce_retracing=True)
    def f(x):
        y = x * 2.0
        return tf.reshape(y, (y.shape[0], -1))

    assert f(tf.ones((2, 3, 2))).shape == (2, 6)
    with pytest.raises(TypeError, match="holds None"):  # TensorFlow: TypeError at trace too
        f(tf.ones((3, 3, 2)))

    @tf.function(input_signature=[tf.TensorSpec([None, 3])])
    def g(x):
        return tf.zeros((x.shape[0], 3))

    with pytest.raises(TypeError, match=r"zeros: the argument \(None, 3\) holds None"):
        g(tf.ones((2, 3)))


def test_input_signature_shapes_of_op_outputs():
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 2])])
    def g(x):
        y = x + 1.0
        z = tf.matmul(x, tf.ones((2, 4)))
        seen.append((tuple(x.shape), tuple(y.shape), tuple(z.shape)))
        return tf.reshape(y, (-1, y.shape[1])), z

    for n in (3, 5, 1, 5, 1):
        x = _data(n, 2)
        y, z = g(tf.constant(x))
        np.testing.assert_allclose(y.numpy(), x + 1.0, rtol=1e-6)
        np.testing.assert_allclose(z.numpy(), x @ np.ones((2, 4), np.float32), rtol=1e-5)
    assert seen == [((None, 2), (None, 2), (None, 4))]
    concrete = g.get_concrete_function()
    # replay plans are still made per tuple of input shapes (Graph._replay_shaped)
    assert set(concrete.graph.shaped_plans) == {((5, 2),), ((1, 2),)}
    assert all(concrete.graph.shaped_plans.values())
    assert [tuple(s) for s in concrete.output_shapes] == [(None, 2), (None, 4)]
    assert tuple(concrete.structured_outputs[1].shape) == (None, 4)
    assert "TensorSpec(shape=(None, 4)" in g.pretty_printed_concrete_signatures()
    assert "float32[?,4] = matmul" in str(concrete.graph)


def test_shapes_through_reductions_and_shape_ops():
    seen = {}

    @tf.function(input_signature=[tf.TensorSpec([None, 3])])
    def f(x):
        parts = {
            "sum0": tf.reduce_sum(x, axis=0), "sum1": tf.reduce_sum(x, axis=1),
            "mean": tf.reduce_mean(x), "t": tf.transpose(x), "flat": tf.reshape(x, [-1]),
            "rows": tf.concat([x, x], axis=0), "cols": tf.concat([x, x], axis=1),
            "expand": tf.expand_dims(x, 1), "slice": x[1:, :2], "shape": tf.shape(x),
            "outer": tf.matmul(x, x, transpose_a=True), "stack": tf.stack([x, x]),
        }
        seen.update({k: tuple(v.shape) for k, v in parts.items()})
        return parts

    for n in (4, 6):
        x = _data(n, 3)
        out = f(tf.constant(x))
        expected = {"sum0": x.sum(0), "sum1": x.sum(1), "mean": x.mean(), "t": x.T,
                    "flat": x.reshape(-1), "rows": np.concatenate([x, x]),
                    "cols": np.concatenate([x, x], 1), "expand": x[:, None], "slice": x[1:, :2],
                    "shape": np.array([n, 3]), "outer": x.T @ x, "stack": np.stack([x, x])}
        for key, value in expected.items():
            np.testing.assert_allclose(out[key].numpy(), value, rtol=1e-5, atol=1e-6)
    assert seen == {"sum0": (3,), "sum1": (None,), "mean": (), "t": (3, None), "flat": (None,),
                    "rows": (None, 3), "cols": (None, 6), "expand": (None, 1, 3),
                    "slice": (None, 2), "shape": (2,), "outer": (3, 3), "stack": (2, None, 3)}
    assert f.experimental_get_tracing_count() == 1


def test_boolean_mask_count_reads_none():
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 3])])
    def f(x):
        kept = tf.boolean_mask(x, x[:, 0] > 0)
        seen.append(tuple(kept.shape))
        return tf.reshape(kept, (-1, kept.shape[1])) * 2.0

    for x in (np.array([[-1, 2, 3], [1, 1, 1], [2, 0, 1]], np.float32), _data(7, 3)):
        expected = x[x[:, 0] > 0] * 2.0  # the first row is masked out: the probe keeps its count
        np.testing.assert_allclose(f(tf.constant(x)).numpy(), expected, rtol=1e-6)
    assert seen == [(None, 3)]


def test_len_of_a_relaxed_dimension_raises_as_tensorflow():
    @tf.function(input_signature=[tf.TensorSpec([None, 2])], autograph=False)
    def f(x):
        y = x + 1.0
        with pytest.raises(TypeError, match="len is not well defined for a symbolic Tensor"):
            len(y)
        assert len(tf.transpose(y)) == 2
        return y

    f(tf.ones((3, 2)))


def test_gradient_tape_inside_a_relaxed_function():
    w = tf.Variable(_data(3, 2))
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 3])])
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.matmul(x, w)
            loss = tf.reduce_sum(y * y)
        dx, dw = tape.gradient(loss, [x, w])
        seen.append((tuple(y.shape), tuple(dx.shape), tuple(dw.shape)))
        return tf.reshape(dx, (-1, dx.shape[1])) + 0.0, dw

    for n in (2, 5):
        x = _data(n, 3)
        dx, dw = f(tf.constant(x))
        y = x @ w.numpy()
        np.testing.assert_allclose(dx.numpy(), 2 * y @ w.numpy().T, rtol=1e-5)
        np.testing.assert_allclose(dw.numpy(), 2 * x.T @ y, rtol=1e-5)
    assert seen == [((None, 2), (None, 3), (3, 2))]
    assert f.experimental_get_tracing_count() == 1


def test_keras_dense_and_lstm_in_a_relaxed_function():
    lstm = tf.keras.layers.LSTM(5, return_sequences=True)
    dense = tf.keras.layers.Dense(4)
    head = tf.keras.layers.Dense(3)
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 6, 3])])
    def f(x):
        y = lstm(x)
        z = dense(y)
        w = head(tf.reduce_mean(z, axis=1))
        seen.append((tuple(y.shape), tuple(z.shape), tuple(w.shape)))
        return z, w

    for n in (2, 3):
        x = tf.constant(_data(n, 6, 3))
        z, w = f(x)
        z_eager = dense(lstm(x))  # eager, the same layers
        np.testing.assert_allclose(z.numpy(), z_eager.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(w.numpy(), head(tf.reduce_mean(z_eager, axis=1)).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert seen == [((None, 6, 5), (None, 6, 4), (None, 3))]
    assert f.experimental_get_tracing_count() == 1


def test_a_line_that_cannot_be_probed_retraces_for_new_sizes():
    calls = []

    def host(a):
        calls.append(a.shape)
        return a.numpy() * 2.0

    @tf.function(input_signature=[tf.TensorSpec([None, 2])])
    def f(x):
        y = tf.py_function(host, [x], tf.float32)  # never run twice for a probe
        return tf.reshape(y, (y.shape[0], -1)) + 1.0

    for n in (2, 3, 2, 4):
        x = _data(n, 2)
        np.testing.assert_allclose(f(tf.constant(x)).numpy(), x * 2.0 + 1.0, rtol=1e-6)
    assert f.experimental_get_tracing_count() == 3  # sizes 2, 3, 4: one graph each
    assert len(calls) == 4  # the Python function ran once per call, never for a probe
    assert "py_function" in f._traces[0]._specialised
    # its concrete function, called with another size, traces for that size too
    concrete = f._traces[0]
    x = _data(6, 2)
    np.testing.assert_allclose(concrete(tf.constant(x)).numpy(), x * 2.0 + 1.0, rtol=1e-6)


def test_shapes_through_control_flow():
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 3])])
    def f(x):
        total = tf.zeros([3])
        for i in tf.range(tf.shape(x)[0]):
            total += x[i]
        count = tf.constant(0)
        while count < tf.shape(x)[0] * 2:
            count += 1
        ramp = tf.range(count)  # its size is the loop's result: None
        if tf.shape(x)[0] > 2:
            y = x * 2.0
        else:
            y = x[:1]
        seen.append((tuple(total.shape), tuple(ramp.shape), tuple(y.shape)))
        return total, tf.expand_dims(ramp, 0), y

    for n in (2, 4, 1, 3):
        x = _data(n, 3)
        total, ramp, y = f(tf.constant(x))
        np.testing.assert_allclose(total.numpy(), x.sum(0), rtol=1e-5)
        np.testing.assert_array_equal(ramp.numpy(), np.arange(2 * n)[None])
        np.testing.assert_allclose(y.numpy(), x * 2.0 if n > 2 else x[:1], rtol=1e-6)
    assert seen == [((3,), (None,), (None, 3))]
    assert f.experimental_get_tracing_count() == 1


def test_control_flow_with_state_specialises_the_graph(tmp_path):
    v = tf.Variable(0.0)
    sink = "file://" + str(tmp_path / "printed.txt")

    @tf.function(input_signature=[tf.TensorSpec([None])])
    def f(x):
        for i in tf.range(tf.shape(x)[0]):
            v.assign_add(x[i])  # a stateful body cannot run a second time on probes
        count = tf.constant(0)
        for _ in tf.range(tf.size(x)):
            tf.print(count, output_stream=sink)  # stateful too
            count += 1
        return tf.fill([count], v.read_value())

    for n in (3, 5, 3):
        v.assign(0.0)
        x = _data(n)
        np.testing.assert_allclose(f(tf.constant(x)).numpy(), np.full(n, x.sum()), rtol=1e-5)
    assert f.experimental_get_tracing_count() == 2
    assert "stateful" in f._traces[0]._specialised


@pytest.mark.parametrize("name", ["flatten", "reshape", "time_distributed", "attention",
                                  "conv", "gru", "bidirectional", "embedding"])
def test_keras_layers_in_a_relaxed_function(name):
    layers = tf.keras.layers
    shape, make = {
        "flatten": ([None, 4, 3], lambda: layers.Flatten()),
        "reshape": ([None, 4, 3], lambda: layers.Reshape((2, 6))),
        "time_distributed": ([None, None, 3], lambda: layers.TimeDistributed(layers.Dense(2))),
        "attention": ([None, 4, 6], lambda: layers.MultiHeadAttention(2, 3)),
        "conv": ([None, 6, 6, 2], lambda: layers.Conv2D(3, 3)),
        "gru": ([None, 4, 3], lambda: layers.GRU(2)),
        "bidirectional": ([None, 4, 3], lambda: layers.Bidirectional(layers.LSTM(2))),
        "embedding": ([None, 4], lambda: layers.Embedding(10, 3)),
    }[name]
    layer = make()

    def call(x):
        return layer(x, x) if name == "attention" else layer(x)

    dtype = tf.int32 if name == "embedding" else tf.float32
    traced = tf.function(call, input_signature=[tf.TensorSpec(shape, dtype)])
    for n in (2, 3):
        size = [n if d is None else d for d in shape]
        x = tf.constant(RNG.integers(0, 10, size).astype(np.int32) if name == "embedding"
                        else _data(*size))
        np.testing.assert_allclose(traced(x).numpy(), call(x).numpy(), rtol=1e-5, atol=1e-6)
    assert traced.experimental_get_tracing_count() == 1
    assert not traced._traces[0]._specialised


def test_probe_leaves_random_streams_untouched():
    def body(x):
        noise = tf.random.uniform(tf.shape(x))
        return x + noise, tf.random.uniform([2])

    tf.random.set_seed(3)
    eager = body(tf.ones((3, 2)))
    traced = tf.function(body, input_signature=[tf.TensorSpec([None, 2])])
    tf.random.set_seed(3)
    first = traced(tf.ones((3, 2)))
    for a, b in zip(eager, first):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_fixed_shape_traces_do_no_probe_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("probed a fixed-shape trace")

    monkeypatch.setattr(shape_probe, "infer", refuse)
    monkeypatch.setattr(shape_probe, "grown", refuse)
    w = tf.Variable(_data(3, 2))

    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.matmul(x, w) ** 2)
        return loss, tape.gradient(loss, w), tuple(x.shape)

    for n in (2, 3):
        x = _data(n, 3)
        loss, grad, shape = f(tf.constant(x))
        np.testing.assert_allclose(loss.numpy(), ((x @ w.numpy()) ** 2).sum(), rtol=1e-5)
        assert shape == (n, 3)
    assert f.experimental_get_tracing_count() == 2


def test_sparse_gradient_and_optimizer_in_a_relaxed_function():
    def model_and_step():
        layer = tf.keras.layers.Embedding(10, 3, embeddings_initializer="ones")
        optimizer = tf.keras.optimizers.SGD(0.1)
        seen = []

        def step(ids):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(ids) ** 2)
            (grad,) = tape.gradient(loss, layer.trainable_variables)
            seen.append((tuple(grad.values.shape), tuple(grad.indices.shape)))
            optimizer.apply_gradients([(grad, layer.embeddings)])
            return loss
        return layer, step, seen

    eager_layer, eager_step, _ = model_and_step()
    layer, step, seen = model_and_step()
    traced = tf.function(step, input_signature=[tf.TensorSpec([None, 4], tf.int32)])
    for n in (2, 3, 5):
        ids = tf.constant(RNG.integers(0, 10, (n, 4)).astype(np.int32))
        np.testing.assert_allclose(traced(ids).numpy(), eager_step(ids).numpy(), rtol=1e-6)
        np.testing.assert_allclose(layer.embeddings.numpy(), eager_layer.embeddings.numpy(),
                                   rtol=1e-6)
    assert seen == [((None, 3), (None,))]
    assert traced.experimental_get_tracing_count() == 1


def test_leaked_tensor_keeps_its_relaxed_shape_and_concrete_function_of_specs():
    kept = []

    @tf.function
    def f(x):
        y = tf.concat([x, x], axis=0)
        kept.append(y)
        return y * 2.0

    concrete = f.get_concrete_function(tf.TensorSpec([None, 3]))
    assert tuple(concrete.output_shapes) == (None, 3)
    assert tuple(kept[0].shape) == (None, 3)  # out of scope, but its static shape reads
    with pytest.raises(TypeError, match="len is not well defined"):
        len(kept[0])
    for n in (1, 4):
        x = _data(n, 3)
        np.testing.assert_allclose(concrete(tf.constant(x)).numpy(),
                                   np.concatenate([x, x]) * 2.0, rtol=1e-6)


def test_causal_attention_with_relaxed_batch_and_steps():
    heads = tf.keras.layers.MultiHeadAttention(2, 3)
    dot = tf.keras.layers.Attention()

    def call(x):
        return heads(x, x, use_causal_mask=True), dot([x, x], use_causal_mask=True)

    traced = tf.function(call, input_signature=[tf.TensorSpec([None, None, 6])])
    for n, steps in ((2, 4), (3, 5)):
        x = tf.constant(_data(n, steps, 6))
        for got, want in zip(traced(x), call(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    assert traced.experimental_get_tracing_count() == 1
    assert not traced._traces[0]._specialised


def _registry_cases():
    from tensorflowish.ops.registry import REGISTRY

    for name, info in sorted(REGISTRY.items()):
        if info.samples is None:
            continue
        args, kwargs = info.samples(np.random.default_rng(0))[0]
        relaxed = [i for i, a in enumerate(args)
                   if isinstance(a, np.ndarray) and a.ndim >= 1 and a.dtype.kind in "fiub"]
        if relaxed:
            yield name, info.function, args, kwargs, relaxed


def _positional(function, args, kwargs, relaxed):
    """`function` as a function of only the arguments at positions `relaxed`."""
    def call(*tensors):
        full = list(args)
        for position, tensor in zip(relaxed, tensors):
            full[position] = tensor
        return function(*full, **kwargs)
    return call


def test_every_registry_op_static_dims_hold_at_other_sizes():
    """Each op with samples, traced with dimension 0 of its array arguments relaxed: every
    dimension inference calls static has that size when the graph runs on inputs two rows
    longer, and the values equal eager's there (or the graph was specialised and retraced)."""
    checked = 0
    for name, function, args, kwargs, relaxed in _registry_cases():
        call = _positional(function, args, kwargs, relaxed)

        specs = [tf.TensorSpec([None, *args[i].shape[1:]], tf.as_dtype(args[i].dtype))
                 for i in relaxed]
        traced = tf.function(call, input_signature=specs)
        traced(*[tf.constant(args[i]) for i in relaxed])
        concrete = traced._traces[0]
        bigger = [tf.constant(shape_probe.grown(args[i], (len(args[i]) + 2, *args[i].shape[1:])))
                  for i in relaxed]
        try:
            want = call(*bigger)
        except Exception:  # noqa: BLE001 - the op does not take these sizes eagerly either
            continue
        got = traced(*bigger)
        got_leaves, want_leaves, static = [], [], []
        from tensorflowish.function.graph import flatten

        flatten(got, got_leaves)
        flatten(want, want_leaves)
        flatten(concrete.structured_outputs, static)
        for value, expected, shape in zip(got_leaves, want_leaves, static):
            if not isinstance(value, tf.Tensor):
                continue
            np.testing.assert_array_equal(value.numpy(), expected.numpy(), err_msg=name)
            if not concrete._specialised:
                shape = tuple(shape.shape)
                assert len(shape) == value.ndim, name
                assert all(d is None or d == n for d, n in zip(shape, value.shape)), \
                    (name, tuple(shape), value.shape)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("noise", ["Dropout", "GaussianNoise", "GaussianDropout",
                                   "AlphaDropout"])
def test_training_step_with_host_drawn_noise_in_a_relaxed_function(noise):
    def build():
        model = tf.keras.Sequential([tf.keras.layers.Dense(4, kernel_initializer="ones"),
                                     getattr(tf.keras.layers, noise)(0.5),
                                     tf.keras.layers.Dense(1, kernel_initializer="ones")])
        optimizer = tf.keras.optimizers.SGD(0.01)

        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x, training=True) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return model, step

    inputs = [tf.constant(_data(n, 3)) for n in (2, 3, 5)]
    eager_model, eager_step = build()
    tf.random.set_seed(11)
    eager = [eager_step(x).numpy() for x in inputs]
    model, step = build()
    traced = tf.function(step, input_signature=[tf.TensorSpec([None, 3])])
    tf.random.set_seed(11)
    got = [traced(x).numpy() for x in inputs]
    np.testing.assert_allclose(got, eager, rtol=1e-5)
    for a, b in zip(model.trainable_variables, eager_model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert traced.experimental_get_tracing_count() == 1
    assert not traced._traces[0]._specialised


def test_probe_of_an_empty_batch():
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 2])])
    def f(x):
        total = tf.reduce_sum(x * 2.0, axis=1)
        seen.append(tuple(total.shape))
        return total

    for n in (0, 3):
        x = _data(n, 2)
        np.testing.assert_allclose(f(tf.constant(x)).numpy(), (x * 2.0).sum(1), rtol=1e-6)
    assert seen == [(None,)]
    assert shape_probe.grown(np.arange(6).reshape(2, 3), (4, 2)).tolist() == \
        [[0, 1], [3, 4], [0, 1], [0, 1]]
    words = np.array([b"a", b"b"], dtype=object)
    assert shape_probe.grown(words, (3,)).tolist() == [b"a", b"b", b"a"]


def test_probe_runs_warn_nothing_twice():
    @tf.function(input_signature=[tf.TensorSpec([None])])
    def f(x):
        return tf.math.log(x)

    with pytest.warns(RuntimeWarning) as caught:
        f(tf.constant(np.array([0.0, 1.0], np.float32)))  # log(0): NumPy warns once
    assert len([w for w in caught if "divide by zero" in str(w.message)]) == 1


def test_jacobians_in_a_relaxed_function():
    w = tf.Variable(_data(3, 2))
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 3])])
    def f(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = tf.matmul(x, w)
        full = tape.jacobian(y, w)
        per_example = tape.batch_jacobian(y, x)
        seen.append((tuple(full.shape), tuple(per_example.shape)))
        return full, per_example

    for n in (2, 4):
        x = _data(n, 3)
        full, per_example = f(tf.constant(x))
        expected_full = np.zeros((n, 2, 3, 2), np.float32)  # d y[b, j] / d w[i, k] = x[b, i] [j==k]
        for j in range(2):
            expected_full[:, j, :, j] = x
        np.testing.assert_allclose(full.numpy(), expected_full, rtol=1e-6)
        np.testing.assert_allclose(per_example.numpy(),
                                   np.broadcast_to(w.numpy().T, (n, 2, 3)), rtol=1e-6)
    assert seen == [((None, 2, 3, 2), (None, 2, 3))]
    assert f.experimental_get_tracing_count() == 1
