"""The step functions ``fit``, ``evaluate`` and ``predict`` run, traced by default.

As Keras 3 on TensorFlow: ``model.train_function``, ``model.test_function`` and
``model.predict_function`` (made by ``make_train_function`` and its twins) run
``train_step``/``test_step``/``predict_step`` under ``tf.function``, one traced graph per batch
signature, replayed for every later batch of that signature. ``compile(run_eagerly=True)``,
``model.run_eagerly = True`` or ``tf.config.run_functions_eagerly(True)`` run them as Python.

``compile(steps_per_execution=k)``: each call runs up to k steps as ONE call of a traced
function over the execution's batches, the steps unrolled into one graph (Keras's TensorFlow
backend traces a ``tf.while_loop`` over the dataset iterator, ``multi_step_on_iterator``; the
unrolled graph is what the replay plans turn into straight-line array code), so Python runs once
per execution. The last execution of an epoch holds the batches left (a graph of its own,
traced once). An execution longer than ``MAX_UNROLLED_STEPS`` runs as several such calls.
The batch callbacks see each execution once, with its last step's logs, numbered as Keras 3.15
numbers them (begin: the first step; end: the first step + k - 1, even for a shorter last
execution). ``predict`` concatenates the outputs of an execution's steps, as Keras.

Differences from Keras, all for exact results:

- Each distinct batch signature (dtypes and shapes) gets a graph of its own, instead of
  Keras's ``reduce_retracing`` graph with a ``None`` batch dimension: a size a layer reads in
  Python (``x.shape[0]``) is then right by construction. ``fit`` on arrays traces one graph for
  the full batches and one for a smaller last batch, once for all epochs (as many as Keras:
  ``reduce_retracing`` relaxes a dimension at the second shape it sees). A step that has seen
  more than ``MAX_TRACES`` signatures (a generator of ever-changing shapes) runs eagerly from
  then on, with a logged reason. ``reduce_retracing=True`` here was tried: 16 of the 26 tests of
  tests/keras/test_keras_traced_fit.py then fell back to eager at the relaxed trace, because
  the tracer reads ``None`` only in the inputs' relaxed dimensions while an op's output reports
  the trace's own shape (no shape inference through ops): the losses' shape checks compare
  labels ``(None,)`` with predictions ``(8, 3)`` (``losses/probabilistic.py``
  ``_integer_labels``, ``losses/loss.py`` ``_check_same_shape``), the RNN layers read
  ``int(sequences.shape[0])`` for their initial states (``layers/rnn/rnn.py``), and a layer
  reshaping an op's output to ``(x.shape[0], -1)`` freezes the trace's batch size into the
  relaxed graph (a third batch size then fails).
- ``steps_per_epoch`` not a multiple of ``steps_per_execution`` runs exactly
  ``steps_per_epoch`` steps an epoch (the last execution shorter); Keras 3.15 runs whole
  executions there (``steps_per_epoch=4, steps_per_execution=3``: 6 steps an epoch).
- A step whose trace fails (Python reading a tensor's value in a layer or a custom
  ``train_step``, an unsupported call) runs eagerly for that model from then on, with the reason
  logged: the trace's side effects on the weights, the optimiser's state, the metrics and the
  random streams are undone first, so the results are eager's.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tensorflowish import config
from tensorflowish import random as tf_random
from tensorflowish.function.graph import flatten
from tensorflowish.keras.trainers.compile_utils import _LazyLogs
from tensorflowish.keras.trainers.data_adapter import _concatenate, _to_host_array
from tensorflowish.tensor import Tensor, Variable

_log = logging.getLogger("tensorflowish.keras")

MAX_TRACES = 8  # distinct batch signatures per step function before it runs eagerly
# steps_per_execution > 1: the most steps unrolled into one graph (its trace and its plan's
# compilation grow with the steps: ~1.5 ms a step for the digits MLP); a longer execution is
# several calls of such graphs
MAX_UNROLLED_STEPS = 64


def _signature(data: Any) -> tuple:
    """A hashable key of a batch: dtype and shape of each array, other values as they are."""
    if isinstance(data, (tuple, list)):
        return (type(data).__name__,) + tuple(_signature(item) for item in data)
    if isinstance(data, dict):
        return ("dict",) + tuple((key, _signature(value)) for key, value in data.items())
    if isinstance(data, Variable):
        return ("variable", id(data))
    if isinstance(data, Tensor):
        array = data.array
        return (array.dtype.str, array.shape)
    if isinstance(data, np.ndarray):
        return ("ndarray", data.dtype.str, data.shape)
    try:
        hash(data)
    except TypeError:
        return ("id", id(data))
    return ("value", data)


class _Snapshot:
    """What a failed trace may have changed before it failed, to undo it: the values of the
    model's and the optimiser's variables, the metrics' sums and the random streams."""

    def __init__(self, model: Any) -> None:
        optimizer_variables = getattr(getattr(model, "optimizer", None), "variables", None)
        variables = list(model.variables) + list(optimizer_variables or [])
        # holding the arrays keeps them: variables copy on write while a buffer is shared
        self.variables = [(variable, variable.array) for variable in variables
                          if isinstance(variable, Variable)]
        self.metrics = [(metric, {key: value.copy() if hasattr(value, "__array__") and
                                  hasattr(value, "copy") else value
                                  for key, value in vars(metric).items()})
                        for metric in model.metrics]
        self.generators = dict(tf_random._op_generators)  # seed -> generator
        self.random = [(generator, generator.bit_generator.state) for generator in
                       [tf_random._global_generator, *self.generators.values()]]

    def restore(self) -> None:
        for variable, array in self.variables:
            if variable.array is not array:  # unchanged when it is the same (copy on write)
                variable.assign(array)
        for metric, state in self.metrics:
            vars(metric).clear()
            vars(metric).update(state)
        tf_random._op_generators.clear()
        tf_random._op_generators.update(self.generators)
        for generator, state in self.random:
            generator.bit_generator.state = state


