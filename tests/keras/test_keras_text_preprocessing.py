"""Text and categorical preprocessing layers against Keras 3.15's own results (the expected
values below were produced by Keras on the same inputs), and a text model trained with fit."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

# string tensors (tf.string) come with the value-semantics work (issue 10)
pytestmark = pytest.mark.skipif(not hasattr(tf, "string"), reason="no tf.string dtype yet")

layers = tf.keras.layers
CORPUS = ["The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog; a bird?",
          "the the the end"]


def test_text_vectorization_int_mode_matches_keras():
    layer = layers.TextVectorization(output_sequence_length=6)
    layer.adapt(CORPUS)
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "a", "dog", "cat", "sat", "on", "my",
                                      "mat", "homework", "end", "bird", "ate"]
    out = layer(["the bird sat on my cat's mat", "unknown words only"])
    assert out.dtype == tf.int64
    assert out.numpy().tolist() == [[2, 12, 6, 7, 8, 1], [1, 1, 1, 0, 0, 0]]


def test_text_vectorization_multi_hot_tf_idf_and_ngrams_match_keras():
    multi = layers.TextVectorization(max_tokens=6, output_mode="multi_hot")
    multi.adapt(CORPUS)
    assert multi.get_vocabulary() == ["[UNK]", "the", "a", "dog", "cat", "sat"]
    assert multi(["the cat and the dog", "a bird"]).numpy().tolist() == \
        [[1, 1, 0, 1, 1, 0], [1, 0, 1, 0, 0, 0]]
    tf_idf = layers.TextVectorization(max_tokens=8, output_mode="tf_idf")
    tf_idf.adapt(CORPUS)
    np.testing.assert_allclose(
        tf_idf(["the cat and the dog", "a bird"]).numpy(),
        [[0.968885, 1.386294, 0.0, 0.847298, 0.847298, 0.0, 0.0, 0.0],
         [0.968885, 0.0, 1.098612, 0.0, 0.0, 0.0, 0.0, 0.0]], rtol=1e-5)
    bigrams = layers.TextVectorization(ngrams=2, output_mode="count")
    bigrams.adapt(["a b a", "b a c"])
    assert bigrams.get_vocabulary() == ["[UNK]", "a", "b a", "b", "c", "a c", "a b"]
    assert bigrams(["a b c a b"]).numpy().tolist() == [[2, 2, 0, 2, 1, 0, 2]]


def test_text_vectorization_ragged_gives_one_row_of_ids_per_text():
    layer = layers.TextVectorization(ragged=True)
    layer.adapt(CORPUS)
    out = layer(["the bird", "sat on my cat's mat"])
    assert isinstance(out, tf.RaggedTensor)
    assert out.to_list() == [[2, 12], [6, 7, 8, 1, 9]]


def test_text_vectorization_takes_datasets_and_callables():
    layer = layers.TextVectorization(standardize=tf.strings.upper, split="character")
    layer.adapt(tf.data.Dataset.from_tensor_slices(["ab", "ba", "a"]).batch(2))
    assert layer.get_vocabulary() == ["", "[UNK]", "A", "B"]
    assert layer(["abc"]).numpy().tolist() == [[2, 3, 1]]


def test_string_lookup_matches_keras():
    layer = layers.StringLookup(mask_token="", num_oov_indices=2)
    layer.adapt([["b", "a", "c"], ["c", "a", "a"], ["d", "", "b"]])
    assert layer.get_vocabulary() == ["", "[UNK]", "[UNK]", "a", "c", "b", "d"]
    # two OOV slots: "zzz" and "qq" go to the one their FarmHash fingerprint picks
    assert layer([["a", "zzz", ""], ["d", "qq", "b"]]).numpy().tolist() == [[3, 1, 0],
                                                                          [6, 2, 5]]
    inverse = layers.StringLookup(vocabulary=["a", "b"], invert=True)
    assert inverse(tf.constant([0, 1, 2])).numpy().tolist() == [b"[UNK]", b"a", b"b"]
    one_hot = layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")
    assert one_hot(["b", "z"]).numpy().tolist() == [[0, 0, 1], [1, 0, 0]]


def test_integer_lookup_and_category_encoding_match_keras():
    layer = layers.IntegerLookup(output_mode="multi_hot")
    layer.adapt([3, 3, 7, 9, 9, 9])
    assert layer.get_vocabulary() == [-1, 9, 3, 7]
    assert layer(tf.constant([[3, 5], [9, 9]])).numpy().tolist() == [[1, 0, 1, 0], [0, 1, 0, 0]]
    counts = layers.CategoryEncoding(num_tokens=4, output_mode="count")
    assert counts(tf.constant([[0, 1], [0, 0]])).numpy().tolist() == [[1, 1, 0, 0], [2, 0, 0, 0]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        counts(tf.constant([[4]]))


def test_hashing_matches_keras():
    pytest.importorskip("farmhash")
    assert layers.Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).numpy().ravel() \
        .tolist() == [1, 0, 1, 1, 2]
    assert layers.Hashing(num_bins=3)(tf.constant([[1], [2], [30]])).numpy().ravel().tolist() \
        == [0, 1, 2]
    assert layers.Hashing(num_bins=3, mask_value="")(["A", "", "C"]).numpy().ravel().tolist() \
        == [1, 0, 2]


def _order_texts(count: int, seed: int):
    """'alpha' before 'omega' (label 1) or after (label 0), among filler words."""
    rng = np.random.default_rng(seed)
    words = ["red", "green", "blue", "cat", "dog", "sky", "tree", "sun", "moon"]
    texts, labels = [], []
    for _ in range(count):
        tokens = list(rng.choice(words, rng.integers(4, 9)))
        i, j = sorted(rng.choice(len(tokens), 2, replace=False))
        label = int(rng.integers(0, 2))
        tokens[i], tokens[j] = ("alpha", "omega") if label else ("omega", "alpha")
        texts.append(" ".join(tokens))
        labels.append(label)
    return np.array(texts, dtype=object), np.array(labels, np.int32)


def test_text_model_with_fit_beats_a_bag_of_words_on_word_order():
    """TextVectorization -> Embedding(mask_zero) -> Bidirectional(LSTM) -> Dense, with fit."""
    tf.random.set_seed(0)
    x, y = _order_texts(1200, 0)
    x_test, y_test = _order_texts(300, 1)
    vectorize = layers.TextVectorization()
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(x).batch(100))
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(50).map(
        lambda texts, labels: (vectorize(texts), labels))

    def fit(model):
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        model.fit(train, epochs=10, verbose=0)
        return model.evaluate(vectorize(x_test), y_test, verbose=0)[1]

    size = vectorize.vocabulary_size()
    recurrent = tf.keras.Sequential([layers.Embedding(size, 8, mask_zero=True),
                                     layers.Bidirectional(layers.LSTM(8)), layers.Dense(2)])
    bag = tf.keras.Sequential([layers.Embedding(size, 8), layers.GlobalAveragePooling1D(),
                               layers.Dense(8, activation="relu"), layers.Dense(2)])
    recurrent_accuracy, bag_accuracy = fit(recurrent), fit(bag)
    assert recurrent_accuracy > 0.9, recurrent_accuracy
    assert bag_accuracy < 0.7, bag_accuracy


def test_text_vectorization_inside_the_model_fits_on_raw_strings():
    """The layer as the model's first layer: fit and evaluate take the texts themselves."""
    tf.random.set_seed(1)
    x, y = _order_texts(1200, 2)
    x_test, y_test = _order_texts(300, 3)
    vectorize = layers.TextVectorization()
    vectorize.adapt(x)
    model = tf.keras.Sequential([
        vectorize, layers.Embedding(vectorize.vocabulary_size(), 8, mask_zero=True),
        layers.Bidirectional(layers.LSTM(8)), layers.Dense(2)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(np.array(x, dtype=str), y, epochs=10, batch_size=50, verbose=0)
    assert model.evaluate(np.array(x_test, dtype=str), y_test, verbose=0)[1] > 0.9
