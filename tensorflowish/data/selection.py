"""Picking elements across datasets: ``sample_from_datasets``, ``choose_from_datasets``, and
``unique``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .dataset import Dataset
from .structure import TensorSpec
from .transformations import _check_compatible


class SampleDataset(Dataset):
    def __init__(self, datasets: list, weights: Any, seed: int | None, stop_on_empty: bool,
                 rerandomize: bool | None) -> None:
        if not datasets:
            raise ValueError("sample_from_datasets needs at least one dataset.")
        for dataset in datasets[1:]:
            _check_compatible(datasets[0], dataset, "sample_from_datasets")
        weights = [1.0] * len(datasets) if weights is None else [
            float(w) for w in np.asarray(weights.numpy() if hasattr(weights, "numpy")
                                         else weights).ravel()]  # fmt: skip
        if len(weights) != len(datasets) or any(w < 0 for w in weights) or not sum(weights):
            raise ValueError(
                f"sample_from_datasets: weights must be {len(datasets)} non-negative numbers "
                f"(not all 0), got {weights}."
            )
        self.datasets, self.weights, self.stop_on_empty = datasets, weights, stop_on_empty
        if seed is None:
            from tensorflowish import random as tf_random

            seed = int(tf_random.numpy_generator().integers(0, 1 << 62))
        self.seed, self.rerandomize = int(seed), rerandomize
        self._rng = np.random.default_rng(self.seed)

    def _inputs(self) -> list:
        return list(self.datasets)

    def _spec(self) -> Any:
        return self.datasets[0].element_spec

    def _iter_arrays(self) -> Iterator[Any]:
        rng = self._rng if self.rerandomize is not False else np.random.default_rng(self.seed)
        iterators = [iter(d._iter_arrays()) for d in self.datasets]
        weights = np.asarray(self.weights, dtype=np.float64)
        while weights.sum() > 0:
            index = int(rng.choice(len(iterators), p=weights / weights.sum()))
            try:
                yield next(iterators[index])
            except StopIteration:
                if self.stop_on_empty:
                    return
                weights[index] = 0.0


class ChooseDataset(Dataset):
    def __init__(self, datasets: list, choices: Dataset, stop_on_empty: bool) -> None:
        if not datasets:
            raise ValueError("choose_from_datasets needs at least one dataset.")
        for dataset in datasets[1:]:
            _check_compatible(datasets[0], dataset, "choose_from_datasets")
        spec = choices.element_spec
        if not isinstance(spec, TensorSpec) or spec.dtype.name != "int64" or spec.shape != ():
            raise TypeError(
                f"choose_from_datasets: choice_dataset must hold int64 scalars, got {spec}."
            )
        self.datasets, self.choices, self.stop_on_empty = datasets, choices, stop_on_empty

    def _inputs(self) -> list:
        return [*self.datasets, self.choices]

    def _spec(self) -> Any:
        return self.datasets[0].element_spec

    def _iter_arrays(self) -> Iterator[Any]:
        from tensorflowish import errors

        iterators = [iter(d._iter_arrays()) for d in self.datasets]
        finished = [False] * len(iterators)
        for choice in self.choices._iter_arrays():
            index = int(choice)
            if not 0 <= index < len(iterators):
                raise errors.InvalidArgumentError(
                    None, None, f"choose_from_datasets: choice {index} is not in "
                    f"[0, {len(iterators)}).",
                )  # fmt: skip
            if finished[index]:
                continue
            try:
                yield next(iterators[index])
            except StopIteration:
                if self.stop_on_empty:
                    return
                finished[index] = True


class UniqueDataset(Dataset):
    def __init__(self, parent: Dataset) -> None:
        spec = parent.element_spec
        if not isinstance(spec, TensorSpec) or spec.shape != () or not (
                spec.dtype.is_integer or spec.dtype.name == "string"):
            raise TypeError(
                f"unique: the elements must be integer or string scalars, got {spec}."
            )
        self.parent = parent

    def _spec(self) -> Any:
        return self.parent.element_spec

    def _iter_arrays(self) -> Iterator[Any]:
        seen: set = set()
        for element in self.parent._iter_arrays():
            key = element[()] if isinstance(element, np.ndarray) else int(element)
            if key not in seen:
                seen.add(key)
                yield element
