"""Shared loader for MNIST-format datasets (four IDX files, or a Keras-style .npz)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from tensorflowish.datasets.idx import read_idx

_PARTS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _find_part(directory: str, stem: str) -> str | None:
    # The original files are named train-images-idx3-ubyte; some mirrors use a dot instead of
    # the last dash (train-images.idx3-ubyte).
    dotted = stem[::-1].replace("-", ".", 1)[::-1]
    for name in (stem, dotted):
        for suffix in ("", ".gz"):
            candidate = os.path.join(directory, name + suffix)
            if os.path.isfile(candidate):
                return candidate
    return None


def _load_directory(directory: str) -> Split | None:
    found = {key: _find_part(directory, stem) for key, stem in _PARTS.items()}
    if not any(found.values()):
        return None
    missing = [_PARTS[key] for key, path in found.items() if path is None]
    if missing:
        raise FileNotFoundError(
            f"{directory} holds only some of the four IDX files: missing {', '.join(missing)} "
            "(with or without .gz)."
        )
    arrays = {key: read_idx(path) for key, path in found.items()}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{directory}: the {part} images ({x.shape[0]}) and labels ({y.shape[0]}) differ "
                "in number; the files do not belong together."
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _load_npz(path: str) -> Split:
    with np.load(path) as archive:
        missing = [key for key in _PARTS if key not in archive]
        if missing:
            raise ValueError(
                f"{path} lacks the arrays {', '.join(missing)}; a Keras dataset .npz holds "
                "x_train, y_train, x_test and y_test."
            )
        return (archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"])


def load_mnist_format(
    name: str, path: str | os.PathLike | None, search: Sequence[str], install_hint: str
) -> Split:
    """Load from ``path`` (a directory of IDX files or a .npz) or the first of ``search``."""
    if path is not None:
        path = os.fspath(os.path.expanduser(path))
        if os.path.isdir(path):
            result = _load_directory(path)
            if result is None:
                raise FileNotFoundError(
                    f"No {name} IDX files in {path}: expected {', '.join(_PARTS.values())} "
                    "(optionally .gz)."
                )
            return result
        if os.path.isfile(path):
            return _load_npz(path)
        # Keras's load_data(path="mnist.npz") names a file under ~/.keras/datasets.
        cached = os.path.join(os.path.expanduser("~/.keras/datasets"), path)
        if os.sep not in path and os.path.isfile(cached):
            return _load_npz(cached)
        raise FileNotFoundError(
            f"{name}: {path} does not exist (nothing is downloaded). Pass a directory holding "
            f"the four IDX files ({', '.join(_PARTS.values())}, optionally .gz) or an .npz."
        )
    looked = []
    for directory in search:
        directory = os.path.expanduser(directory)
        looked.append(directory)
        if os.path.isfile(directory) and directory.endswith(".npz"):
            return _load_npz(directory)
        if os.path.isdir(directory):
            result = _load_directory(directory)
            if result is not None:
                return result
    raise FileNotFoundError(
        f"{name} was not found; looked in: {', '.join(looked)}. Nothing is downloaded: "
        f"{install_hint}, or pass load_data(path=DIR) with the four IDX files "
        f"({', '.join(_PARTS.values())}, optionally .gz)."
    )
