"""``tf.train.Checkpoint`` and ``tf.train.CheckpointManager``: object-based checkpoints.

A checkpoint records the values of every variable reachable from the objects given to
``Checkpoint(...)``, each under its *path* through the object graph, with TensorFlow's key names
(``net/l1/kernel/.ATTRIBUTES/VARIABLE_VALUE``, an optimizer slot as
``net/l1/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE``), so a value is
restored into whatever object sits at the same path, however the object was re-created. A
variable reachable by two paths is stored once, the second path recorded as an alias. The walk
through the objects is :mod:`tensorflowish.saving.object_graph`; this module reads and writes.

On disk (this package's own format; TensorFlow's binary checkpoints cannot be read here):

* ``PREFIX.safetensors`` -- the values, one tensor per path, each with a SHA-256 checksum
  (:mod:`tensorflowish.checkpoint`), written atomically;
* ``PREFIX.index`` -- JSON: ``{"format": "tensorflowish-checkpoint/1", "tensors": {key:
  {"shape", "dtype"}}, "aliases": {path: path}}``, written after the values, so a checkpoint
  without an index is incomplete and is never listed;
* ``checkpoint`` in the folder -- TensorFlow's text state file (``model_checkpoint_path: ...``)
  naming the latest checkpoint, written by ``Checkpoint.save`` and ``CheckpointManager``.

    >>> import os, tempfile, tensorflowish as tf
    >>> folder = tempfile.mkdtemp()
    >>> v = tf.Variable(1.0)
    >>> ckpt = tf.train.Checkpoint(v=v)
    >>> path = ckpt.save(os.path.join(folder, "ckpt"))
    >>> _ = v.assign(5.0)
    >>> _ = ckpt.restore(path).assert_consumed()
    >>> float(v.numpy())
    1.0
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import numpy as np

from tensorflowish import checkpoint as weight_files
from tensorflowish import errors
from tensorflowish.atomic import atomic_write
from tensorflowish.saving.object_graph import (
    _bookkeeping,
    _PendingSlot,
    _trackable,
    _VariableRef,
    object_graph,
)

__all__ = ["Checkpoint", "CheckpointManager", "CheckpointReader", "latest_checkpoint",
           "list_variables", "load_checkpoint"]

FORMAT = "tensorflowish-checkpoint/1"
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"  # TensorFlow's name for a variable's value
_STATE_FILE = "checkpoint"


# --- status objects ----------------------------------------------------------------------------


class CheckpointLoadStatus:
    """What ``restore`` matched: check it with ``assert_consumed`` and friends."""

    def __init__(self, path: str | None, unused_in_file: list[str], unmatched_objects: list[str],
                 restored: int) -> None:
        self.save_path = path
        self.unused_in_file, self.unmatched_objects = unused_in_file, unmatched_objects
        self.restored = restored

    def assert_consumed(self) -> CheckpointLoadStatus:
        """Every value in the checkpoint went to an object, and every object got a value."""
        if self.unused_in_file or self.unmatched_objects:
            raise AssertionError(
                f"Checkpoint {self.save_path} was not consumed exactly: values with no object "
                f"here {self.unused_in_file}; objects here with no value in the file "
                f"{self.unmatched_objects}. Use expect_partial() if this is intended."
            )
        return self

    def assert_existing_objects_matched(self) -> CheckpointLoadStatus:
        """Every variable of the objects given got a value from the checkpoint."""
        if self.unmatched_objects:
            raise AssertionError(
                f"Checkpoint {self.save_path} has no values for {self.unmatched_objects}."
            )
        return self

    def assert_nontrivial_match(self) -> CheckpointLoadStatus:
        """At least one value besides the save counter was restored."""
        if self.restored <= 1:
            raise AssertionError(f"Checkpoint {self.save_path} matched nothing in this object.")
        return self

    def expect_partial(self) -> CheckpointLoadStatus:
        """Silence the complaint about unused values (a partial restore is intended)."""
        return self

    def run_restore_ops(self, session: Any = None) -> None:
        """Nothing to run: restoring is eager."""

    def initialize_or_restore(self, session: Any = None) -> None:
        """Nothing to run: restoring is eager."""


# --- reading and writing -----------------------------------------------------------------------


def _write(prefix: str, root: Any) -> None:
    graph = object_graph(root)
    _, aliases, _ = _bookkeeping(graph)
    arrays = {path + _SUFFIX: ref.value() for path, ref in graph.items()
              if not isinstance(ref, _PendingSlot)}
    weight_files.save_arrays(prefix + ".safetensors", arrays, metadata={"format-index": FORMAT})
    index = {"format": FORMAT, "tensors": {
        key: {"shape": list(array.shape), "dtype": array.dtype.name}
        for key, array in arrays.items()
    }, "aliases": aliases}  # fmt: skip
    atomic_write(prefix + ".index", json.dumps(index, indent=1).encode())


def _read(prefix: str) -> dict[str, np.ndarray]:
    index_path, data_path = prefix + ".index", prefix + ".safetensors"
    if not os.path.exists(index_path):
        if os.path.exists(prefix + ".data-00000-of-00001") or os.path.isdir(prefix):
            raise errors.UnimplementedError(
                f"{prefix} is a TensorFlow checkpoint (or SavedModel); its binary format cannot "
                "be read here. Re-save the values from TensorFlow, e.g. as a .keras file."
            )
        raise errors.NotFoundError(
            f"No checkpoint at {prefix} (no {index_path}). Pass the path save() returned, or "
            "tf.train.latest_checkpoint(folder)."
        )
    with open(index_path, "rb") as stream:
        raw = stream.read()
    try:
        index = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.UnimplementedError(
            f"{index_path} is not a tensorflowish checkpoint index; if TensorFlow wrote it, its "
            "binary format cannot be read here."
        ) from None
    if index.get("format") != FORMAT:
        raise errors.DataLossError(f"{index_path} has format {index.get('format')!r}, "
                                   f"expected {FORMAT!r}.")
    try:
        arrays = weight_files.load_arrays(data_path)
    except FileNotFoundError:
        raise errors.DataLossError(f"Checkpoint {prefix} is incomplete: {data_path} is missing.") \
            from None
    except weight_files.CheckpointError as error:
        raise errors.DataLossError(str(error)) from error
    if set(arrays) != set(index["tensors"]):
        raise errors.DataLossError(
            f"Checkpoint {prefix} is damaged: its index and its values list different tensors."
        )
    return arrays, dict(index.get("aliases") or {})


def _read_paths(prefix: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The values by object-graph path (TensorFlow's key suffix removed), and the aliases."""
    arrays, aliases = _read(prefix)
    return {key.removesuffix(_SUFFIX): array for key, array in arrays.items()}, aliases


