"""Datasets that need no download: ``digits`` (ships with scikit-learn), and ``mnist`` and
``fashion_mnist`` read from local IDX files (Debian's ``dataset-fashion-mnist`` is found).

    >>> from tensorflowish.datasets import digits
    >>> (x_train, y_train), (x_test, y_test) = digits.load_data()
"""

from tensorflowish.datasets import digits, fashion_mnist, mnist
from tensorflowish.datasets.idx import read_idx, write_idx

__all__ = ["digits", "fashion_mnist", "mnist", "read_idx", "write_idx"]
