"""Tensor, Variable, creation functions, operators and interchange."""

from __future__ import annotations

import re
import weakref

import numpy as np
import pytest

import tensorflowish as tf


def test_default_dtypes(device):
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.constant([1, 2]).dtype == tf.int32
    assert tf.constant(True).dtype == tf.bool
    assert tf.constant(np.float64(1.0)).dtype == tf.float64
    assert tf.constant(np.arange(3)).dtype == tf.int64
    assert tf.constant([1.0], dtype=tf.float64).dtype == tf.float64
    assert tf.convert_to_tensor([[1.0, 2.0]]).shape == (1, 2)
    assert tf.constant(0.0, shape=[2, 3]).shape.as_list() == [2, 3]


def test_variable_assign_in_place(device):
    v = tf.Variable([1.0, 2.0], name="w")
    buffer = weakref.ref(v.array)  # a weak reference: holding the buffer would share it
    v.assign([3.0, 4.0])
    v.assign_add([1.0, 1.0])
    v.assign_sub(tf.constant([0.5, 0.5]))
    assert v.array is buffer(), "an unshared variable is updated in place"
    np.testing.assert_array_equal(v.numpy(), [3.5, 4.5])
    np.testing.assert_array_equal(v.read_value().numpy(), [3.5, 4.5])
    assert v.name == "w:0" and v.trainable
    with pytest.raises(ValueError, match=r"shape \[3\] to variable 'w:0' of shape \[2\]"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="float64"):
        v.assign(tf.constant([1.0, 2.0], tf.float64))


def test_variable_numpy_is_a_snapshot():
    v = tf.Variable([1.0, 2.0])
    before = v.numpy()
    v.assign_add([1.0, 1.0])
    assert before.tolist() == [1.0, 2.0]


def test_variable_does_not_alias_its_initial_value():
    data = np.ones(3, np.float32)
    v = tf.Variable(data)
    v.assign_add([1.0, 1.0, 1.0])
    assert data[0] == 1.0


