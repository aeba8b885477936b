"""Datasets from arrays and folders: ``timeseries_dataset_from_array``, ``split_dataset``,
``image_dataset_from_directory`` (Pillow, the ``images`` extra) and
``text_dataset_from_directory``, as Keras 3 makes them."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from tensorflowish.data import AUTOTUNE, Dataset

__all__ = [
    "image_dataset_from_directory", "split_dataset", "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]  # fmt: skip

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> Dataset:
    """Windows of ``sequence_length`` steps (every ``sampling_rate``-th), one starting every
    ``sequence_stride`` steps, batched; ``targets[i]`` goes with the window starting at ``i``.

    >>> import numpy as np, tensorflowish as tf
    >>> ds = tf.keras.utils.timeseries_dataset_from_array(
    ...     np.arange(10), None, sequence_length=3, batch_size=None)
    >>> [w.numpy().tolist() for w in ds][:2]
    [[0, 1, 2], [1, 2, 3]]
    """
    import tensorflowish as tf

    for name, value in (("sequence_length", sequence_length),
                        ("sequence_stride", sequence_stride), ("sampling_rate", sampling_rate)):
        if int(value) <= 0:
            raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
    start_index = 0 if start_index is None else int(start_index)
    end_index = len(data) if end_index is None else int(end_index)
    if not 0 <= start_index < len(data):
        raise ValueError(
            f"`start_index` must be 0 <= start_index < len(data). Received: "
            f"start_index={start_index} for data of length {len(data)}"
        )
    if not start_index < end_index <= len(data):
        raise ValueError(
            f"`end_index` must be start_index < end_index <= len(data). Received: "
            f"end_index={end_index}, start_index={start_index}"
        )
    if targets is not None and len(targets) != len(data):
        raise ValueError(
            f"Expected data and targets to have the same number of time steps (axis=0). Got "
            f"data.shape={np.shape(data)}, targets.shape={np.shape(targets)}"
        )
    count = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    starts = np.arange(0, max(count, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        np.random.default_rng(seed).shuffle(starts)
    windows = starts[:, None] + np.arange(sequence_length) * sampling_rate + start_index
    values = tf.convert_to_tensor(data)
    dataset = Dataset.from_tensor_slices(windows).map(lambda rows: tf.gather(values, rows))
    if targets is not None:
        labels = tf.convert_to_tensor(targets)
        target_rows = Dataset.from_tensor_slices(starts + start_index)
        dataset = Dataset.zip((dataset, target_rows.map(lambda row: tf.gather(labels, row))))
    if batch_size is not None:
        if shuffle:
            dataset = dataset.shuffle(buffer_size=batch_size * 8, seed=seed)
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(AUTOTUNE)


# --- split_dataset -------------------------------------------------------------------------


def _split_sizes(left: Any, right: Any, total: int) -> tuple[int, int]:
    """Keras's rules: ints are counts, floats fractions of ``total`` (rounded)."""
    for name, size in (("left_size", left), ("right_size", right)):
        if size is None:
            continue
        if type(size) not in (int, float):
            raise TypeError(f"Invalid `{name}` type. Expected int or float. Received: {size}")
        if (type(size) is int and not 0 < size < total) or (
                type(size) is float and not 0 < size < 1):
            raise ValueError(
                f"`{name}` should be either a positive integer smaller than {total}, or a float "
                f"within the range `[0, 1]`. Received: {name}={size}"
            )
    if type(left) is float and type(right) is float and left + right > 1:
        raise ValueError(
            f"The sum of `left_size` and `right_size` is greater than 1. It must be less than or "
            f"equal to 1. Received: left_size + right_size = {left + right}"
        )
    left_count = round(left * total) if type(left) is float else left
    right_count = round(right * total) if type(right) is float else right
    if left_count is None:
        left_count = total - right_count
    elif right_count is None:
        right_count = total - left_count
    if left_count + right_count > total:
        raise ValueError(
            f"The sum of `left_size` and `right_size` should be smaller than the {total}. "
            f"Received: left_size + right_size = {left_count + right_count}"
        )
    for count, side in ((left_count, "left"), (right_count, "right")):
        if count == 0:
            raise ValueError(
                f"With `dataset` of length={total}, `left_size`={left_count} and "
                f"`right_size`={right_count}. Resulting {side} side dataset split will be empty. "
                "Adjust any of the aforementioned parameters"
            )
    return int(left_count), int(right_count)


