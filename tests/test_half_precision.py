"""float16 and bfloat16 (ml_dtypes) through the ops, against float32 results, with float32
accumulation where TensorFlow accumulates in float32 (matmul, reductions, softmax)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

ml_dtypes = pytest.importorskip("ml_dtypes")

HALF = [pytest.param("float16", 2e-3, id="float16"), pytest.param("bfloat16", 1.6e-2,
                                                                  id="bfloat16")]

UNARY = {
    "exp": tf.exp, "tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu,
    "square": tf.square, "abs": tf.abs, "negative": tf.negative, "softplus": tf.nn.softplus,
    "gelu": tf.nn.gelu, "softmax": tf.nn.softmax, "log_softmax": tf.nn.log_softmax,
    "reduce_sum": lambda x: tf.reduce_sum(x, axis=1), "reduce_mean": tf.reduce_mean,
    "reduce_max": lambda x: tf.reduce_max(x, axis=0),
    "matmul": lambda x: tf.matmul(x, x, transpose_b=True),
    "transpose": tf.transpose, "reshape": lambda x: tf.reshape(x, [-1]),
}


def test_bfloat16_dtype():
    assert tf.bfloat16.name == "bfloat16" and tf.bfloat16.is_floating and tf.bfloat16.size == 2
    assert tf.as_dtype("bfloat16") == tf.bfloat16 == tf.dtypes.bfloat16
    assert tf.as_dtype(ml_dtypes.bfloat16) == tf.bfloat16
    assert float(tf.bfloat16.max) == pytest.approx(3.3895e38, rel=1e-3)
    x = tf.constant([1.0, 2.5, -3.0], dtype=tf.bfloat16)
    assert x.dtype == tf.bfloat16 and x.numpy().dtype == ml_dtypes.bfloat16
    assert tf.cast(x, tf.float32).numpy().tolist() == [1.0, 2.5, -3.0]
    assert tf.cast(tf.constant([1.00390625]), tf.bfloat16).numpy().astype(float)[0] == 1.0


@pytest.mark.parametrize("dtype,tolerance", HALF)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_half_precision_ops_match_float32(name, dtype, tolerance, rng):
    op = UNARY[name]
    values = rng.uniform(-2, 2, (4, 6)).astype(np.float32)
    half_values = values.astype(tf.as_dtype(dtype).as_numpy_dtype)
    reference = op(tf.constant(half_values.astype(np.float32)))  # the same rounded inputs
    got = op(tf.constant(half_values))
    assert got.dtype == tf.as_dtype(dtype), f"{name} changed the dtype to {got.dtype}"
    np.testing.assert_allclose(got.numpy().astype(np.float32), reference.numpy(),
                               rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype,tolerance", HALF)
def test_half_precision_gradients(dtype, tolerance, rng):
    x32 = rng.uniform(-1, 1, (3, 5)).astype(np.float32)
    w32 = rng.uniform(-1, 1, (5, 2)).astype(np.float32)

    def loss_and_grads(x, w):
        with tf.GradientTape() as tape:
            tape.watch(w)
            loss = tf.reduce_sum(tf.nn.softmax(tf.tanh(tf.matmul(x, w))) * tf.cast(
                tf.constant([[1.0, 2.0]]), x.dtype))
        return loss, tape.gradient(loss, w)

    half = tf.as_dtype(dtype).as_numpy_dtype
    loss32, grad32 = loss_and_grads(tf.constant(x32.astype(half).astype(np.float32)),
                                    tf.constant(w32.astype(half).astype(np.float32)))
    loss, grad = loss_and_grads(tf.constant(x32.astype(half)), tf.constant(w32.astype(half)))
    assert grad.dtype == tf.as_dtype(dtype)
    np.testing.assert_allclose(float(loss), float(loss32), rtol=tolerance)
    np.testing.assert_allclose(grad.numpy().astype(np.float32), grad32.numpy(),
                               rtol=4 * tolerance, atol=4 * tolerance)


def test_accumulation_in_float32():
    """bfloat16 has 8 bits of mantissa: summed in bfloat16, 1000 x 0.1 stalls at 32."""
    tenths = tf.constant(np.full(1000, 0.1), dtype=tf.bfloat16)
    assert float(tf.reduce_sum(tenths)) == pytest.approx(100.0, rel=1e-2)
    assert float(tf.reduce_mean(tenths)) == pytest.approx(0.1, rel=1e-2)
    ones = tf.ones([1, 4096], dtype=tf.bfloat16)
    product = tf.matmul(ones, ones, transpose_b=True)
    assert product.dtype == tf.bfloat16 and float(product[0, 0]) == 4096.0
    wide = tf.constant(np.linspace(-30, 30, 3000)[None], dtype=tf.float16)
    np.testing.assert_allclose(float(tf.reduce_sum(tf.nn.softmax(wide))), 1.0, rtol=1e-3)


def test_missing_ml_dtypes_message(monkeypatch):
    import sys

    from tensorflowish import dtypes

    monkeypatch.setitem(sys.modules, "ml_dtypes", None)
    monkeypatch.delitem(dtypes.__dict__, "_BFLOAT16", raising=False)
    with pytest.raises(AttributeError, match=r"pip install 'tensorflowish\[bfloat16\]'"):
        dtypes._bfloat16()


@pytest.mark.gpu
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_float16_dense_on_the_gpu(activation, rng):
    """On CuPy, tf.nn.dense in float16 runs cuBLAS and the dense.cu _f16 kernels."""
    from tensorflowish import backend

    reason = backend.gpu_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no usable GPU: {reason}")
    x, w, b = (rng.normal(size=s).astype(np.float16) for s in ((64, 40), (40, 33), (33,)))

    def run(dtype, device):
        with tf.device(device):
            tensors = [tf.constant(a.astype(dtype)) for a in (x, w, b)]
            with tf.GradientTape() as tape:
                tape.watch(tensors)
                y = tf.nn.dense(*tensors, activation=activation)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
            return [y, *tape.gradient(loss, tensors)]

    for got, expected in zip(run(np.float16, "GPU:0"), run(np.float32, "CPU:0")):
        assert got.dtype == tf.float16
        scale = np.abs(expected.numpy()).max()
        np.testing.assert_allclose(got.numpy().astype(np.float32), expected.numpy(), rtol=2e-2,
                                   atol=2e-2 * scale)


# --- every registry op in float16 and bfloat16 ---------------------------------------------------
from tensorflowish.ops import REGISTRY  # noqa: E402

# TensorFlow has no half-precision kernels for its solvers and decompositions (nor have LAPACK
# and cuSOLVER): these raise a TypeError that says to cast to float32.
_NO_HALF = {"linalg.cholesky", "linalg.cholesky_solve", "linalg.det", "linalg.eigh",
            "linalg.eigvalsh", "linalg.expm", "linalg.inv", "linalg.logdet", "linalg.lstsq",
            "linalg.pinv", "linalg.qr", "linalg.slogdet", "linalg.solve", "linalg.svd",
            "linalg.triangular_solve"}
# Ops whose result is float32 whatever the input, as in TensorFlow.
_FLOAT32_RESULT = {"cast", "image.resize", "image.resize_with_pad", "image.psnr", "image.ssim",
                   "image.per_image_standardization"}
_KNOWN_GAPS = {  # (op, dtype): what goes wrong, until fixed
    ("math.unsorted_segment_max", "bfloat16"): "the segment reduction builds an integer fill "
                                               "value from the dtype, which bfloat16 lacks",
    ("math.unsorted_segment_min", "bfloat16"): "as unsorted_segment_max",
}


def _half_cases():
    for key, info in sorted(REGISTRY.items()):
        if info.samples is None:
            continue
        for dtype in ("float16", "bfloat16"):
            marks = [pytest.mark.xfail(strict=True, reason=_KNOWN_GAPS[(key, dtype)])] \
                if (key, dtype) in _KNOWN_GAPS else []
            yield pytest.param(key, dtype, id=f"{key}-{dtype}", marks=marks)


def _convert(value, dtype):
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return tf.constant(value.astype(np.float32).astype(dtype))
    if isinstance(value, list) and value and all(
            isinstance(v, np.ndarray) and v.dtype == np.float64 for v in value):
        return [tf.constant(v.astype(np.float32).astype(dtype)) for v in value]
    return tf.constant(value) if isinstance(value, np.ndarray) else value


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("key,dtype", list(_half_cases()))
def test_every_registry_op_in_half_precision(key, dtype):
    """Same inputs rounded to the half type: the op keeps the dtype (or gives float32 where
    TensorFlow does) and agrees with float32 within the half type's precision."""
    info = REGISTRY[key]
    half = tf.as_dtype(dtype)
    tolerance = 2e-2 if dtype == "float16" else 8e-2
    for args, kwargs in info.samples(np.random.default_rng(0)):
        call = [_convert(a, half.as_numpy_dtype) for a in args]
        call_kwargs = {k: _convert(v, half.as_numpy_dtype) for k, v in kwargs.items()}
        if key in _NO_HALF:
            with pytest.raises(TypeError, match="float32"):
                info.function(*call, **call_kwargs)
            return
        got = info.function(*call, **call_kwargs)
        reference = info.function(*[_convert(a, np.float32) for a in args],
                                  **{k: _convert(v, np.float32) for k, v in kwargs.items()})
        got = got if isinstance(got, (tuple, list)) else [got]
        reference = reference if isinstance(reference, (tuple, list)) else [reference]
        for g, r in zip(got, reference):
            if r.dtype != tf.float32:
                continue  # integer results (indices, masks)
            assert g.dtype == (tf.float32 if key in _FLOAT32_RESULT else half), key
            scale = max(1.0, float(np.abs(r.numpy()).max())) if r.numpy().size else 1.0
            np.testing.assert_allclose(g.numpy().astype(np.float32), r.numpy(), rtol=tolerance,
                                       atol=tolerance * scale, err_msg=key)
