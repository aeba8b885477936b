"""`tf.strings`: operations on string tensors (bytes, as TensorFlow holds them).

A string tensor holds a NumPy object array of `bytes` and always lives on the host (string ops
run on the CPU, as in TensorFlow). None of these ops is differentiable. Where TensorFlow
returns a `tf.RaggedTensor` (`split`, `unicode_split` of a batch) these return one too.

>>> import tensorflowish as tf
>>> words = tf.strings.split(tf.strings.lower("Gray Wolf"))
>>> words.numpy().tolist()
[b'gray', b'wolf']
>>> tf.strings.reduce_join(words, separator="-").numpy()
b'gray-wolf'
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from . import dtypes as _dtypes
from .errors import InvalidArgumentError
from .ragged import RaggedTensor
from .tensor import Tensor, string_bytes

__all__ = ["as_string", "bytes_split", "join", "length", "lower", "ngrams", "reduce_join",
           "regex_full_match", "regex_replace", "split", "strip", "substr", "to_hash_bucket_fast",
           "to_number", "unicode_decode", "unicode_encode", "unicode_split", "upper",
           "RaggedTensor"]


# ---- conversions -------------------------------------------------------------------------------
def _as_bytes(item: Any, op: str) -> bytes:
    data = string_bytes(item)
    if data is not None:
        return data
    raise TypeError(f"tf.strings.{op} expects strings, got {type(item).__name__} ({item!r}). "
                    "Convert numbers with tf.strings.as_string.")


def string_array(value: Any, op: str) -> np.ndarray:
    """`value` (a string tensor, str/bytes or nested lists of them) as an object array of bytes."""
    if isinstance(value, Tensor):
        array = value.array
        if getattr(array, "dtype", None) is None or array.dtype.kind != "O":
            raise TypeError(f"tf.strings.{op} expects a string tensor, got "
                            f"{value.dtype.name}. Convert numbers with tf.strings.as_string.")
        return array
    source = value if isinstance(value, np.ndarray) and value.dtype.kind == "O" else \
        np.asarray(value, dtype=object)
    out = np.empty(source.shape, dtype=object)
    for index, item in np.ndenumerate(source):
        out[index] = _as_bytes(item, op)
    return out


def string_tensor(array: np.ndarray) -> Tensor:
    return Tensor(array)


def _map(value: Any, op: str, function) -> Tensor:
    array = string_array(value, op)
    out = np.empty(array.shape, dtype=object)
    for index, item in np.ndenumerate(array):
        out[index] = function(item)
    return string_tensor(out)


# ---- elementwise -------------------------------------------------------------------------------
def lower(input: Any, encoding: str = "", name: str | None = None) -> Tensor:  # noqa: A002
    """Lowercase: ASCII letters only by default, every letter with encoding='utf-8'."""
    if encoding.lower().replace("-", "") == "utf8":
        return _map(input, "lower", lambda b: b.decode("utf-8").lower().encode("utf-8"))
    return _map(input, "lower", bytes.lower)


def upper(input: Any, encoding: str = "", name: str | None = None) -> Tensor:  # noqa: A002
    """Uppercase: ASCII letters only by default, every letter with encoding='utf-8'."""
    if encoding.lower().replace("-", "") == "utf8":
        return _map(input, "upper", lambda b: b.decode("utf-8").upper().encode("utf-8"))
    return _map(input, "upper", bytes.upper)


def strip(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """Remove leading and trailing whitespace."""
    return _map(input, "strip", bytes.strip)


def length(input: Any, unit: str = "BYTE", name: str | None = None) -> Tensor:  # noqa: A002
    """The length of each string in bytes (unit='BYTE') or characters (unit='UTF8_CHAR')."""
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise InvalidArgumentError(f"tf.strings.length: unit must be 'BYTE' or 'UTF8_CHAR', got "
                                   f"{unit!r}.")
    array = string_array(input, "length")
    count = len if unit == "BYTE" else (lambda b: len(b.decode("utf-8", errors="replace")))
    return Tensor(np.vectorize(count, otypes=[np.int32])(array) if array.size else
                  np.zeros(array.shape, np.int32))


def _rewrite(rewrite: str) -> str:
    # RE2 rewrites use \1..\9 and \0; Python's re needs \g<0> for the whole match
    return rewrite.replace("\\0", "\\g<0>")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def regex_replace(input: Any, pattern: str, rewrite: str, replace_global: bool = True,  # noqa: A002
                  name: str | None = None) -> Tensor:
    """Replace matches of the regular expression `pattern` with `rewrite` (\\1 for groups)."""
    compiled = re.compile(_text(pattern).encode("utf-8"))
    replacement = _rewrite(_text(rewrite)).encode("utf-8")
    count = 0 if replace_global else 1
    return _map(input, "regex_replace", lambda b: compiled.sub(replacement, b, count=count))


def regex_full_match(input: Any, pattern: str, name: str | None = None) -> Tensor:  # noqa: A002
    """True where the whole string matches `pattern`."""
    compiled = re.compile(_text(pattern).encode("utf-8"))
    array = string_array(input, "regex_full_match")
    out = np.zeros(array.shape, bool)
    for index, item in np.ndenumerate(array):
        out[index] = compiled.fullmatch(item) is not None
    return Tensor(out)


def join(inputs: Any, separator: str = "", name: str | None = None) -> Tensor:
    """Join a list of string tensors (or strings) elementwise, broadcasting scalars."""
    if isinstance(inputs, (Tensor, str, bytes)):
        inputs = [inputs]
    arrays = [string_array(value, "join") for value in inputs]
    if not arrays:
        raise InvalidArgumentError("tf.strings.join needs at least one input.")
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        raise InvalidArgumentError(f"tf.strings.join: the inputs' shapes "
                                   f"{[a.shape for a in arrays]} do not broadcast.") from None
    sep = _as_bytes(separator, "join")
    out = np.empty(arrays[0].shape, dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sep.join(a[index] for a in arrays)
    return string_tensor(out)


def reduce_join(inputs: Any, axis: Any = None, keepdims: bool = False, separator: str = "",
                name: str | None = None) -> Tensor:
    """Join the strings along `axis` (all of them when None)."""
    from .errors import check_axes

    array = string_array(inputs, "reduce_join")
    sep = _as_bytes(separator, "reduce_join")
    if axis is None:
        axes = tuple(range(array.ndim))
    else:
        axes = tuple(check_axes("reduce_join", list(np.atleast_1d(axis)), array.ndim))
    kept = [d for d in range(array.ndim) if d not in axes]
    moved = np.transpose(array, kept + list(axes)) if array.ndim else array
    rows = moved.reshape(tuple(array.shape[d] for d in kept) + (-1,))
    out = np.empty(rows.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sep.join(rows[index])
    if keepdims:
        out = out.reshape(tuple(1 if d in axes else array.shape[d] for d in range(array.ndim)))
    return string_tensor(out)


def substr(input: Any, pos: Any, len: Any, unit: str = "BYTE",  # noqa: A002
           name: str | None = None) -> Tensor:
    """The substrings starting at `pos` (negative counts from the end) of length `len`."""
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise InvalidArgumentError(f"tf.strings.substr: unit must be 'BYTE' or 'UTF8_CHAR', got "
                                   f"{unit!r}.")
    array = string_array(input, "substr")
    positions = np.broadcast_to(np.asarray(pos.numpy() if isinstance(pos, Tensor) else pos),
                                array.shape)
    lengths = np.broadcast_to(np.asarray(len.numpy() if isinstance(len, Tensor) else len),
                              array.shape)
    out = np.empty(array.shape, dtype=object)
    for index, item in np.ndenumerate(array):
        text = item if unit == "BYTE" else item.decode("utf-8")
        start, size = int(positions[index]), int(lengths[index])
        if start < 0:
            start += builtin_len(text)
        if not 0 <= start <= builtin_len(text):
            raise InvalidArgumentError(f"tf.strings.substr: pos {int(positions[index])} is out of "
                                       f"range for a string of length {builtin_len(text)}.")
        piece = text[start: start + size]
        out[index] = piece if unit == "BYTE" else piece.encode("utf-8")
    return string_tensor(out)


builtin_len = len


def to_number(string_tensor: Any, out_type: Any = _dtypes.float32,  # noqa: F811
              name: str | None = None) -> Tensor:
    """Parse each string as a number of `out_type` (float32 by default)."""
    wanted = _dtypes.as_dtype(out_type)
    array = string_array(string_tensor, "to_number")
    out = np.empty(array.shape, dtype=wanted.as_numpy_dtype)
    for index, item in np.ndenumerate(array):
        text = item.decode("utf-8", errors="replace").strip()
        try:
            out[index] = int(text) if wanted.is_integer else float(text)
        except ValueError:
            raise InvalidArgumentError(f"StringToNumberOp could not correctly convert string: "
                                       f"{text}") from None
    return Tensor(out)


def as_string(input: Any, precision: int = -1, scientific: bool = False,  # noqa: A002
              shortest: bool = False, width: int = -1, fill: str = "",
              name: str | None = None) -> Tensor:
    """Format numbers (or booleans) as strings: floats as C's %f (6 decimals) by default."""
    tensor = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
    from . import backend

    array = backend.to_numpy(tensor.array)
    if array.dtype.kind == "O":
        raise TypeError("tf.strings.as_string expects numbers or booleans, got strings.")
    if array.dtype.kind == "f":
        kind = "e" if scientific else ("g" if shortest else "f")
        spec = f"%{fill}{width if width > 0 else ''}" + \
            (f".{precision}" if precision >= 0 else "") + kind
    elif array.dtype.kind == "b":
        spec = None
    else:
        spec = f"%{fill}{width if width > 0 else ''}d"
    out = np.empty(array.shape, dtype=object)
    for index, item in np.ndenumerate(array):
        text = ("true" if item else "false") if spec is None else spec % item
        out[index] = text.encode("utf-8")
    return string_tensor(out)