class StepFunction:
    """One step kind of a model (``train``, ``test`` or ``predict``): what
    ``model.train_function`` (and its twins) holds.

    Called with an iterator of batches, as Keras calls it, it runs ``steps_per_execution``
    steps and returns the last step's logs (predict: the outputs, concatenated). ``run(batch)``
    runs one step, ``run_steps(batches)`` one execution. ``traced`` is the one-step
    ``tf.function`` and ``traced_steps`` the one of several steps unrolled (both None when the
    model runs eagerly).
    """

    def __init__(self, model: Any, kind: str, step: Any, traced: bool) -> None:
        self.model = model
        self.kind = kind
        self.step = step
        self.traced = None
        self.traced_steps = None
        self.eager_reason: str | None = None  # why this step runs eagerly after all
        self._seen: set = set()
        self._graphs: dict = {}  # batch signature -> its ConcreteFunction (tensor-only batches)
        # the layers' `trainable` flags the graphs were traced with (a graph holds the list of
        # trainable variables it differentiates): another state needs new graphs
        self.trainable_state: tuple | None = None
        if traced:
            from tensorflowish.function import function

            # autograph=False: Keras marks its one_step_on_data do_not_convert
            self.traced = function(self._one_step_on_data, autograph=False,
                                   jit_compile=getattr(model, "jit_compile", None))
            self.traced._name = f"{kind}_function"
            # steps_per_execution > 1: the steps of one execution unrolled into one graph
            self.traced_steps = function(self._steps_on_data, autograph=False,
                                         jit_compile=getattr(model, "jit_compile", None))
            self.traced_steps._name = f"multi_step_{kind}_function"

    def _one_step_on_data(self, data: Any) -> Any:
        # the losses layers add in call() are outputs too: each replay puts its own back
        return self.step(data), _call_losses(self.model)

    def _steps_on_data(self, batches: tuple) -> Any:
        return self._eager_steps(batches), _call_losses(self.model)

    def _eager_steps(self, batches: tuple) -> Any:
        """The steps of one execution as Python: the last step's logs (predict: every step's
        outputs, in order)."""
        if self.kind == "predict":
            return tuple(self.step(batch) for batch in batches)
        logs = None
        for batch in batches:
            logs = self.step(batch)
        return logs

    @property
    def tracing_count(self) -> int:
        """How many graphs this step function has traced (0 when it runs eagerly)."""
        if self.traced is None:
            return 0
        return (self.traced.experimental_get_tracing_count()
                + self.traced_steps.experimental_get_tracing_count())

    def run(self, data: Any) -> Any:
        """One step on one batch."""
        return self._run(self.traced, self.step, data, _signature(data))

    def run_steps(self, batches: list | tuple) -> Any:
        """The steps of one execution: one step per batch, as ONE call of a traced function
        when there are several (Keras's ``multi_step_on_iterator``). Returns the last step's
        logs (predict: the outputs of the steps, concatenated)."""
        batches = tuple(batches)
        if len(batches) == 1:
            return self.run(batches[0])
        if len(batches) > MAX_UNROLLED_STEPS:  # a graph of at most MAX_UNROLLED_STEPS steps
            results = [self.run_steps(batches[start:start + MAX_UNROLLED_STEPS])
                       for start in range(0, len(batches), MAX_UNROLLED_STEPS)]
            if self.kind == "predict":
                return _concatenate([_to_host_array(result) for result in results])
            return results[-1]
        outputs = self._run(self.traced_steps, self._eager_steps, batches,
                            ("steps",) + tuple(_signature(batch) for batch in batches))
        if self.kind == "predict":
            return _concatenate([_to_host_array(output) for output in outputs])
        return outputs

    def _run(self, traced: Any, eager: Any, data: Any, key: tuple) -> Any:
        if self.traced is None or self.eager_reason is not None or config._run_functions_eagerly:
            return eager(data)
        concrete = self._graphs.get(key)
        if concrete is not None:  # the graph of this signature, without tf.function's lookup
            leaves: list = []
            flatten(data, leaves)
            return _replayed(concrete._call_flat([leaf for leaf in leaves
                                                  if leaf.__class__ is Tensor]))
        if key in self._seen:
            return _replayed(traced(data))
        if len(self._seen) >= MAX_TRACES:
            self._go_eager(f"its batches came in more than {MAX_TRACES} signatures (dtypes "
                           "and shapes); a graph per signature would cost more than it saves")
            return eager(data)
        snapshot = _Snapshot(self.model)
        try:
            result = traced(data)
        except Exception as error:  # noqa: BLE001 - any failed trace: eager decides
            snapshot.restore()
            result = eager(data)  # eager's own error, if the step itself is wrong
            self._go_eager(f"its trace failed: {type(error).__name__}: {error}")
            return result
        self._seen.add(key)
        self.trainable_state = _trainable_state(self.model)
        leaves = []
        flatten(data, leaves)
        if not any(isinstance(leaf, np.ndarray) or (isinstance(leaf, Tensor) and
                                                    leaf.__class__ not in (Tensor, Variable))
                   for leaf in leaves):
            self._graphs[key] = traced.get_concrete_function(data)
        return _replayed(result)

    def _go_eager(self, reason: str) -> None:
        self.eager_reason = reason
        _log.warning("%s: %s runs eagerly (as with run_eagerly=True) because %s", self.model.name,
                     f"{self.kind}_function", reason)

    def __call__(self, iterator: Any) -> Any:
        """Keras's call: up to ``steps_per_execution`` steps from ``iterator``."""
        batches = take_batches(iter(iterator), getattr(self.model, "steps_per_execution", 1))
        if not batches:
            raise StopIteration
        return self.run_steps(batches)

    def __repr__(self) -> str:
        how = "eager" if self.traced is None or self.eager_reason else "traced"
        return f"<StepFunction {self.kind} ({how}, {self.tracing_count} traces)>"