def _restore(prefix: str, root: Any) -> CheckpointLoadStatus:
    stored, file_aliases = _read_paths(prefix)
    graph = object_graph(root)
    unbuilt, aliases, checkpoints = _bookkeeping(graph)
    unbuilt = sorted(unbuilt, key=lambda item: -len(item[0]))
    problems, plan, consumed, matched = [], [], set(), set()
    candidates = list(graph.items()) + [(alias, graph[primary]) for alias, primary in
                                        aliases.items() if primary in graph]
    for path, ref in candidates:
        key = path if path in stored else file_aliases.get(path)
        if key is None or key not in stored or id(ref) in matched:
            continue
        array = stored[key]
        if tuple(array.shape) != ref.shape:
            problems.append(f"'{path}' has shape {ref.shape} here, {tuple(array.shape)} in "
                            "the checkpoint")
        plan.append((ref, array))
        matched.add(id(ref))
        consumed.add(key)
    if problems:
        raise errors.InvalidArgumentError(
            f"Cannot restore {prefix}: " + "; ".join(problems) + ". Nothing was changed."
        )
    for ref, array in plan:
        ref.assign(array)
    unused = sorted(path for path in stored if path not in consumed)
    for path in unused:  # TensorFlow's deferred restoration: applied when the object appears
        for layer_path, layer in unbuilt:
            if layer_path and path.startswith(layer_path + "/"):
                pending = layer.__dict__.setdefault("_deferred_restore", {})
                pending[path[len(layer_path) + 1:]] = stored[path]
                break
        else:
            for checkpoint_path, checkpoint in sorted(checkpoints, key=lambda c: -len(c[0])):
                if not checkpoint_path or path.startswith(checkpoint_path + "/"):
                    relative = path[len(checkpoint_path) + 1:] if checkpoint_path else path
                    checkpoint._deferred[relative] = stored[path]
                    break
    unmatched = sorted(path for path, ref in graph.items()
                       if id(ref) not in matched and not isinstance(ref, _PendingSlot))
    return CheckpointLoadStatus(prefix, unused, unmatched, len(plan))


