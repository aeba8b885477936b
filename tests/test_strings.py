"""tf.strings and tf.RaggedTensor against hand-computed expectations (TensorFlow's results)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf


def _list(tensor):
    return tensor.numpy().tolist()


def test_case_strip_and_length():
    assert _list(tf.strings.lower(["Gray WOLF", "ÄB"])) == [b"gray wolf", "Äb".encode()]
    assert _list(tf.strings.lower(["ÄB"], encoding="utf-8")) == ["äb".encode()]
    assert _list(tf.strings.upper(["abc"])) == [b"ABC"]
    assert _list(tf.strings.strip(["  a b \n"])) == [b"a b"]
    assert _list(tf.strings.length(["", "abc", "é"])) == [0, 3, 2]
    assert _list(tf.strings.length(["é"], unit="UTF8_CHAR")) == [1]
    assert tf.strings.length(["ab"]).dtype == tf.int32


def test_split_gives_a_tensor_for_a_scalar_and_ragged_rows_for_a_batch():
    assert _list(tf.strings.split("a  b c")) == [b"a", b"b", b"c"]
    ragged = tf.strings.split(["a,b,,c", "d"], sep=",")
    assert isinstance(ragged, tf.RaggedTensor)
    assert ragged.to_list() == [[b"a", b"b", b"", b"c"], [b"d"]]
    assert _list(ragged.row_lengths()) == [4, 1]
    assert _list(ragged.to_tensor()) == [[b"a", b"b", b"", b"c"], [b"d", b"", b"", b""]]
    assert tf.strings.split(["a b c"], maxsplit=1).to_list() == [[b"a", b"b c"]]


def test_join_and_reduce_join():
    assert _list(tf.strings.join([["a", "b"], "x"], separator="-")) == [b"a-x", b"b-x"]
    words = [["a", "b", "c"], ["d", "e", "f"]]
    assert tf.strings.reduce_join(words).numpy() == b"abcdef"
    assert _list(tf.strings.reduce_join(words, axis=1, separator=" ")) == [b"a b c", b"d e f"]
    assert _list(tf.strings.reduce_join(words, axis=0)) == [b"ad", b"be", b"cf"]
    assert _list(tf.strings.reduce_join(words, axis=-1, keepdims=True)) == [[b"abc"], [b"def"]]
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.strings.reduce_join(words, axis=2)


def test_regex_replace_uses_groups_and_can_replace_once():
    text = ["Hello, World! 123"]
    assert _list(tf.strings.regex_replace(text, r"[^a-zA-Z ]", "")) == [b"Hello World "]
    assert _list(tf.strings.regex_replace(text, r"(\w+), (\w+)", r"\2 \1")) == \
        [b"World Hello! 123"]
    assert _list(tf.strings.regex_replace(["aaa"], "a", "b", replace_global=False)) == [b"baa"]
    assert _list(tf.strings.regex_full_match(["abc", "abd"], "ab[c]")) == [True, False]


def test_numbers_to_and_from_strings():
    np.testing.assert_allclose(tf.strings.to_number(["1.5", " -2e3"]).numpy(), [1.5, -2000])
    assert tf.strings.to_number(["7"], out_type=tf.int32).numpy().tolist() == [7]
    with pytest.raises(tf.errors.InvalidArgumentError, match="could not correctly convert"):
        tf.strings.to_number(["1.5x"])
    assert _list(tf.strings.as_string([1.5, -2.0])) == [b"1.500000", b"-2.000000"]
    assert _list(tf.strings.as_string([1.25], precision=1)) == [b"1.2"]
    assert _list(tf.strings.as_string(tf.constant([3, -4]))) == [b"3", b"-4"]
    assert _list(tf.strings.as_string([True])) == [b"true"]


def test_substr_and_unicode_split():
    assert _list(tf.strings.substr(["hello", "world"], 1, 3)) == [b"ell", b"orl"]
    assert _list(tf.strings.substr(["hello"], -2, 5)) == [b"lo"]
    assert _list(tf.strings.substr(["héllo"], 1, 2, unit="UTF8_CHAR")) == ["él".encode()]
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        tf.strings.substr(["ab"], 5, 1)
    assert _list(tf.strings.unicode_split("hé", "UTF-8")) == [b"h", "é".encode()]
    rows = tf.strings.unicode_split(["ab", "c"], "UTF-8")
    assert rows.to_list() == [[b"a", b"b"], [b"c"]]


def test_numbers_are_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="expects strings"):
        tf.strings.lower([1, 2])
    with pytest.raises(TypeError, match="as_string"):
        tf.strings.length(tf.constant([1.0]))


def test_bytes_ngrams_unicode_code_points_and_hash_buckets():
    assert tf.strings.bytes_split(["ab", "c"]).to_list() == [[b"a", b"b"], [b"c"]]
    words = tf.strings.split(["a b c", "d e"])
    assert tf.strings.ngrams(words, 2).to_list() == [[b"a b", b"b c"], [b"d e"]]
    # TensorFlow's order and padding: all unigrams, then the padded bigrams
    assert tf.strings.ngrams(tf.strings.split(["a b c"]), (1, 2), pad_values=("<", ">")) \
        .to_list() == [[b"a", b"b", b"c", b"< a", b"a b", b"b c", b"c >"]]
    points = tf.strings.unicode_decode(["hé", "a"], "UTF-8")
    assert points.to_list() == [[104, 233], [97]]
    assert tf.strings.unicode_encode(points, "UTF-8").numpy().tolist() == ["hé".encode(), b"a"]
    pytest.importorskip("farmhash")
    # TensorFlow: tf.strings.to_hash_bucket_fast(["hello"], 2**63 - 1)
    assert tf.strings.to_hash_bucket_fast(["hello"], 2**63 - 1).numpy().tolist() == \
        [3786372426573024489]
