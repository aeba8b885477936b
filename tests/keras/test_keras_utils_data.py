"""keras.utils for files and folders: get_file, timeseries/image/text datasets, split_dataset,
plot_model; each against hand-computed expectations."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile

import numpy as np
import pytest

import tensorflowish as tf

utils = tf.keras.utils


# --- get_file ------------------------------------------------------------------------------


def test_get_file_copies_local_paths_and_file_urls_into_the_cache(tmp_path):
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    path = utils.get_file(origin=str(source), cache_dir=str(cache), file_hash=digest)
    assert path == str(cache / "datasets" / "data.csv")
    assert open(path).read() == "a,b\n1,2\n"
    url = utils.get_file("copy.csv", origin=source.as_uri(), cache_dir=str(cache),
                         cache_subdir="mine")  # fmt: skip
    assert url == str(cache / "mine" / "copy.csv") and os.path.exists(url)
    source.write_text("changed\n")  # a cached file is reused ...
    assert open(utils.get_file(origin=str(source), cache_dir=str(cache))).read() == "a,b\n1,2\n"
    # ... unless its hash does not match: then it is fetched again, and checked
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ValueError, match="Incomplete or corrupted file"):
        utils.get_file(origin=str(source), cache_dir=str(cache), file_hash=wrong)
    md5 = hashlib.md5(b"changed\n").hexdigest()  # noqa: S324
    fresh = utils.get_file(origin=str(source), cache_dir=str(cache), file_hash=md5)
    assert open(fresh).read() == "changed\n"
    with pytest.raises(FileNotFoundError, match="is not a file"):
        utils.get_file(origin=str(tmp_path / "missing.csv"), cache_dir=str(cache))
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("x.csv")
    with pytest.raises(ValueError, match="Paths are no longer accepted"):
        utils.get_file("sub/x.csv", origin=str(source), cache_dir=str(cache))


def test_get_file_extracts_tar_and_zip_archives_and_refuses_escapes(tmp_path):
    archive = tmp_path / "photos.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"pixels"
        info = tarfile.TarInfo("photos/cat.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    folder = utils.get_file(origin=str(archive), extract=True, cache_dir=str(tmp_path / "c"))
    assert folder == str(tmp_path / "c" / "datasets" / "photos.tar.gz")
    assert open(os.path.join(folder, "photos", "cat.txt"), "rb").read() == b"pixels"
    zipped = tmp_path / "notes.zip"
    with zipfile.ZipFile(zipped, "w") as bundle:
        bundle.writestr("notes/a.txt", "hello")
    named = utils.get_file("notes.zip", origin=str(zipped), extract=True,
                           cache_dir=str(tmp_path / "c"))  # fmt: skip
    assert named.endswith("notes_extracted")
    assert open(os.path.join(named, "notes", "a.txt")).read() == "hello"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../outside.txt", "no")
    with pytest.raises(ValueError, match="outside"):
        utils.get_file(origin=str(evil), extract=True, cache_dir=str(tmp_path / "c"))
    assert not (tmp_path / "c" / "outside.txt").exists()


# --- timeseries and split_dataset ----------------------------------------------------------


def test_timeseries_windows_and_targets_by_hand():
    data = np.arange(20)
    ds = utils.timeseries_dataset_from_array(
        data, data * 10, sequence_length=4, sequence_stride=3, sampling_rate=2, batch_size=2
    )
    batches = [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    # windows start at 0, 3, 6, 9, 12 (the last must still fit 4 samples 2 apart: 12+6 = 18)
    assert batches == [
        ([[0, 2, 4, 6], [3, 5, 7, 9]], [0, 30]),
        ([[6, 8, 10, 12], [9, 11, 13, 15]], [60, 90]),
        ([[12, 14, 16, 18]], [120]),
    ]
    sliced = utils.timeseries_dataset_from_array(
        data, None, sequence_length=3, start_index=10, end_index=15, batch_size=None
    )
    assert [w.numpy().tolist() for w in sliced] == [[10, 11, 12], [11, 12, 13], [12, 13, 14]]
    shuffled = utils.timeseries_dataset_from_array(data, None, 3, shuffle=True, seed=1,
                                                   batch_size=None)  # fmt: skip
    starts = sorted(int(w.numpy()[0]) for w in shuffled)
    assert starts == list(range(18))
    with pytest.raises(ValueError, match="same number of time steps"):
        utils.timeseries_dataset_from_array(data, data[:5], 3)


def test_split_dataset_by_counts_fractions_and_batched_datasets():
    x, y = np.arange(10.0), np.arange(10)
    left, right = utils.split_dataset((x, y), left_size=0.8)
    assert [float(a) for a, _ in left] == [float(v) for v in range(8)]
    assert [int(b) for _, b in right] == [8, 9]
    left, right = utils.split_dataset(np.arange(10), left_size=3, right_size=2)
    assert [int(v) for v in left] == [0, 1, 2] and [int(v) for v in right] == [8, 9]
    batched = tf.data.Dataset.range(10).batch(4)
    left, right = utils.split_dataset(batched, right_size=0.3, shuffle=True, seed=3)
    left_batches = [b.numpy().tolist() for b in left]
    assert [len(b) for b in left_batches] == [4, 3]  # 7 elements, batched by 4 again
    together = sorted(v for b in left_batches for v in b) + sorted(
        v for b in right for v in b.numpy().tolist())
    assert sorted(together) == list(range(10))
    with pytest.raises(ValueError, match="At least one"):
        utils.split_dataset(x)
    with pytest.raises(ValueError, match="greater than 1"):
        utils.split_dataset(x, 0.6, 0.6)


# --- folders -------------------------------------------------------------------------------


def _write_images(root, counts, size=(5, 4)):
    from PIL import Image

    for index, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for k in range(count):
            colour = (index * 100, k * 10, 7)
            Image.new("RGB", size, colour).save(root / name / f"{k}.png")
    (root / "cats" / "notes.md").write_text("not an image")


def test_image_dataset_from_directory_labels_resizes_and_splits(tmp_path, capsys):
    pytest.importorskip("PIL", reason="Pillow (the images extra) is not installed")
    _write_images(tmp_path, {"cats": 3, "dogs": 2})
    ds = utils.image_dataset_from_directory(
        str(tmp_path), image_size=(8, 6), batch_size=2, shuffle=False
    )
    assert "Found 5 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["cats", "dogs"]
    batches = list(ds)
    images = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert images.shape == (5, 8, 6, 3) and images.dtype == np.float32
    assert labels.tolist() == [0, 0, 0, 1, 1] and labels.dtype == np.int32
    # a flat colour stays that colour through bilinear resizing
    np.testing.assert_allclose(images[1, 3, 2], [0, 10, 7])
    np.testing.assert_allclose(images[4, 0, 0], [100, 10, 7])
    grey = utils.image_dataset_from_directory(
        str(tmp_path), image_size=(4, 4), color_mode="grayscale", label_mode="categorical",
        batch_size=None, shuffle=False, verbose=False,
    )  # fmt: skip
    first_image, first_label = next(iter(grey))
    assert first_image.shape == (4, 4, 1) and first_label.numpy().tolist() == [1.0, 0.0]
    training, validation = utils.image_dataset_from_directory(
        str(tmp_path), image_size=(4, 4), validation_split=0.4, subset="both", seed=5,
        verbose=False,
    )  # fmt: skip
    assert len(training.file_paths) == 3 and len(validation.file_paths) == 2
    assert not set(training.file_paths) & set(validation.file_paths)
    with pytest.raises(ValueError, match="seed"):
        utils.image_dataset_from_directory(str(tmp_path), validation_split=0.2, subset="training")
    with pytest.raises(tf.errors.NotFoundError):
        utils.image_dataset_from_directory(str(tmp_path / "nowhere"))


def test_image_dataset_names_the_extra_when_pillow_is_missing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"tensorflowish\[images\]"):
        utils.image_dataset_from_directory(str(tmp_path))


@pytest.mark.skipif(not hasattr(tf, "string"), reason="string tensors are not in this build yet")
def test_text_dataset_from_directory(tmp_path):
    for label, texts in (("neg", ["bad", "awful film"]), ("pos", ["great"])):
        (tmp_path / label).mkdir()
        for k, text in enumerate(texts):
            (tmp_path / label / f"{k}.txt").write_text(text)
    ds = utils.text_dataset_from_directory(str(tmp_path), batch_size=8, shuffle=False,
                                           max_length=4, verbose=False)  # fmt: skip
    texts, labels = next(iter(ds))
    assert texts.numpy().tolist() == [b"bad", b"awfu", b"grea"]
    assert labels.numpy().tolist() == [0, 0, 1] and ds.class_names == ["neg", "pos"]


# --- plot_model ----------------------------------------------------------------------------


def test_model_to_dot_follows_the_functional_graph(tmp_path):
    pytest.importorskip("pydot", reason="pydot (the graphviz extra) is not installed")
    inputs = tf.keras.Input(shape=(4,), name="features")
    left = tf.keras.layers.Dense(3, name="left")(inputs)
    right = tf.keras.layers.Dense(3, name="right")(inputs)
    outputs = tf.keras.layers.Add(name="join")([left, right])
    model = tf.keras.Model(inputs, outputs)
    dot = utils.model_to_dot(model, show_shapes=True)
    labels = {n.get_name(): n.get("label") for n in dot.get_nodes() if n.get("label")}
    by_layer = {label.strip('"').split(" ")[0]: name for name, label in labels.items()}
    assert set(by_layer) == {"features", "left", "right", "join"}
    edges = {(e.get_source(), e.get_destination()) for e in dot.get_edges()}
    assert edges == {
        (by_layer["features"], by_layer["left"]), (by_layer["features"], by_layer["right"]),
        (by_layer["left"], by_layer["join"]), (by_layer["right"], by_layer["join"]),
    }  # fmt: skip
    assert "(None, 3)" in labels[by_layer["join"]]
    sequential = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,)),
                                      tf.keras.layers.Dense(1)])  # fmt: skip
    utils.plot_model(sequential, to_file=str(tmp_path / "model.dot"), show_layer_names=True)
    source = (tmp_path / "model.dot").read_text()
    assert source.startswith("digraph") and "layer_0 -> layer_1" in source


def test_plot_model_says_when_graphviz_is_missing(tmp_path, monkeypatch):
    pytest.importorskip("pydot", reason="pydot (the graphviz extra) is not installed")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` program to be found
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    with pytest.raises(ImportError, match="install graphviz"):
        utils.plot_model(model, to_file=str(tmp_path / "model.png"))
    assert not (tmp_path / "model.png").exists()


@pytest.mark.skipif(__import__("shutil").which("dot") is None,
                    reason="Graphviz's dot program is not installed")
def test_plot_model_renders_png_and_svg_with_graphviz(tmp_path):
    pytest.importorskip("pydot", reason="pydot (the graphviz extra) is not installed")
    inputs = tf.keras.Input(shape=(4,), name="features")
    outputs = tf.keras.layers.Dense(2, name="head")(tf.keras.layers.Dense(3, name="body")(inputs))
    model = tf.keras.Model(inputs, outputs)
    utils.plot_model(model, to_file=str(tmp_path / "model.png"), show_shapes=True)
    assert (tmp_path / "model.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    utils.plot_model(model, to_file=str(tmp_path / "model.svg"), show_layer_names=True)
    svg = (tmp_path / "model.svg").read_text()
    assert "<svg" in svg and "body (Dense)" in svg and "head (Dense)" in svg
