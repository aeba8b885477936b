"""Convolution and pooling ops: output sizes and values against TensorFlow's own (a table printed
by TensorFlow 2.21) and against a direct nested-loop convolution in float64 written here; the
gradients are in tests/test_gradients.py (from the registry samples)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tf_conv_reference as reference

import tensorflowish as tf


# ---- independent references: loops over every output and tap, no im2col ----------------------
def pads_of(size, k, s, d, padding):
    """TensorFlow's rule, as its documentation states it."""
    if padding == "VALID":
        return 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def direct_conv(x, w, strides, dilations, pads, groups=1):
    """x (N, H, W, C), w (kh, kw, C/groups, O), pads ((top, bottom), (left, right))."""
    n, h, wd, c = x.shape
    kh, kw, cg, o = w.shape
    (pt, pb), (pl, pr) = pads
    out_h = (h + pt + pb - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    out_w = (wd + pl + pr - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    y = np.zeros((n, out_h, out_w, o))
    per_group = o // groups
    for b, oh, ow, oc in itertools.product(range(n), range(out_h), range(out_w), range(o)):
        group = oc // per_group
        total = 0.0
        for i, j, ci in itertools.product(range(kh), range(kw), range(cg)):
            ih = oh * strides[0] + i * dilations[0] - pt
            iw = ow * strides[1] + j * dilations[1] - pl
            if 0 <= ih < h and 0 <= iw < wd:
                total += x[b, ih, iw, group * cg + ci] * w[i, j, ci, oc]
        y[b, oh, ow, oc] = total
    return y


def direct_pool(x, window, strides, pads, kind):
    n, h, wd, c = x.shape
    (pt, pb), (pl, pr) = pads
    out_h = (h + pt + pb - window[0]) // strides[0] + 1
    out_w = (wd + pl + pr - window[1]) // strides[1] + 1
    y = np.zeros((n, out_h, out_w, c))
    for b, oh, ow, ch in itertools.product(range(n), range(out_h), range(out_w), range(c)):
        values = [x[b, ih, iw, ch]
                  for ih in range(oh * strides[0] - pt, oh * strides[0] - pt + window[0])
                  for iw in range(ow * strides[1] - pl, ow * strides[1] - pl + window[1])
                  if 0 <= ih < h and 0 <= iw < wd]
        y[b, oh, ow, ch] = max(values) if kind == "MAX" else sum(values) / len(values)
    return y


# ---- TensorFlow's output sizes and values ----------------------------------------------------
@pytest.mark.parametrize("h,k,s,d,padding,conv_size,pool_size", reference.CONV_SIZES)
def test_output_sizes_match_tensorflow(h, k, s, d, padding, conv_size, pool_size):
    x = tf.zeros([1, h, h + 2, 1])
    assert tuple(tf.nn.conv2d(x, tf.zeros([k, k, 1, 1]), s, padding, dilations=d).shape[1:3]) \
        == conv_size
    if pool_size is not None:
        assert tuple(tf.nn.max_pool2d(x, k, s, padding).shape[1:3]) == pool_size
        assert tuple(tf.nn.avg_pool2d(x, k, s, padding).shape[1:3]) == pool_size


def _reference_input():
    x = np.arange(40, dtype=np.float64).reshape(1, 4, 5, 2) / 10
    return x, np.arange(8, dtype=np.float64).reshape(2, 2, 2, 1) / 10 - 0.3


def test_same_padding_puts_the_odd_row_at_the_bottom_right_as_tensorflow():
    x, w = _reference_input()
    np.testing.assert_allclose(tf.nn.conv2d(x, w, 1, "SAME").numpy(), reference.SAME_2x2_S1,
                               atol=1e-9)
    np.testing.assert_allclose(tf.nn.conv2d(x, w, 2, "SAME").numpy(), reference.SAME_2x2_S2,
                               atol=1e-9)


def test_pooling_values_match_tensorflow():
    x, _ = _reference_input()
    np.testing.assert_allclose(tf.nn.avg_pool2d(x, 3, 2, "SAME").numpy(),
                               reference.AVG_SAME_3_S2, atol=1e-9)
    np.testing.assert_allclose(tf.nn.max_pool2d(-x, 2, 2, "SAME").numpy(),
                               reference.MAX_SAME_2_S2, atol=1e-6)


def test_conv2d_transpose_matches_tensorflow():
    x, _ = _reference_input()
    w = np.arange(18, dtype=np.float64).reshape(3, 3, 1, 2) / 10 - 0.5
    y = tf.nn.conv2d_transpose(x, w, [1, 8, 10, 1], 2, "SAME")
    np.testing.assert_allclose(y.numpy(), reference.TRANSPOSE, atol=1e-9)


# ---- values against the direct loops -----------------------------------------------------------
CONV_CASES = [  # (input shape, kernel shape, strides, dilations, padding)
    ((2, 7, 6, 3), (3, 3, 3, 4), (1, 1), (1, 1), "SAME"),
    ((2, 7, 6, 3), (3, 2, 3, 4), (2, 3), (1, 1), "SAME"),
    ((2, 7, 6, 3), (3, 3, 3, 4), (3, 2), (1, 1), "VALID"),
    ((1, 9, 8, 2), (3, 3, 2, 3), (1, 1), (2, 2), "SAME"),
    ((1, 9, 8, 2), (2, 3, 2, 3), (1, 1), (2, 1), "VALID"),
    ((2, 5, 5, 3), (1, 1, 3, 5), (1, 1), (1, 1), "VALID"),  # 1x1: plain GEMM
    ((2, 5, 5, 3), (1, 1, 3, 5), (2, 2), (1, 1), "SAME"),
    ((2, 6, 5, 4), (3, 3, 2, 6), (1, 1), (1, 1), "SAME"),  # two groups
]


@pytest.mark.parametrize("x_shape,k_shape,strides,dilations,padding", CONV_CASES)
def test_conv2d_matches_a_direct_convolution(x_shape, k_shape, strides, dilations, padding):
    rng = np.random.default_rng(3)
    x, w = rng.uniform(-1, 1, x_shape), rng.uniform(-1, 1, k_shape)
    pads = [pads_of(x_shape[1 + a], k_shape[a], strides[a], dilations[a], padding)
            for a in range(2)]
    want = direct_conv(x, w, strides, dilations, pads, x_shape[3] // k_shape[2])
    got = tf.nn.conv2d(x, w, list(strides), padding, dilations=list(dilations))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    x32 = tf.constant(x.astype(np.float32))
    got32 = tf.nn.conv2d(x32, w.astype(np.float32), list(strides), padding,
                         dilations=list(dilations))
    assert got32.dtype == tf.float32
    np.testing.assert_allclose(got32.numpy(), want, rtol=1e-5, atol=1e-5)


def test_explicit_padding_and_nchw():
    rng = np.random.default_rng(4)
    x, w = rng.uniform(-1, 1, (2, 5, 6, 3)), rng.uniform(-1, 1, (3, 2, 3, 2))
    want = direct_conv(x, w, (1, 2), (1, 1), ((2, 0), (1, 3)))
    got = tf.nn.conv2d(x, w, [1, 1, 2, 1], [[0, 0], [2, 0], [1, 3], [0, 0]])
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    nchw = tf.nn.conv2d(x.transpose(0, 3, 1, 2), w, [1, 1, 1, 2],
                        [[0, 0], [0, 0], [2, 0], [1, 3]], data_format="NCHW")
    np.testing.assert_allclose(nchw.numpy(), want.transpose(0, 3, 1, 2), atol=1e-12)


def test_conv1d_and_dilations():
    rng = np.random.default_rng(5)
    x, w = rng.uniform(-1, 1, (2, 11, 3)), rng.uniform(-1, 1, (3, 3, 4))
    for stride, dilation, padding in [(1, 2, "SAME"), (2, 1, "SAME"), (3, 1, "VALID")]:
        pads = [(0, 0), pads_of(11, 3, stride, dilation, padding)]
        want = direct_conv(x[:, None], w[None], (1, stride), (1, dilation), pads)[:, 0]
        got = tf.nn.conv1d(x, w, stride, padding, dilations=dilation)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_depthwise_and_separable():
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (2, 6, 5, 3))
    depthwise, pointwise = rng.uniform(-1, 1, (3, 3, 3, 2)), rng.uniform(-1, 1, (1, 1, 6, 4))
    pads = [pads_of(6, 3, 2, 1, "SAME"), pads_of(5, 3, 2, 1, "SAME")]
    want = np.concatenate([direct_conv(x[..., c:c + 1], depthwise[:, :, c:c + 1], (2, 2),
                                       (1, 1), pads) for c in range(3)], axis=-1)
    got = tf.nn.depthwise_conv2d(x, depthwise, [1, 2, 2, 1], "SAME")
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)  # channel c * 2 + m
    separable = tf.nn.separable_conv2d(x, depthwise, pointwise, [1, 2, 2, 1], "SAME")
    np.testing.assert_allclose(separable.numpy(), want @ pointwise[0, 0], atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "gelu", "leaky_relu", None])