def _batch_size_of(dataset: Dataset) -> int | None:
    from tensorflowish.data.batching import _BatchDataset

    node: Any = dataset
    while node is not None:
        if isinstance(node, _BatchDataset):
            return node.batch_size
        node = getattr(node, "parent", None)
    return None


def split_dataset(
    dataset: Any,
    left_size: int | float | None = None,
    right_size: int | float | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tuple[Dataset, Dataset]:
    """Split a Dataset, an array or a tuple/dict of arrays into two Datasets.

    Sizes are counts (ints) or fractions (floats); one may be None (the rest). A batched
    Dataset is split by element and both halves are batched again with its batch size.
    """
    if left_size is None and right_size is None:
        raise ValueError(
            "At least one of the `left_size` or `right_size` must be specified. Received: "
            "left_size=None and right_size=None"
        )
    batch_size = None
    if isinstance(dataset, Dataset):
        batch_size = _batch_size_of(dataset)
        source = dataset.unbatch() if batch_size is not None else dataset
        elements = list(source.as_numpy_iterator())
    else:
        if isinstance(dataset, list):
            dataset = np.asarray(dataset)
        sliced = Dataset.from_tensor_slices(dataset)
        elements = list(sliced.as_numpy_iterator())
    if shuffle:
        rng = random.Random(random.randint(0, int(1e6)) if seed is None else seed)
        rng.shuffle(elements)
    left_count, right_count = _split_sizes(left_size, right_size, len(elements))
    halves = []
    for part in (elements[:left_count], elements[-right_count:]):
        half = Dataset.from_tensor_slices(_stack_elements(part))
        if batch_size is not None:
            half = half.batch(batch_size)
        halves.append(half.prefetch(AUTOTUNE))
    return halves[0], halves[1]


def _stack_elements(elements: list) -> Any:
    first = elements[0]
    if isinstance(first, dict):
        return {k: _stack_elements([e[k] for e in elements]) for k in first}
    if isinstance(first, tuple):
        return tuple(_stack_elements([e[i] for e in elements]) for i in range(len(first)))
    return np.stack([np.asarray(e, dtype=object) if isinstance(e, bytes) else e
                     for e in elements])  # fmt: skip


# --- folders -------------------------------------------------------------------------------


def _index_directory(
    directory: str, labels: Any, formats: tuple, class_names: list | None, shuffle: bool,
    seed: int | None, follow_links: bool,
) -> tuple[list[str], Any, list[str]]:
    """File paths, their labels and the class names, as Keras indexes a folder of classes."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        from tensorflowish import errors

        raise errors.NotFoundError(None, None, f"Could not find directory {directory}")
    if labels == "inferred":
        found = sorted(
            name for name in os.listdir(directory)
            if os.path.isdir(os.path.join(directory, name))
        )  # fmt: skip
        if class_names is not None:
            if sorted(class_names) != found and set(class_names) != set(found):
                raise ValueError(
                    "The `class_names` passed did not match the names of the subdirectories of "
                    f"the target directory. Expected: {found} (or a subset of it), but received:"
                    f" class_names={class_names}"
                )
            found = list(class_names)
        subfolders = found
    else:
        subfolders = [""]
    paths, indices = [], []
    for index, subfolder in enumerate(subfolders):
        root = os.path.join(directory, subfolder)
        for folder, _, files in sorted(os.walk(root, followlinks=follow_links)):
            for name in sorted(files):
                if name.lower().endswith(formats):
                    paths.append(os.path.join(folder, name))
                    indices.append(index)
    if labels not in ("inferred", None):
        indices = list(labels)
        if len(indices) != len(paths):
            raise ValueError(
                "Expected the lengths of `labels` to match the number of files in the target "
                f"directory. len(labels) is {len(indices)} while we found {len(paths)} files in "
                f"directory {directory}."
            )
    if shuffle:
        order = np.random.RandomState(seed if seed is not None else np.random.randint(1e6))
        permutation = order.permutation(len(paths))
        paths = [paths[i] for i in permutation]
        indices = [indices[i] for i in permutation]
    return paths, np.asarray(indices), subfolders if labels == "inferred" else []


def _subset(paths: list, labels: Any, validation_split: float | None, subset: str | None,
            seed: int | None, shuffle: bool) -> list[tuple[list, Any, str]]:
    if validation_split is None:
        if subset is not None:
            raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
        return [(paths, labels, "")]
    if not 0 < validation_split < 1:
        raise ValueError(
            f"`validation_split` must be between 0 and 1, received: {validation_split}"
        )
    if subset not in ("training", "validation", "both"):
        raise ValueError(
            '`subset` must be either "training", "validation" or "both", received: '
            f"{subset}"
        )
    if shuffle and seed is None:
        raise ValueError(
            "If using `validation_split` and shuffling the data, you must provide a `seed` "
            "argument, to make sure that there is no overlap between the training and "
            "validation subset."
        )
    held = int(validation_split * len(paths))
    training = (paths[: len(paths) - held], labels[: len(paths) - held], "training")
    validation = (paths[len(paths) - held:], labels[len(paths) - held:], "validation")
    return {"training": [training], "validation": [validation],
            "both": [training, validation]}[subset]  # fmt: skip


def _labels_dataset(labels: Any, label_mode: str | None, classes: int) -> Dataset | None:
    if label_mode is None:
        return None
    if label_mode == "int":
        return Dataset.from_tensor_slices(labels.astype(np.int32))
    if label_mode == "binary":
        if classes > 2:
            raise ValueError(
                f'When passing `label_mode="binary"`, there must be exactly 2 class_names. '
                f"Received: class_names count={classes}"
            )
        return Dataset.from_tensor_slices(labels.astype(np.float32)[:, None])
    if label_mode == "categorical":
        return Dataset.from_tensor_slices(np.eye(classes, dtype=np.float32)[labels])
    raise ValueError(
        '`label_mode` argument must be one of "int", "categorical", "binary", or None. '
        f"Received: label_mode={label_mode}"
    )


def _from_folder(
    kind: str, directory: str, labels: Any, label_mode: str | None, class_names: list | None,
    formats: tuple, load: Callable[[str], Any], batch_size: int | None, shuffle: bool,
    seed: int | None, validation_split: float | None, subset: str | None, follow_links: bool,
    verbose: bool,
) -> Any:
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple, np.ndarray)):
        raise ValueError(
            "`labels` argument should be a list/tuple of integer labels, of the same size as "
            "the number of files in the target directory. If you wish to infer the labels from "
            'the subdirectory names in the target directory, pass `labels="inferred"`. If you '
            "wish to get a dataset that only contains data (no labels), pass `labels=None`. "
            f"Received: labels={labels}"
        )
    if labels is None:
        label_mode = None
    _subset([], np.zeros(0), validation_split, subset, seed, shuffle)  # check the arguments first
    if seed is None and shuffle:
        seed = np.random.randint(1e6)
    paths, indices, names = _index_directory(
        directory, labels, formats, class_names, shuffle, seed, follow_links
    )
    classes = len(names) if names else int(indices.max()) + 1 if len(indices) else 0
    if verbose:
        print(f"Found {len(paths)} files" + (f" belonging to {classes} classes." if names
                                             else "."))  # fmt: skip
    if not paths:
        raise ValueError(
            f"No {kind} files found in directory {directory}. Allowed formats: {formats}"
        )
    made = []
    for part_paths, part_labels, name in _subset(
            paths, indices, validation_split, subset, seed, shuffle):
        if verbose and name:
            print(f"Using {len(part_paths)} files for {name}.")
        # the pipeline carries file numbers; `load` reads the file of that number
        numbers = Dataset.from_tensor_slices(np.arange(len(part_paths)))
        dataset = numbers.map(lambda i, names=part_paths: load(names[int(i)]),
                              num_parallel_calls=AUTOTUNE)  # fmt: skip
        label_set = _labels_dataset(part_labels, label_mode, classes)
        if label_set is not None:
            dataset = Dataset.zip((dataset, label_set))
        if batch_size is not None:
            if shuffle:
                dataset = dataset.shuffle(buffer_size=batch_size * 8, seed=seed)
            dataset = dataset.batch(batch_size)
        elif shuffle:
            dataset = dataset.shuffle(buffer_size=1024, seed=seed)
        dataset = dataset.prefetch(AUTOTUNE)
        dataset.class_names = names
        dataset.file_paths = part_paths
        made.append(dataset)
    return made[0] if len(made) == 1 else made


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            "image_dataset_from_directory reads images with Pillow, which is not installed; "
            'install the extra: pip install "tensorflowish[images]"'
        ) from error
    return Image


def image_dataset_from_directory(
    directory: str,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: list | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: tuple = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    verbose: bool = True,
) -> Any:
    """Images from ``directory/<class name>/*.png|jpg|...`` as batches of float32 images of
    ``image_size`` (values 0..255) and labels (``label_mode`` "int", "categorical", "binary").

    Decoding and resizing run in the pipeline's thread pool (Pillow releases the GIL).
    ``.class_names`` lists the classes in label order.
    """
    image_module = _pillow()
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}
    if color_mode not in channels:
        raise ValueError(
            '`color_mode` must be one of {"rgb", "rgba", "grayscale"}. Received: '
            f"color_mode={color_mode}"
        )
    if data_format not in (None, "channels_last"):
        raise ValueError("image_dataset_from_directory makes channels_last images only.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be set to `True`."
        )
    height, width = (int(d) for d in image_size)
    filters = {"bilinear": image_module.BILINEAR, "nearest": image_module.NEAREST,
               "bicubic": image_module.BICUBIC, "area": image_module.BOX,
               "lanczos3": image_module.LANCZOS, "lanczos5": image_module.LANCZOS}  # fmt: skip
    if interpolation not in filters:
        raise ValueError(f"interpolation must be one of {sorted(filters)}, got {interpolation!r}.")
    mode = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}[color_mode]

    def read(path: str) -> np.ndarray:
        with image_module.open(path) as picture:
            picture = picture.convert(mode)
            if crop_to_aspect_ratio or pad_to_aspect_ratio:
                picture = _fit_aspect(picture, width / height, crop_to_aspect_ratio,
                                      image_module)  # fmt: skip
            picture = picture.resize((width, height), filters[interpolation])
            array = np.asarray(picture, dtype=np.float32)
        return array.reshape(height, width, channels[color_mode])

    return _from_folder(
        "image", directory, labels, label_mode, class_names, IMAGE_FORMATS, read, batch_size,
        shuffle, seed, validation_split, subset, follow_links, verbose,
    )  # fmt: skip


def _fit_aspect(picture: Any, ratio: float, crop: bool, image_module: Any) -> Any:
    """The largest centred crop (or the smallest centred black padding) of the target ratio."""
    w, h = picture.size
    if crop:
        new_w, new_h = (min(w, round(h * ratio)), min(h, round(w / ratio)))
        left, top = (w - new_w) // 2, (h - new_h) // 2
        return picture.crop((left, top, left + new_w, top + new_h))
    new_w, new_h = (max(w, round(h * ratio)), max(h, round(w / ratio)))
    canvas = image_module.new(picture.mode, (new_w, new_h))
    canvas.paste(picture, ((new_w - w) // 2, (new_h - h) // 2))
    return canvas


def text_dataset_from_directory(
    directory: str,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: list | None = None,
    batch_size: int | None = 32,
    max_length: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    follow_links: bool = False,
    verbose: bool = True,
) -> Any:
    """Texts from ``directory/<class name>/*.txt`` as batches of strings and labels; each text
    is cut to ``max_length`` characters if given."""

    def load(path: str) -> Any:
        import tensorflowish as tf

        with open(path, "rb") as stream:
            text = stream.read()
        if max_length is not None:
            text = text.decode("utf-8")[:max_length].encode("utf-8")
        return tf.constant(text)

    return _from_folder(
        "text", directory, labels, label_mode, class_names, (".txt",), load, batch_size,
        shuffle, seed, validation_split, subset, follow_links, verbose,
    )  # fmt: skip
