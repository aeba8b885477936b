"""The GPU path: launch the CUDA kernels of ``kernels/*.cu`` (cuBLAS for the GEMMs).

Every function takes a :class:`KernelRunner` first: the array module, a loader of the ``.cu``
sources and an allocator. On a GPU that is CuPy with ``cupy.RawModule`` (:func:`cupy_runner`);
the tests pass NumPy with :mod:`tensorflowish.kernels.emulator` instead, so this exact launch
code, grid shapes and argument types included, runs on machines without a GPU.
Arguments are validated by ``tensorflowish.kernels`` before they get here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

KERNEL_DIR = Path(__file__).resolve().parent
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "gelu", "leaky_relu")  # codes in *.cu

# Below this many multiply-adds (N*K*M) a dense layer runs as ONE tiled kernel instead of a
# cuBLAS GEMM plus the bias+activation kernel; see docs/kernels.md for the reasoning.
FUSED_DENSE_MAX_MACS = 1 << 22
DENSE_TILE = 16  # TFISH_DENSE_TILE in dense.cu
COLUMN_SUM_BLOCK = (32, 8)  # TFISH_COLSUM_WIDTH, TFISH_COLSUM_ROWS in dense.cu
ELEMENTWISE_THREADS = 256  # TFISH_ELEMENTWISE_THREADS in tfish_common.cuh
SOFTMAX_MAX_THREADS = 256  # TFISH_SOFTMAX_MAX_THREADS in softmax_cross_entropy.cu
MAX_BLOCKS = 8192  # grid-stride loops cover the rest
MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.float16): "f16"}


def _suffix(dtype: Any) -> str:
    dtype = np.dtype(dtype)
    if dtype.name == "bfloat16":  # ml_dtypes' type: CuPy has none, the emulator takes it
        return "bf16"
    return _SUFFIX[dtype]


def _is_half(dtype: Any) -> bool:
    """float16 or bfloat16: the kernels take their 16 bits as unsigned short and compute in
    float (see tfish_common.cuh)."""
    return dtype.itemsize == 2 and dtype.kind in "fV"


def _bits(array: Any) -> Any:
    """A half-precision array as the unsigned short buffer the kernels read (a view)."""
    return array.view(np.uint16) if _is_half(array.dtype) else array


def _flat(xp: Any, array: Any) -> Any:
    return xp.ascontiguousarray(array).reshape(-1)


def _scalar(dtype: Any) -> Any:
    """The C type of a kernel's float scalar for arrays of `dtype`: float for half arrays."""
    return np.float32 if _is_half(dtype) else dtype.type


@dataclass(frozen=True)
class KernelRunner:
    """Where the kernels run: array module, source loader, allocator, launch limits."""

    xp: Any
    load: Callable[[str], Any]  # "dense.cu" -> module with get_function(name)
    empty: Callable[[tuple[int, ...], Any], Any]  # (shape, dtype) -> array (may be garbage)
    fused_dense_max_macs: int = FUSED_DENSE_MAX_MACS
    max_blocks: int = MAX_BLOCKS

    def kernel(self, filename: str, name: str, dtype: Any) -> Any:
        return self.load(filename).get_function(f"{name}_{_suffix(dtype)}")


# ---- CuPy ----------------------------------------------------------------------------------
_CUPY_MODULES: dict[int, dict[str, Any]] = {}  # device id -> source file name -> RawModule
_CUPY_RUNNER: KernelRunner | None = None


def _cupy_module(filename: str) -> Any:
    import cupy

    modules = _CUPY_MODULES.setdefault(cupy.cuda.Device().id, {})
    if filename not in modules:
        modules[filename] = cupy.RawModule(
            code=(KERNEL_DIR / filename).read_text(),
            options=("--std=c++17", f"-I{KERNEL_DIR}"),
        )
    return modules[filename]


def cupy_runner() -> KernelRunner:
    """The runner for ``cupy.ndarray`` arguments (modules compiled lazily, cached per device)."""
    global _CUPY_RUNNER
    if _CUPY_RUNNER is None:
        import cupy

        _CUPY_RUNNER = KernelRunner(
            cupy, _cupy_module, lambda shape, dtype: cupy.empty(shape, dtype)
        )
    return _CUPY_RUNNER


# ---- launches ------------------------------------------------------------------------------
def _int(value: int, what: str) -> np.int32:
    if value >= 2**31:
        raise ValueError(f"{what} = {value} is too large for the CUDA kernels (int32 indices)")
    return np.int32(value)


def _elementwise_grid(runner: KernelRunner, n: int) -> tuple[int]:
    return (max(1, min(math.ceil(n / ELEMENTWISE_THREADS), runner.max_blocks)),)