def executions(data: Any, steps: int | None, per_execution: int):
    """(first step, steps so far, batches) for each execution of ``evaluate``/``predict``: up
    to ``per_execution`` batches at a time, until ``steps`` or the end of ``data``."""
    count = 0
    iterator = iter(data)
    while steps is None or count < steps:
        wanted = per_execution if steps is None else min(per_execution, steps - count)
        batches = take_batches(iterator, wanted)
        if not batches:
            return
        begin, count = count, count + len(batches)
        yield begin, count, batches
        if len(batches) < wanted:  # the data ran out
            return


def take_batches(iterator: Any, count: int | None) -> list:
    """Up to ``count`` batches from ``iterator`` (fewer at its end): one execution's data."""
    batches = []
    for _ in range(count or 1):
        try:
            batches.append(next(iterator))
        except StopIteration:
            break
    return batches


def _trainable_state(model: Any) -> tuple:
    return tuple(layer.trainable for layer in model._flatten_layers())


def _call_losses(model: Any) -> tuple:
    """(layer, its call() losses) for each layer that added some in this call."""
    return tuple((layer, tuple(layer._call_losses)) for layer, _ in model._structure()
                 if layer._call_losses)


def _replayed(outputs: tuple) -> Any:
    """The step's logs from a traced call's (logs, call losses), the layers' call losses set to
    this call's values. A replay returns the trace's lazy logs object itself: each step gets
    its own."""
    logs, call_losses = outputs
    for layer, losses in call_losses:
        layer._call_losses = list(losses)
    return logs.fresh() if isinstance(logs, _LazyLogs) else logs


