"""einsum, tensordot, matvec and tensor diagonals against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.ops import contractions

EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij,ij->", [(2, 3), (2, 3)]),
    ("...ij,...jk", [(2, 3, 4), (4, 2)]),
    ("...i,...i->...", [(2, 1, 4), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("iij,jk->ki", [(3, 3, 2), (2, 4)]),
    ("i,j->ij", [(3,), (2,)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ab,cd,bc->ad", [(2, 3), (4, 5), (3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("abc,cd->", [(2, 3, 4), (4, 5)]),
    ("i j , j k -> i k", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("equation,shapes", EQUATIONS)
def test_einsum_matches_numpy(equation, shapes, device, rng):
    operands = [rng.normal(size=shape) for shape in shapes]
    out = tf.einsum(equation, *operands)
    expected = np.einsum(equation.replace(" ", ""), *operands)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_einsum_uses_one_matmul_per_pairwise_step(monkeypatch, rng):
    calls = []
    original = contractions.matmul

    def counting(a, b, **kwargs):
        calls.append((tuple(a.shape), tuple(b.shape)))
        return original(a, b, **kwargs)

    monkeypatch.setattr(contractions, "matmul", counting)
    tf.einsum("ij,jk,kl->il", rng.normal(size=(2, 3)), rng.normal(size=(3, 4)),
              rng.normal(size=(4, 2)))
    assert len(calls) == 2  # three operands: two GEMMs, no elementwise product temporaries
    calls.clear()
    tf.einsum("bhqd,bhkd->bhqk", rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 6, 5)))
    assert calls == [((6, 4, 5), (6, 5, 6))]


def test_einsum_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="2 operands"):
        tf.einsum("ij,jk->ik", tf.zeros([2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="shape \\[2,2,2\\]"):
        tf.einsum("ij->i", tf.zeros([2, 2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="size 3"):
        tf.einsum("ij,jk->ik", tf.zeros([2, 3]), tf.zeros([4, 2]))
    with pytest.raises(TypeError, match="dtypes"):
        tf.einsum("i,i->", tf.zeros([2]), tf.zeros([2], dtype=tf.float64))


def test_tensordot(device, rng):
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(3, 4, 5))
    np.testing.assert_allclose(tf.tensordot(a, b, 2).numpy(), np.tensordot(a, b, 2))
    c = rng.normal(size=(4, 2))
    np.testing.assert_allclose(tf.tensordot(a, c, [[2, 0], [0, 1]]).numpy(),
                               np.tensordot(a, c, [[2, 0], [0, 1]]))
    np.testing.assert_allclose(tf.tensordot(a, c, 0).numpy(), np.tensordot(a, c, 0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ"):
        tf.tensordot(a, c, [[1], [0]])


def test_matmul_adjoint_and_matvec(device, rng):
    a, b = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 4))
    np.testing.assert_allclose(tf.linalg.matmul(a, b, adjoint_a=True, adjoint_b=True).numpy(),
                               np.swapaxes(a, 1, 2) @ np.swapaxes(b, 1, 2))
    v = rng.normal(size=(2, 4))
    np.testing.assert_allclose(tf.linalg.matvec(a, v, transpose_a=True).numpy(),
                               np.einsum("bij,bi->bj", a, v))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most one"):
        tf.matmul(a, b, transpose_a=True, adjoint_a=True)


def test_tensor_diag_and_part(device, rng):
    d = rng.normal(size=(2, 3))
    full = tf.linalg.tensor_diag(d).numpy()
    expected = np.zeros((2, 3, 2, 3))
    for i in range(2):
        for j in range(3):
            expected[i, j, i, j] = d[i, j]
    np.testing.assert_array_equal(full, expected)
    np.testing.assert_array_equal(tf.linalg.tensor_diag_part(expected).numpy(), d)
