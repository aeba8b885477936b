"""``Discretization``: bucket continuous values by boundaries, given or learned by ``adapt()``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.preprocessing.normalization import batches_of
from tensorflowish.tensor import Tensor


class Discretization(Layer):
    """Bucket index of each value: with boundaries ``[b0, b1, ...]`` a value ``< b0`` goes to
    bucket 0, ``b0 <= x < b1`` to 1, and so on. ``adapt(data)`` with ``num_bins`` picks the
    boundaries at the quantiles of the data (computed exactly here, where Keras approximates
    them within ``epsilon``). ``output_mode``: "int" (indices), "one_hot", "multi_hot" or
    "count" (one column per bucket).

    >>> import tensorflowish as tf
    >>> tf.keras.layers.Discretization([0.0, 1.0])([[-1.0, 0.0, 0.5, 2.0]]).numpy().tolist()
    [[0, 1, 1, 2]]
    """

    def __init__(self, bin_boundaries: Sequence[float] | None = None,
                 num_bins: int | None = None, epsilon: float = 0.01, output_mode: str = "int",
                 sparse: bool = False, dtype: Any = None, name: str | None = None,
                 **kwargs: Any) -> None:
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Discretization output_mode must be 'int', 'one_hot', 'multi_hot' "
                             f"or 'count', got {output_mode!r}.")
        if sparse:
            raise NotImplementedError("Discretization(sparse=True): sparse outputs are not "
                                      "supported; leave sparse=False.")
        if bin_boundaries is not None and num_bins is not None:
            raise ValueError("Discretization: give bin_boundaries or num_bins (then adapt()), "
                             "not both.")
        if num_bins is not None and num_bins < 2:
            raise ValueError(f"Discretization num_bins must be >= 2, got {num_bins}.")
        super().__init__(name=name, **kwargs)  # computes in float32; dtype is the output's
        self._output_dtype = np.dtype(str(getattr(dtype, "name", dtype) or (
            "int64" if output_mode == "int" else "float32")))
        self.bin_boundaries = None if bin_boundaries is None else [float(b) for b in
                                                                   bin_boundaries]
        if self.bin_boundaries is not None and self.bin_boundaries != sorted(self.bin_boundaries):
            raise ValueError(f"Discretization bin_boundaries must be sorted, got "
                             f"{self.bin_boundaries}.")
        self.num_bins, self.epsilon = num_bins, float(epsilon)
        self.output_mode, self.sparse = output_mode, False

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Choose ``num_bins - 1`` boundaries at the quantiles of ``data``."""
        if self.num_bins is None:
            raise ValueError("Discretization.adapt needs num_bins (the boundaries were given).")
        values = [batch.reshape(-1) for index, batch in enumerate(batches_of(data))
                  if steps is None or index < steps]
        values = np.concatenate(values).astype(np.float64)
        if not values.size:
            raise ValueError("Discretization.adapt got no data.")
        quantiles = np.linspace(0.0, 1.0, self.num_bins + 1)[1:-1]
        self.bin_boundaries = np.quantile(values, quantiles).tolist()

    def call(self, inputs: Tensor) -> Tensor:
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization '{self.name}' has no bin boundaries: pass "
                             "bin_boundaries or call adapt() first.")
        if not isinstance(inputs, Tensor):
            inputs = tf.convert_to_tensor(inputs)
        array = inputs.array
        xp = tf_backend.get_array_module(array)
        boundaries = xp.asarray(self.bin_boundaries, dtype=xp.float64)
        indices = xp.searchsorted(boundaries, array.astype(xp.float64), side="right")
        if self.output_mode == "int":
            return Tensor(indices.astype(self._output_dtype))
        depth = len(self.bin_boundaries) + 1
        out_dtype = self._output_dtype
        if self.output_mode == "one_hot":
            if array.ndim > 1 and array.shape[-1] != 1:
                raise ValueError(f"Discretization '{self.name}' with output_mode='one_hot' needs "
                                 f"one value per example, got inputs of shape {array.shape}; "
                                 "use 'multi_hot' or 'count'.")
            flat = indices.reshape(-1)
            return Tensor(xp.eye(depth, dtype=out_dtype)[flat].reshape(
                (*array.shape[:1], depth) if array.ndim else (depth,)))
        rows = indices.reshape(indices.shape[0], -1) if indices.ndim > 1 else indices[None]
        counts = xp.zeros((rows.shape[0], depth), dtype=out_dtype)
        for row in range(rows.shape[0]):
            counts[row] = xp.bincount(rows[row], minlength=depth)
        if self.output_mode == "multi_hot":
            counts = (counts > 0).astype(out_dtype)
        return Tensor(counts if indices.ndim > 1 else counts[0])

    def get_config(self) -> dict:
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse,
                "dtype": self._output_dtype.name}
