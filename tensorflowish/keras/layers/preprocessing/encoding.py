"""Turning integer indices into one-hot, multi-hot, count or TF-IDF vectors (shared by
`CategoryEncoding`, the lookup layers and `TextVectorization`)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.errors import InvalidArgumentError

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def check_output_mode(layer: str, mode: str, allowed: tuple = OUTPUT_MODES) -> str:
    if mode not in allowed:
        raise ValueError(f"{layer}: output_mode must be one of {list(allowed)}, got {mode!r}.")
    return mode


def encode(indices: np.ndarray, depth: int, mode: str, layer: str, weights: Any = None,
           idf: np.ndarray | None = None, dtype: Any = "float32") -> tf.Tensor:
    """indices (batch,) or (batch, k) of ints in [0, depth) -> (batch, depth) vectors.

    one_hot: one row per index (input (batch,) or (batch, 1)); multi_hot: 1 where an index
    occurs; count: how often; tf_idf: count * idf. Negative indices (dropped tokens) count for
    nothing.
    """
    indices = np.asarray(indices)
    if mode == "one_hot":
        if indices.ndim >= 1 and indices.shape[-1] == 1 and indices.ndim > 1:
            indices = indices[..., 0]
        flat = indices.reshape(-1)
        _check_range(flat, depth, layer)
        out = np.zeros((flat.size, depth), np.dtype(dtype))
        keep = flat >= 0
        out[np.flatnonzero(keep), flat[keep]] = 1
        return tf.constant(out.reshape(indices.shape + (depth,)))
    if indices.ndim == 0:
        indices = indices.reshape(1)
    if indices.ndim == 1:
        indices = indices[:, None]
    if indices.ndim != 2:
        raise InvalidArgumentError(f"{layer}: {mode} encoding takes inputs of rank 1 or 2 "
                                   f"(batch, tokens), got shape {indices.shape}.")
    _check_range(indices, depth, layer)
    counts = np.zeros((indices.shape[0], depth), np.float64)
    rows = np.repeat(np.arange(indices.shape[0]), indices.shape[1])
    flat = indices.reshape(-1)
    keep = flat >= 0
    values = np.ones(flat.shape) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    np.add.at(counts, (rows[keep], flat[keep]), values[keep])
    if mode == "multi_hot":
        counts = (counts > 0).astype(np.float64)
    elif mode == "tf_idf":
        counts = counts * np.asarray(idf, np.float64)[:depth]
    return tf.constant(counts.astype(np.dtype(dtype)))


def _check_range(indices: np.ndarray, depth: int, layer: str) -> None:
    if indices.size and indices.max() >= depth:
        raise InvalidArgumentError(f"{layer}: an index {int(indices.max())} is out of range: "
                                   f"the encoding has {depth} positions (num_tokens / "
                                   "vocabulary size). Raise num_tokens or check the inputs.")
