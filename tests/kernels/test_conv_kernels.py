"""The convolution and pooling kernels (``conv.cu`` through ``kernels/conv_cuda.py``, and the CPU
twins in ``kernels/conv_cpu.py``) against float64 references written here as loops over the
window taps: on the emulator in each thread order with NaN-poisoned outputs, on real CuPy where
a GPU exists, and on NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorflowish.kernels import conv_cpu, conv_cuda

NEVER_FUSED = 0


# ---- float64 references: one loop per output position and tap ---------------------------------
def _taps(x_shape, out_hw, window, strides, dilations, pads):
    """(oh, ow, i, j, ih, iw) for every tap that reads a real input pixel."""
    _, h, w, _ = x_shape
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            for i in range(window[0]):
                for j in range(window[1]):
                    ih = oh * strides[0] + i * dilations[0] - pads[0]
                    iw = ow * strides[1] + j * dilations[1] - pads[2]
                    if 0 <= ih < h and 0 <= iw < w:
                        yield oh, ow, i, j, ih, iw


def _out_hw(shape, window, strides, dilations, pads):
    return tuple((shape[1 + a] + pads[2 * a] + pads[2 * a + 1] - (window[a] - 1) * dilations[a]
                  - 1) // strides[a] + 1 for a in range(2))


def conv_reference(x, kernel, geometry, groups):
    window, strides, dilations, pads = geometry
    out_hw = _out_hw(x.shape, window, strides, dilations, pads)
    o, cg = kernel.shape[3], kernel.shape[2]
    y = np.zeros((x.shape[0], *out_hw, o))
    for oh, ow, i, j, ih, iw in _taps(x.shape, out_hw, *geometry):
        for group in range(groups):
            outs = slice(group * o // groups, (group + 1) * o // groups)
            y[:, oh, ow, outs] += x[:, ih, iw, group * cg:(group + 1) * cg] @ kernel[i, j, :, outs]
    return y


def conv_gradients_reference(x, kernel, g, geometry, groups):
    window, strides, dilations, pads = geometry
    dx, dkernel = np.zeros_like(x), np.zeros_like(kernel)
    o, cg = kernel.shape[3], kernel.shape[2]
    for oh, ow, i, j, ih, iw in _taps(x.shape, g.shape[1:3], *geometry):
        for group in range(groups):
            outs = slice(group * o // groups, (group + 1) * o // groups)
            ins = slice(group * cg, (group + 1) * cg)
            dkernel[i, j, :, outs] += x[:, ih, iw, ins].T @ g[:, oh, ow, outs]
            dx[:, ih, iw, ins] += g[:, oh, ow, outs] @ kernel[i, j, :, outs].T
    return dx, dkernel


def pool_reference(x, geometry):
    """(max, argmax, mean over real inputs)."""
    window, strides, dilations, pads = geometry
    out_hw = _out_hw(x.shape, window, strides, dilations, pads)
    shape = (x.shape[0], *out_hw, x.shape[3])
    best, argmax = np.full(shape, -np.inf), np.zeros(shape, np.int32)
    total, count = np.zeros(shape), np.zeros(shape)
    for oh, ow, i, j, ih, iw in _taps(x.shape, out_hw, *geometry):
        value = x[:, ih, iw, :]
        better = value > best[:, oh, ow]
        best[:, oh, ow] = np.where(better, value, best[:, oh, ow])
        argmax[:, oh, ow] = np.where(better, i * window[1] + j, argmax[:, oh, ow])
        total[:, oh, ow] += value
        count[:, oh, ow] += 1
    return best, argmax, total / count


def pool_gradients_reference(x_shape, g, argmax, geometry):
    """(max-pool dx, avg-pool dx)."""
    window = geometry[0]
    dmax, davg = np.zeros(x_shape), np.zeros(x_shape)
    count = np.zeros(g.shape)
    taps = list(_taps(x_shape, g.shape[1:3], *geometry))
    for oh, ow, _, _, _, _ in taps:
        count[:, oh, ow] += 1
    for oh, ow, i, j, ih, iw in taps:
        won = argmax[:, oh, ow] == i * window[1] + j
        dmax[:, ih, iw] += np.where(won, g[:, oh, ow], 0)
        davg[:, ih, iw] += g[:, oh, ow] / count[:, oh, ow]
    return dmax, davg


# ---- the table: odd sizes, strides 2 and 3, dilation 2, SAME-like and explicit padding ---------
GEOMETRIES = {  # window, strides, dilations, pads (top, bottom, left, right)
    "3x3-same": ((3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    "3x2-stride2x3-odd-pads": ((3, 2), (2, 3), (1, 1), (1, 2, 0, 1)),
    "2x3-stride3-valid": ((2, 3), (3, 3), (1, 1), (0, 0, 0, 0)),
    "3x3-dilation2": ((3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),
    "1x1-pointwise": ((1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
}
X_SHAPE = (2, 7, 9, 3)
ml_dtypes = pytest.importorskip("ml_dtypes")
# float16/bfloat16: the _f16/_bf16 kernels (16-bit storage, float arithmetic; the GEMMs' results
# are rounded to 16 bits as on the GPU). CuPy has no bfloat16: that one runs on the emulator only.
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16),
          np.dtype(ml_dtypes.bfloat16)]
TOLERANCES = {"float32": 1e-4, "float64": 1e-10, "float16": 1e-2, "bfloat16": 6e-2}


def _is_half(dtype):
    return dtype.itemsize == 2


def _skip_bfloat16_on_cupy(dtype, cuda_backend):
    if dtype.name == "bfloat16" and cuda_backend.name == "cupy":
        pytest.skip("CuPy has no bfloat16 arrays")


def _assert_close(got, want, dtype, name):
    assert got.dtype == dtype, name
    got = got.astype(np.float64)
    assert np.isfinite(got).all(), f"{name}: unwritten (NaN) or overflowing entries"
    tolerance = TOLERANCES[dtype.name]
    scale = max(1.0, float(np.abs(want).max())) if _is_half(dtype) else 1.0
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale, err_msg=name)


def _rounded(dtype, *arrays):
    """The arrays as the kernels see them (rounded to dtype), back in float64."""
    return [a.astype(dtype).astype(np.float64) for a in arrays]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name", list(GEOMETRIES))
@pytest.mark.parametrize("groups,activation", [(1, "linear"), (1, "tanh"), (3, "gelu")])
def test_conv_kernels(name, groups, activation, dtype, cuda_backend):
    _skip_bfloat16_on_cupy(dtype, cuda_backend)
    geometry = GEOMETRIES[name]
    window = geometry[0]
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, X_SHAPE)
    kernel = rng.uniform(-1, 1, (*window, 3 // groups, 6)) / math.sqrt(window[0] * window[1])
    bias = rng.uniform(-1, 1, 6)
    x, kernel, bias = _rounded(dtype, x, kernel, bias)
    z = conv_reference(x, kernel, geometry, groups) + bias
    act = {"linear": lambda v: v, "tanh": np.tanh,
           "gelu": lambda v: 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))}
    derivative = {"linear": np.ones_like(z), "tanh": 1 - np.tanh(z) ** 2,
                  "gelu": 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
                  + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)}[activation]
    dy = _rounded(dtype, rng.uniform(-1, 1, z.shape))[0]
    dx_want, dkernel_want = conv_gradients_reference(x, kernel, dy * derivative, geometry, groups)

    runner = cuda_backend.runner(NEVER_FUSED)
    dev = lambda a: cuda_backend.to_device(a.astype(dtype))  # noqa: E731
    host = cuda_backend.to_host
    args = (geometry[1], geometry[2], geometry[3], groups, activation, 0.2)
    inputs = [dev(x), dev(kernel), dev(bias)]
    y, pre, _ = conv_cuda.conv_forward(runner, *inputs, *args)
    _assert_close(host(y), act[activation](z), dtype, "y")
    dx, dkernel, dbias = conv_cuda.conv_backward(runner, dev(dy), inputs[0], inputs[1], y, pre,
                                                 *args, True, True, True)
    _assert_close(host(dx), dx_want, dtype, "dx")
    _assert_close(host(dkernel), dkernel_want, dtype, "dkernel")
    _assert_close(host(dbias), (dy * derivative).sum(axis=(0, 1, 2)), dtype, "dbias")
    for device_array, original in zip(inputs, (x, kernel, bias)):
        np.testing.assert_array_equal(host(device_array).view(np.uint8),
                                      original.astype(dtype).view(np.uint8))
    if _is_half(dtype):
        return  # the CPU twins compute in the array's dtype; half precision is the ops' concern

    # the CPU twins, on the same numbers
    cpu_y, cpu_pre, patches = conv_cpu.conv_forward(x.astype(dtype), kernel.astype(dtype),
                                                    bias.astype(dtype), *args)
    _assert_close(cpu_y, act[activation](z), dtype, "cpu y")
    cpu_dx, cpu_dkernel, _ = conv_cpu.conv_backward(
        dy.astype(dtype), x.astype(dtype), kernel.astype(dtype), cpu_y, cpu_pre, patches,
        *args, True, True, False)
    _assert_close(cpu_dx, dx_want, dtype, "cpu dx")
    _assert_close(cpu_dkernel, dkernel_want, dtype, "cpu dkernel")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name", [n for n in GEOMETRIES if n != "3x3-dilation2"] +
                         ["2x2-dilation2"])
def test_pool_kernels(name, dtype, cuda_backend):
    _skip_bfloat16_on_cupy(dtype, cuda_backend)
    geometry = GEOMETRIES.get(name, ((2, 2), (1, 1), (2, 2), (1, 0, 1, 0)))
    window, strides, dilations, pads = geometry
    rng = np.random.default_rng(12)
    # distinct in float32/64 (no ties); bfloat16 rounds some together, and the reference, fed
    # the same rounded values, then picks the same first maximum
    x = _rounded(dtype, rng.permutation(np.prod(X_SHAPE)).reshape(X_SHAPE) / 17.0 - 5)[0]
    best, argmax_want, mean = pool_reference(x, geometry)
    dy = _rounded(dtype, rng.uniform(-1, 1, best.shape))[0]
    dmax_want, davg_want = pool_gradients_reference(X_SHAPE, dy, argmax_want, geometry)
    u = _rounded(dtype, rng.uniform(-1, 1, X_SHAPE))[0]
    gather_want = np.zeros(best.shape)
    for oh, ow, i, j, ih, iw in _taps(X_SHAPE, best.shape[1:3], *geometry):
        won = argmax_want[:, oh, ow] == i * window[1] + j
        gather_want[:, oh, ow] = np.where(won, u[:, ih, iw], gather_want[:, oh, ow])
    runner = cuda_backend.runner(NEVER_FUSED)
    dev = lambda a: cuda_backend.to_device(a.astype(dtype))  # noqa: E731
    host = cuda_backend.to_host
    geo = (window, strides, dilations, pads)
    for module, place in ((conv_cuda, (runner,)), (conv_cpu, ())):
        to = dev if module is conv_cuda else (lambda a: a.astype(dtype))  # noqa: E731
        back = host if module is conv_cuda else (lambda a: a)  # noqa: E731
        y, argmax = module.max_pool(*place, to(x), *geo)
        _assert_close(back(y), best, dtype, f"{module.__name__} max")
        np.testing.assert_array_equal(back(argmax), argmax_want)
        dx = module.max_pool_backward(*place, to(dy), argmax, X_SHAPE, *geo)
        _assert_close(back(dx), dmax_want, dtype, f"{module.__name__} max backward")
        gathered = module.max_pool_gather(*place, to(u), argmax, *geo)
        _assert_close(back(gathered), gather_want, dtype, f"{module.__name__} max gather")
        _assert_close(back(module.avg_pool(*place, to(x), *geo)), mean, dtype, "avg")
        _assert_close(back(module.avg_pool_backward(*place, to(dy), X_SHAPE, *geo)), davg_want,
                      dtype, f"{module.__name__} avg backward")
