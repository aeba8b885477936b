"""What ``Model.compile`` builds: the loss container (loss + regularisation, tracked as
'loss'), the metrics container, and the lazily read logs of a step."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import numpy as np

from tensorflowish.keras import losses as losses_module
from tensorflowish.keras import metrics as metrics_module
from tensorflowish.tensor import Tensor

# --- compiled loss and metrics ------------------------------------------------------------------


class _LossTracker(metrics_module.Mean):
    """The running mean of the batch losses, weighted by batch size (Keras's 'loss' entry)."""

    # one line of a traced graph (not run in spec-only traces): the batch size is read from
    # each replayed batch's outputs, not frozen at the trace's
    _graph_lines = {"add_batch": True}

    def add_batch(self, loss: Tensor, outputs: Tensor) -> None:
        """Add a batch's loss, weighted by its number of rows (``outputs``' first dimension)."""
        batch_size = outputs.array.shape[0] if outputs.ndim else 1
        self._total = self._total + loss.array * batch_size
        self._count = self._count + batch_size


class LossesContainer:
    """``model.compiled_loss``: the compiled loss plus regularisation, tracked as 'loss'."""

    def __init__(self, loss: Any) -> None:
        self.loss = losses_module.get(loss) if loss is not None else None
        self.tracker = _LossTracker(name="loss")

    def __call__(
        self,
        y_true: Any,
        y_pred: Any,
        sample_weight: Any = None,
        regularization_losses: Sequence[Tensor] | None = None,
    ) -> Tensor:
        """The total loss of a batch (the tracker is updated as a side effect)."""
        if self.loss is None:
            raise ValueError(
                "No loss to compute: pass loss= to model.compile(...), e.g. "
                "loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)."
            )
        if y_true is None:
            raise ValueError(
                "The model has a loss but the data has no targets: call fit(x, y) or give a "
                "dataset that yields (x, y) pairs."
            )
        if not isinstance(y_pred, Tensor):
            raise TypeError(
                "Compiled losses support models with one output tensor; this model returned "
                f"{type(y_pred).__name__}. Override train_step/compute_loss for several outputs."
            )
        total = self.loss(y_true, y_pred, sample_weight)
        for penalty in regularization_losses or ():
            total = total + penalty
        # Keras 3 reports the loss it minimises: the compiled loss plus the penalties
        self.tracker.add_batch(total, y_pred)
        return total


class MetricsContainer:
    """``model.compiled_metrics``: resolves names like 'accuracy' on the first batch."""

    def __init__(self, metrics: Any, loss: Any, weighted_metrics: Any = None) -> None:
        self._specs = _metric_specs(metrics, "metrics")
        self._weighted_specs = _metric_specs(weighted_metrics, "weighted_metrics")
        self._loss = loss
        self.metrics: list[metrics_module.Metric] = []
        self._weighted: list[metrics_module.Metric] = []
        self.built = False

    def _resolve(self, spec: Any, y_true: Any, y_pred: Tensor) -> metrics_module.Metric:
        if isinstance(spec, str) and spec in ("accuracy", "acc"):
            # Keras's rule: from the shapes of targets and predictions.
            true_shape = tuple(getattr(y_true, "shape", np.shape(y_true)))
            pred_shape = tuple(y_pred.shape)
            binary = pred_shape[-1:] == (1,) or len(pred_shape) == 1
            sparse = len(true_shape) < len(pred_shape) or (
                true_shape[-1:] == (1,) and pred_shape[-1:] != (1,)
            )
            if isinstance(self._loss, losses_module.BinaryCrossentropy) or binary:
                return metrics_module.BinaryAccuracy(name=spec)
            if isinstance(self._loss, losses_module.SparseCategoricalCrossentropy) or sparse:
                return metrics_module.SparseCategoricalAccuracy(name=spec)
            return metrics_module.CategoricalAccuracy(name=spec)
        return metrics_module.get(spec)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Update every metric with this batch."""
        if not self.built:
            plain = [self._resolve(spec, y_true, y_pred) for spec in self._specs]
            names = {metric.name for metric in plain}
            weighted = []
            for spec in self._weighted_specs:
                metric = self._resolve(spec, y_true, y_pred)
                if metric.name in names:  # Keras: 'accuracy' and 'weighted_accuracy'
                    metric.name = f"weighted_{metric.name}"
                weighted.append(metric)
            self.metrics, self._weighted = plain + weighted, weighted
            self.built = True
        if y_true is None and self.metrics:
            raise ValueError("Metrics need targets: give y (or a dataset of (x, y) pairs).")
        # Keras 3: sample (and class) weights weight only the weighted_metrics
        plain = len(self.metrics) - len(self._weighted)
        for metric in self.metrics[:plain]:
            metric.update_state(y_true, y_pred)
        for metric in self._weighted:
            metric.update_state(y_true, y_pred, sample_weight)

    def reset_state(self) -> None:
        """Reset every metric."""
        for metric in self.metrics:
            metric.reset_state()


def _metric_specs(metrics: Any, what: str) -> list:
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        raise ValueError(f"{what} given as a dict (per output) are not supported; pass a list.")
    if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
        return [metrics]
    return list(metrics)


class _LazyLogs(MutableMapping):
    """Metric results read only when someone looks (a progress bar redraw, a callback)."""

    def __init__(self, metrics: Sequence[metrics_module.Metric]) -> None:
        self._metrics = {metric.name: metric for metric in metrics}
        self._overrides: dict[str, Any] = {}

    def fresh(self) -> _LazyLogs:
        """Logs of the same metrics, without this one's overrides (a replayed step's logs)."""
        logs = _LazyLogs(())
        logs._metrics = dict(self._metrics)
        return logs

    def __getitem__(self, key: str) -> Any:
        if key in self._overrides:
            return self._overrides[key]
        return self._metrics[key]._result_float()

    def __setitem__(self, key: str, value: Any) -> None:
        self._overrides[key] = value

    def __delitem__(self, key: str) -> None:
        self._overrides.pop(key, None)
        self._metrics.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._metrics
        yield from (k for k in self._overrides if k not in self._metrics)

    def __len__(self) -> int:
        return len(set(self._metrics) | set(self._overrides))
