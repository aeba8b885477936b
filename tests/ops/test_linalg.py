"""tf.linalg forward values against NumPy/SciPy, TensorFlow's outputs, and errors.

Gradients are checked by tests/test_gradients.py (finite differences from the registry).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import tensorflowish as tf


@pytest.fixture
def matrices(rng):
    a = rng.normal(size=(2, 4, 4)) + 4 * np.eye(4)
    spd = a @ np.swapaxes(a, -1, -2)
    return a, spd


def test_inverse_determinants_and_solves(matrices, rng, device):
    a, spd = matrices
    b = rng.normal(size=(2, 4, 3))
    np.testing.assert_allclose(tf.linalg.inv(a).numpy(), np.linalg.inv(a), rtol=1e-10)
    np.testing.assert_allclose(tf.linalg.inv(a, adjoint=True).numpy(),
                               np.linalg.inv(np.swapaxes(a, -1, -2)), rtol=1e-10)
    np.testing.assert_allclose(tf.linalg.det(a).numpy(), np.linalg.det(a), rtol=1e-10)
    sign, logabs = tf.linalg.slogdet(-a)
    np.testing.assert_allclose(sign.numpy(), np.linalg.slogdet(-a)[0])
    np.testing.assert_allclose(logabs.numpy(), np.linalg.slogdet(-a)[1], rtol=1e-10)
    np.testing.assert_allclose(tf.linalg.logdet(spd).numpy(), np.linalg.slogdet(spd)[1],
                               rtol=1e-10)
    np.testing.assert_allclose(tf.linalg.solve(a, b).numpy(), np.linalg.solve(a, b), rtol=1e-9)
    np.testing.assert_allclose(tf.linalg.solve(a, b, adjoint=True).numpy(),
                               np.linalg.solve(np.swapaxes(a, -1, -2), b), rtol=1e-9)
    for lower in (True, False):
        for adjoint in (False, True):
            expected = np.stack([scipy.linalg.solve_triangular(
                a[i], b[i], lower=lower, trans=1 if adjoint else 0) for i in range(2)])
            got = tf.linalg.triangular_solve(a, b, lower=lower, adjoint=adjoint).numpy()
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_float32_results_keep_their_dtype(device):
    a = tf.constant([[2.0, 1.0], [1.0, 3.0]])
    for result in (tf.linalg.inv(a), tf.linalg.det(a), tf.linalg.cholesky(a),
                   tf.linalg.expm(a), tf.linalg.slogdet(a)[1], tf.linalg.eigh(a)[0],
                   tf.linalg.svd(a)[0], tf.linalg.pinv(a), tf.norm(a)):
        assert result.dtype == tf.float32
    assert tf.linalg.det(a).numpy() == pytest.approx(5.0)


def test_cholesky_family(matrices, rng, device):
    _, spd = matrices
    chol = tf.linalg.cholesky(spd).numpy()
    np.testing.assert_allclose(chol, np.linalg.cholesky(spd), rtol=1e-10)
    upper_garbage = spd + np.triu(rng.normal(size=spd.shape), 1)  # only the lower triangle read
    np.testing.assert_allclose(tf.linalg.cholesky(upper_garbage).numpy(), chol, rtol=1e-10)
    b = rng.normal(size=(2, 4, 2))
    expected = np.stack([scipy.linalg.cho_solve((chol[i], True), b[i]) for i in range(2)])
    np.testing.assert_allclose(tf.linalg.cholesky_solve(chol, b).numpy(), expected, rtol=1e-9)


def test_least_squares_and_pseudo_inverse(rng, device):
    tall, wide = rng.normal(size=(6, 3)), rng.normal(size=(3, 5))
    b_tall, b_wide = rng.normal(size=(6, 2)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(tf.linalg.lstsq(tall, b_tall).numpy(),
                               np.linalg.lstsq(tall, b_tall, rcond=None)[0], rtol=1e-8)
    np.testing.assert_allclose(tf.linalg.lstsq(wide, b_wide).numpy(),
                               np.linalg.lstsq(wide, b_wide, rcond=None)[0], rtol=1e-8)
    np.testing.assert_allclose(tf.linalg.lstsq(tall, b_tall, fast=False).numpy(),
                               np.linalg.lstsq(tall, b_tall, rcond=None)[0], rtol=1e-8)
    ridge = np.linalg.solve(tall.T @ tall + 0.5 * np.eye(3), tall.T @ b_tall)
    np.testing.assert_allclose(tf.linalg.lstsq(tall, b_tall, l2_regularizer=0.5).numpy(), ridge,
                               rtol=1e-9)
    np.testing.assert_allclose(tf.linalg.pinv(wide).numpy(), np.linalg.pinv(wide), rtol=1e-8)
    # TensorFlow's output for a rank-deficient matrix: tf.linalg.pinv([[1., 2], [2, 4]])
    np.testing.assert_allclose(tf.linalg.pinv(tf.constant([[1.0, 2], [2, 4]])).numpy(),
                               [[0.04, 0.08], [0.08, 0.16]], rtol=1e-5)


def test_decompositions(rng, device):
    a = rng.normal(size=(2, 5, 3))
    q, r = tf.linalg.qr(a)
    nq, nr = np.linalg.qr(a)
    np.testing.assert_allclose(q.numpy(), nq, rtol=1e-10)
    np.testing.assert_allclose(r.numpy(), nr, rtol=1e-10)
    assert tf.linalg.qr(a, full_matrices=True).q.shape == (2, 5, 5)
    # TensorFlow's signs (both use LAPACK's Householder QR)
    tq, tr = tf.linalg.qr(tf.constant([[1.0, 2], [3, 4], [5, 6]]))
    np.testing.assert_allclose(tr.numpy(), [[-5.91608, -7.437357], [0, 0.82807845]], rtol=1e-5)
    np.testing.assert_allclose(tq.numpy()[:, 0], [-0.16903079, -0.5070925, -0.8451542],
                               rtol=1e-5)
    s, u, v = tf.linalg.svd(a)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-10)
    rebuilt = u.numpy() @ (s.numpy()[..., None] * np.swapaxes(v.numpy(), -1, -2))
    np.testing.assert_allclose(rebuilt, a, atol=1e-12)
    np.testing.assert_allclose(tf.linalg.svd(a, compute_uv=False).numpy(), s.numpy())
    symmetric = a[:, :3] + np.swapaxes(a[:, :3], -1, -2)
    e, vectors = tf.linalg.eigh(symmetric)
    np.testing.assert_allclose(e.numpy(), np.linalg.eigvalsh(symmetric), rtol=1e-10)
    np.testing.assert_allclose(vectors.numpy() @ (e.numpy()[..., None] *
                                                  np.swapaxes(vectors.numpy(), -1, -2)),
                               symmetric, atol=1e-12)
    np.testing.assert_allclose(tf.linalg.eigvalsh(symmetric).numpy(), e.numpy())


def test_expm_matches_scipy(rng, device):
    for scale in (0.1, 1.0, 20.0):  # the last needs scaling and squaring
        a = rng.normal(size=(3, 3)) * scale
        np.testing.assert_allclose(tf.linalg.expm(a).numpy(), scipy.linalg.expm(a), rtol=1e-9)


def test_structure_ops(device):
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(tf.linalg.diag_part(x).numpy(), [0, 5, 10])
    np.testing.assert_array_equal(tf.linalg.diag_part(x, k=1).numpy(), [1, 6, 11])  # as TF
    np.testing.assert_array_equal(tf.linalg.diag_part(x, k=-1).numpy(), [4, 9])
    np.testing.assert_array_equal(tf.linalg.diag([1.0, 2.0], k=1).numpy(),
                                  [[0, 1, 0], [0, 0, 2], [0, 0, 0]])
    np.testing.assert_array_equal(tf.linalg.diag([[1, 2], [3, 4]]).numpy(),
                                  [[[1, 0], [0, 2]], [[3, 0], [0, 4]]])
    expected = x.copy()
    expected[[0, 1, 2], [0, 1, 2]] = [-1, -2, -3]
    np.testing.assert_array_equal(tf.linalg.set_diag(x, [-1.0, -2, -3]).numpy(), expected)
    assert x[0, 0] == 0  # the input is not changed
    np.testing.assert_array_equal(tf.linalg.band_part(x, 1, 0).numpy(),
                                  [[0, 0, 0, 0], [4, 5, 0, 0], [0, 9, 10, 0]])
    np.testing.assert_array_equal(tf.linalg.band_part(x, 0, -1).numpy(), np.triu(x))
    assert float(tf.linalg.trace(x)) == 15.0
    assert tf.linalg.matrix_transpose(np.zeros((2, 3, 4))).shape == (2, 4, 3)


@pytest.mark.parametrize("order,axis,expected", [
    ("euclidean", None, lambda x: np.sqrt((x ** 2).sum())),
    (1, 1, lambda x: np.abs(x).sum(1)),
    (np.inf, 0, lambda x: np.abs(x).max(0)),
    (3, -1, lambda x: (np.abs(x) ** 3).sum(-1) ** (1 / 3)),
    ("fro", (0, 1), lambda x: np.linalg.norm(x, "fro")),
    (1, (0, 1), lambda x: np.linalg.norm(x, 1)),
    (2, (0, 1), lambda x: np.linalg.norm(x, 2)),
    (np.inf, (0, 1), lambda x: np.linalg.norm(x, np.inf)),
])
def test_norm(order, axis, expected, rng, device):
    x = rng.normal(size=(3, 4))
    got = tf.norm(x, ord=order, axis=axis)
    np.testing.assert_allclose(got.numpy(), expected(x), rtol=1e-10)
    assert tf.norm(x, ord=order, axis=axis, keepdims=True).ndim == 2


def test_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="not invertible"):
        tf.linalg.inv(tf.zeros([2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be square.*\[2,3\]"):
        tf.linalg.inv(tf.zeros([2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="positive definite"):
        tf.linalg.cholesky(-tf.eye(2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank >= 2"):
        tf.linalg.det(tf.ones([3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="number of equations"):
        tf.linalg.solve(tf.eye(3), tf.ones([2, 1]))
    with pytest.raises(TypeError, match="expects float32, float64 or complex.*int32"):
        tf.linalg.inv(tf.constant([[1, 0], [0, 1]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="matrix norm"):
        tf.norm(tf.ones([2, 2]), ord=3, axis=[0, 1])
    with pytest.raises(tf.errors.UnimplementedError, match="full_matrices"):
        x = tf.constant(np.ones((4, 2)) + np.eye(4, 2))
        with tf.GradientTape() as tape:
            tape.watch(x)
            q = tf.linalg.qr(x, full_matrices=True).q
        tape.gradient(q, x)


def test_second_order_gradient_of_inverse():
    """VJPs are written with ops, so a gradient of a gradient works (checked numerically)."""
    a0 = np.array([[3.0, 1.0], [0.5, 2.0]])

    def first_gradient(a_array):
        a = tf.constant(a_array)
        with tf.GradientTape() as tape:
            tape.watch(a)
            y = tf.reduce_sum(tf.linalg.inv(a))
        return tape.gradient(y, a)

    a = tf.constant(a0)
    with tf.GradientTape() as outer:
        outer.watch(a)
        with tf.GradientTape() as inner:
            inner.watch(a)
            y = tf.reduce_sum(tf.linalg.inv(a))
        g = inner.gradient(y, a)
        z = tf.reduce_sum(g * g)
    analytic = outer.gradient(z, a).numpy()
    numeric = np.zeros_like(a0)
    for i in np.ndindex(a0.shape):
        step = np.zeros_like(a0)
        step[i] = 1e-6
        plus = np.sum(first_gradient(a0 + step).numpy() ** 2)
        minus = np.sum(first_gradient(a0 - step).numpy() ** 2)
        numeric[i] = (plus - minus) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5)
