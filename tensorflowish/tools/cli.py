"""The ``tensorflowish`` command: ``train`` an MLP on real handwritten digits, ``predict`` with
a saved model, ``info``.

$ tensorflowish train                 # digits (ships with scikit-learn), about 3 s
$ tensorflowish predict digits_mlp.keras   # load the saved model, score the held-out digits
$ tensorflowish train --dataset fashion_mnist --epochs 5 --hidden 256
$ tensorflowish info                  # versions, backends, why no GPU
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main", "build_parser", "train", "predict", "info"]

DATASETS = ("digits", "mnist", "fashion_mnist")
# Image scale per dataset: digits are 0..16, the MNIST family 0..255.
_PIXEL_MAX = {"digits": 16.0, "mnist": 255.0, "fashion_mnist": 255.0}
# Defaults chosen so that `tensorflowish train` reaches >= 97% on held-out digits in seconds.
DEFAULTS = {"epochs": 30, "batch_size": 32, "lr": 2e-3, "hidden": "256", "seed": 0}
# `--model cnn`: per dataset, what reaches >= 98.5% on the digits (with one-pixel shifts of the
# 1,437 training images) and >= 90% on Fashion-MNIST; a cosine-decayed Adam learning rate.
CNN_DEFAULTS = {"digits": {"epochs": 6, "batch_size": 64, "lr": 4e-3},
                "mnist": {"epochs": 3, "batch_size": 64, "lr": 2e-3},
                "fashion_mnist": {"epochs": 6, "batch_size": 64, "lr": 2e-3}}


class CommandError(Exception):
    """An error to print as one clear message (no traceback) with exit status 1."""


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in str(text).replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden expects layer sizes like 128 or 256,128, got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _positive(convert, noun: str):
    """An argparse type: `convert(text)`, which must be > 0."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {noun}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {noun}, got {value}")
        return value
    parse.__name__ = f"positive {noun}"
    return parse


