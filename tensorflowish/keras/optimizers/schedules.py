"""Learning-rate schedules (``tf.keras.optimizers.schedules``): functions of the step.

Pass one as an optimiser's ``learning_rate``; the optimiser evaluates it at
``optimizer.iterations`` before every update.

    >>> import tensorflowish as tf
    >>> s = tf.keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(float(s(10)), 6)
    0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import tensorflowish as tf

__all__ = [
    "CosineDecay", "ExponentialDecay", "InverseTimeDecay", "LearningRateSchedule",
    "PiecewiseConstantDecay", "PolynomialDecay",
]  # fmt: skip


def _step(step: Any) -> float:
    return float(step.numpy() if hasattr(step, "numpy") else step)


class LearningRateSchedule:
    """Base class: override ``value(step) -> float`` (or ``__call__(step)``)."""

    def value(self, step: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, step: Any) -> Any:
        """The learning rate at ``step``, as a float32 scalar tensor."""
        return tf.constant(self.value(_step(step)), dtype=tf.float32)

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        """Re-create the schedule from :meth:`get_config`."""
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments and the number of
    decay periods at a step (rounded down with ``staircase``)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
        name: str | None = None,
    ) -> None:
        if decay_steps <= 0:
            raise ValueError(f"{type(self).__name__} needs decay_steps > 0, got {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps, self.decay_rate = decay_steps, float(decay_rate)
        self.staircase, self.name = bool(staircase), name

    def _periods(self, step: float) -> float:
        periods = step / self.decay_steps
        return math.floor(periods) if self.staircase else periods

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is rounded down, so the rate drops every ``decay_steps`` steps."""

    def value(self, step: float) -> float:
        return self.initial_learning_rate * self.decay_rate**self._periods(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while
    ``step <= boundaries[1]``, ..., ``values[-1]`` after the last boundary."""

    def __init__(
        self, boundaries: Sequence[float], values: Sequence[float], name: str | None = None
    ) -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"PiecewiseConstantDecay needs one more value than boundaries, got "
                f"{len(boundaries)} boundaries and {len(values)} values."
            )
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"boundaries must be increasing, got {list(boundaries)}.")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def value(self, step: float) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial_learning_rate`` over
    ``decay_steps``, after an optional linear warm-up to ``warmup_target`` (Keras semantics)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str | None = None,
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay needs decay_steps > 0, got {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps, self.alpha, self.name = decay_steps, float(alpha), name
        self.warmup_target, self.warmup_steps = warmup_target, int(warmup_steps)

    def _decay(self, step: float, decay_from: float) -> float:
        fraction = step / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def value(self, step: float) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            delta = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + delta * fraction
        return self._decay(step - self.warmup_steps, float(self.warmup_target))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""

    def value(self, step: float) -> float:
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._periods(step))


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate``."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str | None = None,
    ) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps, self.end_learning_rate = decay_steps, float(end_learning_rate)
        self.power, self.cycle, self.name = float(power), bool(cycle), name

    def value(self, step: float) -> float:
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps = decay_steps * max(1.0, math.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        fraction = 1.0 - step / decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return span * fraction**self.power + self.end_learning_rate

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{'class_name': ..., 'config': ...}`` for a schedule."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """Re-create a schedule from :func:`serialize`."""
    classes = {
        c.__name__: c
        for c in (
            ExponentialDecay,
            PiecewiseConstantDecay,
            CosineDecay,
            InverseTimeDecay,
            PolynomialDecay,
        )
    }
    return classes[config["class_name"]].from_config(config["config"])
