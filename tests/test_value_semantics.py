"""TensorFlow's value semantics: a tensor never changes once made, a tape differentiates the
values its forward pass saw, a Variable update never leaks into a snapshot, NumPy inputs are
copied. Each case states what TensorFlow 2.21 gives."""

from __future__ import annotations

import inspect
import weakref

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.ops import REGISTRY


# --- the tape sees the values of its forward pass ----------
def test_assign_after_forward_does_not_change_the_gradient(device):
    x = tf.constant([[1.0, 2.0]])
    w = tf.Variable([[1.0], [1.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.matmul(x, w))
    w.assign([[100.0], [100.0]])
    # TensorFlow gives [[1, 1]]: the matmul saw w = [[1], [1]]
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[1.0, 1.0]])
    np.testing.assert_array_equal(w.numpy(), [[100.0], [100.0]])  # the update itself happened


@pytest.mark.parametrize("update", ["assign", "assign_add", "assign_sub", "optimizer"])
def test_every_kind_of_update_leaves_the_recorded_value(update, device):
    a = tf.Variable([2.0, 3.0])
    b = tf.Variable([5.0, 7.0])
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(a * b)  # an elementwise record (binary fast path)
        z = tf.reduce_sum(tf.nn.dense(tf.reshape(a, [1, 2]), tf.reshape(b, [2, 1])))
    if update == "optimizer":
        tf.keras.optimizers.SGD(1.0).apply_gradients([(tf.constant([10.0, 10.0]), b)])
    else:
        getattr(b, update)([10.0, 10.0])
    # TensorFlow gives d(sum a*b)/da = b as read in the forward pass: [5, 7]
    np.testing.assert_array_equal(tape.gradient(y, a).numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(tape.gradient(z, a).numpy(), [5.0, 7.0])
    assert not np.array_equal(b.numpy(), [5.0, 7.0])


def test_second_order_gradient_uses_the_forward_values(device):
    w = tf.Variable(3.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = w * w * w
        dy = inner.gradient(y, w)  # 3 w^2 = 27
    w.assign(100.0)
    # TensorFlow gives d2y/dw2 = 6 w = 18 for the w of the forward pass
    assert float(dy) == 27.0
    assert float(outer.gradient(dy, w)) == 18.0


def test_optimizer_writes_in_place_in_a_plain_training_loop(device):
    tf.random.set_seed(1)
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.Dense(2)])
    optimizer = tf.keras.optimizers.Adam(0.01)
    x, y = tf.random.normal([8, 3]), tf.random.normal([8, 2])
    model(x)
    for _ in range(3):
        buffers = [weakref.ref(v.array) for v in model.trainable_variables]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        # no copy: the tape released its records, nothing else holds the buffers
        assert all(ref() is v.array for ref, v in zip(buffers, model.trainable_variables))


def test_a_persistent_tape_makes_the_update_copy(device):
    w = tf.Variable([1.0, 2.0])
    x = tf.constant([3.0, 4.0])
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(w * x)
    before = weakref.ref(w.array)
    tf.keras.optimizers.SGD(0.5).apply_gradients([(tape.gradient(y, w), w)])
    assert w.array is not before() and before() is not None  # the record keeps the old buffer
    np.testing.assert_allclose(w.numpy(), [1.0 - 1.5, 2.0 - 2.0])
    np.testing.assert_array_equal(tape.gradient(y, w).numpy(), [3.0, 4.0])
    del tape
    assert before() is None  # released with the tape: no copy lingers


# --- snapshots are snapshots ----------
_SNAPSHOTS = {
    "convert_to_tensor": lambda v: tf.convert_to_tensor(v),
    "identity": lambda v: tf.identity(v),
    "reshape": lambda v: tf.reshape(v, [2, 2]),
    "cast to the same dtype": lambda v: tf.cast(v, tf.float32),
    "stop_gradient": lambda v: tf.stop_gradient(v),
    "slice": lambda v: v[1:],
    "squeeze": lambda v: tf.squeeze(tf.reshape(v, [1, 4])),
    "read_value": lambda v: v.read_value(),
    "value": lambda v: v.value(),
    "broadcast_to the same shape": lambda v: tf.broadcast_to(v, [4]),
    "unary plus": lambda v: +v,
    "transpose": lambda v: tf.transpose(tf.reshape(v, [2, 2])),
}


@pytest.mark.parametrize("how", sorted(_SNAPSHOTS))
def test_tensors_read_from_a_variable_keep_their_value(how, device):
    v = tf.Variable([1.0, 2.0, 3.0, 4.0])
    snapshot = _SNAPSHOTS[how](v)
    expected = snapshot.numpy()
    assert not isinstance(snapshot, tf.Variable)
    v.assign([10.0, 20.0, 30.0, 40.0])
    v.assign_add([1.0, 1.0, 1.0, 1.0])
    # TensorFlow gives the value at the time of the read
    np.testing.assert_array_equal(snapshot.numpy(), expected)
    np.testing.assert_array_equal(v.numpy(), [11.0, 21.0, 31.0, 41.0])


