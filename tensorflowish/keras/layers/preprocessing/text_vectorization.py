"""`TextVectorization`: raw strings -> token indices (or multi-hot / count / TF-IDF vectors).

Standardize (default: lowercase and strip punctuation), split (default: on whitespace),
optionally add n-grams, then look the tokens up in a vocabulary learnt by `adapt` — Keras 3's
layer, with its vocabulary layout ('' for padding at 0 and '[UNK]' at 1 in 'int' mode).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.preprocessing.encoding import check_output_mode
from tensorflowish.keras.layers.preprocessing.index_lookup import StringLookup, iterate_batches
from tensorflowish.ragged import RaggedTensor
from tensorflowish.strings import string_array
from tensorflowish.tensor import Tensor

# Keras's DEFAULT_STRIP_REGEX
_PUNCTUATION = re.compile(rb'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)
_SPLIT = ("whitespace", "character", None)


class TextVectorization(Layer):
    """Map text to token indices as Keras 3 does.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.TextVectorization(output_sequence_length=4)
    >>> layer.adapt(["The cat sat.", "The dog!"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'sat', 'dog', 'cat']
    >>> layer(["the bird sat"]).numpy().tolist()
    [[2, 1, 3, 0]]
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: Any = "lower_and_strip_punctuation",
        split: Any = "whitespace",
        ngrams: Any = None,
        output_mode: str = "int",
        output_sequence_length: int | None = None,
        pad_to_max_tokens: bool = False,
        vocabulary: Any = None,
        idf_weights: Any = None,
        sparse: bool = False,
        ragged: bool = False,
        encoding: str = "utf-8",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if not (callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"TextVectorization: standardize must be one of "
                             f"{list(_STANDARDIZE)} or a callable, got {standardize!r}.")
        if not (callable(split) or split in _SPLIT):
            raise ValueError(f"TextVectorization: split must be one of {list(_SPLIT)} or a "
                             f"callable, got {split!r}.")
        check_output_mode("TextVectorization", output_mode,
                          ("int", "multi_hot", "count", "tf_idf"))
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError("TextVectorization: output_sequence_length applies to "
                             f"output_mode='int' only, got output_mode={output_mode!r}.")
        if ragged and (output_mode != "int" or output_sequence_length is not None):
            raise ValueError("TextVectorization: ragged=True needs output_mode='int' and no "
                             "output_sequence_length.")
        if isinstance(ngrams, int):
            ngrams = tuple(range(1, ngrams + 1))
        self.standardize, self.split = standardize, split
        self.ngrams = None if ngrams is None else tuple(ngrams)
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.ragged = bool(ragged)
        self.max_tokens = max_tokens
        self.pad_to_max_tokens = pad_to_max_tokens
        self._lookup = StringLookup(
            max_tokens=max_tokens, num_oov_indices=1,
            mask_token="" if output_mode == "int" else None, oov_token="[UNK]",
            vocabulary=vocabulary, idf_weights=idf_weights, output_mode=output_mode,
            pad_to_max_tokens=pad_to_max_tokens, name=f"{self.name}_lookup",
        )  # fmt: skip
        self.built = True

    # --- text -> tokens --------------------------------------------------------------------
    def _standardized(self, texts: np.ndarray) -> np.ndarray:
        mode = self.standardize
        if callable(mode):
            result = mode(Tensor(texts))
            return string_array(result, "TextVectorization standardize")
        out = np.empty(texts.shape, dtype=object)
        for index, text in np.ndenumerate(texts):
            if mode in ("lower", "lower_and_strip_punctuation"):
                text = text.decode("utf-8").lower().encode("utf-8")
            if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
                text = _PUNCTUATION.sub(b"", text)
            out[index] = text
        return out

    def _tokens(self, texts: np.ndarray) -> list:
        """One list of tokens (bytes) per text."""
        if callable(self.split):
            result = self.split(Tensor(texts))
            rows = result.to_list() if isinstance(result, RaggedTensor) else \
                np.asarray(backend.to_numpy(result.array), dtype=object).tolist()
            return [[t if isinstance(t, bytes) else str(t).encode() for t in row]
                    for row in rows]
        if self.split == "whitespace":
            rows = [text.split() for text in texts]
        elif self.split == "character":
            rows = [[c.encode("utf-8") for c in text.decode("utf-8")] for text in texts]
        else:
            rows = [[text] for text in texts]
        if self.ngrams:
            rows = [self._with_ngrams(row) for row in rows]
        return rows

    def _with_ngrams(self, tokens: list) -> list:
        out = []
        for size in self.ngrams:
            out += [b" ".join(tokens[i: i + size]) for i in range(len(tokens) - size + 1)]
        return out

    def _texts(self, inputs: Any) -> np.ndarray:
        array = string_array(inputs, "TextVectorization")
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim != 1:
            raise ValueError(f"TextVectorization expects a batch of strings of shape (batch,) "
                             f"or (batch, 1), got shape {array.shape}.")
        return array

    # --- vocabulary ------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary (most frequent tokens first) from texts: a list, array, tensor
        or tf.data.Dataset of strings."""
        from collections import Counter

        counts: Counter = Counter()
        documents: Counter = Counter()
        number = 0
        for batch in iterate_batches(data, steps):
            for tokens in self._tokens(self._standardized(self._texts(batch))):
                counts.update(tokens)
                documents.update(set(tokens))
                number += 1
        self._lookup._learn(counts, documents, number)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    # --- calling ---------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, (str, bytes, list, tuple, np.ndarray)):  # strings to a tensor
            inputs = Tensor(string_array(inputs, "TextVectorization"))
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs: Tensor) -> Tensor:
        rows = self._tokens(self._standardized(self._texts(inputs)))
        lookup = self._lookup
        if self.output_mode != "int":
            width = max((len(r) for r in rows), default=0)
            padded = np.full((len(rows), max(width, 1)), -1, np.int64)
            for i, row in enumerate(rows):
                if row:
                    tokens = np.empty(len(row), dtype=object)
                    tokens[:] = row
                    padded[i, : len(row)] = lookup.lookup_array(tokens)
            from tensorflowish.keras.layers.preprocessing.encoding import encode

            return encode(padded, lookup._depth(), self.output_mode, "TextVectorization",
                          idf=lookup._idf, dtype="float32")
        if self.ragged:  # one row of ids per text, unpadded
            ids = []
            for row in rows:
                tokens = np.empty(len(row), dtype=object)
                tokens[:] = row
                ids.append(lookup.lookup_array(tokens).tolist())
            return RaggedTensor.from_row_lists(ids, (len(ids),), dtype=np.int64)
        width = self.output_sequence_length
        if width is None:
            width = max((len(r) for r in rows), default=0)
        out = np.zeros((len(rows), width), np.int64)
        for i, row in enumerate(rows):
            row = row[:width]
            if row:
                tokens = np.empty(len(row), dtype=object)
                tokens[:] = row
                out[i, : len(row)] = lookup.lookup_array(tokens)
        return tf.constant(out, dtype=tf.int64)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "standardize": self.standardize if not callable(self.standardize) else None,
                "split": self.split if not callable(self.split) else None,
                "ngrams": self.ngrams, "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "ragged": self.ragged,
                "vocabulary": self.get_vocabulary(include_special_tokens=False) or None}