_positive_int = _positive(int, "integer")
_positive_float = _positive(float, "number")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tensorflowish`` command."""
    parser = argparse.ArgumentParser(
        prog="tensorflowish",
        description="TensorFlow 2's eager API on NumPy and CuPy. Train a model, or inspect the "
        "installation.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train_parser = commands.add_parser(
        "train",
        help="train an MLP on handwritten digits and report held-out accuracy",
        description="Train a multi-layer perceptron (Dense+ReLU layers, Adam) with Keras's "
        "fit(), print the held-out test accuracy and save the model (a Keras 3 .keras file).",
    )
    train_parser.add_argument(
        "--dataset", choices=DATASETS, default="digits",
        help="digits (8x8, ships with scikit-learn; default), mnist or fashion_mnist (28x28, "
        "read from local IDX files)",
    )  # fmt: skip
    train_parser.add_argument(
        "--data-dir", default=None,
        help="folder with the four IDX files for mnist/fashion_mnist (default: search the "
        "usual places, e.g. /usr/share/datasets/fashion-mnist)",
    )  # fmt: skip
    train_parser.add_argument(
        "--model", choices=("mlp", "cnn", "lstm"), default="mlp",
        help="mlp: Dense+ReLU layers (default); cnn: conv 3x3x32, max-pool, conv 3x3x64, "
        "max-pool, dropout, dense (a small convolutional network); lstm: an LSTM of --hidden "
        "units reads the image row by row (8 steps of 8 pixels for digits), then Dense",
    )  # fmt: skip
    train_parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help=f"passes over the training set (default {DEFAULTS['epochs']}; cnn: "
        f"{CNN_DEFAULTS['digits']['epochs']} on digits, "
        f"{CNN_DEFAULTS['fashion_mnist']['epochs']} on fashion_mnist)",
    )
    train_parser.add_argument(
        "--batch-size", type=_positive_int, default=None,
        help=f"examples per step (default {DEFAULTS['batch_size']}; cnn: 64)",
    )  # fmt: skip
    train_parser.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help=f"Adam learning rate (default {DEFAULTS['lr']}; cnn: cosine-decayed from "
        f"{CNN_DEFAULTS['digits']['lr']} on digits, {CNN_DEFAULTS['fashion_mnist']['lr']} "
        "otherwise)",
    )
    train_parser.add_argument(
        "--hidden", type=_hidden_sizes, default=_hidden_sizes(DEFAULTS["hidden"]),
        help=f"hidden layer sizes, comma-separated (default {DEFAULTS['hidden']})",
    )  # fmt: skip
    train_parser.add_argument(
        "--backend", choices=("numpy", "cupy"), default=None,
        help="where to compute (default: $TENSORFLOWISH_BACKEND, else numpy)",
    )  # fmt: skip
    train_parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS["seed"],
        help=f"random seed (default {DEFAULTS['seed']})",
    )
    train_parser.add_argument(
        "--out", default=None,
        help="where to save the model (default: ./<dataset>_<model>.keras, which Keras 3 also "
        "loads); a name ending in .weights.h5 or .safetensors saves only the weights",
    )  # fmt: skip
    train_parser.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=1,
        help="0: only the result, 1: a progress bar (one line per epoch when not a "
        "terminal), 2: one line per epoch",
    )  # fmt: skip
    train_parser.add_argument(
        "--workers", type=_positive_int, default=1,
        help="train data-parallel in N processes through MPI on this machine (needs "
        "tensorflowish[distributed]); --batch-size stays the global batch",
    )  # fmt: skip
    train_parser.add_argument(
        "--tensorboard", default=None, metavar="DIR",
        help="write TensorBoard logs (loss/accuracy per epoch and per 10 batches, weight "
        "histograms, the model as text) under DIR/train and DIR/validation; view them with "
        "`tensorboard --logdir DIR` (needs tensorflowish[tensorboard])",
    )  # fmt: skip
    train_parser.set_defaults(handler=train)

    predict_parser = commands.add_parser(
        "predict",
        help="load a saved .keras model and report its accuracy on the held-out images",
        description="Load a model saved by `tensorflowish train` (or any .keras classifier of "
        "flattened images) and print its accuracy on the held-out split of the dataset.",
    )
    predict_parser.add_argument("model", help="the .keras file to load")
    predict_parser.add_argument(
        "--dataset", "--data", dest="dataset", choices=DATASETS, default=None,
        help="the images to score (default: from the model's name, e.g. digits_mlp -> digits)",
    )  # fmt: skip
    predict_parser.add_argument(
        "--data-dir", default=None, help="folder with the IDX files for mnist/fashion_mnist"
    )
    predict_parser.set_defaults(handler=predict)

    info_parser = commands.add_parser(
        "info", help="print versions, available backends, and why a GPU is not usable"
    )
    info_parser.set_defaults(handler=info)

    bench_parser = commands.add_parser(
        "bench",
        help="time the framework against the raw NumPy/CuPy floor on every usable backend",
        description="Time dense layers, softmax cross-entropy, an optimiser step, whole MLP "
        "training steps and the per-op tape overhead, each beside its hand-written floor, on "
        "the CPU and (where usable) the GPU; print a table and write a plot. For stable numbers "
        "close other programs; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, if set, slow NumPy's BLAS.",
    )
    bench_parser.add_argument("--quick", action="store_true",
                              help="small sizes only (a smoke run of a few seconds)")
    bench_parser.add_argument("--repeats", type=_positive_int, default=45,
                              help="timed samples of each workload and of its floor, taken "
                              "alternately (the medians are compared; default 45)")
    bench_parser.add_argument("--plot", default="benchmark.png",
                              help="PNG of time against size (default benchmark.png; "
                              "'' for none; needs tensorflowish[plot])")
    bench_parser.add_argument("--json", default=None, help="also write the results as JSON")
    bench_parser.add_argument("--backend", choices=("numpy", "cupy"), action="append",
                              default=None, help="only these backends (repeatable)")
    bench_parser.add_argument("--device", action="append", default=None,
                              help="only these devices, e.g. --device GPU:0 (repeatable; on a "
                              "GPU the GPU targets are measured too)")
    bench_parser.set_defaults(handler=bench)
    return parser


def bench(args: argparse.Namespace) -> int:
    """`tensorflowish bench`: the benchmark table (see tensorflowish.tools.bench)."""
    from tensorflowish import backend
    from tensorflowish.tools import bench as benchmarks

    devices = None
    if args.backend or args.device:
        devices = ["GPU:0" if name == "cupy" else "CPU:0" for name in args.backend or ()]
        try:
            devices += [backend.normalize_device(name) for name in args.device or ()]
        except ValueError as error:
            raise CommandError(str(error)) from None
        devices = list(dict.fromkeys(devices))
        if any(device.startswith("GPU") for device in devices):
            reason = backend.gpu_unavailable_reason()
            if reason is not None:
                raise CommandError(f"the GPU cannot be benchmarked here: {reason}")
    benchmarks.main(quick=args.quick, repeats=args.repeats, plot_path=args.plot or None,
                    json_path=args.json, devices=devices)
    return 0


def _load(dataset: str, data_dir: str | None) -> tuple:
    from tensorflowish.datasets import digits, fashion_mnist, mnist

    try:
        if dataset == "digits":
            if data_dir is not None:
                raise CommandError("--data-dir applies to mnist and fashion_mnist only.")
            return digits.load_data()
        loader = mnist if dataset == "mnist" else fashion_mnist
        return loader.load_data(data_dir)
    except (ImportError, FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from error


def _print(*parts: Any) -> None:
    print(*parts, flush=True)


def train(args: argparse.Namespace) -> int:
    """``tensorflowish train``: fit an MLP, print the test accuracy, save the weights."""
    import numpy as np

    import tensorflowish as tf
    from tensorflowish import backend, distribute

    if args.workers > 1 and distribute.size() == 1:
        # start N copies of this command under the MPI launcher; they see size() == N
        argv = [sys.executable, "-m", "tensorflowish", *sys.argv[1:]]
        try:
            return distribute.launch(args.workers, argv, timeout=3600)
        except distribute.DistributedError as error:
            raise CommandError(str(error)) from None
    workers = distribute.size()
    chief = distribute.is_chief()
    defaults = CNN_DEFAULTS[args.dataset] if args.model == "cnn" else DEFAULTS
    for name in ("epochs", "batch_size", "lr"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    if workers > 1 and args.batch_size % workers:
        raise CommandError(f"--batch-size {args.batch_size} must be a multiple of --workers "
                           f"{workers} (each worker takes an equal share of every batch).")
    started = time.perf_counter()
    if args.backend is not None:
        try:
            backend.set_default_backend(args.backend)
        except backend.BackendError as error:
            raise CommandError(f"{error}\nRun without --backend (or --backend numpy).") from None
    tf.keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = _load(args.dataset, args.data_dir)
    scale = _PIXEL_MAX[args.dataset]
    image_shape = {"mlp": (len(x_train), -1), "cnn": (*x_train.shape[:3], 1),
                   "lstm": x_train.shape[:3]}[args.model]  # lstm: a sequence of rows
    x_train = (x_train.reshape(image_shape) / scale).astype(np.float32)
    x_test = (x_test.reshape((len(x_test), *image_shape[1:])) / scale).astype(np.float32)
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    classes = int(max(y_train.max(), y_test.max())) + 1
    side = "x".join(str(d) for d in _image_shape(args.dataset))

    learning_rate: Any = args.lr
    if args.model == "cnn":
        if args.dataset == "digits":  # 1,437 images: add their one-pixel shifts
            x_train, y_train = _with_shifts(x_train, y_train)
        steps = args.epochs * -(-len(x_train) // args.batch_size)
        learning_rate = tf.keras.optimizers.schedules.CosineDecay(args.lr, steps)
        model, shape = _cnn(x_train.shape[1:], classes, args.dataset)
    elif args.model == "lstm":
        layers = [tf.keras.layers.InputLayer(input_shape=x_train.shape[1:]),
                  tf.keras.layers.LSTM(args.hidden[0])]
        layers += [tf.keras.layers.Dense(units, activation="relu") for units in args.hidden[1:]]
        layers.append(tf.keras.layers.Dense(classes))
        model = tf.keras.Sequential(layers, name=f"{args.dataset}_lstm")
        shape = " -> ".join([f"{x_train.shape[1]} rows of {x_train.shape[2]}",
                             f"LSTM({args.hidden[0]})"] +
                            [f"{h} (relu)" for h in args.hidden[1:]] + [str(classes)])
    else:
        layers = [tf.keras.layers.InputLayer(input_shape=(x_train.shape[1],))]
        layers += [tf.keras.layers.Dense(units, activation="relu") for units in args.hidden]
        layers.append(tf.keras.layers.Dense(classes))
        model = tf.keras.Sequential(layers, name=f"{args.dataset}_mlp")
        shape = " -> ".join(
            [str(x_train.shape[1])] + [f"{h} (relu)" for h in args.hidden] + [str(classes)]
        )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    if args.verbose and chief:
        kind = {"mlp": "an MLP", "cnn": "a CNN", "lstm": "an LSTM"}[args.model]
        _print(
            f"tensorflowish {tf.__version__}: training {kind} on {args.dataset} "
            f"({len(x_train)} train / {len(x_test)} test images of {side}) on "
            f"{backend.current_device()}"
        )
        _print(
            f"model {shape}: {model.count_params():,} parameters; Adam lr={args.lr:g}, "
            f"batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}"
            + (f", {workers} workers of batch {args.batch_size // workers}" if workers > 1 else "")
        )
    callbacks = []
    if args.tensorboard and chief:
        try:
            board = tf.keras.callbacks.TensorBoard(
                log_dir=args.tensorboard, histogram_freq=1, update_freq=10
            )
        except ImportError as error:
            raise CommandError(str(error)) from None
        callbacks.append(board)
    fit_started = time.perf_counter()
    model.fit(
        x_train, y_train, batch_size=args.batch_size // workers, epochs=args.epochs,
        verbose=args.verbose, callbacks=callbacks,
        validation_data=(x_test, y_test) if args.tensorboard else None,
    )  # fmt: skip
    fit_seconds = time.perf_counter() - fit_started
    logits = model.predict(x_test, batch_size=256, verbose=0)
    correct = int((logits.argmax(axis=1) == y_test).sum())
    accuracy = correct / len(y_test)

    if not chief:
        return 0  # the weights are identical on every worker: rank 0 reports and saves
    out = args.out or f"{args.dataset}_{args.model}.keras"
    try:
        if out.endswith(".keras"):
            model.save(out)
        else:
            model.save_weights(out)
    except (OSError, ValueError) as error:
        raise CommandError(f"Could not save the model to {out}: {error}") from error
    total = time.perf_counter() - started
    _print(
        f"test accuracy: {accuracy:.2%} ({correct}/{len(y_test)} held-out {args.dataset} images)"
    )
    _print(f"{'model' if out.endswith('.keras') else 'weights'} saved to {out}")
    if args.tensorboard:
        _print(f"TensorBoard logs in {args.tensorboard} (tensorboard --logdir {args.tensorboard})")
    _print(f"training took {fit_seconds:.1f} s ({total:.1f} s in all)")
    return 0


def _with_shifts(images, labels):
    """The images and their copies shifted by one pixel up, down, left and right."""
    import numpy as np

    copies = [images]
    for axis in (1, 2):
        for step in (1, -1):
            shifted = np.roll(images, step, axis=axis)
            edge = [slice(None)] * images.ndim
            edge[axis] = 0 if step == 1 else -1
            shifted[tuple(edge)] = 0  # what rolled over the edge is blank, not wrapped
            copies.append(shifted)
    return np.concatenate(copies), np.concatenate([labels] * len(copies))


def _cnn(input_shape, classes: int, dataset: str):
    """conv 3x3x32 -> max-pool -> conv 3x3x64 -> max-pool -> dropout -> dense: the model and a
    one-line description."""
    import tensorflowish as tf

    layers = tf.keras.layers
    model = tf.keras.Sequential([
        layers.Input(input_shape),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(classes),
    ], name=f"{dataset}_cnn")  # fmt: skip
    side = "x".join(str(d) for d in input_shape)
    return model, (f"{side} -> conv3x3x32 (relu) -> maxpool -> conv3x3x64 (relu) -> maxpool -> "
                   f"dropout 0.3 -> {classes}")


def predict(args: argparse.Namespace) -> int:
    """``tensorflowish predict MODEL.keras``: load a saved model, print held-out accuracy."""
    import numpy as np

    import tensorflowish as tf

    try:
        model = tf.keras.models.load_model(args.model)
    except (OSError, ValueError) as error:
        raise CommandError(str(error)) from error
    dataset = args.dataset
    if dataset is None:
        dataset = next((name for name in DATASETS if model.name.startswith(name)), "digits")
    _, (x_test, y_test) = _load(dataset, args.data_dir)
    expected = getattr(model, "_input_spec", None)
    if expected is not None and len(expected) == 4:  # a CNN: images of (H, W, 1)
        if tuple(expected[1:3]) != tuple(x_test.shape[1:3]):
            raise CommandError(
                f"{args.model} expects images of {expected[1]}x{expected[2]}, but {dataset} "
                f"images are {x_test.shape[1]}x{x_test.shape[2]}; choose the dataset it was "
                "trained on with --dataset.")
        shape = (*x_test.shape[:3], 1)
    elif expected is not None and len(expected) == 3:  # an LSTM: the image's rows in order
        shape = x_test.shape[:3]
    else:
        shape = (len(x_test), -1)
    x_test = (x_test.reshape(shape) / _PIXEL_MAX[dataset]).astype(np.float32)
    if expected is not None and len(expected) == 2 and expected[-1] is not None and \
            expected[-1] != x_test.shape[1]:
        raise CommandError(
            f"{args.model} expects inputs of {expected[-1]} values, but {dataset} images have "
            f"{x_test.shape[1]} pixels; choose the dataset it was trained on with --dataset."
        )
    logits = model.predict(x_test, batch_size=256, verbose=0)
    correct = int((np.asarray(logits).argmax(axis=1) == y_test).sum())
    _print(f"model {model.name} from {args.model}: {model.count_params():,} parameters")
    _print(
        f"test accuracy: {correct / len(y_test):.2%} ({correct}/{len(y_test)} held-out "
        f"{dataset} images)"
    )
    return 0


def _image_shape(dataset: str) -> tuple[int, int]:
    return (8, 8) if dataset == "digits" else (28, 28)


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def info(args: argparse.Namespace | None = None) -> int:
    """``tensorflowish info``: versions, backends, and why a GPU is not usable."""
    import numpy as np

    import tensorflowish as tf
    from tensorflowish import backend
    from tensorflowish.datasets import fashion_mnist, mnist

    _print(f"tensorflowish {tf.__version__} ({os.path.dirname(tf.__file__)})")
    _print(
        f"Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.machine()}"
    )
    _print(f"numpy {np.__version__}")
    for name, purpose, extra in (
        ("safetensors", "weight files", None),
        ("scikit-learn", "the digits dataset", "datasets"),
    ):
        version = _version(name)
        missing = f"not installed (pip install 'tensorflowish[{extra}]')" if extra else (
            "not installed")
        _print(f"{name} {version}  ({purpose})" if version else f"{name}: {missing}")
    for line in backend.gpu_description():  # CuPy wheel, CUDA runtime, NVRTC, driver, devices
        _print(line)
    _print(
        f"backends available: {', '.join(backend.available_backends())}; new tensors go "
        f"to {backend.current_device()}"
    )
    reason = backend.gpu_unavailable_reason()
    _print("GPU: usable" if reason is None else f"GPU: not usable: {reason}")
    for name, module in (("mnist", mnist), ("fashion_mnist", fashion_mnist)):
        found = [
            p
            for p in module.SEARCH_PATHS
            if "$" not in os.path.expandvars(p)
            and os.path.exists(os.path.expanduser(os.path.expandvars(p)))
        ]
        where = (
            f"found at {os.path.expanduser(os.path.expandvars(found[0]))}"
            if found
            else (
                "not found"
                + (
                    " (sudo apt-get install dataset-fashion-mnist)"
                    if name == "fashion_mnist"
                    else ""
                )
            )
        )
        _print(f"dataset {name}: {where}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tensorflowish`` console script and ``python -m tensorflowish``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except CommandError as error:
        print(f"tensorflowish {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0