def test_snapshot_from_a_variable_is_differentiable(device):
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.convert_to_tensor(v) * 3.0)
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [3.0, 3.0])


def test_numpy_inputs_are_copied():
    a = np.ones(2, np.float32)
    t = tf.constant(a)
    c = tf.convert_to_tensor(a)
    v = tf.Variable(a)
    a[0] = 99
    # TensorFlow gives [1, 1] for all three
    for tensor in (t, c, v):
        np.testing.assert_array_equal(tensor.numpy(), [1.0, 1.0])


def test_writing_into_numpy_never_changes_the_tensor():
    t = tf.constant([1.0, 2.0])
    values = t.numpy()
    values[0] = 42.0  # a copy, as TensorFlow's numpy() (writable, owns its data)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    view = np.asarray(t)  # a read-only view, as np.asarray of a TensorFlow tensor
    assert not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0


# --- axes are checked ----------
def test_issue_examples_for_axes():
    # TensorFlow raises InvalidArgumentError for both
    with pytest.raises(tf.errors.InvalidArgumentError, match="gather: axis 5 .* rank 2"):
        tf.gather(tf.reshape(tf.range(6.0), [2, 3]), [1], axis=5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="squeeze: axis 3 .* rank 2"):
        tf.squeeze(tf.ones([2, 1]), axis=3)


# Inputs for ops that take an axis but have no gradient samples (non-differentiable ops).
_AXIS_INPUTS = {
    "argmax": lambda: ((np.ones((2, 3), np.float32),), {}),
    "argmin": lambda: ((np.ones((2, 3), np.float32),), {}),
    "one_hot": lambda: ((np.array([0, 1]), 3), {}),
    "linspace": lambda: ((0.0, 1.0, 5), {}),
    "argsort": lambda: ((np.array([[3.0, 1.0], [2.0, 5.0]], np.float32),), {}),
    "math.bincount": lambda: ((np.array([[0, 1], [2, 1]], np.int32),), {}),
    "math.count_nonzero": lambda: ((np.array([[0.0, 1.0], [2.0, 0.0]], np.float32),), {}),
    "reduce_any": lambda: ((np.ones((2, 3), bool),), {}),
    "reduce_all": lambda: ((np.ones((2, 3), bool),), {}),
}


def _axis_cases():
    for key, info in sorted(REGISTRY.items()):
        try:
            parameters = inspect.signature(info.function).parameters
        except (TypeError, ValueError):
            continue
        if "axis" in parameters:
            yield pytest.param(key, id=key)


def _sample_call(key):
    info = REGISTRY[key]
    if key in _AXIS_INPUTS:
        return _AXIS_INPUTS[key]()
    if info.samples is not None:
        return info.samples(np.random.default_rng(0))[0]
    pytest.fail(f"{key} takes an axis but has no samples: add an input to _AXIS_INPUTS")


@pytest.mark.parametrize("key", list(_axis_cases()))
@pytest.mark.parametrize("axis", [7, -8])
def test_every_op_refuses_an_axis_out_of_range(key, axis):
    """Every registry op with an `axis` argument raises for an axis outside [-rank, rank),
    naming the op, and never wraps it modulo the rank (ranks here are at most 6)."""
    info = REGISTRY[key]
    args, kwargs = _sample_call(key)
    bound = inspect.signature(info.function).bind_partial(*args, **kwargs)
    bound.arguments["axis"] = axis
    lifted = {name: tf.constant(value) if isinstance(value, np.ndarray) else
              [tf.constant(v) for v in value] if isinstance(value, list) and value and
              isinstance(value[0], np.ndarray) else value
              for name, value in bound.arguments.items()}
    with pytest.raises(tf.errors.InvalidArgumentError, match="axis") as caught:
        info.function(**lifted)
    assert str(axis) in str(caught.value), "the error names the axis"


@pytest.mark.parametrize("function,args", [
    (tf.unstack, (tf.ones([2, 3]),)),
    (tf.split, (tf.ones([2, 4]), 2)),
    (tf.stack, ([tf.ones([2]), tf.ones([2])],)),
    (tf.expand_dims, (tf.ones([2]),)),
], ids=["unstack", "split", "stack", "expand_dims"])
def test_list_and_result_axis_ops_refuse_an_axis_out_of_range(function, args):
    with pytest.raises(tf.errors.AxisError, match="axis 5 is out of range"):
        function(*args, axis=5)


def test_axis_error_is_both_tensorflow_and_python_classes():
    with pytest.raises(ValueError):
        tf.reduce_sum(tf.ones([2]), axis=1)
    with pytest.raises(IndexError):
        tf.reduce_sum(tf.ones([2]), axis=1)


