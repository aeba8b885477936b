"""MNIST handwritten digits (60,000 + 10,000 images of 28x28), read from local IDX files.

Nothing is downloaded. ``load_data(path)`` reads the four standard IDX files (raw or .gz)
from a directory, or a Keras-style ``mnist.npz``.
"""

from __future__ import annotations

import os

import numpy as np

from tensorflowish.datasets._mnist_format import load_mnist_format

SEARCH_PATHS = (
    "$TENSORFLOWISH_DATA/mnist",
    "~/.keras/datasets/mnist.npz",
    "~/.keras/datasets/mnist",
    "/usr/share/datasets/mnist",
)


def load_data(
    path: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, like Keras.

    ``path`` is a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
    t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally gzipped), or an .npz.
    Without it, the places in ``SEARCH_PATHS`` are tried in order.
    """
    search = [os.path.expandvars(p) for p in SEARCH_PATHS if "$" not in os.path.expandvars(p)]
    return load_mnist_format(
        "MNIST",
        path,
        search,
        "download the four IDX files from a mirror of http://yann.lecun.com/exdb/mnist/ into "
        "$TENSORFLOWISH_DATA/mnist",
    )