# ---- splitting -----------------------------------------------------------------------------------
def _split_one(item: bytes, sep: bytes | None, maxsplit: int) -> list:
    if sep is None:
        return item.split(None, maxsplit) if maxsplit >= 0 else item.split()
    if sep == b"":
        raise InvalidArgumentError("tf.strings.split: sep must not be empty.")
    return item.split(sep, maxsplit)


def _ragged_or_flat(pieces: list, shape: tuple) -> Any:
    if not shape:
        out = np.empty(builtin_len(pieces[0]), dtype=object)
        out[:] = pieces[0]
        return string_tensor(out)
    return RaggedTensor.from_row_lists(pieces, shape, dtype=object)


def split(input: Any, sep: Any = None, maxsplit: int = -1,  # noqa: A002
          name: str | None = None) -> Any:
    """Split each string at `sep` (runs of whitespace when None): a 1-D tensor for a scalar,
    a RaggedTensor (one row per string) for a batch."""
    array = string_array(input, "split")
    separator = None if sep is None else _as_bytes(sep, "split")
    pieces = [_split_one(item, separator, maxsplit) for item in array.reshape(-1)]
    return _ragged_or_flat(pieces, array.shape)


def unicode_split(input: Any, input_encoding: str, errors: str = "replace",  # noqa: A002
                  replacement_char: int = 65533, name: str | None = None) -> Any:
    """Split each string into its Unicode characters (each as UTF-8 bytes)."""
    if input_encoding.upper().replace("-", "") not in ("UTF8",):
        raise InvalidArgumentError(f"tf.strings.unicode_split: only UTF-8 is supported, got "
                                   f"{input_encoding!r}.")
    handler = {"replace": "replace", "ignore": "ignore", "strict": "strict"}.get(errors)
    if handler is None:
        raise InvalidArgumentError(f"tf.strings.unicode_split: errors must be 'replace', "
                                   f"'ignore' or 'strict', got {errors!r}.")
    array = string_array(input, "unicode_split")
    replacement = chr(replacement_char)
    pieces = []
    for item in array.reshape(-1):
        try:
            text = item.decode("utf-8", errors=handler)
        except UnicodeDecodeError as error:
            raise InvalidArgumentError(f"tf.strings.unicode_split: invalid UTF-8: {error}") \
                from None
        if handler == "replace" and replacement != "\ufffd":
            text = text.replace("\ufffd", replacement)
        pieces.append([c.encode("utf-8") for c in text])
    return _ragged_or_flat(pieces, array.shape)


