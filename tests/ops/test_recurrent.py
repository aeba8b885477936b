"""The fused whole-sequence ops (rnn.lstm / rnn.gru / rnn.simple_rnn) against plain loops.

The references below are written step by step from the equations (Keras 3's gate order), not
from the implementation's helpers; the gradients are checked by tests/test_gradients.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.ops import recurrent


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _loop(step, x, states, mask, go_backwards):
    """Run `step` over x (batch, time, f) as Keras does: masked steps keep the states."""
    steps = x.shape[1]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs = []
    for t in order:
        new = step(x[:, t], states)
        if mask is not None:
            keep = mask[:, t][:, None]
            new = [np.where(keep, n, s) for n, s in zip(new, states)]
        states = new
        outputs.append(np.concatenate(states, -1))
    return np.stack(outputs, 1)


def _lstm_reference(x, h, c, w, u, b, mask=None, go_backwards=False):
    n = u.shape[0]

    def step(x_t, states):
        h, c = states
        z = x_t @ w + h @ u + b
        i, f, g, o = (_sigmoid(z[:, :n]), _sigmoid(z[:, n:2 * n]), np.tanh(z[:, 2 * n:3 * n]),
                      _sigmoid(z[:, 3 * n:]))
        c = f * c + i * g
        return [o * np.tanh(c), c]
    return _loop(step, x, [h, c], mask, go_backwards)


def _gru_reference(x, h, w, u, b, mask=None, go_backwards=False):
    n = u.shape[0]

    def step(x_t, states):
        (h,) = states
        xp, m = x_t @ w + b[0], h @ u + b[1]
        z = _sigmoid(xp[:, :n] + m[:, :n])
        r = _sigmoid(xp[:, n:2 * n] + m[:, n:2 * n])
        hh = np.tanh(xp[:, 2 * n:] + r * m[:, 2 * n:])
        return [z * h + (1 - z) * hh]
    return _loop(step, x, [h], mask, go_backwards)


def _simple_reference(x, h, w, u, b, mask=None, go_backwards=False, activation=np.tanh):
    return _loop(lambda x_t, s: [activation(x_t @ w + s[0] @ u + b)], x, [h], mask,
                 go_backwards)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    batch, steps, features, units = 3, 5, 4, 6
    draw = lambda *shape: rng.normal(0, 0.7, shape).astype(np.float32)  # noqa: E731
    mask = np.ones((batch, steps), bool)
    mask[0, 3:] = False
    mask[2, 0] = False
    return dict(x=draw(batch, steps, features), h=draw(batch, units), c=draw(batch, units),
                w4=draw(features, 4 * units), u4=draw(units, 4 * units), b4=draw(4 * units),
                w3=draw(features, 3 * units), u3=draw(units, 3 * units), b3=draw(2, 3 * units),
                w1=draw(features, units), u1=draw(units, units), b1=draw(units), mask=mask)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_matches_a_plain_loop(data, go_backwards, masked):
    d, mask = data, data["mask"] if masked else None
    out = recurrent.lstm(d["x"], d["h"], d["c"], d["w4"], d["u4"], d["b4"], mask=mask,
                         go_backwards=go_backwards)
    expected = _lstm_reference(d["x"], d["h"], d["c"], d["w4"], d["u4"], d["b4"], mask,
                               go_backwards)
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gru_matches_a_plain_loop(data, go_backwards, masked):
    d, mask = data, data["mask"] if masked else None
    out = recurrent.gru(d["x"], d["h"], d["w3"], d["u3"], d["b3"], mask=mask,
                        go_backwards=go_backwards)
    expected = _gru_reference(d["x"], d["h"], d["w3"], d["u3"], d["b3"], mask, go_backwards)
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_simple_rnn_matches_a_plain_loop(data, activation):
    d = data
    out = recurrent.simple_rnn(d["x"], d["h"], d["w1"], d["u1"], d["b1"], mask=d["mask"],
                               activation=activation)
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0))
    expected = _simple_reference(d["x"], d["h"], d["w1"], d["u1"], d["b1"], d["mask"],
                                 activation=act)
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-5, atol=2e-6)


def test_a_whole_sequence_is_one_tape_record(data):
    d = data
    x = tf.constant(d["x"])
    with tf.GradientTape() as tape:
        tape.watch(x)
        recurrent.lstm(x, d["h"], d["c"], d["w4"], d["u4"], d["b4"])
        assert len(tape._records) == 1


def test_gradients_under_an_outer_tape_are_second_order(data):
    """Under an outer tape the VJP is recomposed from ops: the gradient of a gradient exists
    and matches finite differences of the first gradient."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 3, 2))
    h0 = np.zeros((2, 2))
    w, u, b = rng.uniform(-1, 1, (2, 2)), rng.uniform(-1, 1, (2, 2)), rng.uniform(-1, 1, 2)

    def first_gradient(w_value):
        wt = tf.constant(w_value)
        with tf.GradientTape() as outer:
            outer.watch(wt)
            with tf.GradientTape() as inner:
                inner.watch(wt)
                y = tf.reduce_sum(recurrent.simple_rnn(x, h0, wt, u, b) ** 2)
            g = inner.gradient(y, wt)
            s = tf.reduce_sum(g)
        return float(s), outer.gradient(s, wt).numpy()

    _, second = first_gradient(w)
    eps, numeric = 1e-6, np.zeros_like(w)
    for index in np.ndindex(w.shape):
        plus, minus = w.copy(), w.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (first_gradient(plus)[0] - first_gradient(minus)[0]) / (2 * eps)
    np.testing.assert_allclose(second, numeric, rtol=1e-5, atol=1e-7)


def test_bad_shapes_say_what_was_expected(data):
    d = data
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"kernel must have shape \[4, "):
        recurrent.lstm(d["x"], d["h"], d["c"], d["w3"], d["u4"], d["b4"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="mask must have shape"):
        recurrent.gru(d["x"], d["h"], d["w3"], d["u3"], d["b3"], mask=d["mask"][:, :2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="features"):
        recurrent.simple_rnn(d["x"][0], d["h"], d["w1"], d["u1"], d["b1"])