# --- strings ----------
def test_string_tensors():
    s = tf.constant("abc")
    assert s.dtype == tf.string and s.shape == ()
    assert repr(s) == "<tf.Tensor: shape=(), dtype=string, numpy=b'abc'>"
    words = tf.constant(["Gray", "wolf"])
    assert repr(words) == ("<tf.Tensor: shape=(2,), dtype=string, "
                           "numpy=array([b'Gray', b'wolf'], dtype=object)>")
    assert bool(s == "abc") and not bool(s != tf.constant("abc"))
    np.testing.assert_array_equal((words == "wolf").numpy(), [False, True])
    assert (s + tf.constant("d")).numpy() == b"abcd"  # TensorFlow's Add concatenates strings
    assert tf.constant(b"\xff").numpy() == b"\xff"  # bytes are kept as they are


@pytest.mark.parametrize("expression", [
    lambda: tf.constant("abc") + 1.0,
    lambda: tf.constant("abc") * tf.constant("d"),
    lambda: 2 - tf.constant(["a"]),
    lambda: tf.constant("a") < tf.constant("b"),
    lambda: tf.exp(tf.constant("a")),
])
def test_string_arithmetic_is_refused(expression):
    # TensorFlow raises; tensorflowish raises an error that is a TypeError and an
    # InvalidArgumentError, naming the op and both dtypes
    with pytest.raises(TypeError, match="string"):
        expression()
    with pytest.raises(tf.errors.InvalidArgumentError):
        expression()


# --- dtypes and integer arithmetic ----------
def test_integer_division_by_zero_raises():
    # TensorFlow raises InvalidArgumentError "Integer division by zero" for both
    with pytest.raises(tf.errors.InvalidArgumentError, match="floordiv: Integer division by zero"):
        tf.constant([7]) // tf.constant([0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="floormod: Integer division by zero"):
        tf.constant([7]) % tf.constant([0])
    # floats follow IEEE as in TensorFlow: 7.0 // 0.0 = inf, 7.0 % 0.0 = nan
    assert float(tf.constant(7.0) // tf.constant(0.0)) == np.inf
    assert np.isnan(float(tf.constant(7.0) % tf.constant(0.0)))


def test_dtype_rules_of_the_issue():
    assert tf.reduce_sum(tf.constant([1, 2])).dtype == tf.int32  # TensorFlow: int32
    assert tf.reduce_prod(tf.constant([1, 2])).dtype == tf.int32
    assert tf.reduce_sum(tf.constant([1, 2]), axis=0, keepdims=True).dtype == tf.int32
    assert tf.constant(2**31).dtype == tf.int64
    assert tf.constant([1, 2**40]).dtype == tf.int64
    assert tf.constant(-2**31).dtype == tf.int32
    with pytest.raises(ValueError, match="int64"):
        tf.constant(2**63)
    assert tf.nn.gelu(tf.constant([1.0])).dtype == tf.float32
    assert tf.nn.gelu(tf.constant([1.0]), approximate=True).dtype == tf.float32


# --- numerics at the edges ----------
def test_logsumexp_of_a_fully_masked_row():
    x = tf.constant([[-np.inf, -np.inf], [0.0, -np.inf]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_logsumexp(x, axis=1)
    # TensorFlow gives [-inf, 0] and the gradient [[nan, nan], [1, 0]]
    np.testing.assert_array_equal(y.numpy(), [-np.inf, 0.0])
    grad = tape.gradient(y, x).numpy()
    assert np.isnan(grad[0]).all()
    np.testing.assert_array_equal(grad[1], [1.0, 0.0])


def test_softmax_of_a_fully_masked_row_is_nan_as_in_tensorflow():
    x = tf.constant([[-np.inf, -np.inf], [0.0, -np.inf]])
    with np.errstate(invalid="ignore"):
        soft, log_soft = tf.nn.softmax(x).numpy(), tf.nn.log_softmax(x).numpy()
    assert np.isnan(soft[0]).all() and np.isnan(log_soft[0]).all()
    np.testing.assert_array_equal(soft[1], [1.0, 0.0])
    np.testing.assert_array_equal(log_soft[1], [0.0, -np.inf])


# --- small API faults ----------
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=["0-d", "1-d", "2-d"])
@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("Adam", {}), ("AdamW", {}), ("RMSprop", {}), ("RMSprop", {"momentum": 0.5}),
])
def test_every_optimizer_updates_variables_of_any_rank(name, kwargs, shape):
    optimizer = getattr(tf.keras.optimizers, name)(learning_rate=0.1, **kwargs)
    variable = tf.Variable(tf.fill(shape, 2.0))
    for _ in range(2):
        optimizer.apply_gradients([(tf.fill(shape, 0.5), variable)])
    values = variable.numpy()
    assert values.shape == shape and np.isfinite(values).all() and (values < 2.0).all()
    assert len(np.unique(values)) == 1  # every element took the same two steps


