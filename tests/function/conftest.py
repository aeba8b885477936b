"""Shared by the tf.function tests: a central finite-difference gradient in float64."""

from __future__ import annotations

import numpy as np
import pytest


def _central_difference(function, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (function(up) - function(down)) / (2 * eps)
    return grad


@pytest.fixture
def finite_difference():
    """`finite_difference(f, x)`: the gradient of scalar `f` at array `x`, numerically."""
    return _central_difference