class StepFunctions:
    """``run_eagerly``, ``jit_compile``, ``make_train_function`` and its twins, and the
    ``*_on_batch`` methods: the part of the trainer that runs single steps."""

    train_function: StepFunction | None = None
    test_function: StepFunction | None = None
    predict_function: StepFunction | None = None
    _run_eagerly = False
    _jit_compile: Any = None

    @property
    def run_eagerly(self) -> bool:
        """Whether ``fit``/``evaluate``/``predict`` run their steps as Python (True) or traced
        with ``tf.function`` (False, the default)."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value: bool) -> None:
        self._run_eagerly = bool(value)
        self._reset_step_functions()

    @property
    def jit_compile(self) -> bool:
        """Accepted as Keras accepts it; there is no XLA here, so it changes nothing."""
        return bool(self._jit_compile) and not self._run_eagerly

    @jit_compile.setter
    def jit_compile(self, value: Any) -> None:
        self._jit_compile = False if value == "auto" else value  # Keras: "auto" is off on CPU

    def _reset_step_functions(self) -> None:
        self.train_function = self.test_function = self.predict_function = None

    def _make(self, kind: str, force: bool) -> StepFunction:
        existing = getattr(self, f"{kind}_function")
        if existing is not None and not force and existing.trainable_state in (
                None, _trainable_state(self)):
            return existing  # (Keras keeps the old graphs and warns; eager would not)
        made = StepFunction(self, kind, getattr(self, f"{kind}_step"), not self.run_eagerly)
        setattr(self, f"{kind}_function", made)
        return made

    def _one_step(self, kind: str) -> Any:
        """What fit/evaluate/predict call per batch: the step function's ``run``, or, when an
        overridden ``make_*_function`` installed a function of its own (Keras's contract: it sets
        ``self.train_function``), that function on an iterator of the one batch."""
        made = getattr(self, f"make_{kind}_function")()
        function = getattr(self, f"{kind}_function", None) or made
        if isinstance(function, StepFunction):
            return function.run
        return lambda batch: function(iter([batch]))

    def _execution(self, kind: str) -> Any:
        """What fit/evaluate/predict call per execution (a list of up to
        ``steps_per_execution`` batches): the step function's ``run_steps``, or an overridden
        ``make_*_function``'s own function on an iterator of those batches."""
        made = getattr(self, f"make_{kind}_function")()
        function = getattr(self, f"{kind}_function", None) or made
        if isinstance(function, StepFunction):
            return function.run_steps
        return lambda batches: function(iter(batches))

    def make_train_function(self, force: bool = False) -> StepFunction:
        """``model.train_function``: ``train_step`` traced (or eager with ``run_eagerly``)."""
        return self._make("train", force)

    def make_test_function(self, force: bool = False) -> StepFunction:
        """``model.test_function``: ``test_step`` traced (or eager with ``run_eagerly``)."""
        return self._make("test", force)

    def make_predict_function(self, force: bool = False) -> StepFunction:
        """``model.predict_function``: ``predict_step`` traced (or eager)."""
        return self._make("predict", force)

    def train_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
        return_dict: bool = False,
    ) -> Any:
        """One training step on one batch; returns the loss (and metrics) of that batch."""
        from tensorflowish.keras.trainers import data_adapter

        self._assert_compiled("train_on_batch")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(
                    "Arguments `sample_weight` and `class_weight` cannot be specified at the "
                    f"same time. Received: sample_weight={sample_weight}, "
                    f"class_weight={class_weight}")
            table = data_adapter.check_class_weight(class_weight)
            sample_weight = data_adapter.with_class_weights(y, table, None)
        self.reset_metrics()
        data = tuple(_to_batch_tensor(v, self) for v in (x, y, sample_weight) if v is not None)
        results = _floats(self._one_step("train")(data if len(data) > 1 else (data[0],)))
        return results if return_dict else _single_or_list(results)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss (and metrics) of one batch, without training."""
        self._assert_compiled("test_on_batch")
        self.reset_metrics()
        data = tuple(_to_batch_tensor(v, self) for v in (x, y, sample_weight) if v is not None)
        results = _floats(self._one_step("test")(data))
        return results if return_dict else _single_or_list(results)

    def predict_on_batch(self, x: Any) -> Any:
        """The model's output for one batch, as NumPy."""
        return _to_host_array(self._one_step("predict")((_to_batch_tensor(x, self),)))


def _to_batch_tensor(value: Any, model: Any) -> Any:
    if isinstance(value, Tensor):
        return value
    from tensorflowish.tensor import convert_to_tensor

    if isinstance(value, (tuple, list, dict)) and not hasattr(value, "shape"):
        converted = model._as_input_array(value)
        if isinstance(converted, dict):
            return {k: _to_batch_tensor(v, model) for k, v in converted.items()}
        if isinstance(converted, tuple):
            return tuple(_to_batch_tensor(v, model) for v in converted)
    return convert_to_tensor(model._as_input_array(value))


def _single_or_list(results: dict) -> Any:
    values = list(results.values())
    return values[0] if len(values) == 1 else values


def _floats(logs: Any) -> dict[str, Any]:
    """The logs as Python floats (arrays for metrics with several values)."""
    result = {}
    for key, value in dict(logs or {}).items():
        if isinstance(value, Tensor):
            value = value.numpy()
        try:
            result[key] = float(value)
        except (TypeError, ValueError):
            result[key] = value
    return result
