"""Shared by the tf.function tests: a central finite-difference gradient in float64, and Keras
fit traced with replay plans against run_eagerly."""

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


@pytest.fixture
def plan_notes(monkeypatch):
    """(plan or False, plan_note) of every graph compiled in the test."""
    from tensorflowish.function.graph import Graph

    compiled = []
    original = Graph.compile

    def compile_and_note(self):
        compiled.append((original(self), self.plan_note))
        return compiled[-1][0]
    monkeypatch.setattr(Graph, "compile", compile_and_note)
    return compiled


@pytest.fixture
def fit_as_plan_equals_eager(plan_notes):
    """`check(train)`, where `train(run_eagerly)` builds, fits and returns (weights, history):
    traced, every graph compiled gets a plan (no op-by-op fallback); the weights and history
    equal run_eagerly=True's bit for bit."""
    def check(train) -> None:
        traced_weights, traced_history = train(False)
        assert plan_notes and all(plan for plan, _ in plan_notes), plan_notes
        eager_weights, eager_history = train(True)
        assert traced_history == eager_history
        for a, b in zip(traced_weights, eager_weights):
            np.testing.assert_array_equal(a, b)
    return check


@pytest.fixture
def mixed_float16():
    """Keras's global policy mixed_float16 for the test, float32 again afterwards."""
    import tensorflowish as tf

    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    tf.keras.mixed_precision.set_global_policy("float32")
