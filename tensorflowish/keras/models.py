"""Models (``tf.keras.Model``, ``tf.keras.Sequential``) and the training loop.

>>> import numpy as np, tensorflowish as tf
>>> model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"),
...                              tf.keras.layers.Dense(2)])
>>> model.compile(optimizer="adam",
...               loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
...               metrics=["accuracy"])
>>> x, y = np.random.rand(64, 4).astype("float32"), np.random.randint(0, 2, 64)
>>> history = model.fit(x, y, epochs=2, verbose=0)
>>> sorted(history.history)
['accuracy', 'loss']
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish import checkpoint
from tensorflowish.data import Dataset
from tensorflowish.keras import callbacks as callbacks_module
from tensorflowish.keras import losses as losses_module
from tensorflowish.keras import metrics as metrics_module
from tensorflowish.keras import optimizers as optimizers_module
from tensorflowish.keras.layers import InputLayer, KerasInput, Layer, map_symbolic
from tensorflowish.tensor import Tensor

__all__ = ["Model", "Sequential"]


# --- compiled loss and metrics ------------------------------------------------------------------


class _LossTracker(metrics_module.Mean):
    """The running mean of the batch losses, weighted by batch size (Keras's 'loss' entry)."""

    def add_batch(self, loss: Tensor, batch_size: int) -> None:
        self._total = self._total + loss.array * batch_size
        self._count = self._count + batch_size


def _batch_size(value: Any) -> int:
    if isinstance(value, Tensor):
        return int(value.shape[0]) if value.ndim else 1
    if isinstance(value, dict):
        return _batch_size(next(iter(value.values())))
    if isinstance(value, (list, tuple)):
        return _batch_size(value[0])
    return len(value)


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
        self.tracker.add_batch(total, _batch_size(y_pred))
        for penalty in regularization_losses or ():
            total = total + penalty
        return total


class MetricsContainer:
    """``model.compiled_metrics``: resolves names like 'accuracy' on the first batch."""

    def __init__(self, metrics: Any, loss: Any) -> None:
        if metrics is None:
            metrics = []
        if isinstance(metrics, dict):
            raise ValueError("metrics given as a dict (per output) are not supported; pass a list.")
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            metrics = [metrics]
        self._specs = list(metrics)
        self._loss = loss
        self.metrics: list[metrics_module.Metric] = []
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
            self.metrics = [self._resolve(spec, y_true, y_pred) for spec in self._specs]
            self.built = True
        if y_true is None and self.metrics:
            raise ValueError("Metrics need targets: give y (or a dataset of (x, y) pairs).")
        for metric in self.metrics:
            metric.update_state(y_true, y_pred, sample_weight)

    def reset_state(self) -> None:
        """Reset every metric."""
        for metric in self.metrics:
            metric.reset_state()


class _LazyLogs(MutableMapping):
    """Metric results read only when someone looks (a progress bar redraw, a callback)."""

    def __init__(self, metrics: Sequence[metrics_module.Metric]) -> None:
        self._metrics = {metric.name: metric for metric in metrics}
        self._overrides: dict[str, Any] = {}

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


def _floats(logs: Any) -> dict[str, float]:
    result = {}
    for key, value in dict(logs or {}).items():
        if isinstance(value, Tensor):
            value = value.numpy()
        try:
            result[key] = float(value)
        except (TypeError, ValueError):
            result[key] = value
    return result


def _unpack(data: Any) -> tuple[Any, Any, Any]:
    """(x, y, sample_weight) from a batch: a tuple of 1-3 parts, or x alone."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(
            f"A batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of "
            f"{len(data)} parts."
        )
    return data, None, None


def _flatten_symbols(value: Any, what: str | None) -> list:
    """The symbolic tensors in a structure; with ``what``, anything else is an error."""
    if isinstance(value, KerasInput):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _flatten_symbols(v, what)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _flatten_symbols(v, what)]
    if what is not None:
        raise TypeError(
            f"Model({what}=...) expects tf.keras.Input(...) results and layer outputs, got "
            f"{type(value).__name__}."
        )
    return []


def _bind_inputs(symbols: Any, values: Any) -> dict:
    """Match the actual inputs to the model's symbolic inputs (same structure)."""
    if isinstance(symbols, KerasInput):
        return {id(symbols): values}
    if isinstance(symbols, dict):
        if not isinstance(values, dict) or set(values) != set(symbols):
            raise ValueError(f"The model expects a dict of inputs with keys {sorted(symbols)}.")
        bound: dict = {}
        for key, symbol in symbols.items():
            bound.update(_bind_inputs(symbol, values[key]))
        return bound
    if not isinstance(values, (list, tuple)) or len(values) != len(symbols):
        raise ValueError(
            f"The model has {len(symbols)} inputs; call it with a list of {len(symbols)} tensors."
        )
    bound = {}
    for symbol, value in zip(symbols, values):
        bound.update(_bind_inputs(symbol, value))
    return bound


def _is_batched(dataset: Dataset) -> bool | None:
    """Whether a dataset yields batches: False for plain slices, None when it cannot tell."""
    from tensorflowish import data

    node: Any = dataset
    while node is not None:
        if isinstance(node, data._BatchDataset):
            return True
        if isinstance(node, data._UnbatchDataset):
            return False
        if isinstance(node, data._SliceDataset):
            return False
        node = getattr(node, "parent", None)
    return None


def _resolve_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)


