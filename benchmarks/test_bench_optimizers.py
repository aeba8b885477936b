"""Optimiser steps with fused kernels (Adam, Adagrad, Nadam, Lion) against the update written
in plain NumPy, the floor a user would write (the formula as it reads, every operation a new
temporary).

Run the timings with (unset the OpenBLAS overrides of this image, see FACTS.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python -m pytest benchmarks/test_bench_optimizers.py --benchmark-enable

Without ``--benchmark-enable`` (the default in pyproject) each benchmark runs once, as a
correctness check: the optimiser and the NumPy formula must take the same step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tensorflowish as tf

SIZE = 1 << 20  # parameters
LR, B1, B2, EPS = 0.01, 0.9, 0.999, 1e-7


def _adam_floor(p, g, state, step):
    m, v = state.setdefault("m", np.zeros_like(p)), state.setdefault("v", np.zeros_like(p))
    m[...] = B1 * m + (1 - B1) * g
    v[...] = B2 * v + (1 - B2) * g * g
    p -= LR * math.sqrt(1 - B2**step) / (1 - B1**step) * m / (np.sqrt(v) + EPS)


def _adagrad_floor(p, g, state, step):
    a = state.setdefault("a", np.full_like(p, 0.1))
    a += g * g
    p -= LR * g / np.sqrt(a + EPS)


def _nadam_floor(p, g, state, step):
    m, v = state.setdefault("m", np.zeros_like(p)), state.setdefault("v", np.zeros_like(p))
    u_t = B1 * (1 - 0.5 * 0.96**step)
    u_next = B1 * (1 - 0.5 * 0.96 ** (step + 1))
    state["product"] = state.get("product", 1.0) * u_t
    m[...] = B1 * m + (1 - B1) * g
    v[...] = B2 * v + (1 - B2) * g * g
    m_hat = u_next * m / (1 - state["product"] * u_next) + (1 - u_t) * g / (1 - state["product"])
    p -= LR * m_hat / (np.sqrt(v / (1 - B2**step)) + EPS)


def _lion_floor(p, g, state, step):
    m = state.setdefault("m", np.zeros_like(p))
    p -= LR * np.sign(0.9 * m + 0.1 * g)
    m[...] = 0.99 * m + 0.01 * g


CASES = {
    "adam": (lambda: tf.keras.optimizers.Adam(LR, epsilon=EPS), _adam_floor),
    "adagrad": (lambda: tf.keras.optimizers.Adagrad(LR, epsilon=EPS), _adagrad_floor),
    "nadam": (lambda: tf.keras.optimizers.Nadam(LR, epsilon=EPS), _nadam_floor),
    "lion": (lambda: tf.keras.optimizers.Lion(LR), _lion_floor),
}


def _inputs(size):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(size).astype(np.float32),
            rng.standard_normal(size).astype(np.float32))


@pytest.mark.parametrize("variant", ["framework", "numpy"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_optimizer_step(benchmark, name, variant):
    make, floor = CASES[name]
    p, g = _inputs(SIZE)
    if variant == "framework":
        variable, gradient, optimizer = tf.Variable(p), tf.constant(g), make()

        def run():
            optimizer.apply_gradients([(gradient, variable)])
    else:
        state: dict = {}
        steps = [0]

        def run():
            steps[0] += 1
            floor(p, g, state, steps[0])

    benchmark.group = f"optimizer step {name} ({SIZE} float32)"
    benchmark(run)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_step_matches_the_numpy_formula(name):
    make, floor = CASES[name]
    p, g = _inputs(1000)
    variable, optimizer, state = tf.Variable(p), make(), {}
    reference = p.astype(np.float64)
    for step in range(1, 4):
        optimizer.apply_gradients([(tf.constant(g), variable)])
        floor(reference, g.astype(np.float64), state, step)
    np.testing.assert_allclose(variable.numpy(), reference, rtol=1e-4, atol=1e-5)