def bytes_split(input: Any, name: str | None = None) -> Any:  # noqa: A002
    """Split each string into its bytes (each a 1-byte string)."""
    array = string_array(input, "bytes_split")
    pieces = [[item[i: i + 1] for i in range(builtin_len(item))] for item in array.reshape(-1)]
    return _ragged_or_flat(pieces, array.shape)


def unicode_decode(input: Any, input_encoding: str, errors: str = "replace",  # noqa: A002
                   replacement_char: int = 65533, name: str | None = None) -> Any:
    """The Unicode code points of each string (int32): a tensor for a scalar, ragged rows for a
    batch."""
    characters = unicode_split(input, input_encoding, errors, replacement_char)
    if isinstance(characters, RaggedTensor):
        flat = characters.flat_values.array
        points = np.array([ord(c.decode("utf-8")) for c in flat], np.int32)
        return RaggedTensor(Tensor(points), characters.row_splits, characters._outer_shape)
    return Tensor(np.array([ord(c.decode("utf-8")) for c in characters.array], np.int32))


def unicode_encode(input: Any, output_encoding: str, errors: str = "replace",  # noqa: A002
                   replacement_char: int = 65533, name: str | None = None) -> Tensor:
    """Code points (a 1-D tensor, a 2-D tensor of rows, or a RaggedTensor) to UTF-8 strings."""
    if output_encoding.upper().replace("-", "") != "UTF8":
        raise InvalidArgumentError(f"tf.strings.unicode_encode: only UTF-8 is supported, got "
                                   f"{output_encoding!r}.")

    def encode_row(row) -> bytes:
        text = []
        for point in np.asarray(row).reshape(-1):
            point = int(point)
            if not 0 <= point <= 0x10FFFF or 0xD800 <= point <= 0xDFFF:
                if errors == "strict":
                    raise InvalidArgumentError(f"tf.strings.unicode_encode: {point} is not a "
                                               "valid code point.")
                if errors == "ignore":
                    continue
                point = replacement_char
            text.append(chr(point))
        return "".join(text).encode("utf-8")

    if isinstance(input, RaggedTensor):
        rows = input.to_list()
        out = np.empty(builtin_len(rows), dtype=object)
        out[:] = [encode_row(row) for row in rows]
        return string_tensor(out)
    from . import backend

    array = np.asarray(backend.to_numpy(input.array) if isinstance(input, Tensor) else input)
    if array.ndim == 1:
        return string_tensor(np.array(encode_row(array), dtype=object))
    flat = array.reshape(-1, array.shape[-1])
    out = np.empty(flat.shape[0], dtype=object)
    out[:] = [encode_row(row) for row in flat]
    return string_tensor(out.reshape(array.shape[:-1]))


