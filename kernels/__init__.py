"""Fused kernels on raw backend arrays: NumPy on the CPU, CUDA C through CuPy on the GPU.

The functions here know nothing of Tensors or tapes. Each takes ``numpy.ndarray`` or
``cupy.ndarray`` arguments (float32 or float64, all of one kind; float16 CuPy arrays too, which
run the kernels' 16-bit variants, and float16/bfloat16 for the optimiser updates, which the CPU
computes in float32 as the GPU does) and dispatches on their type:
NumPy arrays go to :mod:`.cpu` (BLAS plus in-place ufuncs), CuPy arrays to :mod:`.cuda`
(cuBLAS plus the CUDA kernels in this folder). :mod:`.emulator` runs those CUDA kernels on the
CPU and :mod:`.nvrtc` compile-checks them, so both are tested without a GPU.

Every argument is checked, with errors that name it. A caller that has checked shapes and dtypes
itself (tensorflowish's ops and optimisers do, with errors that speak of tensors) passes
``check_arguments=False``: NumPy float32/float64 arrays then go straight to the CPU kernel, which
matters on small layers, where the checks cost as much as the kernel. What the caller then
guarantees: the shapes fit together as the checks require, every array has the dtype of the
first, and the options are valid (``velocity`` given where there is momentum). Arrays of any
other kind are checked anyway.

>>> import numpy as np
>>> from tensorflowish import kernels
>>> x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)
>>> y, pre = kernels.dense_forward(x, w, b, activation="relu")
>>> y.shape, pre is None
((2, 4), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import cpu, cuda

__all__ = [
    "ACTIVATIONS",
    "KERNEL_DIR",
    "adagrad_update",
    "adam_update",
    "dense_backward",
    "dense_forward",
    "kernel_sources",
    "lion_update",
    "nadam_update",
    "nadam_momentum_product",
    "sgd_update",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
]

ACTIVATIONS = cuda.ACTIVATIONS  # ("linear", "relu", "sigmoid", "tanh", "gelu", "leaky_relu")
KERNEL_DIR = cuda.KERNEL_DIR
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def kernel_sources() -> list[Path]:
    """The CUDA sources shipped with the package (``*.cu``; headers are ``*.cuh``)."""
    return sorted(KERNEL_DIR.glob("*.cu"))


# ---- argument checks (shared by both paths) -------------------------------------------------
def _backend(**arrays: Any) -> str:
    """'numpy' or 'cupy' for the given arrays (None entries are skipped); mixing is an error."""
    for array in arrays.values():  # the common case, checked first: all NumPy
        if array is not None and type(array) is not np.ndarray:
            break
    else:
        return "numpy"
    kinds = {}
    for name, array in arrays.items():
        if array is None:
            continue
        if isinstance(array, np.ndarray):
            kinds[name] = "numpy"
        elif type(array).__module__.split(".")[0] == "cupy":
            kinds[name] = "cupy"
        else:
            raise TypeError(
                f"{name} must be a numpy.ndarray or cupy.ndarray, got "
                f"{type(array).__name__}; pass the Tensor's backend array"
            )
    if len(set(kinds.values())) > 1:
        listing = ", ".join(f"{name} is {kind}" for name, kind in kinds.items())
        raise TypeError(
            f"arguments live on different devices ({listing}); move them to one device first"
        )
    return next(iter(kinds.values()), "numpy")


def _check_float(dtype_of: str, half: bool = False, **arrays: Any) -> np.dtype:
    """All arrays share one float32/float64 dtype (or float16/bfloat16 with `half`, where the
    16-bit kernels exist); returns it."""
    reference = arrays[dtype_of].dtype
    if (reference is _FLOATS[0] or reference is _FLOATS[1]) and all(
            array is None or array.dtype is reference for array in arrays.values()):
        return reference  # the common case: identical dtype objects
    reference = np.dtype(reference)
    if reference not in _FLOATS and not (half and _is_half(reference)):
        allowed = "float32, float64, float16 or bfloat16" if half else "float32 or float64"
        raise TypeError(f"{dtype_of} must be {allowed}, got {reference}")
    for name, array in arrays.items():
        if array is not None and np.dtype(array.dtype) != reference:
            raise TypeError(
                f"{name} has dtype {array.dtype} but {dtype_of} has {reference}; "
                "cast them to one dtype"
            )
    return reference


def _is_half(dtype: np.dtype) -> bool:
    return dtype == np.float16 or dtype.name == "bfloat16"


def _check_shape(name: str, array: Any, shape: tuple[int, ...]) -> None:
    if array is not None and tuple(array.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(array.shape)}")


def _check_activation(activation: str, alpha: float) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    if activation == "leaky_relu" and alpha < 0:
        # the backward pass reads the sign of z from y, which needs alpha >= 0
        raise ValueError(f"leaky_relu needs alpha >= 0, got {alpha}")


def _check_dense(x: Any, kernel: Any) -> tuple[int, int, int]:
    if x.ndim != 2 or kernel.ndim != 2:
        raise ValueError(
            f"dense kernels need a 2-D x (batch, inputs) and kernel (inputs, units), "
            f"got x {tuple(x.shape)} and kernel {tuple(kernel.shape)}"
        )
    if x.shape[1] != kernel.shape[0]:
        raise ValueError(
            f"x has {x.shape[1]} features but kernel expects {kernel.shape[0]} "
            f"(x {tuple(x.shape)}, kernel {tuple(kernel.shape)})"
        )
    return x.shape[0], x.shape[1], kernel.shape[1]


def _numpy_float(array: Any) -> bool:
    """The case ``check_arguments=False`` takes straight to the CPU: a float32/float64 ndarray."""
    return array.__class__ is np.ndarray and array.dtype in _FLOATS


def _check_writable(name: str, array: Any) -> None:
    if isinstance(array, np.ndarray) and not array.flags.writeable:
        raise ValueError(f"{name} is updated in place but is read-only")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} is updated in place and must be C-contiguous")


# ---- dense layer ------------------------------------------------------------------------------
def dense_forward(
    x: Any,
    kernel: Any,
    bias: Any | None = None,
    activation: str = "linear",
    alpha: float = 0.2,
    check_arguments: bool = True,
) -> tuple[Any, Any | None]:
    """``y = act(x @ kernel + bias)`` for x (N, K), kernel (K, M), bias (M,) or None.

    Returns ``(y, pre)``: ``pre`` is the pre-activation ``x @ kernel + bias``, kept only where the
    backward pass needs it (``gelu``); for the others it is ``None`` because their derivative
    comes from ``y``. ``gelu`` is the exact erf form (``tf.nn.gelu(approximate=False)``);
    ``alpha`` is the negative slope of ``leaky_relu``.
    """
    if not check_arguments and _numpy_float(x):
        if activation == "leaky_relu" or activation not in ACTIVATIONS:
            _check_activation(activation, alpha)  # a caller may not know alpha's rule
        return cpu.dense_forward(x, kernel, bias, activation, alpha)
    backend = _backend(x=x, kernel=kernel, bias=bias)
    # float16 on the GPU: the dense.cu _f16 kernels (the CPU composes half-precision layers)
    _check_float("x", half=backend == "cupy", x=x, kernel=kernel, bias=bias)
    _check_activation(activation, alpha)
    _, _, m = _check_dense(x, kernel)
    _check_shape("bias", bias, (m,))
    if backend == "numpy":
        return cpu.dense_forward(x, kernel, bias, activation, alpha)
    return cuda.dense_forward(cuda.cupy_runner(), x, kernel, bias, activation, alpha)


def dense_backward(
    dy: Any,
    x: Any,
    kernel: Any,
    y: Any,
    pre: Any | None,
    activation: str = "linear",
    alpha: float = 0.2,
    need_dx: bool = True,
    need_dkernel: bool = True,
    need_dbias: bool = True,
    overwrite_dy: bool = False,
    check_arguments: bool = True,
) -> tuple[Any | None, Any | None, Any | None]:
    """Gradients of :func:`dense_forward`: returns ``(dx, dkernel, dbias)``.

    ``g = dy * act'(z)`` is computed in one pass (from ``y``, or ``pre`` for gelu), written into
    ``dy`` itself only when ``overwrite_dy``; then ``dkernel = x.T @ g``, ``dx = g @ kernel.T``
    and ``dbias = g.sum(0)``. Results not asked for (``need_*=False``) are ``None``.
    """
    # dy comes from further down the network than x, kernel, y and pre: its dtype is checked
    if not check_arguments and dy.__class__ is np.ndarray and dy.dtype is x.dtype and \
            _numpy_float(x) and not overwrite_dy:
        return cpu.dense_backward(dy, x, kernel, y, pre, activation, alpha, need_dx,
                                  need_dkernel, need_dbias, False)
    args = (
        dy,
        x,
        kernel,
        y,
        pre,
        activation,
        alpha,
        need_dx,
        need_dkernel,
        need_dbias,
        overwrite_dy,
    )
    backend = _backend(dy=dy, x=x, kernel=kernel, y=y, pre=pre)
    _check_float("dy", half=backend == "cupy", dy=dy, x=x, kernel=kernel, y=y, pre=pre)
    _check_activation(activation, alpha)
    n, _, m = _check_dense(x, kernel)
    _check_shape("dy", dy, (n, m))
    _check_shape("y", y, (n, m))
    _check_shape("pre", pre, (n, m))
    if activation == "gelu" and pre is None:
        raise ValueError("gelu's backward needs pre, the second result of dense_forward")
    if overwrite_dy:
        _check_writable("dy (overwrite_dy=True)", dy)
    if backend == "numpy":
        return cpu.dense_backward(*args)
    return cuda.dense_backward(cuda.cupy_runner(), *args)


# ---- losses -----------------------------------------------------------------------------------
def _check_logits(logits: Any) -> None:
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (batch, classes), got shape {tuple(logits.shape)}")
    if logits.shape[1] == 0:
        raise ValueError("logits need at least one class, got shape (N, 0)")


def softmax_cross_entropy(logits: Any, labels: Any) -> tuple[Any, Any]:
    """Row-wise softmax cross-entropy with probability labels (N, C), fused with its gradient.

    Returns ``(loss, grad)``: ``loss[i] = -sum_j labels[i, j] * log_softmax(logits[i])[j]``
    (shape (N,)) and ``grad = softmax(logits) - labels`` (the gradient of ``loss.sum()``).
    Stable for large logits (computed from ``logits - max``).
    """
    backend = _backend(logits=logits, labels=labels)
    # float16 on the GPU: the _f16 kernel (the CPU op computes half-precision logits in float32)
    _check_float("logits", half=backend == "cupy", logits=logits, labels=labels)
    _check_logits(logits)
    _check_shape("labels", labels, tuple(logits.shape))
    if backend == "numpy":
        return cpu.softmax_cross_entropy(logits, labels)
    return cuda.softmax_cross_entropy(cuda.cupy_runner(), logits, labels)


def sparse_softmax_cross_entropy(
    logits: Any, labels: Any, check_arguments: bool = True
) -> tuple[Any, Any]:
    """Like :func:`softmax_cross_entropy` with integer class indices ``labels`` (N,).

    On the CPU a label outside ``[0, C)`` raises ``ValueError``, ``check_arguments`` or not; on
    the GPU (where checking would cost a device sync) its row gets NaN loss and gradient, as
    TensorFlow does.
    """
    if not check_arguments and labels.__class__ is np.ndarray and _numpy_float(logits) and \
            logits.shape[1]:
        _check_label_range(labels, logits.shape[1])
        return cpu.sparse_softmax_cross_entropy(logits, labels)
    backend = _backend(logits=logits, labels=labels)
    _check_float("logits", half=backend == "cupy", logits=logits)
    _check_logits(logits)
    if np.dtype(labels.dtype).kind not in "iu":
        raise TypeError(
            f"sparse labels must be integer class indices, got dtype {labels.dtype}; "
            "use softmax_cross_entropy for probabilities"
        )
    _check_shape("labels", labels, (logits.shape[0],))
    if backend == "numpy":
        _check_label_range(labels, logits.shape[1])
        return cpu.sparse_softmax_cross_entropy(logits, labels)
    return cuda.sparse_softmax_cross_entropy(cuda.cupy_runner(), logits, labels)


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # by item size


def _check_label_range(labels: np.ndarray, classes: int) -> None:
    """Raise ValueError naming the first label outside ``[0, classes)`` (NumPy labels)."""
    # one reduction finds both kinds of bad label: seen as unsigned, a negative label is huge
    unsigned = labels if labels.dtype.kind == "u" else labels.view(_UNSIGNED[labels.itemsize])
    if labels.size and np.maximum.reduce(unsigned) >= classes:  # .max() adds a Python layer
        bad = np.flatnonzero((labels < 0) | (labels >= classes))
        raise ValueError(
            f"labels[{bad[0]}] = {labels[bad[0]]} is not a class index in [0, {classes})"
        )


# ---- optimisers -------------------------------------------------------------------------------
def sgd_update(
    param: Any,
    grad: Any,
    velocity: Any | None,
    learning_rate: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    check_arguments: bool = True,
) -> None:
    """One Keras SGD step, in place on ``param`` (and ``velocity``).

    ``momentum == 0``: ``param -= learning_rate * grad`` (``velocity`` may be None). Otherwise
    ``velocity = momentum * velocity - learning_rate * grad`` and ``param += velocity``
    (nesterov: ``param += momentum * velocity - learning_rate * grad``).
    """
    if not check_arguments and grad.__class__ is np.ndarray and _numpy_float(param):
        cpu.sgd_update(param, grad, velocity, learning_rate, momentum, nesterov)
        return
    args = (param, grad, velocity, float(learning_rate), float(momentum), bool(nesterov))
    backend = _backend(param=param, grad=grad, velocity=velocity)
    _check_float("param", half=True, param=param, grad=grad,
                 velocity=velocity if momentum else None)
    _check_shape("grad", grad, tuple(param.shape))
    _check_writable("param", param)
    if momentum != 0:
        if velocity is None:
            raise ValueError("SGD with momentum needs a velocity array (zeros at the start)")
        _check_shape("velocity", velocity, tuple(param.shape))
        _check_writable("velocity", velocity)
    if backend == "numpy":
        _on_cpu(cpu.sgd_update, 3, *args)
    else:
        cuda.sgd_update(cuda.cupy_runner(), *args)


def adam_update(
    param: Any,
    grad: Any,
    m: Any,
    v: Any,
    learning_rate: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
    weight_decay: float = 0.0,
) -> None:
    """One Keras Adam (AdamW where ``weight_decay``) step, in place on ``param``, ``m``, ``v``.

    ``step`` counts from 1. AdamW decays first, decoupled: ``param -= param * weight_decay *
    learning_rate``; then ``m += (grad - m) * (1 - beta_1)``, ``v += (grad**2 - v) * (1 -
    beta_2)`` and ``param -= lr_t * m / (sqrt(v) + epsilon)`` with
    ``lr_t = learning_rate * sqrt(1 - beta_2**step) / (1 - beta_1**step)``.
    """
    backend = _backend(param=param, grad=grad, m=m, v=v)
    _check_float("param", half=True, param=param, grad=grad, m=m, v=v)
    for name, array in (("grad", grad), ("m", m), ("v", v)):
        _check_shape(name, array, tuple(param.shape))
    for name, array in (("param", param), ("m", m), ("v", v)):
        _check_writable(name, array)
    if step < 1:
        raise ValueError(f"step counts from 1 (the first update), got {step}")
    lr_t = learning_rate * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    decay_factor = 1.0 - weight_decay * learning_rate
    args = (param, grad, m, v, lr_t, float(beta_1), float(beta_2), float(epsilon), decay_factor)
    if backend == "numpy":
        _on_cpu(cpu.adam_update, 4, *args)
    else:
        cuda.adam_update(cuda.cupy_runner(), *args)



def _on_cpu(update: Callable[..., None], n_arrays: int, *args: Any) -> None:
    """``update(*args)`` (a :mod:`.cpu` optimiser step) whose first ``n_arrays`` arguments are
    param, grad and the slots. Half-precision arrays (float16, bfloat16) are updated through
    float32 copies: the _f16/_bf16 GPU kernels compute in float too, and float16 arithmetic
    would lose ``grad * grad`` below 6e-8 to underflow."""
    arrays = args[:n_arrays]
    if not _is_half(np.dtype(arrays[0].dtype)):
        update(*args)
        return
    wide = [None if array is None else array.astype(np.float32) for array in arrays]
    update(*wide, *args[n_arrays:])
    for array, updated in zip(arrays, wide):
        if updated is not None and array is not arrays[1]:  # grad, the second, is only read
            array[...] = updated


def _check_update(param: Any, grad: Any, **slots: Any) -> str:
    """The checks every optimiser kernel shares: one float dtype, one shape, writable state."""
    backend = _backend(param=param, grad=grad, **slots)
    _check_float("param", half=True, param=param, grad=grad, **slots)
    for name, array in (("grad", grad), *slots.items()):
        _check_shape(name, array, tuple(param.shape))
    for name, array in (("param", param), *slots.items()):
        _check_writable(name, array)
    return backend


def adagrad_update(
    param: Any,
    grad: Any,
    accumulator: Any,
    learning_rate: float,
    epsilon: float = 1e-7,
    weight_decay: float = 0.0,
) -> None:
    """One Keras Adagrad step, in place on ``param`` and ``accumulator``.

    Decoupled weight decay first (``param -= param * weight_decay * learning_rate``), then
    ``accumulator += grad**2`` and ``param -= learning_rate * grad / sqrt(accumulator + epsilon)``.
    """
    backend = _check_update(param, grad, accumulator=accumulator)
    args = (param, grad, accumulator, float(learning_rate), float(epsilon),
            1.0 - weight_decay * learning_rate)
    if backend == "numpy":
        _on_cpu(cpu.adagrad_update, 3, *args)
    else:
        cuda.adagrad_update(cuda.cupy_runner(), *args)


def nadam_momentum_product(beta_1: float, step: int, previous: float = 1.0) -> float:
    """Nadam's running product ``prod_{s<=step} beta_1 * (1 - 0.5 * 0.96**s)``, given the product
    up to ``step - 1`` (``previous``; 1.0 before the first step)."""
    return previous * beta_1 * (1.0 - 0.5 * 0.96**step)


def nadam_update(
    param: Any,
    grad: Any,
    m: Any,
    v: Any,
    learning_rate: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
    momentum_product: float,
    weight_decay: float = 0.0,
) -> None:
    """One Keras Nadam step, in place on ``param``, ``m``, ``v``.

    ``step`` counts from 1; ``momentum_product`` is :func:`nadam_momentum_product` up to and
    including ``step``. With ``u_t = beta_1 * (1 - 0.5 * 0.96**t)``: m and v move as in Adam, then
    ``m_hat = u_{t+1} * m / (1 - product * u_{t+1}) + (1 - u_t) * grad / (1 - product)``,
    ``v_hat = v / (1 - beta_2**t)`` and ``param -= learning_rate * m_hat / (sqrt(v_hat) + eps)``
    (after the decoupled weight decay, as in AdamW).
    """
    backend = _check_update(param, grad, m=m, v=v)
    if step < 1:
        raise ValueError(f"step counts from 1 (the first update), got {step}")
    u_t = beta_1 * (1.0 - 0.5 * 0.96**step)
    u_next = beta_1 * (1.0 - 0.5 * 0.96 ** (step + 1))
    m_coef = u_next / (1.0 - momentum_product * u_next)
    grad_coef = (1.0 - u_t) / (1.0 - momentum_product)
    v_coef = 1.0 / (1.0 - beta_2**step)
    args = (param, grad, m, v, float(learning_rate), float(beta_1), float(beta_2),
            float(epsilon), m_coef, grad_coef, v_coef, 1.0 - weight_decay * learning_rate)
    if backend == "numpy":
        _on_cpu(cpu.nadam_update, 4, *args)
    else:
        cuda.nadam_update(cuda.cupy_runner(), *args)


def lion_update(
    param: Any,
    grad: Any,
    m: Any,
    learning_rate: float,
    beta_1: float = 0.9,
    beta_2: float = 0.99,
    weight_decay: float = 0.0,
) -> None:
    """One Keras Lion step, in place on ``param`` and ``m``.

    ``param -= learning_rate * sign(beta_1 * m + (1 - beta_1) * grad)`` (after the decoupled
    weight decay), then ``m = beta_2 * m + (1 - beta_2) * grad``.
    """
    backend = _check_update(param, grad, m=m)
    args = (param, grad, m, float(learning_rate), float(beta_1), float(beta_2),
            1.0 - weight_decay * learning_rate)
    if backend == "numpy":
        _on_cpu(cpu.lion_update, 3, *args)
    else:
        cuda.lion_update(cuda.cupy_runner(), *args)
