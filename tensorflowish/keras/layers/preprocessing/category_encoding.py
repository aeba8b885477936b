"""`CategoryEncoding`: integer categories as one-hot, multi-hot or count vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorflowish import backend
from tensorflowish.errors import InvalidArgumentError
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.preprocessing.encoding import check_output_mode, encode
from tensorflowish.tensor import Tensor


class CategoryEncoding(Layer):
    """Encode integer features in [0, num_tokens) as 'one_hot', 'multi_hot' (default) or
    'count' vectors of length num_tokens.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.CategoryEncoding(num_tokens=4, output_mode="multi_hot")
    >>> layer([[0, 1], [0, 0], [1, 2], [3, 1]]).numpy().tolist()
    [[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    """

    def __init__(self, num_tokens: int | None = None, output_mode: str = "multi_hot",
                 sparse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_tokens is None or int(num_tokens) < 1:
            raise ValueError(f"CategoryEncoding needs num_tokens >= 1, got {num_tokens!r}.")
        if sparse:
            raise InvalidArgumentError("CategoryEncoding: sparse=True is not supported; the "
                                       "output is dense.")
        self.num_tokens = int(num_tokens)
        self.output_mode = check_output_mode("CategoryEncoding", output_mode,
                                             ("one_hot", "multi_hot", "count"))

    def call(self, inputs: Tensor, count_weights: Any = None) -> Tensor:
        array = np.asarray(backend.to_numpy(inputs.array))
        if array.dtype.kind not in "iu":
            if array.dtype.kind == "f" and np.all(array == np.round(array)):
                array = array.astype(np.int64)
            else:
                raise InvalidArgumentError(f"CategoryEncoding expects integer inputs, got "
                                           f"{inputs.dtype.name}.")
        if array.size and array.min() < 0:
            raise InvalidArgumentError(f"CategoryEncoding: inputs must be >= 0, got "
                                       f"{int(array.min())}.")
        weights = None if count_weights is None else np.asarray(
            count_weights.numpy() if isinstance(count_weights, Tensor) else count_weights)
        return encode(array, self.num_tokens, self.output_mode, "CategoryEncoding", weights,
                      dtype=self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}
