"""The training loop (``fit``/``evaluate``/``predict``), kept apart from the model's structure."""

from __future__ import annotations

import warnings
from collections.abc import MutableMapping, Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish.data import Dataset
from tensorflowish.keras import callbacks as callbacks_module
from tensorflowish.keras import metrics as metrics_module
from tensorflowish.keras import optimizers as optimizers_module
from tensorflowish.keras.trainers import data_adapter
from tensorflowish.keras.trainers.compile_utils import LossesContainer, MetricsContainer, _LazyLogs
from tensorflowish.keras.trainers.data_adapter import (
    _batch_size,
    _concatenate,
    _is_batched,
    _to_host_array,
    _unpack,
)
from tensorflowish.keras.trainers.step_functions import (
    StepFunctions,
    _floats,
    _to_batch_tensor,
    executions,
    take_batches,
)
from tensorflowish.tensor import Tensor


def _resolve_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)


class Trainer(StepFunctions):
    """The training loop of a Keras model: ``compile``, ``fit``, ``evaluate``, ``predict`` and
    the steps they run (``train_step``, ``test_step``, ``predict_step``, traced by default: see
    ``step_functions``), as Keras 3 keeps its trainer apart from the model's structure.
    ``Model`` inherits it; it relies only on the model being a callable Layer with
    ``trainable_variables`` and ``losses``.
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

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        steps_per_execution: int | None = None,
        jit_compile: Any = "auto",
        **kwargs: Any,
    ) -> None:
        """Choose the optimiser, the loss and the metrics for ``fit`` and ``evaluate``.

        Each can be given by name (``optimizer='adam'``, ``loss='mse'``,
        ``metrics=['accuracy']``) or as an object. The steps of ``fit``/``evaluate``/``predict``
        are traced with ``tf.function`` unless ``run_eagerly=True``; ``jit_compile`` is
        accepted and changes nothing (there is no XLA).
        """
        if kwargs:
            raise TypeError(f"compile() got unexpected keyword arguments: {sorted(kwargs)}.")
        if loss_weights is not None:
            raise NotImplementedError("loss_weights (one weight per output) is not supported.")
        if steps_per_execution is not None and (
            not isinstance(steps_per_execution, int) or steps_per_execution < 1
        ):
            raise ValueError(
                f"steps_per_execution must be a positive integer, got {steps_per_execution!r}."
            )
        self.steps_per_execution = steps_per_execution or 1
        if isinstance(loss, (dict, list, tuple)):
            raise NotImplementedError("One loss per output is not supported; pass a single loss.")
        self.optimizer = optimizers_module.get(optimizer)
        if self.dtype_policy.name == "mixed_float16":  # Keras: float16 needs loss scaling
            from tensorflowish.keras.mixed_precision import LossScaleOptimizer

            if not isinstance(self.optimizer, LossScaleOptimizer):
                self.optimizer = LossScaleOptimizer(self.optimizer)
        self.compiled_loss = LossesContainer(loss)
        self.compiled_metrics = MetricsContainer(metrics, self.compiled_loss.loss,
                                                 weighted_metrics)
        self.loss = self.compiled_loss.loss
        if jit_compile is True and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. "
                          "Disabling `jit_compile`.", stacklevel=2)
            jit_compile = False
        self.jit_compile = jit_compile
        self.run_eagerly = run_eagerly  # also forgets the step functions of an earlier compile
        self._is_compiled = True

    def _assert_compiled(self, what: str) -> None:
        if not self._is_compiled:
            raise RuntimeError(
                f"You must compile the model before calling {what}(): "
                "model.compile(optimizer='adam', loss=..., metrics=[...])."
            )

    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics, then Metric attributes of the model and of
        the layers inside it (not of nested models), as Keras 3 collects them: a layer that
        holds ``self.tracker = Mean(name=...)`` and updates it in ``call`` shows up in the logs."""
        result = []
        if self.compiled_loss is not None:
            result.append(self.compiled_loss.tracker)
        if self.compiled_metrics is not None:
            result.extend(self.compiled_metrics.metrics)
        known = {id(m) for m in result}
        owners = [self] + [layer for layer in self._flatten_layers(include_self=False)
                           if not isinstance(layer, Trainer)]
        for owner in owners:
            for value in owner.__dict__.values():
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
        """The current value of every metric (``metric.result()``, float32 as in Keras), as
        Python floats; as tensors in a traced step, so that each replay reads them anew."""
        results = {metric.name: metric.result() for metric in self.metrics}
        return results if tf.inside_function() else _floats(results)

    def train_step(self, data: Any) -> MutableMapping:
        """One optimisation step on a batch; override it for custom training."""
        x, y, sample_weight = _unpack(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
            scale_loss = getattr(self.optimizer, "scale_loss", None)  # LossScaleOptimizer
            scaled = scale_loss(loss) if scale_loss is not None else loss
        variables = self.trainable_variables
        if not variables:
            raise ValueError("The model has no trainable variables: nothing for fit() to train.")
        gradients = tape.gradient(scaled, variables)
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
        if isinstance(value, tuple) or (isinstance(value, list) and value and all(
                hasattr(v, "shape") for v in value)):  # a list of arrays: one per model input
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
        if data_adapter.is_batch_source(x):  # a PyDataset or a generator of batches
            for name, value in (("y", y), ("sample_weight", sample_weight),
                                ("batch_size", batch_size)):
                if value is not None:
                    raise ValueError(f"{what}: {name} must not be given with a generator or a "
                                     "PyDataset: its batches hold (x, y, sample_weight).")
            return data_adapter.BatchSource(x, lambda v: _to_batch_tensor(v, self), shuffle)
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
        # x alone is wrapped as (x,) when it is itself a tuple (several model inputs), so that a
        # batch of two inputs is not read as (x, y)
        single = (parts[0],) if isinstance(parts[0], tuple) else parts[0]
        dataset = Dataset.from_tensor_slices(tuple(parts) if len(parts) > 1 else single)
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
        class_table = None
        if class_weight is not None:
            class_table = data_adapter.check_class_weight(class_weight)
        validate_after = data_adapter.validation_schedule(validation_freq)
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

            def head(v: Any) -> Any:  # per input for several inputs (a tuple or dict)
                return None if v is None else tf.nest.map_structure(lambda a: a[:split_at], v)

            def tail(v: Any) -> Any:
                return None if v is None else tf.nest.map_structure(lambda a: a[split_at:], v)

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
        if class_table is not None and not (isinstance(x, Dataset) or
                                            data_adapter.is_batch_source(x)):
            if y is None:
                raise ValueError("fit: class_weight needs targets y.")
            sample_weight = data_adapter.with_class_weights(y, class_table, sample_weight)
            class_table = None
        train_data = self._make_dataset(x, y, sample_weight, batch_size, shuffle, "fit")
        if class_table is not None:  # a dataset or a generator: weighted batch by batch
            train_data = data_adapter.ClassWeighted(train_data, class_table)
        validation = None
        if validation_data is not None:
            if isinstance(validation_data, Dataset) or data_adapter.is_batch_source(
                    validation_data):
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
        # Keras: with steps_per_execution = k each call of the train function runs k steps
        # (one traced graph), and the batch callbacks see each execution once, numbered by its
        # first step (begin) and its first step + k - 1 (end, even for a shorter last one)
        per_execution = getattr(self, "steps_per_execution", 1) or 1

        self.stop_training = False
        self.history = history
        train_execution = self._execution("train")
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
                wanted = per_execution if steps is None else min(per_execution, steps - done)
                batches = take_batches(iterator, wanted)
                if not batches:
                    iterator = None
                    break
                begin, done = done, done + len(batches)
                if batch_hooks:
                    hooks.on_train_batch_begin(begin)
                logs = train_execution(batches)
                if progbar is not None:
                    progbar.update_train(done - 1, logs)
                if batch_hooks:
                    hooks.on_train_batch_end(begin + per_execution - 1, logs)
                if len(batches) < wanted:  # the data ran out
                    iterator = None
                    break
                if self.stop_training:
                    break
            if done == 0:
                raise ValueError(
                    "fit: the training data produced no batches (is the dataset empty?)."
                )
            epoch_logs = dict(sorted(_floats(logs).items()))  # Keras sorts the logs
            if self._data_parallel:
                epoch_logs = distribute.allreduce_metrics(epoch_logs, weight=done)
            if validation is not None and validate_after(epoch):
                results = self.evaluate(  # fit's callbacks see the test hooks, as in Keras
                    validation, verbose=0, steps=validation_steps, return_dict=True,
                    _reset_tracking=False, _hooks=hooks,
                )  # fmt: skip
                epoch_logs.update({f"val_{k}": v for k, v in sorted(results.items())})
            hooks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None:  # use_ema: the weights become their moving averages
            finalize(self.trainable_variables)
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
        _hooks: Any = None,
    ) -> Any:
        """The loss and metrics over the data: a float when there are no metrics, else
        ``[loss, metric, ...]`` (or a dict with ``return_dict=True``)."""
        self._assert_compiled("evaluate")
        verbose = _resolve_verbose(verbose)
        data = self._make_dataset(x, y, sample_weight, batch_size, False, "evaluate")
        steps = self._steps(data, steps, "evaluate")
        hooks = _hooks if _hooks is not None else callbacks_module.CallbackList(
            callbacks or [], model=self, params={"steps": steps, "verbose": verbose}
        )
        batch_hooks = hooks.wants_batch_hooks("test")
        bar = callbacks_module.ProgbarLogger(verbose=verbose).test_bar(steps) if verbose else None
        test_execution = self._execution("test")
        per_execution = getattr(self, "steps_per_execution", 1) or 1
        self.reset_metrics()
        hooks.on_test_begin()
        logs: Any = {}
        count = 0
        for begin, count, batches in executions(data, steps, per_execution):
            if batch_hooks:
                hooks.on_test_batch_begin(begin)
            logs = test_execution(batches)
            if bar is not None:
                bar.update(count, logs, finalize=False)
            if batch_hooks:
                hooks.on_test_batch_end(begin + per_execution - 1, logs)
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
        predict_execution = self._execution("predict")
        per_execution = getattr(self, "steps_per_execution", 1) or 1
        hooks.on_predict_begin()
        outputs = []
        count = 0
        for begin, count, batches in executions(data, steps, per_execution):
            hooks.on_predict_batch_begin(begin)
            # (one execution's outputs, its steps' outputs concatenated, as Keras)
            outputs.append(_to_host_array(predict_execution(batches)))
            hooks.on_predict_batch_end(begin + per_execution - 1, {"outputs": outputs[-1]})
            if bar is not None:
                bar.update(count, {}, finalize=False)
        if bar is not None:
            bar.update(count, {}, finalize=True)
        hooks.on_predict_end()
        if not outputs:
            raise ValueError("predict: the data produced no batches.")
        return _concatenate(outputs)

# --- Sequential ---------------------------------------------------------------------------------
