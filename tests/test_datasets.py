"""Datasets without downloads: digits from scikit-learn, MNIST-format IDX files."""

from __future__ import annotations

import builtins
import gzip

import numpy as np
import pytest

from tensorflowish.datasets import digits, fashion_mnist, idx, mnist


def test_digits_split_is_deterministic_and_disjoint():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (1437, 8, 8) and x_test.shape == (360, 8, 8)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.max() == 16 and set(np.unique(y_test)) == set(range(10))
    (again, _), _ = digits.load_data()
    np.testing.assert_array_equal(x_train, again)
    train_rows = {row.tobytes() + bytes([label]) for row, label in zip(x_train, y_train)}
    overlap = sum(
        row.tobytes() + bytes([label]) in train_rows for row, label in zip(x_test, y_test)
    )
    assert overlap < 5  # the UCI set has a few duplicate images; the split itself is disjoint
    with pytest.raises(ValueError, match="test_fraction"):
        digits.load_data(test_fraction=1.5)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r"pip install tensorflowish\[datasets\]"):
        digits.load_data()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    path = tmp_path / f"data-idx3{suffix}"
    idx.write_idx(path, array)
    if suffix:
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    result = idx.read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_idx_header_matches_the_mnist_layout(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    idx.write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


def test_idx_damage_is_reported(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        idx.read_idx(bad)
    short = tmp_path / "short"
    idx.write_idx(short, np.zeros((4, 4), np.uint8))
    short.write_bytes(short.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        idx.read_idx(short)
    broken_gzip = tmp_path / "broken.gz"
    broken_gzip.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(ValueError, match="damaged|truncated"):
        idx.read_idx(broken_gzip)


def write_mnist_files(directory, n_train=6, n_test=4, gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        idx.write_idx(directory / (name + (".gz" if gz else "")), array)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_a_directory_of_idx_files(tmp_path, gz):
    arrays = write_mnist_files(tmp_path / "mnist", gz=gz)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(tmp_path / "mnist")
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert x_test.shape == (4, 28, 28)


def test_fashion_mnist_finds_the_debian_package_location(tmp_path, monkeypatch):
    assert "/usr/share/datasets/fashion-mnist" in fashion_mnist.SEARCH_PATHS
    debian = tmp_path / "usr/share/datasets/fashion-mnist"
    write_mnist_files(debian)
    monkeypatch.setattr(fashion_mnist, "SEARCH_PATHS", ("/nonexistent/place", str(debian)))
    (x_train, _), _ = fashion_mnist.load_data()
    assert x_train.shape == (6, 28, 28)


def test_missing_data_says_where_it_looked_and_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SEARCH_PATHS", (str(tmp_path / "a"), str(tmp_path / "b")))
    with pytest.raises(FileNotFoundError) as error:
        fashion_mnist.load_data()
    message = str(error.value)
    assert str(tmp_path / "a") in message and str(tmp_path / "b") in message
    assert "apt-get install dataset-fashion-mnist" in message
    with pytest.raises(FileNotFoundError, match="No MNIST IDX files"):
        mnist.load_data(tmp_path)
    partial = tmp_path / "partial"
    write_mnist_files(partial)
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        mnist.load_data(partial)


def test_mnist_reads_a_keras_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=np.zeros((2, 28, 28), np.uint8),
        y_train=np.zeros(2, np.uint8),
        x_test=np.zeros((1, 28, 28), np.uint8),
        y_test=np.zeros(1, np.uint8),
    )
    (x_train, _), (x_test, _) = mnist.load_data(path)
    assert x_train.shape == (2, 28, 28) and x_test.shape == (1, 28, 28)


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*nothing is downloaded"):
        mnist.load_data(tmp_path / "nowhere")
