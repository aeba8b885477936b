"""Where elements come from: generators, text and CSV files, file lists; and save/load."""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np
import pytest

import tensorflowish as tf

D = tf.data.Dataset
needs_strings = pytest.mark.skipif(
    not hasattr(tf, "string"), reason="string tensors (tf.string) are not in this build yet"
)


def test_from_generator_checks_every_element_against_the_signature():
    def pairs(stop):
        for i in range(int(stop)):
            yield np.full(i + 1, i, np.float32), [i, -i]

    signature = (tf.TensorSpec((None,), tf.float32), tf.TensorSpec((2,), tf.int32))
    ds = D.from_generator(pairs, args=(3,), output_signature=signature)
    assert ds.element_spec == signature
    got = [(x.numpy().tolist(), y.numpy().tolist(), y.dtype) for x, y in ds]
    assert got == [([0.0], [0, 0], tf.int32), ([1.0, 1.0], [1, -1], tf.int32),
                   ([2.0, 2.0, 2.0], [2, -2], tf.int32)]  # fmt: skip
    assert len(list(ds)) == 3  # the generator function is called again for each pass
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY

    def wrong_length():
        yield [1, 2]
        yield [1, 2, 3]

    bad = D.from_generator(wrong_length, output_signature=tf.TensorSpec((2,), tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \(3,\) where an element of"):
        list(bad)
    with pytest.raises(TypeError, match="output_signature"):
        D.from_generator(wrong_length)
    with pytest.raises(TypeError, match="generator function"):
        D.from_generator(wrong_length(), output_signature=tf.TensorSpec((2,), tf.int32))
    legacy = D.from_generator(lambda: iter([[1.0], [2.0]]), output_types=tf.float32,
                              output_shapes=(1,))  # fmt: skip
    assert [x.numpy().tolist() for x in legacy] == [[1.0], [2.0]]


def test_text_lines_from_plain_gzip_and_zlib_files(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_bytes(b"l1\r\nl2\n\nl4")
    packed = tmp_path / "b.txt.gz"
    packed.write_bytes(gzip.compress(b"g1\ng2\n"))
    squeezed = tmp_path / "c.z"
    squeezed.write_bytes(zlib.compress(b"z1\n"))
    # TensorFlow: b'l1', b'l2', b'', b'l4' (\r\n and \n both end a line; no final newline needed)
    assert list(tf.data.TextLineDataset(str(plain)).as_numpy_iterator()) == [
        b"l1", b"l2", b"", b"l4"
    ]
    first = next(iter(tf.data.TextLineDataset(str(plain))))
    assert first.dtype == tf.string and first.numpy() == b"l1" and first.shape == ()
    assert tf.data.TextLineDataset(str(plain)).element_spec == tf.TensorSpec((), tf.string)
    assert list(tf.data.TextLineDataset([str(packed)], "GZIP").as_numpy_iterator()) == [
        b"g1", b"g2"
    ]
    assert list(tf.data.TextLineDataset(str(squeezed), "ZLIB").as_numpy_iterator()) == [b"z1"]
    both = tf.data.TextLineDataset([str(plain), str(plain)], num_parallel_reads=2)
    assert list(both.as_numpy_iterator())[:4] == [b"l1", b"l1", b"l2", b"l2"]
    with pytest.raises(tf.errors.NotFoundError):
        list(tf.data.TextLineDataset(str(tmp_path / "missing.txt")).as_numpy_iterator())


def test_list_files_sorts_shuffles_and_says_when_nothing_matches(tmp_path):
    for name in ("b.csv", "a.csv", "c.txt"):
        (tmp_path / name).write_text("x\n")
    pattern = str(tmp_path / "*.csv")
    names = list(D.list_files(pattern, shuffle=False).as_numpy_iterator())
    assert names == [str(tmp_path / "a.csv").encode(), str(tmp_path / "b.csv").encode()]
    shuffled = D.list_files(pattern, seed=1)
    assert sorted(shuffled.as_numpy_iterator()) == names and len(shuffled) == 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="No files matched pattern"):
        D.list_files(str(tmp_path / "*.none"))


@needs_strings
def test_csv_dataset_parses_defaults_selects_and_reports_bad_records(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('x,y,name\n1,2.5,"a, quoted"\n3,,b\n')
    ds = tf.data.experimental.CsvDataset(str(path), [tf.int32, 0.5, ""], header=True)
    assert list(ds.as_numpy_iterator()) == [(1, 2.5, b"a, quoted"), (3, 0.5, b"b")]
    first = next(iter(D.zip(ds.map(lambda x, y, name: x), ds.map(lambda x, y, name: y))))
    assert first[0].dtype == tf.int32 and first[1].dtype == tf.float32
    picked = tf.data.experimental.CsvDataset(str(path), [tf.float64], header=True,
                                             select_cols=[1], na_value="")  # fmt: skip
    with pytest.raises(tf.errors.InvalidArgumentError, match="Field 0 is required"):
        list(picked.as_numpy_iterator())
    bad = tmp_path / "b.csv"
    bad.write_text("1,2\n3\n5,x\n7,8\n")
    records = tf.data.experimental.CsvDataset(str(bad), [tf.int32, tf.int32])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expect 2 fields but have 1"):
        list(records.as_numpy_iterator())
    # as TensorFlow: the two bad records are skipped, the good ones after them are kept
    assert list(records.ignore_errors().as_numpy_iterator()) == [(1, 2), (7, 8)]


def test_make_csv_dataset_infers_types_and_splits_the_label(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("x,y,big\n1,2.5,3000000000\n3,,4\n5,1.0,6\n")
    ds = tf.data.experimental.make_csv_dataset(
        str(path), batch_size=2, label_name="y", num_epochs=1, shuffle=False
    )
    batches = [(features, label) for features, label in ds]
    features, label = batches[0]
    assert sorted(features) == ["big", "x"]
    # TensorFlow's inference: int32, then int64 when a value does not fit, float32 for y
    assert features["x"].dtype == tf.int32 and features["big"].dtype == tf.int64
    assert label.dtype == tf.float32 and label.numpy().tolist() == [2.5, 0.0]
    assert features["big"].numpy().tolist() == [3000000000, 4]
    assert [b[1].numpy().tolist() for b in batches] == [[2.5, 0.0], [1.0]]
    forever = tf.data.experimental.make_csv_dataset(str(path), batch_size=2, shuffle=False)
    assert int(forever.cardinality()) == tf.data.INFINITE_CARDINALITY
    assert [len(b["x"]) for b in forever.take(3)] == [2, 2, 2]  # remainder dropped, as TF


@needs_strings
def test_save_and_load_round_trip_and_detect_damage(tmp_path):
    ds = D.from_tensor_slices({"x": np.arange(6.0).reshape(3, 2), "n": np.arange(3)})
    ds.save(str(tmp_path / "saved"))
    loaded = D.load(str(tmp_path / "saved"))
    assert loaded.element_spec == ds.element_spec and len(loaded) == 3
    got = [(e["x"].numpy().tolist(), int(e["n"])) for e in loaded]
    assert got == [([0.0, 1.0], 0), ([2.0, 3.0], 1), ([4.0, 5.0], 2)]
    lines = tmp_path / "lines.txt"
    lines.write_text("alpha\nbeta\n")
    tf.data.experimental.save(tf.data.TextLineDataset(str(lines)), str(tmp_path / "text"))
    assert list(tf.data.experimental.load(str(tmp_path / "text")).as_numpy_iterator()) == [
        b"alpha", b"beta"
    ]
    chunk = tmp_path / "saved" / "chunk-00000.safetensors"
    data = bytearray(chunk.read_bytes())
    data[-2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum|damaged|corrupt"):
        list(D.load(str(tmp_path / "saved")))
    with pytest.raises(tf.errors.NotFoundError, match="no dataset_spec.json"):
        D.load(str(tmp_path / "nothing"))
    os.remove(tmp_path / "text" / "dataset_spec.json")  # an unfinished save does not load
    with pytest.raises(tf.errors.NotFoundError):
        D.load(str(tmp_path / "text"))


def test_tfrecord_is_left_out_with_a_clear_error():
    with pytest.raises(tf.errors.UnimplementedError, match="TextLineDataset"):
        tf.data.TFRecordDataset("file.tfrecord")
    with pytest.raises(AttributeError):
        tf.data.NoSuchDataset  # noqa: B018