def dense_forward(
    runner: KernelRunner, x: Any, kernel: Any, bias: Any | None, activation: str, alpha: float
) -> tuple[Any, Any | None]:
    """GPU :func:`tensorflowish.kernels.dense_forward`: one tiled kernel or cuBLAS + epilogue."""
    xp, dtype = runner.xp, x.dtype
    scalar = _scalar(dtype)
    x, kernel = xp.ascontiguousarray(x), xp.ascontiguousarray(kernel)
    n, k = x.shape
    m = kernel.shape[1]
    bias = xp.zeros(m, dtype=dtype) if bias is None else xp.ascontiguousarray(bias)
    save_pre = activation == "gelu"
    y = runner.empty((n, m), dtype)
    pre = runner.empty((n, m), dtype) if save_pre else y  # same buffer: the kernels allow it
    if n * m == 0:
        return y, (pre if save_pre else None)
    common = (_int(ACTIVATIONS.index(activation), "activation"), scalar(alpha), np.int32(save_pre))
    if n * k * m <= runner.fused_dense_max_macs and math.ceil(n / DENSE_TILE) <= MAX_GRID_Y \
            and not _is_half(dtype):  # the one-kernel layer exists in float32/float64 only
        grid = (math.ceil(m / DENSE_TILE), math.ceil(n / DENSE_TILE))
        runner.kernel("dense.cu", "tfish_dense_fused", dtype)(
            grid,
            (DENSE_TILE, DENSE_TILE),
            (
                x,
                kernel,
                bias,
                pre,
                y,
                _int(n, "rows"),
                _int(k, "inputs"),
                _int(m, "units"),
                *common,
            ),
        )
    else:
        _matmul_into(xp, x, kernel, pre)
        runner.kernel("dense.cu", "tfish_bias_act_forward", dtype)(
            _elementwise_grid(runner, n * m),
            (ELEMENTWISE_THREADS,),
            (_bits(pre), _bits(y), _bits(bias), _int(n, "rows"), _int(m, "units"), *common),
        )
    return y, (pre if save_pre else None)


def _matmul_into(xp: Any, a: Any, b: Any, out: Any) -> None:
    """out = a @ b; bfloat16 (which NumPy cannot multiply into) through float32, which is also
    how TensorFlow accumulates it. float16 stays one GEMM (cuBLAS accumulates it in float32)."""
    if out.dtype.name == "bfloat16":
        out[...] = xp.matmul(a.astype(np.float32), b.astype(np.float32)).astype(out.dtype)
    else:
        xp.matmul(a, b, out=out)


def _matmul(xp: Any, a: Any, b: Any) -> Any:
    out = xp.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    _matmul_into(xp, a, b, out)
    return out


def dense_backward(
    runner: KernelRunner,
    dy: Any,
    x: Any,
    kernel: Any,
    y: Any,
    pre: Any | None,
    activation: str,
    alpha: float,
    need_dx: bool,
    need_dkernel: bool,
    need_dbias: bool,
    overwrite_dy: bool,
) -> tuple[Any, Any, Any]:
    """GPU :func:`tensorflowish.kernels.dense_backward`: fused act' pass, 2 GEMMs, column sum."""
    xp, dtype = runner.xp, dy.dtype
    n, m = dy.shape
    if activation == "linear" or dy.size == 0:
        g = dy
    else:
        if not overwrite_dy or not dy.flags.c_contiguous:
            dy = xp.ascontiguousarray(dy)
        g = dy if overwrite_dy else runner.empty(dy.shape, dtype)
        y = xp.ascontiguousarray(y)
        pre = xp.ascontiguousarray(pre) if activation == "gelu" else y
        runner.kernel("dense.cu", "tfish_activation_backward", dtype)(
            _elementwise_grid(runner, dy.size),
            (ELEMENTWISE_THREADS,),
            (
                _bits(g),
                _bits(dy),
                _bits(y),
                _bits(pre),
                _int(dy.size, "size"),
                np.int32(ACTIVATIONS.index(activation)),
                _scalar(dtype)(alpha),
            ),
        )
    dkernel = _matmul(xp, x.T, g) if need_dkernel else None
    dx = _matmul(xp, g, kernel.T) if need_dx else None
    dbias = None
    if need_dbias:
        g = xp.ascontiguousarray(g)
        dbias = runner.empty((m,), dtype)
        if m:
            runner.kernel("dense.cu", "tfish_column_sum", dtype)(
                (math.ceil(m / COLUMN_SUM_BLOCK[0]),),
                COLUMN_SUM_BLOCK,
                (_bits(dbias), _bits(g), _int(n, "rows"), _int(m, "units")),
            )
    return dx, dkernel, dbias


def _softmax_launch(runner: KernelRunner, n_rows: int, n_cols: int) -> tuple[tuple, tuple]:
    # One block per row; a power of two of threads, no more than the row needs (>= one warp).
    threads = min(SOFTMAX_MAX_THREADS, max(32, 1 << max(0, n_cols - 1).bit_length()))
    return (max(1, min(n_rows, runner.max_blocks)),), (threads,)


