"""The vocabulary layers: `StringLookup` and `IntegerLookup` (and the base they share).

A vocabulary maps terms to indices laid out as Keras 3 does: the mask token (if any) at 0, then
`num_oov_indices` out-of-vocabulary slots, then the terms, most frequent first (`adapt`), ties
broken as Keras breaks them (the larger term first).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend
from tensorflowish.errors import InvalidArgumentError
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.preprocessing.encoding import check_output_mode, encode
from tensorflowish.strings import fingerprint64
from tensorflowish.tensor import Tensor, string_bytes


def iterate_batches(data: Any, steps: int | None = None):
    """The batches of `data` for adapt(): a tf.data.Dataset, a tensor, an array or a list."""
    if hasattr(data, "as_numpy_iterator"):
        for number, batch in enumerate(data.as_numpy_iterator()):
            if steps is not None and number >= steps:
                break
            yield batch
        return
    if isinstance(data, Tensor):
        data = backend.to_numpy(data.array)
    yield data


class IndexLookup(Layer):
    """Terms -> indices (or back, with invert=True), with Keras 3's arguments."""

    _term_kind = "term"

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any,
                 oov_token: Any, vocabulary: Any = None, idf_weights: Any = None,
                 invert: bool = False, output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, **kwargs: Any) -> None:
        kwargs.pop("vocabulary_dtype", None)
        kwargs.pop("encoding", None)
        super().__init__(**kwargs)
        name = type(self).__name__
        self.output_mode = check_output_mode(name, output_mode)
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{name}: max_tokens must be > 1 (or None), got {max_tokens}.")
        if num_oov_indices < 0:
            raise ValueError(f"{name}: num_oov_indices must be >= 0, got {num_oov_indices}.")
        if invert and output_mode != "int":
            raise ValueError(f"{name}: invert=True needs output_mode='int', got "
                             f"{output_mode!r}.")
        if sparse:
            raise InvalidArgumentError(f"{name}: sparse=True is not supported; outputs are "
                                       "dense.")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.pad_to_max_tokens = bool(invert), bool(pad_to_max_tokens)
        self._terms: list = []
        self._index: dict = {}
        self._idf: np.ndarray | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            raise ValueError(f"{name}: idf_weights needs a vocabulary.")

    # --- the vocabulary ------------------------------------------------------------------
    def _key(self, value: Any) -> Any:
        """A term as the dictionary holds it."""
        raise NotImplementedError

    def _uses_mask(self) -> bool:
        return self.mask_token is not None

    def _token_start_index(self) -> int:
        return (1 if self._uses_mask() else 0) + self.num_oov_indices

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The terms in index order (with the mask and OOV tokens first by default)."""
        special = ([self._present(self.mask_token)] if self._uses_mask() else []) + \
            [self._present(self.oov_token)] * self.num_oov_indices
        terms = [self._present(t) for t in self._terms]
        return special + terms if include_special_tokens else terms

    def _present(self, key: Any) -> Any:
        return key

    def vocabulary_size(self) -> int:
        return self._token_start_index() + len(self._terms)

    def _depth(self) -> int:
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return self.max_tokens
        return self.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Use `vocabulary` (a list, array, tensor or a file with one term per line)."""
        if isinstance(vocabulary, str) and self._term_kind == "string" and \
                not isinstance(vocabulary, bytes):
            import os

            if os.path.isfile(vocabulary):
                with open(vocabulary, encoding="utf-8") as handle:
                    vocabulary = [line.rstrip("\n") for line in handle]
        if isinstance(vocabulary, Tensor):
            vocabulary = backend.to_numpy(vocabulary.array)
        keys = [self._key(v) for v in np.asarray(vocabulary, dtype=object).reshape(-1)]
        special = []
        if self._uses_mask():
            special.append(self._key(self.mask_token))
        special += [self._key(self.oov_token)] * self.num_oov_indices
        if special and keys[: len(special)] == special:
            keys = keys[len(special):]  # a vocabulary from get_vocabulary() round-trips
        mask_key = self._key(self.mask_token) if self.mask_token is not None else None
        if mask_key is not None and mask_key in keys:
            raise ValueError(f"{type(self).__name__}: the mask token {self.mask_token!r} may "
                             "only be the vocabulary's first entry.")
        if len(set(keys)) != len(keys):
            repeated = [k for k, n in Counter(keys).items() if n > 1][:3]
            raise ValueError(f"{type(self).__name__}: the vocabulary repeats "
                             f"{[self._present(k) for k in repeated]}.")
        if self.max_tokens is not None and len(keys) + self._token_start_index() > \
                self.max_tokens:
            raise ValueError(f"{type(self).__name__}: the vocabulary has "
                             f"{len(keys) + self._token_start_index()} entries with the special "
                             f"tokens, more than max_tokens={self.max_tokens}.")
        self._set_terms(keys)
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{type(self).__name__}: output_mode='tf_idf' needs "
                                 "idf_weights with the vocabulary.")
            weights = np.asarray(idf_weights, np.float64).reshape(-1)
            if weights.size == len(keys):
                weights = np.concatenate([np.full(self._token_start_index(), weights.mean()),
                                          weights])
            self._idf = weights
        self.built = True

    def _set_terms(self, keys: list) -> None:
        self._terms = list(keys)
        start = self._token_start_index()
        self._index = {key: start + i for i, key in enumerate(self._terms)}

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary (and document frequencies, for tf_idf) from `data`."""
        counts: Counter = Counter()
        documents: Counter = Counter()
        number_of_documents = 0
        for batch in iterate_batches(data, steps):
            array = np.asarray(batch, dtype=object)
            rows = array.reshape(array.shape[0], -1) if array.ndim > 1 else \
                array.reshape(-1, 1)
            for row in rows:
                keys = [self._key(v) for v in row]
                counts.update(keys)
                documents.update(set(keys))
                number_of_documents += 1
        self._learn(counts, documents, number_of_documents)

    def _learn(self, counts: Counter, documents: Counter, number_of_documents: int) -> None:
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(self._key(special), None)
                documents.pop(self._key(special), None)
        # Keras: np.lexsort((tokens, counts))[::-1] - by count, then the larger term, first
        terms = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens is not None:
            terms = terms[: max(self.max_tokens - self._token_start_index(), 0)]
        self._set_terms(terms)
        if self.output_mode == "tf_idf":
            idf = np.log(1 + number_of_documents /
                         (1 + np.array([documents[t] for t in terms], np.float64)))
            average = idf.mean() if idf.size else 0.0
            self._idf = np.concatenate([np.full(self._token_start_index(), average), idf])
            if self.pad_to_max_tokens and self.max_tokens is not None:
                self._idf = np.pad(self._idf, (0, self.max_tokens - self._idf.size))
        self.built = True

    # --- looking up ----------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, (str, bytes, list, tuple, np.ndarray)):  # plain data to a tensor
            array = np.asarray(inputs, dtype=object)
            if array.size and isinstance(array.flat[0], (str, bytes, np.str_, np.bytes_)):
                from tensorflowish.strings import string_array

                inputs = Tensor(string_array(array, type(self).__name__))
            else:
                inputs = tf.constant(np.asarray(inputs))
        return super().__call__(inputs, *args, **kwargs)

    def _oov_index(self, key: Any) -> int:
        if self.num_oov_indices == 0:
            return -1
        base = 1 if self._uses_mask() else 0
        if self.num_oov_indices == 1:
            return base
        return base + fingerprint64(self._hash_bytes(key)) % self.num_oov_indices

    def _hash_bytes(self, key: Any) -> bytes:
        return str(key).encode("utf-8")

    def lookup_array(self, array: np.ndarray) -> np.ndarray:
        """Indices (int64) of the terms in `array` (object or integer array)."""
        out = np.empty(array.shape, np.int64)
        index, mask_key = self._index, (self._key(self.mask_token)
                                        if self._uses_mask() else None)
        for position, value in np.ndenumerate(array):
            key = self._key(value)
            found = index.get(key)
            if found is None:
                found = 0 if key == mask_key and mask_key is not None else self._oov_index(key)
            out[position] = found
        return out

    def call(self, inputs: Tensor) -> Tensor:
        array = np.asarray(backend.to_numpy(inputs.array))
        if self.invert:
            return self._invert(array)
        indices = self.lookup_array(array)
        if self.output_mode == "int":
            return tf.constant(indices, dtype=tf.int64)
        if self._uses_mask():  # the mask token is dropped from the encodings
            indices = np.where(indices == 0, -1, indices)
        return encode(indices, self._depth(), self.output_mode, type(self).__name__,
                      idf=self._idf, dtype=self.dtype)

    def _invert(self, array: np.ndarray) -> Tensor:
        vocabulary = self.get_vocabulary()
        out = np.empty(array.shape, dtype=object)
        for position, value in np.ndenumerate(array):
            value = int(value)
            term = vocabulary[value] if 0 <= value < len(vocabulary) else self.oov_token
            out[position] = self._present(term)
        return self._as_output(out)

    def _as_output(self, out: np.ndarray) -> Tensor:
        return Tensor(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if self.output_mode != "int" or not self._uses_mask() or self.invert:
            return None
        array = np.asarray(backend.to_numpy(inputs.array))
        mask_key = self._key(self.mask_token)
        keep = np.vectorize(lambda v: self._key(v) != mask_key, otypes=[bool])(array) \
            if array.size else np.zeros(array.shape, bool)
        return tf.constant(keep)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token, "invert": self.invert,
                "output_mode": self.output_mode, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": self.get_vocabulary(include_special_tokens=False) or None,
                "idf_weights": None if self._idf is None else
                self._idf[self._token_start_index():].tolist()}


class StringLookup(IndexLookup):
    """Strings -> integer indices (vocabulary from `vocabulary=` or `adapt`), as Keras 3.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.StringLookup(vocabulary=["a", "b", "c"])
    >>> layer([["a", "c", "d"]]).numpy().tolist()
    [[1, 3, 0]]
    >>> layer.get_vocabulary()
    ['[UNK]', 'a', 'b', 'c']
    """

    _term_kind = "string"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: str | None = None, oov_token: str = "[UNK]",
                 vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", pad_to_max_tokens: bool = False,
                 sparse: bool = False, encoding: str = "utf-8", **kwargs: Any) -> None:
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens, **kwargs)

    def _key(self, value: Any) -> bytes:
        key = string_bytes(value)
        if key is not None:
            return key
        raise TypeError(f"StringLookup expects strings, got {type(value).__name__} "
                        f"({value!r}); use IntegerLookup for integers.")

    def _present(self, key: Any) -> Any:
        return key.decode("utf-8") if isinstance(key, bytes) else key

    def _hash_bytes(self, key: Any) -> bytes:
        return key

    def _as_output(self, out: np.ndarray) -> Tensor:
        encoded = np.empty(out.shape, dtype=object)
        for position, value in np.ndenumerate(out):
            encoded[position] = self._key(value)
        return Tensor(encoded)


class IntegerLookup(IndexLookup):
    """Integers -> indices (OOV 0 by default, oov_token -1), as Keras 3.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
    >>> layer([[12, 1138, 42], [42, 1000, 36]]).numpy().tolist()
    [[1, 3, 4], [4, 0, 2]]
    """

    _term_kind = "integer"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: int | None = None, oov_token: int = -1, vocabulary: Any = None,
                 vocabulary_dtype: str = "int64", idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, **kwargs: Any) -> None:
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens, **kwargs)

    def _key(self, value: Any) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                return int(value)
            raise TypeError(f"IntegerLookup expects integers, got {type(value).__name__} "
                            f"({value!r}); use StringLookup for strings.")
        return int(value)

    def _present(self, key: Any) -> Any:
        return key

    def _as_output(self, out: np.ndarray) -> Tensor:
        return tf.constant(out.astype(np.int64))
