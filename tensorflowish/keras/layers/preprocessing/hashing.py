"""`Hashing`: categorical features (strings or integers) into `num_bins` buckets."""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend
from tensorflowish.errors import UnimplementedError
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.preprocessing.encoding import check_output_mode, encode
from tensorflowish.strings import fingerprint64, string_array
from tensorflowish.tensor import Tensor


class Hashing(Layer):
    """Bucket = FarmHash Fingerprint64(value) mod num_bins, as TensorFlow's
    `tf.strings.to_hash_bucket_fast` (integers are hashed as their decimal strings). With
    `mask_value`, that value goes to bin 0 and the others to bins 1..num_bins-1.

    >>> import tensorflowish as tf
    >>> tf.keras.layers.Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).numpy().ravel()
    array([1, 0, 1, 1, 2])
    """

    def __init__(self, num_bins: int, mask_value: Any = None, salt: Any = None,
                 output_mode: str = "int", sparse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_bins is None or int(num_bins) < 1:
            raise ValueError(f"Hashing: num_bins must be >= 1, got {num_bins!r}.")
        if salt is not None:
            raise UnimplementedError("Hashing: salt (TensorFlow's keyed SipHash) is not "
                                     "supported; leave salt=None.")
        self.num_bins, self.mask_value = int(num_bins), mask_value
        self.output_mode = check_output_mode("Hashing", output_mode,
                                             ("int", "one_hot", "multi_hot", "count"))

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, (str, bytes, list, tuple, np.ndarray)):
            array = np.asarray(inputs, dtype=object)
            if array.size and isinstance(array.flat[0], (str, bytes)):
                inputs = Tensor(string_array(inputs, "Hashing"))
            else:
                inputs = tf.constant(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs: Tensor) -> Tensor:
        array = np.asarray(backend.to_numpy(inputs.array))
        out = np.empty(array.shape, np.int64)
        masking = self.mask_value is not None and self.num_bins > 1
        mask_value = self.mask_value
        if isinstance(mask_value, str):
            mask_value = mask_value.encode("utf-8")
        if array.dtype.kind == "f":  # Keras: floats are hashed as int64
            array = array.astype(np.int64)
        bins = self.num_bins - (1 if masking else 0)
        for position, value in np.ndenumerate(array):
            if masking and value == mask_value:
                out[position] = 0
                continue
            key = value if isinstance(value, bytes) else str(int(value)).encode("utf-8")
            out[position] = fingerprint64(key) % bins + (1 if masking else 0)
        if self.output_mode == "int":
            return tf.constant(out)
        return encode(out, self.num_bins, self.output_mode, "Hashing", dtype=self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_bins": self.num_bins,
                "mask_value": self.mask_value, "output_mode": self.output_mode}