def apply_deferred(layer: Any, values: dict[str, np.ndarray]) -> None:
    """Assign the values a restore kept for ``layer`` now that its variables exist (those
    whose shapes do not fit are dropped, as TensorFlow reports them unmatched)."""
    graph = object_graph(layer)
    _bookkeeping(graph)
    for path, array in values.items():
        ref = graph.get(path)
        if ref is not None and not isinstance(ref, _PendingSlot) and \
                tuple(array.shape) == ref.shape:
            ref.assign(array)


# --- the state file ----------------------------------------------------------------------------


def _write_state(directory: str, latest: str, all_paths: list[str]) -> None:
    def relative(path: str) -> str:
        return os.path.relpath(path, directory) if os.path.isabs(path) else \
            os.path.relpath(os.path.abspath(path), os.path.abspath(directory))

    lines = [f'model_checkpoint_path: "{relative(latest)}"']
    lines += [f'all_model_checkpoint_paths: "{relative(p)}"' for p in all_paths]
    atomic_write(os.path.join(directory, _STATE_FILE), ("\n".join(lines) + "\n").encode())


def _read_state(directory: str) -> tuple[str | None, list[str]]:
    path = os.path.join(directory, _STATE_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (FileNotFoundError, NotADirectoryError):
        return None, []

    def absolute(value: str) -> str:
        return value if os.path.isabs(value) else os.path.join(directory, value)

    latest = re.search(r'^model_checkpoint_path:\s*"(.*)"', text, re.MULTILINE)
    every = re.findall(r'^all_model_checkpoint_paths:\s*"(.*)"', text, re.MULTILINE)
    return (absolute(latest.group(1)) if latest else None), [absolute(p) for p in every]


def latest_checkpoint(checkpoint_dir: str | os.PathLike, latest_filename: str | None = None) \
        -> str | None:
    """The prefix of the newest checkpoint in a folder (from its ``checkpoint`` file), or
    None when there is none."""
    latest, _ = _read_state(os.fspath(checkpoint_dir))
    if latest is None or not os.path.exists(latest + ".index"):
        return None
    return latest


class CheckpointReader:
    """What ``tf.train.load_checkpoint`` returns: the stored tensors by their keys."""

    def __init__(self, prefix: str) -> None:
        self._arrays, _ = _read(prefix)

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {key: list(array.shape) for key, array in self._arrays.items()}

    def get_variable_to_dtype_map(self) -> dict[str, Any]:
        import tensorflowish as tf

        return {key: tf.as_dtype(array.dtype) for key, array in self._arrays.items()}

    def has_tensor(self, key: str) -> bool:
        return key in self._arrays

    def get_tensor(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            raise errors.NotFoundError(f"Key {key} not found in checkpoint.")
        return self._arrays[key].copy()


def _prefix_of(path: str) -> str:
    path = os.fspath(path)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise errors.NotFoundError(f"No checkpoint in folder {path}.")
        return latest
    return path


def load_checkpoint(ckpt_dir_or_file: str | os.PathLike) -> CheckpointReader:
    """A reader of a checkpoint (a prefix, or a folder: its latest checkpoint)."""
    return CheckpointReader(_prefix_of(ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file: str | os.PathLike) -> list[tuple[str, list[int]]]:
    """``[(key, shape)]`` of a checkpoint, sorted by key."""
    return sorted(load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map().items())


# --- the public classes ------------------------------------------------------------------------


class Checkpoint:
    """Groups objects to save and restore together: ``tf.train.Checkpoint(model=m, opt=o)``.

    ``save(prefix)`` numbers the file (``prefix-1``, ``prefix-2``, ...) and updates the folder's
    ``checkpoint`` file; ``write(path)`` writes exactly ``path``; ``restore(path)`` and
    ``read(path)`` assign the stored values to the objects at the same paths and return a
    status with ``assert_consumed()`` / ``expect_partial()``.
    """

    def __init__(self, root: Any = None, **kwargs: Any) -> None:
        from tensorflowish.tensor import Variable

        for name, value in kwargs.items():
            if not _trackable(value):
                raise TypeError(
                    f"Checkpoint({name}=...) expects a trackable object (a tf.Variable, "
                    f"tf.Module, Keras layer/model/optimizer or Checkpoint), got "
                    f"{type(value).__name__}."
                )
        self._children = dict(kwargs)
        if root is not None:
            self._children["root"] = root
        self._save_counter: Variable | None = None
        self._deferred: dict[str, np.ndarray] = {}  # restored values with no object yet

    @property
    def save_counter(self) -> Any:
        """How many times ``save`` ran: an int64 variable, made (and tracked) on first use."""
        if self._save_counter is None:
            import tensorflowish as tf

            self._save_counter = tf.Variable(0, dtype=tf.int64, trainable=False,
                                             name="save_counter")
        return self._save_counter

    def __getattr__(self, name: str) -> Any:
        children = self.__dict__.get("_children", {})
        if name in children:
            return children[name]
        raise AttributeError(f"Checkpoint has no attribute {name!r}.")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if name == "save_counter":
            raise AttributeError("save_counter is managed by the Checkpoint; it cannot be set.")
        self._children[name] = value
        if self._deferred:  # a restore had values waiting for this attribute
            from tensorflowish.tensor import Variable

            if isinstance(value, Variable) and name in self._deferred:
                _VariableRef(value).assign(self._deferred.pop(name))
                return
            inner = {key[len(name) + 1:]: array for key, array in self._deferred.items()
                     if key.startswith(name + "/")}
            if inner and _trackable(value):
                apply_deferred(value, inner)
                for key in inner:
                    self._deferred.pop(f"{name}/{key}", None)

    def write(self, file_prefix: str | os.PathLike, options: Any = None) -> str:
        """Write the values to exactly ``file_prefix`` (no numbering, no state file)."""
        prefix = os.fspath(file_prefix)
        _write(prefix, self)
        return prefix

    def save(self, file_prefix: str | os.PathLike, options: Any = None) -> str:
        """Write ``file_prefix-N`` (N = the save counter after incrementing it), record it as the
        folder's latest checkpoint, and return that path."""
        self.save_counter.assign_add(1)
        prefix = f"{os.fspath(file_prefix)}-{int(self.save_counter.numpy())}"
        _write(prefix, self)
        directory = os.path.dirname(os.path.abspath(prefix))
        _, previous = _read_state(directory)
        all_paths = [p for p in previous if os.path.abspath(p) != os.path.abspath(prefix)]
        _write_state(directory, prefix, all_paths + [prefix])
        return prefix

    def read(self, save_path: str | os.PathLike, options: Any = None) -> CheckpointLoadStatus:
        """Restore from ``save_path`` (as written by ``write``)."""
        return _restore(os.fspath(save_path), self)

    def restore(self, save_path: str | os.PathLike | None, options: Any = None) \
            -> CheckpointLoadStatus:
        """Restore from ``save_path``; None restores nothing (a fresh start, as in TF)."""
        if save_path is None:
            return CheckpointLoadStatus(None, [], [], 0)
        self.save_counter  # noqa: B018 - made now, so the stored count comes back
        return _restore(os.fspath(save_path), self)


class CheckpointManager:
    """Numbered checkpoints in one folder, keeping the newest ``max_to_keep``.

    >>> import tempfile, tensorflowish as tf
    >>> manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)),
    ...                                      tempfile.mkdtemp(), max_to_keep=2)
    >>> for _ in range(3):
    ...     _ = manager.save()
    >>> [p.rsplit("-", 1)[1] for p in manager.checkpoints]
    ['2', '3']
    """

    def __init__(self, checkpoint: Checkpoint, directory: str | os.PathLike,
                 max_to_keep: int | None, keep_checkpoint_every_n_hours: float | None = None,
                 checkpoint_name: str = "ckpt", step_counter: Any = None,
                 checkpoint_interval: int | None = None, init_fn: Any = None) -> None:
        if max_to_keep is not None and max_to_keep < 1:
            raise errors.InvalidArgumentError(
                f"max_to_keep must be a positive integer or None, got {max_to_keep}."
            )
        if checkpoint_interval is not None and step_counter is None:
            raise errors.InvalidArgumentError("checkpoint_interval needs a step_counter.")
        self._checkpoint = checkpoint
        self.directory = os.fspath(directory)
        self._max_to_keep = max_to_keep
        self._keep_every = keep_checkpoint_every_n_hours
        self._prefix = os.path.join(self.directory, checkpoint_name)
        self._step_counter, self._interval = step_counter, checkpoint_interval
        self._last_step: int | None = None
        self._init_fn = init_fn
        latest, every = _read_state(self.directory)
        self._checkpoints = [p for p in every if os.path.exists(p + ".index")]
        self._latest = latest if latest and os.path.exists(latest + ".index") else None
        self._kept_since = time.time()

    @property
    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint's path, or None."""
        return self._checkpoints[-1] if self._checkpoints else self._latest

    @property
    def checkpoints(self) -> list[str]:
        """The checkpoints kept, oldest first."""
        return list(self._checkpoints)

    @property
    def checkpoint(self) -> Checkpoint:
        return self._checkpoint

    def save(self, checkpoint_number: int | None = None, check_interval: bool = True,
             options: Any = None) -> str | None:
        """Save a new checkpoint (numbered ``checkpoint_number`` or the save counter) and
        delete the oldest beyond ``max_to_keep``; returns its path (None when skipped by
        ``checkpoint_interval``)."""
        if self._interval is not None and check_interval:
            step = int(np.asarray(getattr(self._step_counter, "numpy", lambda: 0)()))
            if self._last_step is not None and step < self._last_step + self._interval:
                return None
            self._last_step = step
        if checkpoint_number is None:
            self._checkpoint.save_counter.assign_add(1)
            number = int(self._checkpoint.save_counter.numpy())
        else:
            number = int(np.asarray(getattr(checkpoint_number, "numpy",
                                            lambda: checkpoint_number)()))
        path = f"{self._prefix}-{number}"
        self._checkpoint.write(path)
        self._checkpoints = [p for p in self._checkpoints if p != path] + [path]
        self._sweep()
        _write_state(self.directory, path, self._checkpoints)
        return path

    def _sweep(self) -> None:
        if self._max_to_keep is None:
            return
        while len(self._checkpoints) > self._max_to_keep:
            oldest = self._checkpoints.pop(0)
            if self._keep_every is not None and \
                    time.time() - self._kept_since >= self._keep_every * 3600:
                self._kept_since = time.time()
                continue  # kept for good, no longer managed
            for suffix in (".index", ".safetensors"):
                try:
                    os.remove(oldest + suffix)
                except FileNotFoundError:
                    pass

    def restore_or_initialize(self) -> str | None:
        """Restore the latest checkpoint if there is one, else run ``init_fn``."""
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
            return self.latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None
