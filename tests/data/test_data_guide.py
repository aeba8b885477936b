"""TensorFlow's tf.data guide (the cells that need no network, TFRecord, ragged tensors or
tf.strings), run unchanged except for its import line; and the data pipeline of the
"Overfit and underfit" tutorial on a small local gzipped CSV."""

from __future__ import annotations

import gzip
import pathlib
import runpy

import numpy as np
import pytest

import tensorflowish as tf


@pytest.mark.skipif(not hasattr(tf, "string"), reason="the guide's CSV has string columns; "
                    "string tensors are not in this build yet")
def test_data_guide_script(capsys):
    script = pathlib.Path(__file__).parent.parent / "scripts" / "data_guide.py"
    source = script.read_text()
    assert "import tensorflowish as tf" in source and "import tensorflow as" not in source
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    lines = out.splitlines()
    # the values TensorFlow's guide prints for the same cells
    assert [line for line in lines if line.startswith("elem ")] == [
        "elem 8", "elem 3", "elem 0", "elem 8", "elem 2", "elem 1"]
    assert "next 8" in lines and "reduce 22" in lines
    assert "spec1 TensorSpec(shape=(10,), dtype=tf.float32, name=None)" in lines
    assert "spec2 (TensorSpec(shape=(), dtype=tf.float32, name=None), TensorSpec(shape=(100,), " \
           "dtype=tf.int32, name=None))" in lines
    assert "shapes: (10,), (), (100,)" in lines
    assert "count_batch [0 1 2 3 4 5 6 7 8 9]" in lines
    assert "count_batch [20 21 22 23 24  0  1  2  3  4]" in lines
    assert "ids (10,)" in lines
    assert "batch [array([0, 1, 2, 3]), array([ 0, -1, -2, -3])]" in lines
    assert "padded [[4, 4, 4, 4, 0, 0, 0], [5, 5, 5, 5, 5, 0, 0], [6, 6, 6, 6, 6, 6, 0], " \
           "[7, 7, 7, 7, 7, 7, 7]]" in lines
    assert "repeat3 [8, 8, 4, 8, 8, 4, 8, 8, 4]" in lines
    assert "repeat3_batch [8, 8, 8, 8, 8, 8, 8, 4]" in lines
    assert "files 6" in lines and "shuffled_ids True" in lines
    assert "dense_1_step [0 1 2 3 4 5 6 7 8]  =>  [1 2 3 4 5 6 7 8 9]" in lines
    assert "next_5 [15 16 17 18 19 20 21 22 23 24]  =>  [25 26 27 28 29]" in lines
    assert "zipped [10 11 12 13 14 15 16 17 18 19]  =>  [20 21 22]" in lines
    assert "0 1 2 3 4 1 2 3 4 5 2 3 4 5 6 3 4 5 6 7 4 5 6 7 8 5 6 7 8 9 " in lines
    assert "window [4 5 6 7 8]" in lines
    assert "strided [45 48 51 54 57 60 63 66 69 72]" in lines
    assert "dense_labels [ 5  8 11 14 17 20 23 26 29] => [ 8 11 14 17 20 23 26 29 32]" in lines
    assert "balanced 0.5" in lines and "predict (64, 10)" in lines
    assert "  'sex'               : tf.Tensor([" in out and "dtype=string)" in out


def test_overfit_and_underfit_pipeline_on_a_local_gzipped_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(60, 29))
    rows[:, 0] = rows[:, 0] > 0
    gz = tmp_path / "HIGGS.csv.gz"
    gz.write_bytes(gzip.compress("\n".join(",".join(f"{v:.6f}" for v in r)
                                           for r in rows).encode()))  # fmt: skip
    # the tutorial's cells, with its sizes scaled down
    FEATURES = 28  # noqa: N806 - the tutorial's names
    ds = tf.data.experimental.CsvDataset(str(gz), [0.0,] * (FEATURES + 1),
                                         compression_type="GZIP")  # fmt: skip

    def pack_row(*row):
        label = row[0]
        features = tf.stack(row[1:], 1)
        return features, label

    packed_ds = ds.batch(10).map(pack_row).unbatch()
    for features, label in packed_ds.batch(60).take(1):
        np.testing.assert_allclose(features.numpy(), rows[:, 1:], atol=1e-6)
        np.testing.assert_array_equal(label.numpy(), rows[:, 0])
        assert features.dtype == tf.float32
    validate_ds = packed_ds.take(10).cache().batch(5)
    train_ds = packed_ds.skip(10).take(50).cache().shuffle(50).repeat().batch(5)
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(16, activation="elu", input_shape=(FEATURES,)),
        tf.keras.layers.Dense(1),
    ])  # fmt: skip
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
    history = model.fit(train_ds, steps_per_epoch=10, epochs=2, validation_data=validate_ds,
                        verbose=0)  # fmt: skip
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
