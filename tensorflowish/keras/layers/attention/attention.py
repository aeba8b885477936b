"""`tf.keras.layers.Attention`: dot-product (Luong) attention, as Keras 3 computes it."""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.tensor import Tensor


def causal_mask(query_steps, value_steps) -> Tensor:
    """(1, T, S) booleans: query step i may attend to value steps j <= i. A size may be a
    tensor (a relaxed dimension in a tf.function: see `steps`)."""
    if isinstance(query_steps, int) and isinstance(value_steps, int):
        return tf.constant(np.tril(np.ones((query_steps, value_steps), bool))[None])
    rows = tf.expand_dims(tf.range(query_steps), 1)
    return tf.expand_dims(tf.expand_dims(tf.range(value_steps), 0) <= rows, 0)


def steps(tensor: Tensor, axis: int):
    """The size of `tensor` along `axis`: an int, or a scalar tensor where the static shape
    has None (a relaxed dimension in a tf.function)."""
    size = tensor.shape[axis]
    return int(size) if size is not None else tf.shape(tensor)[axis]


def attention_dropout(weights: Tensor, rate: float, training: bool, seed: Any) -> Tensor:
    if not training or rate <= 0:
        return weights
    return tf.nn.dropout(weights, rate, seed=seed)


class Attention(Layer):
    """Dot-product attention: ``softmax(query @ key^T [* scale]) @ value``.

    Called on ``[query, value]`` or ``[query, value, key]`` (key defaults to value), shapes
    (batch, Tq, dim) and (batch, Tv, dim); ``mask=[query_mask, value_mask]`` or the inputs'
    Keras masks hide padded steps. ``score_mode`` is 'dot' or 'concat'.

    >>> import tensorflowish as tf
    >>> query, value = tf.ones((2, 3, 4)), tf.ones((2, 5, 4))
    >>> tf.keras.layers.Attention()([query, value]).shape.as_list()
    [2, 3, 4]
    """

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got "
                             f"{score_mode!r}.")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self.supports_masking = True
        self.scale = self.concat_score_weight = None

    def build(self, input_shape: Any = None) -> None:
        if self.use_scale:
            self.scale = self.add_weight("scale", (), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (),
                                                       initializer="ones")
        self.built = True

    def _inputs(self, inputs: Any) -> tuple[Tensor, Tensor, Tensor]:
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"Attention layer '{self.name}' must be called on a list "
                             f"[query, value] or [query, value, key], got "
                             f"{type(inputs).__name__}.")
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        for label, tensor in (("query", query), ("value", value), ("key", key)):
            if tensor.ndim != 3:
                raise ValueError(f"Attention layer '{self.name}': {label} must have shape "
                                 f"(batch, steps, dim), got {tuple(tensor.shape)}.")
        return query, value, key

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        if self.score_mode == "dot":
            scores = tf.matmul(query, key, transpose_b=True)
            return scores * self.scale if self.scale is not None else scores
        total = tf.expand_dims(query, -2) + tf.expand_dims(key, -3)
        if self.scale is not None:
            total = self.scale * total
        return self.concat_score_weight * tf.reduce_sum(tf.tanh(total), -1)

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        query, value, key = self._inputs(inputs)
        query_mask = value_mask = None
        if mask is not None:
            query_mask = mask[0]
            value_mask = mask[1] if len(mask) > 1 else None
        scores = self._scores(query, key)
        scores_mask = None
        if value_mask is not None:
            scores_mask = tf.expand_dims(tf.cast(value_mask, tf.bool), -2)  # (B, 1, Tv)
        if use_causal_mask:
            causal = causal_mask(steps(scores, 1), steps(scores, 2))
            scores_mask = causal if scores_mask is None else tf.logical_and(scores_mask, causal)
        if scores_mask is not None:  # Keras subtracts 1e9 where masked (65504 in float16)
            big = 65504.0 if scores.dtype == tf.float16 else 1.0e9
            padding = tf.cast(tf.logical_not(scores_mask), scores.dtype)
            scores = scores - big * padding
        weights = tf.nn.softmax(scores, axis=-1)
        weights = attention_dropout(weights, self.dropout, bool(training), self.seed)
        result = tf.matmul(weights, value)
        if query_mask is not None:
            result = result * tf.cast(tf.expand_dims(query_mask, -1), result.dtype)
        if return_attention_scores:
            return result, weights
        return result

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None or mask[0] is None:
            return None
        return tf.convert_to_tensor(mask[0])

    def get_config(self) -> dict:
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}
