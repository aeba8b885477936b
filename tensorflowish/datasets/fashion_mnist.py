"""Fashion-MNIST (60,000 + 10,000 images of 28x28 clothing), read from local IDX files.

Nothing is downloaded. Debian's ``dataset-fashion-mnist`` package installs the files under
``/usr/share/datasets/fashion-mnist/``, which is searched automatically.
"""

from __future__ import annotations

import os

import numpy as np

from tensorflowish.datasets._mnist_format import load_mnist_format

SEARCH_PATHS = (
    "$TENSORFLOWISH_DATA/fashion-mnist",
    "~/.keras/datasets/fashion-mnist",
    "/usr/share/datasets/fashion-mnist",
)

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def load_data(
    path: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, like Keras.

    ``path`` is a directory holding the four IDX files (train-images-idx3-ubyte,
    train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz).
    Without it, the places in ``SEARCH_PATHS`` are tried in order.
    """
    search = [os.path.expandvars(p) for p in SEARCH_PATHS if "$" not in os.path.expandvars(p)]
    return load_mnist_format(
        "Fashion-MNIST",
        path,
        search,
        "install Debian's package with `sudo apt-get install dataset-fashion-mnist`",
    )