def test_fused_conv_is_activation_of_conv_plus_bias(activation):
    rng = np.random.default_rng(7)
    x, w, b = rng.uniform(-1, 1, (2, 5, 6, 3)), rng.uniform(-1, 1, (3, 3, 3, 4)), rng.uniform(
        -1, 1, 4)
    z = direct_conv(x, w, (1, 1), (1, 1), [(1, 1), (1, 1)]) + b
    from math import erf
    want = {"relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z),
            "gelu": 0.5 * z * (1 + np.vectorize(erf)(z / np.sqrt(2))),
            "leaky_relu": np.where(z > 0, z, 0.2 * z), None: z}[activation]
    got = tf.nn.conv(x, w, b, padding="SAME", activation=activation)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


@pytest.mark.parametrize("window,strides,padding", [((2, 2), (2, 2), "VALID"),
                                                    ((3, 3), (2, 2), "SAME"),
                                                    ((3, 2), (1, 3), "SAME"),
                                                    ((2, 3), (3, 1), "VALID")])
def test_pools_match_direct_loops(window, strides, padding):
    x = np.random.default_rng(8).uniform(-1, 1, (2, 7, 8, 3))
    pads = [pads_of(x.shape[1 + a], window[a], strides[a], 1, padding) for a in range(2)]
    for kind, op in (("MAX", tf.nn.max_pool2d), ("AVG", tf.nn.avg_pool2d)):
        got = op(x, list(window), list(strides), padding)
        np.testing.assert_allclose(got.numpy(), direct_pool(x, window, strides, pads, kind),
                                   atol=1e-12, err_msg=kind)
    got1d = tf.nn.max_pool1d(x[:, 0], window[1], strides[1], padding)
    want1d = direct_pool(x[:, :1], (1, window[1]), (1, strides[1]), [(0, 0), pads[1]], "MAX")
    np.testing.assert_allclose(got1d.numpy(), want1d[:, 0], atol=1e-12)


