"""Attention layers: dot-product `Attention` and `MultiHeadAttention`."""

from tensorflowish.keras.layers.attention.attention import Attention
from tensorflowish.keras.layers.attention.multi_head_attention import MultiHeadAttention

__all__ = ["Attention", "MultiHeadAttention"]