def softmax_cross_entropy(runner: KernelRunner, logits: Any, labels: Any) -> tuple[Any, Any]:
    """GPU :func:`tensorflowish.kernels.softmax_cross_entropy`: one kernel, a block per row."""
    xp, dtype = runner.xp, logits.dtype
    logits, labels = xp.ascontiguousarray(logits), xp.ascontiguousarray(labels)
    n_rows, n_cols = logits.shape
    loss, grad = runner.empty((n_rows,), dtype), runner.empty((n_rows, n_cols), dtype)
    if n_rows:
        grid, block = _softmax_launch(runner, n_rows, n_cols)
        runner.kernel("softmax_cross_entropy.cu", "tfish_softmax_cross_entropy", dtype)(
            grid, block, (_bits(loss), _bits(grad), _bits(logits), _bits(labels),
                          _int(n_rows, "rows"), _int(n_cols, "classes"))
        )
    return loss, grad


def sparse_softmax_cross_entropy(runner: KernelRunner, logits: Any, labels: Any) -> tuple[Any, Any]:
    """GPU :func:`tensorflowish.kernels.sparse_softmax_cross_entropy` (bad labels: NaN rows)."""
    xp, dtype = runner.xp, logits.dtype
    logits = xp.ascontiguousarray(logits)
    labels = xp.ascontiguousarray(labels, dtype=xp.int64)
    n_rows, n_cols = logits.shape
    loss, grad = runner.empty((n_rows,), dtype), runner.empty((n_rows, n_cols), dtype)
    if n_rows:
        grid, block = _softmax_launch(runner, n_rows, n_cols)
        runner.kernel("softmax_cross_entropy.cu", "tfish_sparse_softmax_cross_entropy", dtype)(
            grid, block, (_bits(loss), _bits(grad), _bits(logits), labels,
                          _int(n_rows, "rows"), _int(n_cols, "classes"))
        )
    return loss, grad


def _update(runner: KernelRunner, kernel: str, param: Any, grad: Any, slots: tuple,
            scalars: tuple, flags: tuple = ()) -> None:
    """Launch one optimiser kernel of optimizers.cu over `param`, in place. Every one takes
    (param, grad, *slots, size, *scalars, *flags): scalars in the parameter's type, flags int."""
    if param.size == 0:
        return
    scalar = _scalar(param.dtype)
    runner.kernel("optimizers.cu", kernel, param.dtype)(
        _elementwise_grid(runner, param.size),
        (ELEMENTWISE_THREADS,),
        (
            _bits(param).reshape(-1),
            _bits(_flat(runner.xp, grad)),
            *(_bits(slot).reshape(-1) for slot in slots),
            _int(param.size, "size"),
            *(scalar(value) for value in scalars),
            *(np.int32(flag) for flag in flags),
        ),
    )


def sgd_update(runner: KernelRunner, param: Any, grad: Any, velocity: Any | None,
               learning_rate: float, momentum: float, nesterov: bool) -> None:
    """GPU :func:`tensorflowish.kernels.sgd_update`: one pass, in place."""
    if momentum == 0:
        _update(runner, "tfish_sgd_update", param, grad, (), (learning_rate,))
    else:
        _update(runner, "tfish_sgd_momentum_update", param, grad, (velocity,),
                (learning_rate, momentum), (bool(nesterov),))


def adam_update(runner: KernelRunner, param: Any, grad: Any, m: Any, v: Any, lr_t: float,
                beta_1: float, beta_2: float, epsilon: float, decay_factor: float) -> None:
    """GPU :func:`tensorflowish.kernels.adam_update` with host-computed ``lr_t``: one pass."""
    _update(runner, "tfish_adam_update", param, grad, (m, v),
            (lr_t, 1 - beta_1, 1 - beta_2, epsilon, decay_factor))


def adagrad_update(runner: KernelRunner, param: Any, grad: Any, accumulator: Any,
                   learning_rate: float, epsilon: float, decay_factor: float) -> None:
    """GPU :func:`tensorflowish.kernels.adagrad_update`: one pass, in place."""
    _update(runner, "tfish_adagrad_update", param, grad, (accumulator,),
            (learning_rate, epsilon, decay_factor))


def nadam_update(runner: KernelRunner, param: Any, grad: Any, m: Any, v: Any,
                 learning_rate: float, beta_1: float, beta_2: float, epsilon: float,
                 m_coef: float, grad_coef: float, v_coef: float, decay_factor: float) -> None:
    """GPU :func:`tensorflowish.kernels.nadam_update` with host-computed coefficients."""
    _update(runner, "tfish_nadam_update", param, grad, (m, v),
            (learning_rate, 1 - beta_1, 1 - beta_2, epsilon, m_coef, grad_coef, v_coef,
             decay_factor))


def lion_update(runner: KernelRunner, param: Any, grad: Any, m: Any, learning_rate: float,
                beta_1: float, beta_2: float, decay_factor: float) -> None:
    """GPU :func:`tensorflowish.kernels.lion_update`: one pass, in place."""
    _update(runner, "tfish_lion_update", param, grad, (m,),
            (learning_rate, beta_1, beta_2, decay_factor))