def test_max_pool_gradient_goes_to_the_first_maximum_and_overlaps_add_up():
    x = tf.constant([[[[1.0], [3.0], [3.0]], [[0.0], [2.0], [1.0]]]])  # (1, 2, 3, 1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, 2, 1, "VALID")  # windows overlap on the middle column
    grad = tape.gradient(y, x).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(grad, [[0, 2, 0], [0, 0, 0]])


def test_bias_add_data_format():
    value = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(tf.nn.bias_add(value, [1.0, 2.0, 3.0],
                                                 data_format="NCHW").numpy(),
                                  value + np.array([1.0, 2.0, 3.0])[None, :, None])
    np.testing.assert_array_equal(tf.nn.bias_add(value, np.ones(4)).numpy(), value + 1)


# ---- values do not change; reused buffers never leak between calls ---------------------------
def test_inputs_unchanged_and_saved_patches_survive_a_second_call():
    rng = np.random.default_rng(9)
    x1, x2 = rng.uniform(-1, 1, (2, 6, 6, 3)), rng.uniform(-1, 1, (2, 6, 6, 3))
    w = tf.Variable(rng.uniform(-1, 1, (3, 3, 3, 2)))
    copies = (x1.copy(), x2.copy())
    with tf.GradientTape(persistent=True) as tape:
        y1 = tf.reduce_sum(tf.nn.conv(x1, w, padding="SAME", activation="tanh"))
        y2 = tf.reduce_sum(tf.nn.conv(x2, w, padding="SAME", activation="tanh"))  # same shape
    g1, g2 = tape.gradient(y1, w), tape.gradient(y2, w)
    for x, g in ((x1, g1), (x2, g2)):
        with tf.GradientTape() as fresh:
            y = tf.reduce_sum(tf.nn.conv(x, w, padding="SAME", activation="tanh"))
        np.testing.assert_allclose(g.numpy(), fresh.gradient(y, w).numpy(), atol=1e-12)
    np.testing.assert_array_equal(x1, copies[0])
    np.testing.assert_array_equal(x2, copies[1])