def test_formatting_and_numpy_interop():
    loss = tf.constant(0.123456)
    assert f"{loss:.4f}" == "0.1235" and format(loss, ".2e") == "1.23e-01"
    assert f"{tf.constant(3)}" == str(tf.constant(3))
    result = np.add(tf.constant([1.0, 2.0]), 1)
    assert type(result) is np.ndarray  # as TensorFlow: NumPy functions give ndarrays
    np.testing.assert_array_equal(result, [2.0, 3.0])
    assert isinstance(np.ones(2, np.float32) + tf.constant([1.0, 2.0]), tf.Tensor)
    assert float(np.mean(tf.constant([1.0, 3.0]))) == 2.0


def test_print_of_a_variable_shows_what_tensorflow_shows(capsys):
    print(tf.Variable([1.0, 2.0], name="w"))
    assert capsys.readouterr().out.strip() == (
        "<tf.Variable 'w:0' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>")


def test_strict_message_for_a_variable_read_outside_the_tape():
    w = tf.Variable(2.0, name="outside")
    y = w * 3.0  # read before the tape starts
    tf.debugging.enable_strict_gradients()
    try:
        with tf.GradientTape() as tape:
            loss = y * y
        with pytest.raises(ValueError, match="no op on this tape read it: it was read outside"):
            tape.gradient(loss, w)
    finally:
        tf.debugging.enable_strict_gradients(False)


# --- error classes ----------
def test_error_classes_keep_their_python_base():
    errors = tf.errors
    for name in ("InvalidArgumentError", "NotFoundError", "ResourceExhaustedError",
                 "OutOfRangeError", "FailedPreconditionError", "UnimplementedError"):
        assert issubclass(getattr(errors, name), errors.OpError)
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        tf.reshape(tf.zeros([2, 3]), [4])
    assert isinstance(caught.value, ValueError) and "[2,3]" in caught.value.message
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant([1.0]) + tf.constant([1.0], tf.float64)  # also a TypeError
    assert issubclass(tf.errors.NotFoundError, FileNotFoundError)
    assert issubclass(tf.errors.OutOfRangeError, IndexError)
    assert issubclass(tf.errors.UnimplementedError, NotImplementedError)
    assert issubclass(tf.errors.ResourceExhaustedError, MemoryError)


# --- soft device placement ----------
def test_soft_device_placement_without_a_gpu(monkeypatch):
    from tensorflowish import backend

    monkeypatch.setattr(backend, "gpu_unavailable_reason", lambda: "No NVIDIA driver found.")
    monkeypatch.setattr(backend, "_soft_placement_warned", set())
    with pytest.warns(RuntimeWarning, match="No NVIDIA driver found.*CPU:0"):
        with tf.device("GPU:0"):
            t = tf.ones([2])
    assert t.device.endswith("CPU:0")
    tf.config.set_soft_device_placement(False)
    try:
        with pytest.raises(tf.BackendError, match="No NVIDIA driver"):
            with tf.device("GPU:0"):
                pass
    finally:
        tf.config.set_soft_device_placement(True)


# --- all-or-nothing updates -------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["shape", "dtype", "count"])
def test_set_weights_is_all_or_nothing(bad):
    model = tf.keras.Sequential([tf.keras.layers.Dense(3), tf.keras.layers.Dense(2)])
    model.build((None, 4))
    before = model.get_weights()
    values = [np.full(w.shape, 7.0, np.float32) for w in before]
    if bad == "shape":
        values[-1] = np.ones(5, np.float32)  # the last one is wrong: nothing may be assigned
    elif bad == "dtype":
        values[-1] = np.array(["a", "b"])
    else:
        values = values[:-1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="nothing was assigned|one array"):
        model.set_weights(values)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    with pytest.raises(ValueError):  # the Python base class still catches it
        model.layers[0].set_weights(values[:1])


def test_keras_losses_take_reduction_none():
    loss = tf.keras.losses.MeanSquaredError(reduction=None)
    values = loss(tf.constant([[1.0], [3.0]]), tf.constant([[0.0], [0.0]]))
    np.testing.assert_allclose(values.numpy(), [1.0, 9.0])  # Keras 3: one loss per sample


def test_scalars_print_as_tensorflow_prints_them():
    # TensorFlow 2.21: NumPy's float32 digits, and b'...' for a string
    assert str(tf.constant(1.0202879905700684)) == "tf.Tensor(1.020288, shape=(), dtype=float32)"
    assert repr(tf.constant(1.5)) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.5>"
    assert str(tf.constant("ab")) == "tf.Tensor(b'ab', shape=(), dtype=string)"
