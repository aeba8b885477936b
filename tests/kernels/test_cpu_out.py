"""The ``out=`` paths of the NumPy kernels (the buffers a replay plan keeps from call to call):
each writes exactly what the allocating path returns, and the reference, into a poisoned
buffer, and returns that buffer."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflowish.kernels import cpu

N, K, M = 33, 17, 45  # odd sizes, not multiples of any block


def _poisoned(shape, dtype):
    buffer = np.empty(shape, dtype)
    buffer.fill(np.nan)
    return buffer


def _same_bits(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.fixture(params=[np.float32, np.float64])
def dtype(request):
    return np.dtype(request.param)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "gelu"])
def test_dense_forward_into(activation, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, K)).astype(dtype)
    kernel = (rng.standard_normal((K, M)) / np.sqrt(K)).astype(dtype)
    bias = rng.standard_normal(M).astype(dtype)
    z = x.astype(np.float64) @ kernel + bias
    reference = {"linear": z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)),
                 "tanh": np.tanh(z)}.get(activation)
    buffer = _poisoned((N, M), dtype)
    y, pre = cpu.dense_forward(x, kernel, bias, activation, 0.2, out=buffer)
    assert y is buffer
    fresh, fresh_pre = cpu.dense_forward(x, kernel, bias, activation, 0.2)
    _same_bits(y, fresh)
    if reference is not None:
        np.testing.assert_allclose(y, reference, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-13)
    else:
        _same_bits(pre, fresh_pre)
        np.testing.assert_allclose(pre, z, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, False)])
def test_dense_backward_into(needs, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, K)).astype(dtype)
    kernel = rng.standard_normal((K, M)).astype(dtype)
    y = np.maximum(rng.standard_normal((N, M)), 0).astype(dtype)
    dy = rng.standard_normal((N, M)).astype(dtype)
    g = dy.astype(np.float64) * (y > 0)
    references = (g @ kernel.T.astype(np.float64), x.T.astype(np.float64) @ g, g.sum(axis=0))
    buffers = tuple(_poisoned(shape, dtype) if need else None
                    for shape, need in zip([(N, K), (K, M), (M,)], needs))
    results = cpu.dense_backward(dy, x, kernel, y, None, "relu", 0.2, *needs, False,
                                 out=buffers)
    fresh = cpu.dense_backward(dy, x, kernel, y, None, "relu", 0.2, *needs, False)
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    for result, buffer, reference, expected, need in zip(results, buffers, references, fresh,
                                                         needs):
        if not need:
            assert result is None
            continue
        assert result is buffer
        _same_bits(result, expected)
        np.testing.assert_allclose(result, reference, rtol=tolerance, atol=tolerance)


def test_column_and_row_sums_into(dtype):
    a = np.random.default_rng(3).standard_normal((N, M)).astype(dtype)
    columns, rows = _poisoned((M,), dtype), _poisoned((N,), dtype)
    assert cpu.column_sums(a, out=columns) is columns
    assert cpu.row_sums(a, out=rows) is rows
    _same_bits(columns, cpu.column_sums(a))
    _same_bits(rows, cpu.row_sums(a))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(columns, a.astype(np.float64).sum(axis=0), rtol=tolerance,
                               atol=tolerance)
    np.testing.assert_allclose(rows, a.astype(np.float64).sum(axis=1), rtol=tolerance,
                               atol=tolerance)


@pytest.mark.parametrize("which", ["both", "loss", "grad"])
def test_sparse_softmax_cross_entropy_into(which, dtype):
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((N, M)) * 3).astype(dtype)
    labels = rng.integers(0, M, N)
    original = logits.copy()
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    one_hot = np.zeros((N, M))
    one_hot[np.arange(N), labels] = 1
    loss_buffer = _poisoned((N,), dtype) if which != "grad" else None
    grad_buffer = _poisoned((N, M), dtype) if which != "loss" else None
    loss, grad = cpu.sparse_softmax_cross_entropy(logits, labels, out=(loss_buffer, grad_buffer))
    fresh_loss, fresh_grad = cpu.sparse_softmax_cross_entropy(logits, labels)
    if loss_buffer is not None:
        assert loss is loss_buffer
    if grad_buffer is not None:
        assert grad is grad_buffer
    _same_bits(loss, fresh_loss)
    _same_bits(grad, fresh_grad)
    _same_bits(logits, original)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, -log_softmax[np.arange(N), labels], rtol=tolerance,
                               atol=tolerance)
    np.testing.assert_allclose(grad, np.exp(log_softmax) - one_hot, rtol=tolerance,
                               atol=tolerance)


# ---- the convolution and max-pool kernels (kernels/conv_cpu.py) ------------------------------
def _conv_reference(x, kernel, pads):
    """A direct NHWC convolution (stride 1), float64."""
    top, bottom, left, right = pads
    padded = np.pad(x.astype(np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, o = kernel.shape
    out_h, out_w = padded.shape[1] - kh + 1, padded.shape[2] - kw + 1
    y = np.zeros((x.shape[0], out_h, out_w, o))
    for i in range(kh):
        for j in range(kw):
            y += padded[:, i:i + out_h, j:j + out_w, :] @ kernel[i, j].astype(np.float64)
    return y


@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 1, 1, 1)])
def test_conv_forward_and_backward_into(pads, dtype):
    from tensorflowish.kernels import conv_cpu

    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 7, 6, 3)).astype(dtype)
    kernel = rng.standard_normal((3, 3, 3, 4)).astype(dtype)
    bias = rng.standard_normal(4).astype(dtype)
    arguments = ((1, 1), (1, 1), pads, 1, "linear", 0.2)
    y_shape = _conv_reference(x, kernel, pads).shape
    buffer = _poisoned(y_shape, dtype)
    y, _, patches = conv_cpu.conv_forward(x, kernel, bias, *arguments, out=buffer)
    assert y is buffer
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, _conv_reference(x, kernel, pads) + bias, rtol=tolerance,
                               atol=tolerance)
    _same_bits(y, conv_cpu.conv_forward(x, kernel, bias, *arguments)[0])
    dy = rng.standard_normal(y_shape).astype(dtype)
    buffers = (_poisoned(x.shape, dtype), None, _poisoned((4,), dtype))
    dx, dkernel, dbias = conv_cpu.conv_backward(dy, x, kernel, y, None, patches, *arguments,
                                                True, True, True, None, False, buffers)
    assert dx is buffers[0] and dbias is buffers[2]
    fresh = conv_cpu.conv_backward(dy, x, kernel, y, None, None, *arguments, True, True, True)
    for got, want in zip((dx, dkernel, dbias), fresh):
        _same_bits(got, want)
    # dx against the adjoint of the reference: <conv(x), dy> = <x, dx>
    probe = rng.standard_normal(x.shape)
    np.testing.assert_allclose((_conv_reference(probe, kernel, pads) * dy).sum(),
                               (probe * dx).sum(), rtol=1e-4 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(dbias, dy.astype(np.float64).sum(axis=(0, 1, 2)),
                               rtol=tolerance, atol=tolerance)


def test_max_pool_and_backward_into(dtype):
    from tensorflowish.kernels import conv_cpu

    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 4, 3)).astype(dtype)
    arguments = ((2, 2), (2, 2), (1, 1), (0, 0, 0, 0))
    reference = x.reshape(2, 3, 2, 2, 2, 3).max(axis=(2, 4))
    y_buffer, argmax_buffer = _poisoned((2, 3, 2, 3), dtype), np.full((2, 3, 2, 3), 7, np.int32)
    y, argmax = conv_cpu.max_pool(x, *arguments, out=(y_buffer, argmax_buffer))
    assert y is y_buffer and argmax is argmax_buffer
    np.testing.assert_array_equal(y, reference)
    fresh_y, fresh_argmax = conv_cpu.max_pool(x, *arguments)
    _same_bits(y, fresh_y)
    np.testing.assert_array_equal(argmax, fresh_argmax)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx_buffer = _poisoned(x.shape, dtype)
    dx = conv_cpu.max_pool_backward(dy, argmax, x.shape, *arguments, out=dx_buffer)
    assert dx is dx_buffer
    _same_bits(dx, conv_cpu.max_pool_backward(dy, fresh_argmax, x.shape, *arguments))
    winners = (x == np.repeat(np.repeat(reference, 2, axis=1), 2, axis=2))
    np.testing.assert_array_equal(dx, np.where(winners, np.repeat(np.repeat(dy, 2, axis=1), 2,
                                                                   axis=2), 0))