def test_second_order_gradient_of_a_convolution():
    rng = np.random.default_rng(10)
    x = tf.constant(rng.uniform(-1, 1, (1, 5, 4, 2)))
    w = tf.constant(rng.uniform(-1, 1, (3, 3, 2, 2)))

    def first_gradient_norm(w_value):
        with tf.GradientTape() as inner:
            inner.watch(w_value)
            y = tf.nn.conv(x, w_value, padding="SAME", activation="tanh")
            loss = tf.reduce_sum(y * y)
        return tf.reduce_sum(tf.square(inner.gradient(loss, w_value)))

    with tf.GradientTape() as outer:
        outer.watch(w)
        value = first_gradient_norm(w)
    analytic = outer.gradient(value, w).numpy()
    eps, numeric = 1e-6, np.zeros(w.shape)
    for index in np.ndindex(*w.shape):
        step = np.zeros(w.shape)
        step[index] = eps
        numeric[index] = (float(first_gradient_norm(tf.constant(w.numpy() + step))) -
                          float(first_gradient_norm(tf.constant(w.numpy() - step)))) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


# ---- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call,message", [
    (lambda: tf.nn.conv2d(tf.zeros([1, 5, 5, 3]), tf.zeros([3, 3, 2, 4]), 1, "SAME"),
     "3 channels but the filter expects 2"),
    (lambda: tf.nn.conv2d(tf.zeros([1, 5, 5, 3]), tf.zeros([3, 3, 3, 4]), 1, "FULL"),
     "padding must be 'SAME', 'VALID'"),
    (lambda: tf.nn.conv2d(tf.zeros([1, 2, 2, 1]), tf.zeros([3, 3, 1, 1]), 1, "VALID"),
     "does not fit"),
    (lambda: tf.nn.conv2d(tf.zeros([5, 5, 3]), tf.zeros([3, 3, 3, 4]), 1, "SAME"),
     "must have rank 4"),
    (lambda: tf.nn.conv2d(tf.zeros([1, 5, 5, 1]), tf.zeros([3, 3, 1, 1]), [2, 2, 2, 2], "SAME"),
     "batch and channel"),
    (lambda: tf.nn.max_pool2d(tf.zeros([1, 5, 5, 1]), 2, 2, "SAME", data_format="NWHC"),
     "data_format"),
    (lambda: tf.nn.conv2d_transpose(tf.zeros([1, 3, 3, 2]), tf.zeros([3, 3, 1, 2]),
                                    [1, 9, 9, 1], 2, "SAME"), "does not fit"),
])
def test_errors_are_invalid_argument_and_say_what_to_do(call, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call()


# ---- gradients for every padding / stride / dilation combination ------------------------------
def _check_gradients(function, arrays, eps=1e-6):
    """Every input's gradient of sum(f(*arrays) * probe) against central differences."""
    tensors = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = function(*tensors)
        probe = tf.constant(np.cos(np.arange(int(np.prod(out.shape)))).reshape(out.shape))
        total = tf.reduce_sum(out * probe)
    grads = tape.gradient(total, tensors)
    for index, (array, grad) in enumerate(zip(arrays, grads)):
        numeric = np.zeros_like(array)
        for position in np.ndindex(*array.shape):
            values = [a.copy() for a in arrays]
            values[index][position] += eps
            plus = float(tf.reduce_sum(function(*map(tf.constant, values)) * probe))
            values[index][position] -= 2 * eps
            minus = float(tf.reduce_sum(function(*map(tf.constant, values)) * probe))
            numeric[position] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=f"input {index}")


