"""``compile(steps_per_execution=k)`` with traced steps: each call of the train (test, predict)
function runs up to k steps as ONE traced graph (the steps unrolled), Python runs once per
execution, and the results are those of eager and of ``steps_per_execution=1``, bit for bit.
The callback numbering is the one Keras 3.15 (TensorFlow 2.21 backend) gives, read off a run
of it and written here by hand."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish import keras
from tensorflowish.keras import layers
from tensorflowish.keras.trainers import step_functions

RNG = np.random.default_rng(1)
X8 = RNG.normal(size=(70, 8)).astype(np.float32)
Y3 = RNG.integers(0, 3, 70).astype(np.int32)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class _Counted(keras.Sequential):
    """Counts the Python runs of its train_step: once per traced step, every step eagerly."""

    python_steps = 0

    def train_step(self, data):
        self.python_steps += 1
        return super().train_step(data)


def _model():
    return _Counted([layers.Dense(16, activation="relu", input_shape=(8,)), layers.Dropout(0.3),
                     layers.BatchNormalization(), layers.Dense(3)])


def _compiled(steps_per_execution, eager, make=_model):
    tf.random.set_seed(5)
    model = make()
    model.compile("adam", LOSS, metrics=["accuracy"], run_eagerly=eager,
                  steps_per_execution=steps_per_execution)
    return model


def _fit(steps_per_execution, eager, make=_model, **kwargs):
    model = _compiled(steps_per_execution, eager, make)
    history = model.fit(X8, Y3, **{"batch_size": 16, "epochs": 3, "verbose": 0, **kwargs})
    return history.history, model.get_weights(), model


def _assert_weights_equal(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_fit_runs_each_execution_as_one_traced_call_identical_to_eager_and_to_one_step():
    # 70 rows in batches of 16: 5 steps an epoch, executions of 3 steps and of 2 (16 + 6 rows)
    validation = {"validation_data": (X8[:40], Y3[:40]), "validation_batch_size": 8}
    history, weights, model = _fit(3, False, **validation)
    eager_history, eager_weights, eager = _fit(3, True, **validation)
    single_history, single_weights, _ = _fit(1, False, **validation)
    assert history == eager_history == single_history
    _assert_weights_equal(weights, eager_weights)
    _assert_weights_equal(weights, single_weights)
    assert int(model.optimizer.iterations.numpy()) == 15
    function = model.train_function
    assert function.eager_reason is None
    # two graphs (3 full batches; 2 batches, the second of 6 rows), no single-step graph
    assert function.traced_steps.experimental_get_tracing_count() == 2
    assert function.traced.experimental_get_tracing_count() == 0
    # Python ran the step while tracing only (3 + 2 steps), eagerly at each of the 15 steps
    assert model.python_steps == 5 and eager.python_steps == 15
    # each execution replays a plan of array code (not op by op)
    for concrete in function._graphs.values():
        assert concrete.graph.plan, concrete.graph.plan_note
    # 40 validation rows in batches of 8: one execution of 3 steps, one of 2
    assert model.test_function.traced_steps.experimental_get_tracing_count() == 2
    assert model.test_function.traced.experimental_get_tracing_count() == 0


def test_evaluate_and_predict_identical_to_eager_and_to_one_step():
    results = []
    for steps_per_execution, eager in ((4, False), (4, True), (1, False)):
        model = _compiled(steps_per_execution, eager)
        model.fit(X8, Y3, batch_size=16, epochs=1, verbose=0)
        results.append((model.evaluate(X8, Y3, batch_size=8, verbose=0),
                        model.predict(X8, batch_size=8, verbose=0),
                        model.predict(X8[:30], batch_size=8, steps=3, verbose=0)))
        if not eager and steps_per_execution == 4:
            # 70 rows in batches of 8: executions of 4, 4 and 1 (6 rows) batches, then 3
            function = model.predict_function
            assert function.traced_steps.experimental_get_tracing_count() == 2
            assert function.traced.experimental_get_tracing_count() == 1
    traced, eager, single = results
    for other in (eager, single):
        assert traced[0] == other[0]
        np.testing.assert_array_equal(traced[1], other[1])
        np.testing.assert_array_equal(traced[2], other[2])
    assert traced[1].shape == (70, 3) and traced[2].shape == (24, 3)
    # the reference: the model's own call, batch by batch
    model = _compiled(1, True)
    model.fit(X8, Y3, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(traced[1], np.concatenate(
        [model(X8[start:start + 8], training=False).numpy() for start in range(0, 70, 8)]))


class _Events(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("train begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("train end", batch, dict(logs)))

    def on_test_batch_begin(self, batch, logs=None):
        self.events.append(("test begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(("test end", batch, sorted(logs)))

    def on_predict_batch_begin(self, batch, logs=None):
        self.events.append(("predict begin", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.events.append(("predict end", batch, logs["outputs"].shape))


def test_callbacks_once_per_execution_numbered_as_keras():
    # Keras 3.15, 70 rows, batch 16, steps_per_execution=3, validation_data of the 70 rows:
    # fit calls [('tb', 0), ('te', 2), ('tb', 3), ('te', 5), ('vb', 0), ('ve', 2), ('vb', 3),
    # ('ve', 5)] (the validation's test hooks on fit's callbacks), evaluate [('vb', 0),
    # ('ve', 2), ('vb', 3), ('ve', 5)], predict [('pb', 0), ('pe', 2), ('pb', 3), ('pe', 5)]
    # with the outputs of each execution, of shapes (48, 3) and (22, 3)
    per_step = _Events()
    _fit(1, True, epochs=1, callbacks=[per_step])
    for eager in (False, True):
        watch = _Events()
        _, _, model = _fit(3, eager, epochs=1, callbacks=[watch], validation_data=(X8, Y3))
        assert [event[:2] for event in watch.events] == [
            ("train begin", 0), ("train end", 2), ("train begin", 3), ("train end", 5),
            ("test begin", 0), ("test end", 2), ("test begin", 3), ("test end", 5)]
        # the logs of an execution are those of its last step (steps 2 and 4)
        ends = [event[2] for event in per_step.events if event[0] == "train end"]
        assert len(ends) == 5 and ends[2] != ends[4]
        assert watch.events[1][2] == ends[2] and watch.events[3][2] == ends[4]
        watch.events.clear()
        model.evaluate(X8, Y3, batch_size=16, verbose=0, callbacks=[watch])
        assert watch.events == [("test begin", 0), ("test end", 2, ["accuracy", "loss"]),
                                ("test begin", 3), ("test end", 5, ["accuracy", "loss"])]
        watch.events.clear()
        model.predict(X8, batch_size=16, verbose=0, callbacks=[watch])
        assert watch.events == [("predict begin", 0), ("predict end", 2, (48, 3)),
                                ("predict begin", 3), ("predict end", 5, (22, 3))]


def test_stop_training_takes_effect_after_the_execution():
    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    _, _, model = _fit(4, False, callbacks=[Stop()])
    assert int(model.optimizer.iterations.numpy()) == 4  # one execution of 4 steps


def test_steps_per_epoch_on_a_repeating_dataset_runs_exactly_those_steps():
    # (Keras 3.15 runs whole executions here: 6 steps an epoch, 12 in all)
    results = []
    for steps_per_execution, eager in ((3, False), (3, True), (1, False)):
        model = _compiled(steps_per_execution, eager)
        dataset = tf.data.Dataset.from_tensor_slices((X8, Y3)).batch(16).repeat()
        history = model.fit(dataset, steps_per_epoch=4, epochs=2, verbose=0)
        assert int(model.optimizer.iterations.numpy()) == 8
        results.append((history.history, model.get_weights()))
    for history, weights in results[1:]:
        assert history == results[0][0]
        _assert_weights_equal(weights, results[0][1])


def test_an_execution_longer_than_the_unrolled_limit_is_split(monkeypatch):
    monkeypatch.setattr(step_functions, "MAX_UNROLLED_STEPS", 2)
    history, weights, model = _fit(5, False, epochs=2)
    single_history, single_weights, _ = _fit(1, False, epochs=2)
    assert history == single_history
    _assert_weights_equal(weights, single_weights)
    # 5 steps as graphs of 2, 2 and 1 steps (the single step's graph holds the 6-row batch)
    assert model.train_function.traced_steps.experimental_get_tracing_count() == 1
    assert model.train_function.traced.experimental_get_tracing_count() == 1


def test_keras_call_of_the_train_function_with_an_iterator():
    model = _compiled(3, False)
    batches = [(tf.constant(X8[i:i + 10]), tf.constant(Y3[i:i + 10])) for i in range(0, 50, 10)]
    iterator = iter(batches)
    logs = model.make_train_function()(iterator)  # 3 steps, one call
    assert set(logs) == {"loss", "accuracy"}
    assert int(model.optimizer.iterations.numpy()) == 3
    model.train_function(iterator)  # the 2 left
    assert int(model.optimizer.iterations.numpy()) == 5
    with pytest.raises(StopIteration):
        model.train_function(iterator)


class _ReadsValues(layers.Layer):
    """Decides in Python on a tensor's value: the trace fails, the model runs eagerly."""

    def call(self, x):
        return x * 2.0 if float(tf.reduce_sum(x).numpy()) > 0 else x


