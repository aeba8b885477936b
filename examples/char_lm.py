"""A character-level language model: an LSTM learns to continue a text, then writes some.

Trains on any local text file (default: docstrings of the Python standard library), reports
the perplexity on the last tenth of the text, held out, and samples new text at the end.

    python examples/char_lm.py --text README.md --epochs 5
    python examples/char_lm.py --steps 300 --sample 400
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import tensorflowish as tf


def default_text() -> str:
    """English prose that every Python has: the docstrings of a few standard-library modules."""
    import argparse as _argparse
    import collections
    import inspect
    import json
    import pathlib
    import textwrap

    parts = []
    for module in (_argparse, collections, json, pathlib, textwrap):
        for _, member in inspect.getmembers(module):
            doc = inspect.getdoc(member) if callable(member) else None
            if doc and doc not in parts:
                parts.append(doc)
    return "\n\n".join(parts)


class CharModel(tf.keras.Model):
    """Embedding -> LSTM -> Dense over the vocabulary, with the LSTM's states in and out."""

    def __init__(self, vocabulary: int, units: int) -> None:
        super().__init__()
        self.embedding = tf.keras.layers.Embedding(vocabulary, 32)
        self.lstm = tf.keras.layers.LSTM(units, return_sequences=True, return_state=True)
        self.head = tf.keras.layers.Dense(vocabulary)

    def call(self, ids, states=None, training=None):
        outputs, h, c = self.lstm(self.embedding(ids), initial_state=states, training=training)
        return self.head(outputs), [h, c]


def windows(ids: np.ndarray, length: int, rng: np.random.Generator, count: int):
    starts = rng.integers(0, len(ids) - length - 1, count)
    x = np.stack([ids[s: s + length] for s in starts])
    y = np.stack([ids[s + 1: s + length + 1] for s in starts])
    return x.astype(np.int32), y.astype(np.int32)


def perplexity(model: CharModel, ids: np.ndarray, length: int) -> float:
    """exp(mean cross-entropy) of predicting each next character of `ids`."""
    count = (len(ids) - 1) // length
    x = ids[: count * length].reshape(count, length).astype(np.int32)
    y = ids[1: count * length + 1].reshape(count, length).astype(np.int32)
    logits, _ = model(x)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    return math.exp(float(loss))


def sample(model: CharModel, alphabet: list, start: str, count: int, temperature: float,
           rng: np.random.Generator) -> str:
    """Feed `start`, then one sampled character at a time, carrying the LSTM's states."""
    index = {c: i for i, c in enumerate(alphabet)}
    ids = np.array([[index.get(c, 0) for c in start]], np.int32)
    logits, states = model(ids)
    text = []
    for _ in range(count):
        last = logits.numpy()[0, -1].astype(np.float64) / temperature
        p = np.exp(last - last.max())
        choice = int(rng.choice(len(p), p=p / p.sum()))
        text.append(alphabet[choice])
        logits, states = model(np.array([[choice]], np.int32), states)
    return start + "".join(text)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=None,
                        help="a local text file (default: standard-library docstrings)")
    parser.add_argument("--steps", type=int, default=400, help="training steps")
    parser.add_argument("--length", type=int, default=48, help="characters per sequence")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--sample", type=int, default=200, help="characters to write")
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    text = open(args.text, encoding="utf-8").read() if args.text else default_text()
    alphabet = sorted(set(text))
    ids = np.array([alphabet.index(c) for c in text])
    split = int(len(ids) * 0.9)
    train, held_out = ids[:split], ids[split:]
    tf.keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = CharModel(len(alphabet), args.units)
    optimizer = tf.keras.optimizers.Adam(0.005)
    print(f"{len(text):,} characters, {len(alphabet)} distinct; LSTM({args.units}), "
          f"{args.steps} steps of {args.batch} x {args.length}")
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = windows(train, args.length, rng, args.batch)
        with tf.GradientTape() as tape:
            logits, _ = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 5.0)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        if step % max(1, args.steps // 5) == 0:
            print(f"step {step}: training perplexity {math.exp(float(loss)):.2f}")
    seconds = time.perf_counter() - started
    held = perplexity(model, held_out, min(args.length, len(held_out) - 1))
    print(f"held-out perplexity {held:.2f} (a uniform guess is {len(alphabet)}); "
          f"training took {seconds:.1f} s")
    print("sample:", sample(model, alphabet, text[:20], args.sample, args.temperature, rng))
    return held


if __name__ == "__main__":
    main()