PADDINGS = ["SAME", "VALID", [[0, 0], [2, 1], [0, 2], [0, 0]]]


@pytest.mark.parametrize("padding", PADDINGS, ids=["SAME", "VALID", "explicit"])
@pytest.mark.parametrize("strides,dilations",
                         [(1, 1), (2, 1), (3, 1), (1, 2), (2, 2), ([3, 1], [1, 2])])
def test_conv2d_gradients_for_every_combination(padding, strides, dilations):
    rng = np.random.default_rng(13)
    x, w = rng.uniform(-1, 1, (2, 7, 6, 2)), rng.uniform(-1, 1, (3, 2, 2, 3))
    _check_gradients(lambda a, b: tf.nn.conv2d(a, b, strides, padding, dilations=dilations),
                     [x, w])


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides,dilations", [(1, 1), (2, 1), (1, 2)])
def test_depthwise_and_transpose_gradients_for_every_combination(padding, strides, dilations):
    rng = np.random.default_rng(14)
    x, w = rng.uniform(-1, 1, (1, 6, 5, 2)), rng.uniform(-1, 1, (2, 3, 2, 2))
    _check_gradients(lambda a, b: tf.nn.depthwise_conv2d(a, b, [1, strides, strides, 1],
                                                         padding, dilations=[dilations] * 2),
                     [x, w])
    if dilations == 1:
        y = tf.nn.conv2d(tf.zeros([1, 6, 5, 2]), tf.zeros([2, 3, 2, 2]), strides, padding)
        upstream = rng.uniform(-1, 1, tuple(y.shape))
        _check_gradients(lambda a, b: tf.nn.conv2d_transpose(a, b, [1, 6, 5, 2], strides,
                                                             padding), [upstream, w])


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("window,strides", [(2, 1), (2, 2), (3, 2), (3, 3), ([3, 2], [1, 3])])
def test_pool_gradients_for_every_combination(padding, window, strides):
    x = np.random.default_rng(15).permutation(2 * 7 * 6 * 2).reshape(2, 7, 6, 2) / 9.0
    _check_gradients(lambda a: tf.nn.max_pool2d(a, window, strides, padding), [x])
    _check_gradients(lambda a: tf.nn.avg_pool2d(a, window, strides, padding), [x])


def test_empty_batch_and_half_precision():
    empty = tf.nn.conv(tf.zeros([0, 5, 5, 4]), tf.ones([3, 3, 2, 2]), tf.zeros([2]),
                       padding="SAME", activation="relu")  # grouped, no examples
    assert tuple(empty.shape) == (0, 5, 5, 2)
    assert tuple(tf.nn.max_pool2d(tf.zeros([0, 5, 5, 3]), 2, 2, "SAME").shape) == (0, 3, 3, 3)
    rng = np.random.default_rng(16)
    x, w = rng.uniform(-1, 1, (1, 5, 4, 3)), rng.uniform(-1, 1, (3, 3, 3, 2))
    half = tf.nn.conv2d(tf.constant(x.astype(np.float16)), tf.constant(w.astype(np.float16)), 1,
                        "SAME")
    assert half.dtype == tf.float16
    np.testing.assert_allclose(half.numpy(), direct_conv(x, w, (1, 1), (1, 1), [(1, 1), (1, 1)]),
                               atol=2e-2)
