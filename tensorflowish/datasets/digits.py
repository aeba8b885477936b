"""The UCI handwritten digits that scikit-learn ships: 1,797 images of 8x8, values 0-16.

Nothing is downloaded: the data comes with scikit-learn (``pip install tensorflowish[datasets]``).
The split into train and test is fixed (a seeded permutation), so results are comparable.
"""

from __future__ import annotations

import math

import numpy as np

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_data(
    test_fraction: float = TEST_FRACTION,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 8, 8), uint8 labels.

    The same ``test_fraction`` always gives the same split (a permutation with a fixed seed);
    the default holds out 360 of the 1,797 images. Scale the images with ``x / 16``.

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, x_test.shape
    ((1437, 8, 8), (360, 8, 8))
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "The digits dataset comes with scikit-learn, which is not installed. Install it "
            "with `pip install tensorflowish[datasets]` (or `pip install scikit-learn`)."
        ) from error
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)
    labels = bunch.target.astype(np.uint8)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    n_test = math.ceil(len(labels) * float(test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (images[train], labels[train]), (images[test], labels[test])
