"""The public kernel functions beyond the table of tests/kernels/test_kernels.py: stability for
huge logits, labels out of range, results skipped when not needed, the errors they raise, Adam
against Keras's formula over several steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorflowish.kernels import cuda, emulator

from tensorflowish import kernels


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], dtype=np.float32)
    labels = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    loss, grad = kernels.softmax_cross_entropy(logits, labels)
    np.testing.assert_allclose(loss, [2000.0, 0.0])
    np.testing.assert_allclose(grad, [[1, -1, 0], [0, 0, 0]], atol=1e-6)
    loss, grad = kernels.sparse_softmax_cross_entropy(logits, np.array([1, 2]))
    np.testing.assert_allclose(loss, [2000.0, 0.0])
    assert np.isfinite(grad).all()


def test_sparse_labels_out_of_range() -> None:
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels\[1\] = 4"):
        kernels.sparse_softmax_cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        kernels.sparse_softmax_cross_entropy(logits, np.zeros(3))
    # the GPU kernel cannot raise: the row becomes NaN, as in TensorFlow
    runner = cuda.KernelRunner(
        np, lambda f: emulator.load(kernels.KERNEL_DIR / f), lambda s, d: np.zeros(s, d)
    )
    loss, grad = cuda.sparse_softmax_cross_entropy(runner, logits, np.array([0, 4, 1]))
    assert np.isnan(loss[1]) and np.isnan(grad[1]).all()
    assert np.isfinite(loss[[0, 2]]).all() and np.isfinite(grad[[0, 2]]).all()


def test_dense_backward_skips_unneeded_results_and_keeps_dy() -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    y, pre = kernels.dense_forward(x, w, None, "tanh")
    dy = rng.standard_normal((5, 4))
    dy_before = dy.copy()
    dx, dkernel, dbias = kernels.dense_backward(
        dy, x, w, y, pre, "tanh", need_dx=False, need_dbias=False
    )
    assert dx is None and dbias is None and dkernel.shape == (3, 4)
    np.testing.assert_array_equal(dy, dy_before)
    kernels.dense_backward(dy, x, w, y, pre, "tanh", overwrite_dy=True)
    np.testing.assert_allclose(dy, dy_before * (1 - y**2))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: kernels.dense_forward(np.ones((2, 3)), np.ones((4, 5))), ValueError, "3 features"),
        (
            lambda: kernels.dense_forward(np.ones((2, 3)), np.ones((3, 5)), np.ones(4)),
            ValueError,
            r"bias must have shape \(5,\)",
        ),
        (
            lambda: kernels.dense_forward(np.ones((2, 3)), np.ones((3, 5), np.float32)),
            TypeError,
            "cast them to one dtype",
        ),
        (
            lambda: kernels.dense_forward(np.ones((2, 3), int), np.ones((3, 5), int)),
            TypeError,
            "float32 or float64",
        ),
        (
            lambda: kernels.dense_forward(np.ones((2, 3)), np.ones((3, 5)), activation="swish"),
            ValueError,
            "unknown activation",
        ),
        (
            lambda: kernels.dense_forward(
                np.ones((2, 3)), np.ones((3, 5)), activation="leaky_relu", alpha=-1
            ),
            ValueError,
            "alpha >= 0",
        ),
        (lambda: kernels.dense_forward([[1.0]], np.ones((1, 1))), TypeError, "numpy.ndarray"),
        (
            lambda: kernels.dense_backward(
                np.ones((2, 5)), np.ones((2, 3)), np.ones((3, 5)), np.ones((2, 5)), None, "gelu"
            ),
            ValueError,
            "needs pre",
        ),
        (
            lambda: kernels.sgd_update(np.ones(3), np.ones(3), None, 0.1, momentum=0.9),
            ValueError,
            "velocity",
        ),
        (
            lambda: kernels.adam_update(*[np.ones(3)] * 4, 0.1, 0.9, 0.999, 1e-7, step=0),
            ValueError,
            "step counts from 1",
        ),
        (
            lambda: kernels.softmax_cross_entropy(np.ones((2, 3)), np.ones((2, 4))),
            ValueError,
            "labels must have shape",
        ),
        (
            lambda: kernels.sparse_softmax_cross_entropy(np.ones((2, 0)), np.zeros(2, int)),
            ValueError,
            "at least one class",
        ),
    ],
)
def test_errors_name_the_problem(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_adam_matches_keras_over_several_steps() -> None:
    rng = np.random.default_rng(3)
    param = rng.standard_normal(10)
    expected = param.copy()
    m, v, m_ref, v_ref = (np.zeros(10) for _ in range(4))
    lr, b1, b2, eps, wd = 0.001, 0.9, 0.999, 1e-7, 0.004
    for step in range(1, 6):
        grad = rng.standard_normal(10)
        kernels.adam_update(param, grad, m, v, lr, b1, b2, eps, step, weight_decay=wd)
        expected -= expected * wd * lr
        m_ref = b1 * m_ref + (1 - b1) * grad
        v_ref = b2 * v_ref + (1 - b2) * grad**2
        lr_t = lr * math.sqrt(1 - b2**step) / (1 - b1**step)
        expected -= lr_t * m_ref / (np.sqrt(v_ref) + eps)
    np.testing.assert_allclose(param, expected, rtol=1e-12)
