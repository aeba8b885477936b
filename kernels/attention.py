"""Softmax over masked attention scores: the NumPy twin here, one CUDA kernel on CuPy arrays
(``attention.cu``, a block per row), as Keras's ``Softmax(mask=...)`` computes it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .cuda import _bits, _scalar, cupy_runner

MASKED_SOFTMAX_THREADS = 256  # TFISH_MASKED_SOFTMAX_THREADS in attention.cu


def large_negative(dtype: Any) -> float:
    """What Keras puts at masked positions: -1e9, or -65504 in float16."""
    return -65504.0 if np.dtype(dtype) == np.float16 else -1e9


def masked_softmax(scores: Any, keep: Any) -> Any:
    """softmax of each row of `scores` (rows, cols) over the positions where `keep` (same shape,
    boolean) is True; 0 elsewhere (a fully masked row gives zeros)."""
    if scores.__class__.__module__ != "numpy":
        return masked_softmax_gpu(cupy_runner(), scores, keep)
    values = np.where(keep, scores, large_negative(scores.dtype)).astype(scores.dtype, copy=False)
    values -= values.max(axis=-1, keepdims=True)
    np.exp(values, out=values)
    values /= values.sum(axis=-1, keepdims=True)
    values[~keep] = 0
    return values


def masked_softmax_gpu(runner, scores: Any, keep: Any) -> Any:
    """One kernel launch: a block per row (the emulator runs the same launch in the tests);
    float16 (and, on the emulator, bfloat16) scores run the _f16/_bf16 kernel."""
    xp, dtype = runner.xp, scores.dtype
    scores = xp.ascontiguousarray(scores)
    keep_values = xp.ascontiguousarray(keep, dtype=dtype)
    rows, cols = scores.shape
    out = runner.empty((rows, cols), dtype)
    if rows:
        threads = min(MASKED_SOFTMAX_THREADS, max(32, 1 << max(0, cols - 1).bit_length()))
        runner.kernel("attention.cu", "tfish_masked_softmax", dtype)(
            (max(1, min(rows, runner.max_blocks)),), (threads,),
            (_bits(out), _bits(scores), _bits(keep_values), np.int32(rows), np.int32(cols),
             _scalar(dtype)(large_negative(dtype))))
    return out
