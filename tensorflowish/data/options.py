"""``tf.data.Options``: settings attached to a dataset with ``with_options``.

The ones this pipeline acts on: ``deterministic`` (parallel map and interleave may yield out of
order when False) and ``threading.private_threadpool_size`` (threads of a parallel map). The
others are accepted and kept, as TensorFlow's optimisation hints, without effect here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .dataset import Dataset

__all__ = [
    "AutoShardPolicy", "AutotuneOptions", "DistributeOptions", "OptimizationOptions", "Options",
    "ThreadingOptions",
]  # fmt: skip


class _OptionsBase:
    """Attributes fixed by the class (setting another is an error, as in TensorFlow)."""

    _fields: dict[str, Any] = {}

    def __init__(self) -> None:
        for name, default in self._fields.items():
            object.__setattr__(self, name, default() if callable(default) else default)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(
                f"Cannot set the property {name} on {type(self).__name__}; known: "
                f"{', '.join(sorted(self._fields))}."
            )
        object.__setattr__(self, name, value)

    def _merge(self, other: _OptionsBase) -> None:
        for name in self._fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, _OptionsBase):
                mine._merge(theirs)
            elif theirs is not None:
                object.__setattr__(self, name, theirs)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self._fields
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({fields})"


class AutotuneOptions(_OptionsBase):
    _fields = {"enabled": None, "cpu_budget": None, "ram_budget": None, "autotune_algorithm": None}


class ThreadingOptions(_OptionsBase):
    _fields = {"max_intra_op_parallelism": None, "private_threadpool_size": None}


class OptimizationOptions(_OptionsBase):
    _fields = {
        "apply_default_optimizations": None, "filter_fusion": None, "filter_parallelization": None,
        "inject_prefetch": None, "map_and_batch_fusion": None, "map_and_filter_fusion": None,
        "map_fusion": None, "map_parallelization": None, "noop_elimination": None,
        "parallel_batch": None, "shuffle_and_repeat_fusion": None, "seq_interleave_prefetch": None,
    }  # fmt: skip


class AutoShardPolicy:
    """``tf.data.experimental.AutoShardPolicy``."""

    OFF, AUTO, FILE, DATA, HINT = -1, 0, 1, 2, 3


class DistributeOptions(_OptionsBase):
    _fields = {"auto_shard_policy": None, "num_devices": None}


class Options(_OptionsBase):
    """``tf.data.Options()``; set fields, then ``dataset.with_options(options)``."""

    _fields = {
        "deterministic": None, "autotune": AutotuneOptions, "threading": ThreadingOptions,
        "experimental_optimization": OptimizationOptions,
        "experimental_distribute": DistributeOptions, "experimental_slack": None,
        "experimental_external_state_policy": None, "experimental_symbolic_checkpoint": None,
        "experimental_warm_start": None, "dataset_name": None, "framework_type": None,
    }  # fmt: skip

    def merge(self, options: Options) -> Options:
        """A new Options: these, overridden by what ``options`` sets."""
        result = Options()
        result._merge(self)
        result._merge(options)
        return result


class OptionsDataset(Dataset):
    def __init__(self, parent: Dataset, options: Options) -> None:
        if not isinstance(options, Options):
            raise TypeError(f"with_options expects tf.data.Options, got {type(options).__name__}.")
        self.parent, self.own_options = parent, options

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _spec(self) -> Any:
        return self.parent._spec()

    def _iter_arrays(self) -> Iterator[Any]:
        return iter(self.parent._iter_arrays())


def merged(dataset: Dataset) -> Options:
    """The options of ``dataset``: its inputs' (in order), then its own."""
    result = Options()
    seen: set[int] = set()

    def visit(node: Dataset) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node._inputs():
            visit(parent)
        if isinstance(node, OptionsDataset):
            result._merge(node.own_options)

    visit(dataset)
    return result