def _to_host_array(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host_array(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_host_array(v) for k, v in value.items()}
    return tf_backend.to_numpy(value)


def _concatenate(outputs: list) -> Any:
    first = outputs[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate([o[i] for o in outputs]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concatenate([o[k] for o in outputs]) for k in first}
    return np.concatenate(outputs, axis=0)


# --- Model --------------------------------------------------------------------------------------


class Model(Layer):
    """A layer with a training loop: subclass it and define ``call``, or use ``Sequential``.

    Layers assigned as attributes (or held in lists and dicts) are found automatically, so
    ``trainable_variables``, ``summary()`` and ``save_weights`` see them.

    >>> import tensorflowish as tf
    >>> class TwoLayers(tf.keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = tf.keras.layers.Dense(16, activation="relu")
    ...         self.out = tf.keras.layers.Dense(3)
    ...     def call(self, x, training=False):
    ...         return self.out(self.hidden(x))
    >>> model = TwoLayers()
    >>> model(tf.ones((2, 5))).shape.as_list()
    [2, 3]
    >>> len(model.trainable_variables)
    4
    """

    _data_parallel = False  # set by fit() when run under an MPI launcher (tensorflowish.distribute)

    def _build_from(self, dataset: Dataset) -> None:
        """Create the weights (from one batch, forward only) so they can be broadcast."""
        if self.variables:
            return
        for batch in dataset:
            x, _, _ = _unpack(batch)
            self(x, training=False)
            return

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        inputs = args[0] if args else kwargs.pop("inputs", None)
        outputs = args[1] if len(args) > 1 else kwargs.pop("outputs", None)
        if len(args) > 2:
            raise TypeError("Model() takes at most two positional arguments: inputs, outputs.")
        super().__init__(**kwargs)
        self.optimizer: Any = None
        self.compiled_loss: LossesContainer | None = None
        self.compiled_metrics: MetricsContainer | None = None
        self.stop_training = False
        self.history: Any = None
        self._is_compiled = False
        self._graph_inputs: Any = None
        self._graph_outputs: Any = None
        if inputs is not None or outputs is not None:
            self._init_graph(inputs, outputs)

    # --- the functional API ----------------------------------------------------------------

    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        """Model(inputs, outputs): collect the layers between symbolic inputs and outputs."""
        if inputs is None or outputs is None:
            raise ValueError("The functional API needs both inputs= and outputs=.")
        sources = _flatten_symbols(inputs, "inputs")
        for source in sources:
            if source.node is not None:
                raise ValueError(
                    "Model inputs must come straight from tf.keras.Input(...), not from a layer."
                )
        targets = _flatten_symbols(outputs, "outputs")
        source_ids = {id(s) for s in sources}
        layers: list = []
        visited: set = set()

        def visit(symbol: KerasInput) -> None:
            if symbol.node is None:
                if id(symbol) not in source_ids:
                    raise ValueError(
                        f"The outputs depend on an input {symbol!r} that is not in Model(inputs="
                        "...); list every tf.keras.Input the outputs are computed from."
                    )
                return
            node = symbol.node
            if id(node) in visited:
                return
            visited.add(id(node))
            for parent in _flatten_symbols(node.inputs, None):
                visit(parent)
            if all(layer is not node.layer for layer in layers):
                layers.append(node.layer)

        for target in targets:
            visit(target)
        self._graph_inputs, self._graph_outputs = inputs, outputs
        self._graph_layers = layers
        self.built = True

    def _run_graph(self, inputs: Any, training: bool | None) -> Any:
        bound = _bind_inputs(self._graph_inputs, inputs)
        results: dict[int, Any] = {}

        def evaluate(symbol: KerasInput) -> Any:
            if symbol.node is None:
                return bound[id(symbol)]
            node = symbol.node
            if id(node) not in results:
                actual = map_symbolic(evaluate, node.inputs)
                kwargs = dict(node.kwargs)
                if training is not None:
                    kwargs["training"] = training
                results[id(node)] = node.layer(actual, *node.args, **kwargs)
            output = results[id(node)]
            return output if symbol.index is None else output[symbol.index]

        return map_symbolic(evaluate, self._graph_outputs)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """The model's computation: override it in a subclass (or build with Model(inputs,
        outputs))."""
        if self._graph_outputs is None:
            raise NotImplementedError(
                f"{type(self).__name__} has no call(): subclass tf.keras.Model and define "
                "call(self, inputs, training=False), or create it with "
                "tf.keras.Model(inputs=..., outputs=...)."
            )
        return self._run_graph(inputs, training)

    # --- structure -----------------------------------------------------------------------

    @property
    def layers(self) -> list:
        """The layers this model holds directly, in the order they were assigned."""
        seen, result = set(), []
        for layer in self._direct_children():
            if id(layer) not in seen and not isinstance(layer, InputLayer):
                seen.add(id(layer))
                result.append(layer)
        return result

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in ``layers``."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No layer named {name!r}; the model's layers are "
            f"{[layer.name for layer in self.layers]}."
        )

    def _maybe_build(self, inputs: Any) -> None:
        # A model builds by running: its layers build themselves on their first call.
        self.built = True

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Create all weights by running the model on zeros of ``input_shape`` (batch first;
        a None batch size counts as 1)."""
        shape = tuple(input_shape)
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"build needs every dimension but the batch one, got input_shape={shape}."
            )
        zeros = tf.zeros(tuple(1 if d is None else int(d) for d in shape), dtype=self._dtype)
        self(zeros, training=False)
        self.built = True

    # --- compile -------------------------------------------------------------------------

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool | None = None,
        steps_per_execution: int | None = None,
        jit_compile: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Choose the optimiser, the loss and the metrics for ``fit`` and ``evaluate``.

        Each can be given by name (``optimizer='adam'``, ``loss='mse'``,
        ``metrics=['accuracy']``) or as an object.
        """
        if kwargs:
            raise TypeError(f"compile() got unexpected keyword arguments: {sorted(kwargs)}.")
        if loss_weights is not None or weighted_metrics is not None:
            raise NotImplementedError("loss_weights and weighted_metrics are not supported.")
        if isinstance(loss, (dict, list, tuple)):
            raise NotImplementedError("One loss per output is not supported; pass a single loss.")
        self.optimizer = optimizers_module.get(optimizer)
        self.compiled_loss = LossesContainer(loss)
        self.compiled_metrics = MetricsContainer(metrics, self.compiled_loss.loss)
        self.loss = self.compiled_loss.loss
        self._is_compiled = True

    def _assert_compiled(self, what: str) -> None:
        if not self._is_compiled:
            raise RuntimeError(
                f"You must compile the model before calling {what}(): "
                "model.compile(optimizer='adam', loss=..., metrics=[...])."
            )

    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics, and Metric attributes of the model."""
        result = []
        if self.compiled_loss is not None:
            result.append(self.compiled_loss.tracker)
        if self.compiled_metrics is not None:
            result.extend(self.compiled_metrics.metrics)
        known = {id(m) for m in result}
        for value in self.__dict__.values():
            if isinstance(value, metrics_module.Metric) and id(value) not in known:
                known.add(id(value))
                result.append(value)
        return result

    @property
    def metrics_names(self) -> list[str]:
        """Names of ``metrics``: 'loss' first."""
        return [metric.name for metric in self.metrics]

    def reset_metrics(self) -> None:
        """Reset the loss tracker and every metric."""
        for metric in self.metrics:
            metric.reset_state()

    # --- steps ---------------------------------------------------------------------------

    def compute_loss(
        self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None
    ) -> Tensor:
        """The batch loss: the compiled loss plus the layers' regularisation penalties."""
        losses = self.losses
        return self.compiled_loss(y, y_pred, sample_weight, regularization_losses=losses)

    def compute_metrics(
        self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None
    ) -> MutableMapping:
        """Update the compiled metrics and return the logs (read lazily)."""
        self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return _LazyLogs(self.metrics)

    def get_metrics_result(self) -> dict:
        """The current value of every metric, as floats."""
        return {metric.name: metric._result_float() for metric in self.metrics}

    def train_step(self, data: Any) -> MutableMapping:
        """One optimisation step on a batch; override it for custom training."""
        x, y, sample_weight = _unpack(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        variables = self.trainable_variables
        if not variables:
            raise ValueError("The model has no trainable variables: nothing for fit() to train.")
        gradients = tape.gradient(loss, variables)
        if self._data_parallel:  # average over the processes of an MPI job (see distribute)
            from tensorflowish import distribute

            gradients = distribute.allreduce_gradients(gradients, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data: Any) -> MutableMapping:
        """One evaluation step on a batch."""
        x, y, sample_weight = _unpack(data)
        y_pred = self(x, training=False)
        self.compute_loss(x, y, y_pred, sample_weight)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The model's output for a batch."""
        x, _, _ = _unpack(data)
        return self(x, training=False)

    # --- data ----------------------------------------------------------------------------

    def _as_input_array(self, value: Any) -> Any:
        """Host data as an array; float64 features cast once to the model's dtype."""
        if isinstance(value, (Tensor, Dataset)):
            return value
        if isinstance(value, dict):
            return {k: self._as_input_array(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(self._as_input_array(v) for v in value)
        array = value if hasattr(value, "__cuda_array_interface__") else np.asarray(value)
        if array.dtype.kind == "f" and array.dtype != self._dtype.as_numpy_dtype:
            array = array.astype(self._dtype.as_numpy_dtype)
        return array

    def _make_dataset(
        self,
        x: Any,
        y: Any,
        sample_weight: Any,
        batch_size: int | None,
        shuffle: bool,
        what: str,
    ) -> Dataset:
        if isinstance(x, Dataset):
            if y is not None:
                raise ValueError(
                    f"{what}: when x is a tf.data.Dataset, y must be None: the dataset yields "
                    "(x, y) pairs."
                )
            if sample_weight is not None:
                raise ValueError(
                    f"{what}: sample_weight cannot be used with a dataset; yield "
                    "(x, y, sample_weight) from it instead."
                )
            if batch_size is not None:
                raise ValueError(
                    f"{what}: batch_size must not be given with a dataset; batch the dataset "
                    "itself with .batch(batch_size)."
                )
            if _is_batched(x) is False:
                raise ValueError(
                    f"{what}: the dataset yields single examples, but models take batches. "
                    "Batch it first, e.g. dataset.batch(32)."
                )
            return x
        if x is None:
            raise ValueError(f"{what}() needs input data: x (and y).")
        if hasattr(x, "__next__") or (hasattr(x, "__iter__") and not hasattr(x, "__len__")):
            raise TypeError(
                f"{what}: Python generators and iterators are not supported as x; wrap arrays "
                "in tf.data.Dataset.from_tensor_slices((x, y))."
            )
        if batch_size is not None and (
            not isinstance(batch_size, (int, np.integer)) or batch_size < 1
        ):
            raise ValueError(f"{what}: batch_size must be a positive integer, got {batch_size!r}.")
        parts = [self._as_input_array(x)]
        if y is not None:
            parts.append(y if isinstance(y, Tensor) else np.asarray(y))
        if sample_weight is not None:
            parts.append(np.asarray(sample_weight, dtype=np.float32))
        lengths = [_batch_size(part) for part in parts]
        if len(set(lengths)) > 1:
            names = ["x", "y", "sample_weight"][: len(parts)]
            described = ", ".join(f"{n} has {k}" for n, k in zip(names, lengths))
            raise ValueError(
                f"{what}: the inputs have different numbers of samples ({described}); they "
                "must all have the same length."
            )
        dataset = Dataset.from_tensor_slices(tuple(parts) if len(parts) > 1 else parts[0])
        if shuffle:
            dataset = dataset.shuffle(lengths[0])
        return dataset.batch(batch_size or 32)

    @staticmethod
    def _steps(dataset: Dataset, steps: int | None, what: str) -> int | None:
        count = dataset._cardinality()
        if steps is not None:
            return int(steps)
        if count == tf.data.INFINITE_CARDINALITY:
            raise ValueError(
                f"{what}: the dataset repeats forever; pass steps_per_epoch (or steps)."
            )
        return count if count >= 0 else None

    # --- fit -----------------------------------------------------------------------------

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Sequence[callbacks_module.Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: dict | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
    ) -> callbacks_module.History:
        """Train for ``epochs`` passes over the data; returns a History of per-epoch logs.

        ``x, y`` are arrays (or tensors), or ``x`` is a ``tf.data.Dataset`` of (x, y) batches.
        ``validation_split`` holds out the last fraction of the arrays (before shuffling);
        ``validation_data`` is ``(x_val, y_val)`` or a dataset.
        """
        self._assert_compiled("fit")
        if class_weight is not None:
            raise NotImplementedError("class_weight is not supported; use sample_weight.")
        verbose = _resolve_verbose(verbose)
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}.")
        if validation_split and validation_data is None:
            if isinstance(x, Dataset):
                raise ValueError(
                    "validation_split is only supported for arrays; pass validation_data="
                    "another dataset instead."
                )
            n = _batch_size(x)
            split_at = int(n * (1.0 - float(validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(
                    f"validation_split={validation_split} of {n} samples leaves an empty "
                    "training or validation set."
                )

            def head(v: Any) -> Any:
                return None if v is None else v[:split_at]

            def tail(v: Any) -> Any:
                return None if v is None else v[split_at:]

            x_arr = self._as_input_array(x) if not isinstance(x, Tensor) else x
            y_arr = y if y is None or isinstance(y, Tensor) else np.asarray(y)
            validation_data = (tail(x_arr), tail(y_arr))
            if sample_weight is not None:
                weights = np.asarray(sample_weight)
                validation_data = (*validation_data, tail(weights))
                sample_weight = head(weights)
            x, y = head(x_arr), head(y_arr)
        from tensorflowish import distribute

        self._data_parallel = distribute.size() > 1
        if self._data_parallel:
            # Horovod's recipe: each rank trains on its own shard, gradients are averaged,
            # rank 0 alone prints and writes checkpoints.
            if isinstance(x, Dataset):
                x = x.shard(distribute.size(), distribute.rank())
            else:
                parts = list(distribute.shard(
                    tuple(v for v in (x, y, sample_weight) if v is not None), drop_remainder=True))
                x = parts.pop(0)
                y = parts.pop(0) if y is not None else None
                sample_weight = parts.pop(0) if sample_weight is not None else None
            if not distribute.is_chief():
                verbose = 0
        train_data = self._make_dataset(x, y, sample_weight, batch_size, shuffle, "fit")
        validation = None
        if validation_data is not None:
            if isinstance(validation_data, Dataset):
                validation = validation_data
            elif isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
                vx, vy, vw = (*validation_data, None)[:3]
                validation = self._make_dataset(
                    vx, vy, vw, validation_batch_size or batch_size, False, "fit (validation)"
                )
            else:
                raise ValueError(
                    "validation_data must be (x_val, y_val), (x_val, y_val, sample_weight) or a "
                    "tf.data.Dataset."
                )
        steps = self._steps(train_data, steps_per_epoch, "fit")
        if self._data_parallel:
            # every rank must make the same number of steps, or the allreduces would not pair up
            steps = int(distribute.allreduce(tf.constant(-1 if steps is None else steps),
                                             op="min"))
            if steps < 0:
                raise ValueError("fit: data-parallel training needs datasets of known length "
                                 "(or steps_per_epoch).")

        history = callbacks_module.History()
        callback_list = list(callbacks or [])
        progbar = None
        if verbose:
            progbar = callbacks_module.ProgbarLogger(verbose=verbose)
            callback_list.insert(0, progbar)
        callback_list.append(history)
        params = {"epochs": epochs, "steps": steps, "verbose": verbose}
        hooks = callbacks_module.CallbackList(callback_list, model=self, params=params)
        batch_hooks = hooks.wants_batch_hooks("train")

        self.stop_training = False
        self.history = history
        if self._data_parallel:
            self._build_from(train_data)
            distribute.broadcast_variables(self.variables, root_rank=0)
        self._initial_epoch = None
        hooks.on_train_begin()
        # BackupAndRestore sets where a killed run left off
        initial_epoch = self._initial_epoch or initial_epoch
        iterator: Any = None
        epoch_logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            hooks.on_epoch_begin(epoch)
            logs: Any = {}
            if steps_per_epoch is None or iterator is None:
                iterator = iter(train_data)
            done = 0
            while steps is None or done < steps:
                try:
                    batch = next(iterator)
                except StopIteration:
                    iterator = None
                    break
                step, done = done, done + 1
                if batch_hooks:
                    hooks.on_train_batch_begin(step)
                logs = self.train_step(batch)
                if progbar is not None:
                    progbar.update_train(step, logs)
                if batch_hooks:
                    hooks.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if done == 0:
                raise ValueError(
                    "fit: the training data produced no batches (is the dataset empty?)."
                )
            epoch_logs = _floats(logs)
            if self._data_parallel:
                epoch_logs = distribute.allreduce_metrics(epoch_logs, weight=done)
            if validation is not None and (epoch + 1) % validation_freq == 0:
                results = self.evaluate(
                    validation, verbose=0, steps=validation_steps, return_dict=True,
                    _reset_tracking=False,
                )  # fmt: skip
                epoch_logs.update({f"val_{k}": v for k, v in results.items()})
            hooks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        hooks.on_train_end(epoch_logs)
        return history

    # --- evaluate / predict --------------------------------------------------------------

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
        return_dict: bool = False,
        _reset_tracking: bool = True,
    ) -> Any:
        """The loss and metrics over the data: a float when there are no metrics, else
        ``[loss, metric, ...]`` (or a dict with ``return_dict=True``)."""
        self._assert_compiled("evaluate")
        verbose = _resolve_verbose(verbose)
        data = self._make_dataset(x, y, sample_weight, batch_size, False, "evaluate")
        steps = self._steps(data, steps, "evaluate")
        hooks = callbacks_module.CallbackList(
            callbacks or [], model=self, params={"steps": steps, "verbose": verbose}
        )
        batch_hooks = hooks.wants_batch_hooks("test")
        bar = callbacks_module.ProgbarLogger(verbose=verbose).test_bar(steps) if verbose else None
        self.reset_metrics()
        hooks.on_test_begin()
        logs: Any = {}
        count = 0
        for step, batch in enumerate(data):
            if steps is not None and step >= steps:
                break
            if batch_hooks:
                hooks.on_test_batch_begin(step)
            logs = self.test_step(batch)
            count = step + 1
            if bar is not None:
                bar.update(count, logs, finalize=False)
            if batch_hooks:
                hooks.on_test_batch_end(step, logs)
        if count == 0:
            raise ValueError("evaluate: the data produced no batches.")
        results = _floats(logs)
        if bar is not None:
            bar.update(count, results, finalize=True)
        hooks.on_test_end(results)
        if return_dict:
            return results
        values = list(results.values())
        return values[0] if len(values) == 1 else values

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        steps: int | None = None,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> Any:
        """The model's outputs for ``x`` (arrays or a dataset), as NumPy arrays."""
        verbose = _resolve_verbose(verbose)
        if isinstance(x, Dataset):
            if _is_batched(x) is False:
                raise ValueError(
                    "predict: the dataset yields single examples, but models take batches. "
                    "Batch it first, e.g. dataset.batch(32)."
                )
            data = x
        else:
            data = self._make_dataset(x, None, None, batch_size, False, "predict")
        steps = self._steps(data, steps, "predict")
        hooks = callbacks_module.CallbackList(
            callbacks or [], model=self, params={"steps": steps, "verbose": verbose}
        )
        bar = callbacks_module.ProgbarLogger(verbose=verbose).test_bar(steps) if verbose else None
        hooks.on_predict_begin()
        outputs = []
        for step, batch in enumerate(data):
            if steps is not None and step >= steps:
                break
            hooks.on_predict_batch_begin(step)
            outputs.append(_to_host_array(self.predict_step(batch)))
            hooks.on_predict_batch_end(step, {"outputs": outputs[-1]})
            if bar is not None:
                bar.update(step + 1, {}, finalize=False)
        if bar is not None:
            bar.update(len(outputs), {}, finalize=True)
        hooks.on_predict_end()
        if not outputs:
            raise ValueError("predict: the data produced no batches.")
        return _concatenate(outputs)

    def train_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """One training step on one batch; returns the loss (and metrics) of that batch."""
        self._assert_compiled("train_on_batch")
        self.reset_metrics()
        data = tuple(v for v in (x, y, sample_weight) if v is not None)
        data = tuple(_to_batch_tensor(v, self) for v in data)
        results = _floats(self.train_step(data if len(data) > 1 else (data[0],)))
        return results if return_dict else _single_or_list(results)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss (and metrics) of one batch, without training."""
        self._assert_compiled("test_on_batch")
        self.reset_metrics()
        data = tuple(_to_batch_tensor(v, self) for v in (x, y, sample_weight) if v is not None)
        results = _floats(self.test_step(data))
        return results if return_dict else _single_or_list(results)

    def predict_on_batch(self, x: Any) -> Any:
        """The model's output for one batch, as NumPy."""
        return _to_host_array(self(_to_batch_tensor(x, self), training=False))

    # --- inspection ----------------------------------------------------------------------

    def summary(
        self,
        line_length: int | None = None,
        positions: Any = None,
        print_fn: Any = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
    ) -> None:
        """Print the layers, their output shapes and parameter counts."""
        if not self.built or (not self.weights and any(not layer.built for layer in self.layers)):
            raise ValueError(
                "This model has not yet been built. Build the model first by calling "
                "build(input_shape) or by calling the model on a batch of data (or give the "
                "first layer an input_shape)."
            )
        print_fn = print_fn or (lambda line: print(line, file=sys.stdout))
        width = line_length or 65
        columns = (int(width * 0.45), int(width * 0.30), width - int(width * 0.75))

        def row(*cells: str) -> str:
            return "".join(
                cell[: size - 1].ljust(size) for cell, size in zip(cells, columns)
            ).rstrip()

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * width)
        print_fn(row(" Layer (type)", "Output Shape", "Param #"))
        print_fn("=" * width)
        layers = self.layers
        for index, layer in enumerate(layers):
            shape = layer.output_shape
            print_fn(row(
                f" {layer.name} ({type(layer).__name__})",
                str(shape) if shape is not None else "?",
                f"{layer.count_params():,}",
            ))  # fmt: skip
            if index < len(layers) - 1:
                print_fn("")
        print_fn("=" * width)
        trainable = sum(int(np.prod(v.shape)) for v in self.trainable_weights)
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn("_" * width)

    # --- weights on disk -----------------------------------------------------------------

    def _checkpoint_entries(self) -> list[tuple[Layer, Any]]:
        """(layer, variable) in a structural order that does not depend on trainable flags."""
        entries, seen = [], set()
        for layer, variables in self._structure():
            for variable in variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    entries.append((layer, variable))
        return entries

    def _require_weights(self, what: str) -> list:
        entries = self._checkpoint_entries()
        unbuilt = [
            layer.name for layer in self._flatten_layers(include_self=False) if not layer.built
        ]
        if not entries or unbuilt:
            detail = f" (unbuilt layers: {', '.join(unbuilt)})" if unbuilt else ""
            raise ValueError(
                f"{what}: the model has no weights yet{detail}. Build it first: call it on a "
                "batch, call model.build(input_shape), or give the first layer an input_shape."
            )
        return entries

    def save_weights(self, filepath: str | os.PathLike, overwrite: bool = True, **kwargs) -> None:
        """Write all weights to ``filepath`` (safetensors with checksums, atomic).

        Tensors are named ``NNNN/layer_name/weight`` in the model's structural order.
        """
        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists and overwrite=False.")
        entries = self._require_weights("save_weights")
        arrays = {}
        for index, (layer, variable) in enumerate(entries):
            short = variable.name.split(":")[0].split("/")[-1]
            arrays[f"{index:04d}/{layer.name}/{short}"] = variable.array
        checkpoint.save_arrays(
            path, arrays, metadata={"model": type(self).__name__, "model_name": self.name}
        )

    def load_weights(self, filepath: str | os.PathLike, skip_mismatch: bool = False, **kwargs):
        """Read weights saved by :meth:`save_weights` into this model (same architecture).

        Everything is checked (checksums, count, every shape) before any weight changes.
        """
        path = os.fspath(filepath)
        entries = self._require_weights("load_weights")
        stored = checkpoint.load_arrays(path)

        def position(key: str) -> int:
            try:
                return int(key.split("/", 1)[0])
            except ValueError:
                raise checkpoint.CheckpointError(
                    f"{path}: tensor {key!r} is not named NNNN/layer/weight; the file was not "
                    "written by save_weights."
                ) from None

        items = sorted(stored.items(), key=lambda item: position(item[0]))
        if len(items) != len(entries):
            in_file = sorted({key.split("/")[1] for key, _ in items if key.count("/") >= 2})
            raise ValueError(
                f"{path} holds {len(items)} weights (layers {in_file}) but the model has "
                f"{len(entries)} (layers {[layer.name for layer in self._flatten_layers(False)]});"
                " the architectures differ."
            )
        plan = []
        for (key, array), (layer, variable) in zip(items, entries):
            if tuple(array.shape) != tuple(variable.shape):
                if skip_mismatch:
                    continue
                raise ValueError(
                    f"Cannot load {path}: weight '{key}' has shape {tuple(array.shape)} in the "
                    f"file, but layer '{layer.name}' variable '{variable.name}' has shape "
                    f"{tuple(variable.shape)} in the model."
                )
            plan.append((array, variable))
        for array, variable in plan:
            xp = tf_backend.get_array_module(variable.array)
            variable.array[...] = xp.asarray(array.astype(variable.array.dtype, copy=False))

    def save(self, filepath: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """Not supported: save the weights with ``save_weights`` and re-create the model in
        code."""
        raise NotImplementedError(
            "Saving a whole model (architecture + weights) is not supported. Use "
            "model.save_weights(path) and, to restore, build the same model in code and call "
            "model.load_weights(path)."
        )


def _to_batch_tensor(value: Any, model: Model) -> Any:
    if isinstance(value, Tensor):
        return value
    return tf.convert_to_tensor(model._as_input_array(value))


def _single_or_list(results: dict) -> Any:
    values = list(results.values())
    return values[0] if len(values) == 1 else values


# --- Sequential ---------------------------------------------------------------------------------


class Sequential(Model):
    """A plain stack of layers, each feeding the next.

    Give the first layer an ``input_shape`` (or start with ``tf.keras.Input(shape=...)``) and
    the model is built at once; otherwise it builds on its first call.

    >>> import tensorflowish as tf
    >>> model = tf.keras.Sequential([
    ...     tf.keras.layers.Flatten(input_shape=(8, 8)),
    ...     tf.keras.layers.Dense(10),
    ... ])
    >>> model.count_params()
    650
    """

    def __init__(
        self, layers: Sequence[Layer] | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self._layers: list[Layer] = []
        self._input_spec: tuple | None = None
        self._input_dtype: Any = None
        if layers is not None:
            if isinstance(layers, (Layer, KerasInput)):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    @property
    def layers(self) -> list:
        """The layers in order (an InputLayer is not listed, as in Keras)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def add(self, layer: Layer | KerasInput) -> None:
        """Append a layer (or set the input with ``tf.keras.Input``/``InputLayer``)."""
        if isinstance(layer, KerasInput):
            layer = InputLayer(batch_input_shape=tuple(layer.shape), dtype=layer.dtype.name)
        if not isinstance(layer, Layer):
            hint = ""
            if isinstance(layer, type) and issubclass(layer, Layer):
                hint = f" (did you mean {layer.__name__}(...) — an instance, not the class?)"
            raise TypeError(
                f"Sequential.add expects a tf.keras.layers.Layer, got {type(layer).__name__}{hint}."
            )
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("An InputLayer can only be the first layer of a Sequential model.")
        if not self._layers and layer.input_shape is not None:
            self._input_spec = tuple(layer.input_shape)
            self._input_dtype = layer.dtype if isinstance(layer, InputLayer) else None
        self._layers.append(layer)
        self.built = False
        if self._input_spec is not None:
            self._build_from_spec()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model to pop.")
        layer = self._layers.pop()
        return layer

    def _build_from_spec(self) -> None:
        shape = self._input_spec
        if any(d is None for d in shape[1:]):
            return
        dtype = self._input_dtype or self._dtype
        zeros = tf.zeros(tuple(1 if d is None else int(d) for d in shape), dtype=dtype)
        self(zeros, training=False)

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch first)."""
        if input_shape is None:
            if self._input_spec is None:
                raise ValueError(
                    "Sequential.build needs input_shape (or give the first layer one)."
                )
            input_shape = self._input_spec
        self._input_spec = tuple(input_shape)
        self._build_from_spec()
        self.built = True

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if not self._layers:
            raise ValueError("The Sequential model has no layers; add some before calling it.")
        outputs = inputs
        for layer in self._layers:
            if training is None:
                outputs = layer(outputs)
            else:
                outputs = layer(outputs, training=training)
        return outputs

    def get_config(self) -> dict:
        return {"name": self.name, "layers": [layer.get_config() for layer in self.layers]}
