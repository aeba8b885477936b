"""Indexing ops against NumPy references written here (values, dtypes and errors)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def _np(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def test_gather_batch_dims(device, rng):
    params = rng.normal(size=(2, 3, 5, 4))
    indices = rng.integers(0, 5, (2, 3, 6))
    out = tf.gather(params, indices, axis=2, batch_dims=2)
    expected = np.stack([np.stack([params[b, c][indices[b, c]] for c in range(3)])
                         for b in range(2)])
    assert out.shape == (2, 3, 6, 4)
    np.testing.assert_array_equal(_np(out), expected)
    # axis after the batch dims with a dimension in between
    indices = rng.integers(0, 4, (2, 7))
    out = tf.gather(params, indices, axis=3, batch_dims=1)
    expected = np.stack([params[b][:, :, indices[b]] for b in range(2)])
    assert out.shape == (2, 3, 5, 7)
    np.testing.assert_array_equal(_np(out), expected)


def test_gather_out_of_range_is_invalid_argument(device):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices must be in \[0, 3\)"):
        tf.gather(tf.zeros([3]), [0, -1])


def test_gather_nd_and_batch_dims(device, rng):
    params = rng.normal(size=(4, 3, 2))
    indices = np.array([[[3, 1], [0, 2]], [[1, 1], [2, 0]]])
    np.testing.assert_array_equal(_np(tf.gather_nd(params, indices)),
                                  params[indices[..., 0], indices[..., 1]])
    batch = rng.integers(0, 3, (4, 5, 1))
    expected = np.stack([params[b][batch[b, :, 0]] for b in range(4)])
    np.testing.assert_array_equal(_np(tf.gather_nd(params, batch, batch_dims=1)), expected)
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        tf.gather_nd(params, [[4, 0]])


def test_scatter_nd_sums_repeats(device):
    out = tf.scatter_nd([[4], [3], [1], [7], [4]], [9, 10, 11, 12, 1], [8])
    assert out.dtype == tf.int32
    assert _np(out).tolist() == [0, 11, 0, 10, 10, 0, 0, 12]
    with pytest.raises(tf.errors.InvalidArgumentError, match="updates must have shape"):
        tf.scatter_nd([[1]], [1.0, 2.0], [3])


@pytest.mark.parametrize("kind,reference", [
    ("update", lambda a, i, u: a.__setitem__(i, u)),
    ("add", lambda a, i, u: np.add.at(a, i, u)),
    ("sub", lambda a, i, u: np.subtract.at(a, i, u)),
    ("min", lambda a, i, u: np.minimum.at(a, i, u)),
    ("max", lambda a, i, u: np.maximum.at(a, i, u))])
def test_tensor_scatter_nd(kind, reference, device, rng):
    tensor = rng.normal(size=(5, 3))
    indices = np.array([[4], [0], [2]])
    updates = rng.normal(size=(3, 3))
    original = tensor.copy()
    out = getattr(tf, f"tensor_scatter_nd_{kind}")(tf.constant(tensor), indices, updates)
    expected = tensor.copy()
    reference(expected, (indices[:, 0],), updates)
    np.testing.assert_allclose(_np(out), expected)
    np.testing.assert_array_equal(tensor, original)


def test_slice_and_errors(device, rng):
    x = rng.normal(size=(4, 5, 3))
    np.testing.assert_array_equal(_np(tf.slice(x, [1, 0, 2], [2, -1, 1])), x[1:3, 0:5, 2:3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="dimension 1"):
        tf.slice(x, [0, 4, 0], [1, 2, 1])


@pytest.mark.parametrize("begin,end,strides,masks,python", [
    ([1, -1, 0], [3, 0, 2], [1, -2, 1], {}, (slice(1, 3), slice(-1, 0, -2), slice(0, 2))),
    ([0, 2], [0, 4], None, {"begin_mask": 1, "end_mask": 1}, (slice(None), slice(2, 4))),
    ([1, 0], [2, 0], None, {"shrink_axis_mask": 1, "new_axis_mask": 2}, (1, None)),
    ([0, 1], [0, 3], None, {"ellipsis_mask": 1}, (Ellipsis, slice(1, 3))),
    ([2], [0], [-1], {"end_mask": 1}, (slice(2, None, -1),)),
])
def test_strided_slice_masks(begin, end, strides, masks, python, device, rng):
    x = rng.normal(size=(4, 5, 3))
    out = tf.strided_slice(x, begin, end, strides, **masks)
    np.testing.assert_array_equal(_np(out), x[python])


def test_python_slicing_newaxis_ellipsis_negative_steps(device, rng):
    x = rng.normal(size=(4, 5, 3))
    t = tf.constant(x)
    np.testing.assert_array_equal(_np(t[tf.newaxis, ..., ::-2]), x[None, ..., ::-2])
    np.testing.assert_array_equal(_np(t[::-1, 1, tf.newaxis]), x[::-1, 1, None])


def test_boolean_mask(device, rng):
    x = rng.normal(size=(2, 3, 4))
    mask = rng.uniform(size=(2, 3)) > 0.4
    np.testing.assert_array_equal(_np(tf.boolean_mask(x, mask)), x[mask])
    column = np.array([True, False, True, True])
    np.testing.assert_array_equal(_np(tf.boolean_mask(x, column, axis=2)), x[:, :, column])
    with pytest.raises(tf.errors.InvalidArgumentError, match="must match"):
        tf.boolean_mask(x, column)


def test_where_forms(device):
    c = np.array([[True], [False]])
    np.testing.assert_array_equal(_np(tf.where(c, [1.0, 2.0, 3.0], -1.0)),
                                  np.where(c, [1.0, 2.0, 3.0], -1.0))
    indices = tf.where([[True, False], [True, True]])
    assert indices.dtype == tf.int64
    assert _np(indices).tolist() == [[0, 0], [1, 0], [1, 1]]
    assert _np(tf.where([1, 0, 3])).tolist() == [[0], [2]]  # one argument: non-zero counts
    with pytest.raises(TypeError, match="bool"):
        tf.where([1, 0, 3], [1, 2, 3], [4, 5, 6])
    with pytest.raises(ValueError, match="both"):
        tf.where([True], [1])


def test_reverse_roll_repeat_tile(device, rng):
    x = rng.normal(size=(3, 4))
    np.testing.assert_array_equal(_np(tf.reverse(x, [-1, 0])), x[::-1, ::-1])
    np.testing.assert_array_equal(_np(tf.roll(x, [2, -1], [1, 0])),
                                  np.roll(np.roll(x, 2, 1), -1, 0))
    np.testing.assert_array_equal(_np(tf.repeat(x, [1, 0, 3], axis=0)),
                                  np.repeat(x, [1, 0, 3], axis=0))
    np.testing.assert_array_equal(_np(tf.repeat(x, 2)), np.repeat(x, 2))
    np.testing.assert_array_equal(_np(tf.tile(x, [2, 3])), np.tile(x, (2, 3)))
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.reverse(x, [2])


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC", "reflect"])
def test_pad_modes(mode, device, rng):
    x = rng.normal(size=(3, 4))
    paddings = [[2, 1], [3, 2]]
    numpy_mode = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}[
        mode.upper()]
    np.testing.assert_array_equal(_np(tf.pad(x, paddings, mode)),
                                  np.pad(x, paddings, mode=numpy_mode))


def test_pad_constant_value_and_limits(device):
    out = tf.pad(tf.constant([[1, 2]]), [[0, 1], [1, 0]], constant_values=7)
    assert _np(out).tolist() == [[7, 1, 2], [7, 7, 7]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 1"):
        tf.pad(tf.zeros([2, 2]), [[2, 0], [0, 0]], "REFLECT")


def test_meshgrid_shape_rank_size(device):
    x, y = tf.meshgrid([1, 2, 3], [4, 5])
    ex, ey = np.meshgrid([1, 2, 3], [4, 5])
    np.testing.assert_array_equal(_np(x), ex)
    np.testing.assert_array_equal(_np(y), ey)
    x, y = tf.meshgrid([1, 2, 3], [4, 5], indexing="ij")
    assert x.shape == (3, 2)
    t = tf.zeros([2, 3, 4])
    assert _np(tf.shape(t)).tolist() == [2, 3, 4] and tf.shape(t).dtype == tf.int32
    assert int(tf.rank(t)) == 3 and int(tf.size(t)) == 24


def test_split_with_inferred_size(device, rng):
    x = rng.normal(size=(7, 2))
    parts = tf.split(x, [2, -1, 1], axis=0)
    assert [p.shape[0] for p in parts] == [2, 4, 1]
    np.testing.assert_array_equal(_np(parts[1]), x[2:6])


def test_variable_slice_assign_and_scatter_nd_update(device):
    v = tf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    before = tf.identity(v)
    v[0, 1:].assign([20.0, 30.0])
    assert _np(v).tolist() == [[1.0, 20.0, 30.0], [4.0, 5.0, 6.0]]
    assert _np(before).tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    v.scatter_nd_update([[1, 0], [0, 0]], [40.0, 10.0])
    assert _np(v).tolist() == [[10.0, 20.0, 30.0], [40.0, 5.0, 6.0]]
    v.scatter_nd_add([[1, 2]], [1.0])
    v.scatter_nd_sub([[1, 1]], [1.0])
    assert _np(v)[1].tolist() == [40.0, 4.0, 7.0]


def test_split_and_unstack_errors(device, rng):
    x = rng.normal(size=(4, 3))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most one -1"):
        tf.split(x, [-1, -1], axis=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="do not add up"):
        tf.split(x, [1, 1], axis=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="equal parts"):
        tf.split(x, 3, axis=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="axis 2"):
        tf.unstack(x, axis=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="num=2"):
        tf.unstack(x, num=2)
    parts = tf.unstack(x, axis=-1)
    assert len(parts) == 3
    np.testing.assert_array_equal(parts[1].numpy(), x[:, 1])
    assert [p.shape for p in tf.split(x, tf.constant([3, 1]))] == [(3, 3), (1, 3)]


def test_out_of_range_indices_are_invalid_argument_and_index_errors(device):
    t = tf.constant([1, 2, 3])
    cases = [lambda: t[5], lambda: tf.gather(t, [3]), lambda: tf.gather_nd(t, [[-1]]),
             lambda: tf.scatter_nd([[3]], [1], [3]),
             lambda: tf.strided_slice(t, [4], [5], shrink_axis_mask=1)]
    for bad in cases:
        with pytest.raises(tf.errors.InvalidArgumentError):
            bad()
        with pytest.raises(IndexError):
            bad()
    assert [int(v) for v in t] == [1, 2, 3]  # iteration still ends cleanly


def test_variable_slice_is_differentiable(device):
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(v[0] * 3.0) + tf.reduce_sum(v[:, 1])
    assert tape.gradient(y, v).numpy().tolist() == [[3.0, 4.0], [0.0, 1.0]]


def test_variable_sparse_scatters_and_reads(device):
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    before = tf.identity(v)
    v.scatter_add(tf.IndexedSlices([[1.0, 1.0], [2.0, 2.0]], [2, 2]))  # repeats accumulate
    v.scatter_mul(tf.IndexedSlices([[2.0, 3.0]], [0]))
    v.scatter_div(tf.IndexedSlices([[2.0, 4.0]], [1]))
    v.scatter_max(tf.IndexedSlices([[0.0, 10.0]], [0]))
    assert v.numpy().tolist() == [[2.0, 10.0], [1.5, 1.0], [8.0, 9.0]]
    v.scatter_sub(tf.IndexedSlices([[1.0, 1.0]], [1]))
    v.scatter_min(tf.IndexedSlices([[0.0, 9.5]], [2]))
    v.scatter_update(tf.IndexedSlices([[7.0, 7.0]], [0]))
    assert v.numpy().tolist() == [[7.0, 7.0], [0.5, 0.0], [0.0, 9.0]]
    assert before.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert v.sparse_read([2, 0]).numpy().tolist() == [[0.0, 9.0], [7.0, 7.0]]
    assert v.gather_nd([[1, 0]]).numpy().tolist() == [0.5]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 3\)"):
        v.scatter_add(tf.IndexedSlices([[1.0, 1.0]], [3]))