def ngrams(data: Any, ngram_width: Any, separator: str = " ", pad_values: Any = None,
           padding_width: int | None = None, preserve_short_sequences: bool = False,
           name: str | None = None) -> Any:
    """The n-grams of each row of tokens (the last axis), joined with `separator`; several
    widths give all of them, widest last (as TensorFlow orders them)."""
    widths = [ngram_width] if isinstance(ngram_width, int) else list(ngram_width)
    sep = _as_bytes(separator, "ngrams")
    if isinstance(data, RaggedTensor):
        rows, shape = [np.asarray(r, dtype=object) for r in data.to_list()], None
    else:
        array = string_array(data, "ngrams")
        if array.ndim == 0:
            raise InvalidArgumentError("tf.strings.ngrams needs a tensor of rank >= 1.")
        shape = array.shape[:-1]
        rows = list(array.reshape(-1, array.shape[-1])) if array.ndim > 1 else [array]
    left = right = None
    if pad_values is not None:
        left, right = (pad_values, pad_values) if isinstance(pad_values, (str, bytes)) else \
            pad_values
        left, right = _as_bytes(left, "ngrams"), _as_bytes(right, "ngrams")
    out_rows = []
    for row in rows:
        grams = []
        for width in widths:
            tokens = list(row)
            if left is not None:
                pad = width - 1 if padding_width is None else padding_width
                tokens = [left] * pad + tokens + [right] * pad
            if builtin_len(tokens) < width and preserve_short_sequences and tokens:
                grams.append(sep.join(tokens))
                continue
            grams += [sep.join(tokens[i: i + width])
                      for i in range(builtin_len(tokens) - width + 1)]
        out_rows.append(grams)
    if shape is None or builtin_len(shape) >= 1:
        return RaggedTensor.from_row_lists(out_rows, shape if shape else (builtin_len(rows),),
                                           dtype=object)
    out = np.empty(builtin_len(out_rows[0]), dtype=object)
    out[:] = out_rows[0]
    return string_tensor(out)


def fingerprint64(value: bytes) -> int:
    """FarmHash Fingerprint64, as TensorFlow hashes strings (needs the `pyfarmhash` package)."""
    try:
        import farmhash
    except ImportError:
        raise ImportError("Hashing strings as TensorFlow does needs pyfarmhash: pip install "
                          "'tensorflowish[text]' (or pip install pyfarmhash).") from None
    return farmhash.fingerprint64(value)


def to_hash_bucket_fast(input: Any, num_buckets: int, name: str | None = None) -> Tensor:  # noqa: A002
    """FarmHash Fingerprint64 of each string mod num_buckets, as TensorFlow (int64); needs the
    pyfarmhash package (`pip install 'tensorflowish[text]'`)."""
    if int(num_buckets) < 1:
        raise InvalidArgumentError(f"tf.strings.to_hash_bucket_fast: num_buckets must be >= 1, "
                                   f"got {num_buckets}.")
    array = string_array(input, "to_hash_bucket_fast")
    out = np.empty(array.shape, np.int64)
    for index, item in np.ndenumerate(array):
        out[index] = fingerprint64(item) % int(num_buckets)
    return Tensor(out)