def test_an_untraceable_model_runs_its_executions_eagerly_with_a_logged_reason(caplog):
    def make():
        return _Counted([layers.Dense(4, input_shape=(8,)), layers.Dropout(0.5),
                         _ReadsValues(), layers.Dense(3)])

    with caplog.at_level(logging.WARNING, logger="tensorflowish.keras"):
        history, weights, model = _fit(3, False, make)
    eager_history, eager_weights, _ = _fit(3, True, make)
    assert "train_function runs eagerly" in caplog.text
    assert model.train_function.eager_reason is not None
    assert history == eager_history  # the failed trace's random draws were undone
    _assert_weights_equal(weights, eager_weights)


class _ReshapesByBatch(layers.Layer):
    """Reads the batch size of an op's output in Python, as layers do: with a relaxed (None)
    batch dimension the trace's size would be frozen into the graph (the reason each batch
    shape gets its own graph rather than Keras's reduce_retracing one)."""

    def call(self, x):
        return tf.reshape(x, (x.shape[0], -1))


def test_a_size_read_in_python_is_right_for_every_batch_shape():
    def make():
        return _Counted([layers.Dense(6, input_shape=(8,)), layers.Reshape((2, 3)),
                         _ReshapesByBatch(), layers.Dense(3)])

    def batches():  # 16, 8, 4 rows: three batch sizes, each execution of one batch size
        sizes = [16, 16, 8, 8, 4, 4]
        starts = np.cumsum([0] + sizes)
        return tf.data.Dataset.from_generator(
            lambda: ((X8[a:b], Y3[a:b]) for a, b in zip(starts, starts[1:])),
            output_signature=(tf.TensorSpec((None, 8), tf.float32),
                              tf.TensorSpec((None,), tf.int32)))

    results = []
    for steps_per_execution, eager in ((2, False), (2, True), (1, False)):
        model = _compiled(steps_per_execution, eager, make)
        history = model.fit(batches(), epochs=2, verbose=0)
        results.append((history.history, model.get_weights(), model))
    (history, weights, model), *others = results
    for other_history, other_weights, _ in others:
        assert history == other_history
        _assert_weights_equal(weights, other_weights)
    assert model.train_function.eager_reason is None
    assert model.train_function.tracing_count == 3
    assert results[2][2].train_function.tracing_count == 3


