"""tf.random: Generator and the stateless ops are reproducible (runs, backends), independent
between seeds, and draw from the right distributions; errors as TensorFlow's."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def test_same_numbers_on_every_run_and_backend(device):
    """Pinned values: a change of these numbers breaks every user's reproducibility."""
    np.testing.assert_allclose(
        tf.random.Generator.from_seed(1).normal([3], dtype=tf.float64).numpy(),
        [1.02028797736073, 0.7597131895605167, -0.24583790273512823], rtol=1e-12)
    np.testing.assert_allclose(
        tf.random.stateless_normal([3], seed=[1, 2], dtype=tf.float64).numpy(),
        [-0.24173119641072127, -0.7862551337563964, -0.6301779781892647], rtol=1e-12)
    ints = tf.random.stateless_uniform([3], seed=[1, 2], minval=0, maxval=100, dtype=tf.int32)
    assert ints.numpy().tolist() == [70, 30, 13] and ints.dtype == tf.int32
    assert tf.random.stateless_normal([2], seed=tf.constant([1, 2], dtype=tf.int64)).device \
        .endswith(device)


def test_generator_state_and_reproducibility():
    g = tf.random.Generator.from_seed(7)
    assert g.state.dtype == tf.int64 and g.state.shape == (3,) and g.algorithm == 1
    first = g.normal([4]).numpy()
    second = g.normal([4]).numpy()
    assert not np.array_equal(first, second)  # the state advanced
    g.reset_from_seed(7)
    np.testing.assert_array_equal(g.normal([4]).numpy(), first)
    copy = tf.random.Generator(copy_from=g)
    np.testing.assert_array_equal(copy.normal([4]).numpy(), g.normal([4]).numpy())
    restored = tf.random.Generator.from_state(copy.state, alg="philox")
    np.testing.assert_array_equal(restored.uniform([3]).numpy(), copy.uniform([3]).numpy())
    other = tf.random.Generator.from_seed(8).normal([4]).numpy()
    assert not np.array_equal(other, first)
    a, b = g.split(2)
    assert not np.array_equal(a.normal([4]).numpy(), b.normal([4]).numpy())
    g.reset_from_seed(7)
    again = g.split(2)[0]
    a.reset(again.state)  # same state, same numbers
    np.testing.assert_array_equal(a.normal([2]).numpy(), again.normal([2]).numpy())
    seeds = g.make_seeds(3)
    assert seeds.shape == (2, 3) and seeds.dtype == tf.int64
    x = tf.random.stateless_uniform([2], seed=seeds[:, 0])
    assert x.shape == (2,)
    nondeterministic = tf.random.Generator.from_non_deterministic_state()
    assert nondeterministic.normal([2]).shape == (2,)


def test_global_generator():
    tf.random.set_global_generator(tf.random.Generator.from_seed(3))
    a = tf.random.get_global_generator().normal([3]).numpy()
    tf.random.set_global_generator(tf.random.Generator.from_seed(3))
    np.testing.assert_array_equal(tf.random.get_global_generator().normal([3]).numpy(), a)
    with pytest.raises(TypeError, match="Generator"):
        tf.random.set_global_generator(3)


@pytest.mark.parametrize("draw", [
    lambda shape, dtype: tf.random.Generator.from_seed(0).uniform(shape, dtype=dtype),
    lambda shape, dtype: tf.random.stateless_uniform(shape, [4, 5], dtype=dtype),
])
def test_uniform_floats_stay_below_maxval(draw):
    for dtype in (tf.float16, tf.float32, tf.float64):
        values = draw([20000], dtype).numpy()
        assert values.dtype == dtype.as_numpy_dtype
        assert values.min() >= 0 and values.max() < 1
        assert abs(values.astype(np.float64).mean() - 0.5) < 0.02


def test_distributions():
    g = tf.random.Generator.from_seed(11)
    n = 20000
    normal = g.normal([n], mean=2.0, stddev=3.0).numpy()
    assert abs(normal.mean() - 2.0) < 0.1 and abs(normal.std() - 3.0) < 0.1
    truncated = g.truncated_normal([n], stddev=2.0).numpy()
    assert np.abs(truncated).max() <= 4.0 and abs(truncated.std() - 2 * 0.8796) < 0.05
    ints = g.uniform([n], minval=-3, maxval=4, dtype=tf.int64).numpy()
    assert set(np.unique(ints)) == set(range(-3, 4))
    full = g.uniform_full_int([n], dtype=tf.int32).numpy()
    assert full.min() < -2**30 and full.max() > 2**30
    binomial = g.binomial([n], counts=10.0, probs=0.3).numpy()
    assert binomial.dtype == np.int32 and abs(binomial.mean() - 3.0) < 0.05
    stateless = tf.random.stateless_binomial([n], [1, 2], counts=[5.0], probs=0.5).numpy()
    assert abs(stateless.mean() - 2.5) < 0.05
    logits = np.log([[0.1, 0.6, 0.3]])
    samples = tf.random.stateless_categorical(logits, n, seed=[3, 4])
    assert samples.shape == (1, n) and samples.dtype == tf.int64
    np.testing.assert_allclose(np.bincount(samples.numpy()[0]) / n, [0.1, 0.6, 0.3], atol=0.015)
    gamma = tf.random.gamma([n], alpha=[2.0, 5.0], beta=2.0, seed=1).numpy()
    assert gamma.shape == (n, 2)
    np.testing.assert_allclose(gamma.mean(0), [1.0, 2.5], rtol=0.03)
    poisson = tf.random.poisson([n], lam=[1.5, 4.0], seed=1)
    assert poisson.dtype == tf.float32 and poisson.shape == (n, 2)
    np.testing.assert_allclose(poisson.numpy().mean(0), [1.5, 4.0], rtol=0.03)
    np.testing.assert_allclose(
        tf.random.stateless_gamma([n, 1], [1, 1], alpha=[3.0]).numpy().mean(), 3.0, rtol=0.03)
    np.testing.assert_allclose(
        tf.random.stateless_poisson([n], [1, 1], lam=2.0).numpy().mean(), 2.0, rtol=0.03)


def test_seed_derivation():
    seeds = tf.random.split(tf.constant([1, 2]), 3)
    assert seeds.shape == (3, 2) and seeds.dtype == tf.int32
    assert len({tuple(s) for s in seeds.numpy().tolist()}) == 3
    np.testing.assert_array_equal(tf.random.experimental.stateless_split([1, 2], 3).numpy(),
                                  seeds.numpy())
    a = tf.random.fold_in([1, 2], 5).numpy()
    np.testing.assert_array_equal(tf.random.fold_in([1, 2], 5).numpy(), a)
    assert not np.array_equal(tf.random.fold_in([1, 2], 6).numpy(), a)


def test_errors_as_tensorflow():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \[2\], not \[3\]"):
        tf.random.stateless_normal([2], seed=[1, 2, 3])
    with pytest.raises(ValueError, match="both `None` or both non-`None`"):
        tf.random.Generator.from_seed(1).uniform([2], dtype=tf.int32)
    with pytest.raises(ValueError, match="both `None` or both non-`None`"):
        tf.random.stateless_uniform([2], seed=[1, 2], dtype=tf.int32)
    with pytest.raises(tf.errors.UnimplementedError, match="Philox"):
        tf.random.Generator.from_seed(1, alg="threefry")