def test_operators(device):
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((x + 1).numpy(), [[2, 3], [4, 5]])
    np.testing.assert_array_equal((1 - x).numpy(), [[0, -1], [-2, -3]])
    np.testing.assert_array_equal((x * x).numpy(), [[1, 4], [9, 16]])
    np.testing.assert_array_equal((x / 2).numpy(), [[0.5, 1], [1.5, 2]])
    np.testing.assert_array_equal((x // 2).numpy(), [[0, 1], [1, 2]])
    np.testing.assert_array_equal((x % 2).numpy(), [[1, 0], [1, 0]])
    np.testing.assert_array_equal((x ** 2).numpy(), [[1, 4], [9, 16]])
    np.testing.assert_array_equal((x @ x).numpy(), [[7, 10], [15, 22]])
    np.testing.assert_array_equal((-x).numpy(), -x.numpy())
    np.testing.assert_array_equal(abs(-x).numpy(), x.numpy())
    np.testing.assert_array_equal((x > 2).numpy(), [[False, False], [True, True]])
    np.testing.assert_array_equal((x == 2).numpy(), [[False, True], [False, False]])
    np.testing.assert_array_equal((np.ones((2, 2), np.float32) + x).numpy(), x.numpy() + 1)
    assert (x == None) is False  # noqa: E711 - TensorFlow's behaviour


def test_python_protocols(device):
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert len(x) == 2
    rows = [row.numpy().tolist() for row in x]
    assert rows == [[1.0, 2.0], [3.0, 4.0]]
    assert np.asarray(x).tolist() == rows
    assert float(tf.constant(2.5)) == 2.5 and int(tf.constant(3)) == 3
    with pytest.raises(TypeError):
        len(tf.constant(1.0))
    with pytest.raises(TypeError, match="unhashable"):
        hash(x)
    assert {x.ref(): 1}[x.ref()] == 1


def test_repr_and_str():
    x = tf.constant([1.0, 2.0])
    assert repr(x) == "<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert str(tf.constant(3)) == "tf.Tensor(3, shape=(), dtype=int32)"
    assert repr(tf.Variable(1.0, name="v")).startswith("<tf.Variable 'v:0' shape=() dtype=float32")


def test_dlpack_round_trip():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    as_numpy = np.from_dlpack(x)
    np.testing.assert_array_equal(as_numpy, x.numpy())
    assert x.__dlpack_device__() == (1, 0)
    back = tf.experimental.dlpack.from_dlpack(tf.experimental.dlpack.to_dlpack(x))
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    from_numpy = tf.experimental.dlpack.from_dlpack(np.arange(3.0))
    np.testing.assert_array_equal(from_numpy.numpy(), [0.0, 1.0, 2.0])


def test_creation_functions(device):
    assert tf.zeros([2, 3]).dtype == tf.float32 and tf.zeros([2, 3]).numpy().sum() == 0
    assert tf.ones([2], tf.int64).numpy().tolist() == [1, 1]
    assert tf.fill([2, 2], 7).numpy().tolist() == [[7, 7], [7, 7]]
    x = tf.constant([[1.0, 2.0]])
    assert tf.zeros_like(x).numpy().tolist() == [[0.0, 0.0]]
    assert tf.ones_like(x, dtype=tf.int32).dtype == tf.int32
    np.testing.assert_array_equal(tf.eye(2, 3).numpy(), np.eye(2, 3))
    assert tf.eye(2, batch_shape=[3]).shape == (3, 2, 2)
    assert tf.range(5).numpy().tolist() == [0, 1, 2, 3, 4] and tf.range(5).dtype == tf.int32
    assert tf.range(1.0, 2.0, 0.5).numpy().tolist() == [1.0, 1.5]
    assert tf.linspace(10.0, 12.0, 3).numpy().tolist() == [10.0, 11.0, 12.0]
    np.testing.assert_array_equal(tf.one_hot([0, 2], 3).numpy(), [[1, 0, 0], [0, 0, 1]])
    assert tf.one_hot([1], 2, on_value=5.0, off_value=-1.0).numpy().tolist() == [[-1.0, 5.0]]
    assert tf.cast(tf.constant([1.7, -1.7]), tf.int32).numpy().tolist() == [1, -1]


def test_random_is_reproducible(device):
    tf.random.set_seed(42)
    a = tf.random.normal([3, 2]).numpy()
    b = tf.random.uniform([2], seed=7).numpy()
    tf.random.set_seed(42)
    np.testing.assert_array_equal(tf.random.normal([3, 2]).numpy(), a)
    np.testing.assert_array_equal(tf.random.uniform([2], seed=7).numpy(), b)
    assert not np.array_equal(tf.random.uniform([2], seed=7).numpy(), b)  # sequence continues
    u = tf.random.uniform([1000], minval=-2, maxval=3).numpy()
    assert u.min() >= -2 and u.max() < 3 and u.dtype == np.float32
    assert tf.random.uniform([4], 0, 10, dtype=tf.int32).dtype == tf.int32
    assert np.abs(tf.random.truncated_normal([1000]).numpy()).max() <= 2


def test_random_is_identical_across_processes():
    import subprocess
    import sys

    code = ("import tensorflowish as tf; tf.random.set_seed(3); "
            "print(tf.random.normal([4]).numpy().tolist())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 1


def test_shapes_and_slicing(device):
    x = tf.reshape(tf.range(24), [2, 3, 4])
    assert tf.transpose(x).shape == (4, 3, 2)
    assert tf.transpose(x, [1, 0, 2]).shape == (3, 2, 4)
    assert tf.expand_dims(x, 0).shape == (1, 2, 3, 4)
    assert tf.squeeze(tf.zeros([1, 3, 1])).shape == (3,)
    assert tf.concat([x, x], axis=1).shape == (2, 6, 4)
    assert tf.stack([x, x], axis=-1).shape == (2, 3, 4, 2)
    assert [t.shape for t in tf.unstack(x)] == [(3, 4), (3, 4)]
    assert [t.shape[1] for t in tf.split(x, [1, 2], axis=1)] == [1, 2]
    assert x[1, :, ::2].numpy().tolist() == [[12, 14], [16, 18], [20, 22]]
    assert x[..., 0].shape == (2, 3) and x[:, None].shape == (2, 1, 3, 4)
    assert tf.gather(tf.constant([5, 6, 7]), [2, 0]).numpy().tolist() == [7, 5]
    mask = tf.constant([True, False, True])
    assert tf.constant([1, 2, 3])[mask].numpy().tolist() == [1, 3]
    assert tf.where(tf.constant([True, False]), 1.0, 2.0).numpy().tolist() == [1.0, 2.0]
    assert tf.clip_by_value(tf.constant([-2.0, 0.5, 3.0]), -1.0, 1.0).numpy().tolist() == \
        [-1.0, 0.5, 1.0]
    assert tf.argmax(tf.constant([[1, 5], [7, 2]]), axis=1).numpy().tolist() == [1, 0]
    assert tf.argmin(tf.constant([[1, 5], [7, 2]])).numpy().tolist() == [0, 1]
    assert tf.reduce_max(tf.constant([[1, 5], [7, 2]]), axis=0, keepdims=True).shape == (1, 2)
    assert float(tf.reduce_prod(tf.constant([2.0, 3.0]))) == 6.0


def test_namespaces_follow_tensorflow():
    for name in ("add", "exp", "log", "reduce_sum", "softplus", "sigmoid", "argmax", "equal"):
        assert callable(getattr(tf.math, name)), name
    for name in ("relu", "softmax", "log_softmax", "gelu", "elu", "leaky_relu", "dense",
                 "softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
                 "sigmoid_cross_entropy_with_logits", "dropout", "moments"):
        assert callable(getattr(tf.nn, name)), name
    assert tf.linalg.matmul is tf.matmul


def test_clip_by_norm_and_global_norm(device):
    t = tf.constant([3.0, 4.0])
    np.testing.assert_allclose(tf.clip_by_norm(t, 1.0).numpy(), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(tf.clip_by_norm(t, 10.0).numpy(), [3.0, 4.0])
    clipped, norm = tf.clip_by_global_norm([t, tf.constant([0.0]), None], 2.5)
    assert float(norm) == 5.0 and clipped[2] is None
    np.testing.assert_allclose(clipped[0].numpy(), [1.5, 2.0], rtol=1e-6)


def test_check_numerics():
    tf.debugging.check_numerics(tf.constant([1.0]), "fine")
    with pytest.raises(tf.debugging.InvalidArgumentError, match="bad values : Tensor had 1 NaN"):
        tf.debugging.check_numerics(tf.constant([1.0, np.nan]), "bad values")


def test_function_decorator_traces_once_per_signature():
    calls = []

    @tf.function
    def f(x):
        calls.append(1)
        return x * 2

    @tf.function(input_signature=None, jit_compile=True)
    def g(x):
        return x + 1

    assert float(f(tf.constant(2.0))) == 4.0 and float(g(1.0)) == 2.0
    assert float(f(tf.constant(1.0))) == 2.0
    assert len(calls) == 1  # traced once: the second call replays the graph


def test_module_collects_variables():
    class Inner(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(1.0)

    class Outer(tf.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()
            self.layers = [Inner(), {"frozen": tf.Variable(2.0, trainable=False)}]
            self.b = tf.Variable(0.0)

    outer = Outer()
    assert len(outer.variables) == 4
    assert len(outer.trainable_variables) == 3
    assert len(outer.submodules) == 2
    assert outer.name == "outer"


def test_sigmoid_cross_entropy_is_stable_for_huge_logits():
    logits = tf.constant([1000.0, -1000.0, 1000.0, -1000.0])
    labels = tf.constant([1.0, 0.0, 0.0, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, 1000.0, 1000.0])
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), [0.0, 0.0, 1.0, -1.0])
    big = tf.constant([[1000.0, -1000.0, 0.0]])
    assert np.isfinite(tf.nn.softmax_cross_entropy_with_logits(
        labels=[[0.0, 1.0, 0.0]], logits=big).numpy()).all()


def test_default_names_follow_tensorflow_and_keras():
    # Names TensorFlow 2.21 / Keras 3.15 give the same class names: tf.Module uses TensorFlow's
    # camel_to_snake, Keras layers Keras's to_snake_case; they differ on a digit before a capital.
    expected = {"MyDense": ("my_dense", "my_dense"), "HTTPServer": ("http_server", "http_server"),
                "Conv2DLayer": ("conv2_d_layer", "conv2d_layer"), "ABC": ("abc", "abc"),
                "Dense2": ("dense2", "dense2"), "myModule": ("my_module", "my_module")}
    for class_name, (module_name, layer_name) in expected.items():
        assert type(class_name, (tf.Module,), {})().name == module_name
        layer = type(class_name, (tf.keras.layers.Layer,), {})()
        assert re.fullmatch(rf"{layer_name}(_\d+)?", layer.name), (class_name, layer.name)