class _CustomStep(keras.Model):
    """A train_step override returning tensors of its own (Keras's "customizing fit")."""

    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(8, activation="relu")
        self.out = layers.Dense(3)
        self.tracker = keras.metrics.Mean(name="custom_loss")

    def call(self, x, training=False):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.tracker.update_state(loss)
        return {"custom_loss": self.tracker.result(), "twice": loss * 2.0}


class _AddsLoss(layers.Layer):
    def call(self, x):
        self.add_loss(0.1 * tf.reduce_mean(tf.square(x)))
        return x


TOKENS = RNG.integers(0, 10, (70, 7)).astype(np.int32)
TOKENS[::3, 4:] = 0

MODELS = {
    "custom train_step": (_CustomStep, X8),
    "add_loss in call, activity regularizer": (lambda: keras.Sequential([
        layers.Dense(4, input_shape=(8,), activity_regularizer="l2"), _AddsLoss(),
        layers.Dense(3)]), X8),
    "masked LSTM": (lambda: keras.Sequential([
        layers.Embedding(10, 6, mask_zero=True), layers.LSTM(5), layers.Dense(3)]), TOKENS),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_more_models_identical_with_steps_per_execution(name):
    make, x = MODELS[name]
    runs = []
    for steps_per_execution, eager in ((3, False), (3, True), (1, False)):
        tf.random.set_seed(11)
        model = make()
        model.compile("adam", LOSS, run_eagerly=eager, steps_per_execution=steps_per_execution)
        history = model.fit(x, Y3, batch_size=16, epochs=2, verbose=0)
        runs.append((history.history, model.get_weights(), model))
    (history, weights, model), *others = runs
    for other_history, other_weights, other in others:
        assert history == other_history
        _assert_weights_equal(weights, other_weights)
        assert [float(v) for v in model.losses] == [float(v) for v in other.losses]
    assert model.train_function.eager_reason is None
    assert model.train_function.traced_steps.experimental_get_tracing_count() == 2


def test_mixed_precision_with_steps_per_execution_identical():
    def make():
        return keras.Sequential([layers.Dense(8, activation="relu", input_shape=(8,)),
                                 layers.Dense(3, dtype="float32")])

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:  # the LossScaleOptimizer's checks run at each unrolled step
        (history, weights, model), (eager_history, eager_weights, _) = (
            _fit(3, False, make, epochs=2), _fit(3, True, make, epochs=2))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert history == eager_history
    _assert_weights_equal(weights, eager_weights)
    assert model.train_function.eager_reason is None


def test_progress_bar_advances_per_execution(capsys):
    model = _compiled(3, False)
    model.fit(X8, Y3, batch_size=16, epochs=1, verbose=1)
    assert "5/5" in capsys.readouterr().out


def test_backup_and_restore_save_freq_counts_steps_not_executions(tmp_path, monkeypatch):
    saved = []
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=3)
    model = _compiled(3, False)
    monkeypatch.setattr(backup, "_save", lambda epoch: saved.append(
        int(model.optimizer.iterations.numpy())))
    # 5 steps an epoch in executions numbered 2 and 5 (Keras numbers the shorter one 5 too):
    # 3 steps counted at each, so a backup after each execution. (Keras 3.15 counts the first
    # execution of each epoch as 2 steps, from batch 0 rather than -1, and saves at 5 and 10.)
    model.fit(X8, Y3, batch_size=16, epochs=2, verbose=0, callbacks=[backup])
    assert saved == [3, 5, 8, 10]
