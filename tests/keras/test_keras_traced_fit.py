"""fit/evaluate/predict run traced steps by default (Keras 3 on TensorFlow): the same models
trained with run_eagerly=True and False from the same seed give identical histories, weights and
predictions (the traced graph replays the same ops on the same values, in the same order, with
the same random draws), and each step kind traces once per batch signature."""

from __future__ import annotations

import json
import logging
import zipfile

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish import keras
from tensorflowish.keras import layers

RNG = np.random.default_rng(0)
X8 = RNG.normal(size=(70, 8)).astype(np.float32)
Y3 = RNG.integers(0, 3, 70).astype(np.int32)


def _dense_dropout_batchnorm():
    return keras.Sequential([
        layers.Dense(16, activation="relu", input_shape=(8,)), layers.Dropout(0.3),
        layers.BatchNormalization(), layers.Dense(3)])


def _train(make_model, eager, x=X8, y=Y3, compile_kwargs=None, **fit_kwargs):
    tf.random.set_seed(7)
    model = make_model()
    x = x() if callable(x) else x  # a dataset made after the seed
    model.compile(**{"optimizer": "adam", "metrics": ["accuracy"],
                     "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                     **(compile_kwargs or {})}, run_eagerly=eager)
    history = model.fit(x, y, **{"batch_size": 32, "epochs": 3, "verbose": 0, **fit_kwargs})
    return history.history, model.get_weights(), model


def _assert_same(make_model, x=X8, y=Y3, compile_kwargs=None, **fit_kwargs):
    eager_history, eager_weights, eager_model = _train(make_model, True, x, y, compile_kwargs,
                                                       **fit_kwargs)
    traced_history, traced_weights, traced_model = _train(make_model, False, x, y,
                                                          compile_kwargs, **fit_kwargs)
    assert traced_history == eager_history
    assert len(traced_weights) == len(eager_weights)
    for traced, eager in zip(traced_weights, eager_weights):
        np.testing.assert_array_equal(traced, eager)
    assert eager_model.train_function.traced is None
    assert traced_model.train_function.traced is not None
    assert traced_model.train_function.eager_reason is None
    return traced_model, eager_model


def test_dense_dropout_batchnorm_identical_and_traced_once_per_batch_shape():
    model, eager = _assert_same(_dense_dropout_batchnorm, validation_split=0.25)
    # 52 training rows in batches of 32: a full batch and a last batch of 20, over 3 epochs
    assert model.train_function.tracing_count == 2
    assert model.test_function.tracing_count == 1  # 18 validation rows: one batch
    np.testing.assert_array_equal(model.predict(X8, verbose=0), eager.predict(X8, verbose=0))
    assert model.predict_function.tracing_count == 2  # 64 + 6 rows
    assert model.evaluate(X8, Y3, verbose=0) == eager.evaluate(X8, Y3, verbose=0)
    # the moving statistics moved (a replayed graph updates them at every step)
    moving_mean = model.layers[2].moving_mean.numpy()
    assert np.abs(moving_mean).max() > 0


def test_conv_model_identical():
    images = RNG.normal(size=(40, 6, 6, 2)).astype(np.float32)
    _assert_same(lambda: keras.Sequential([
        layers.Conv2D(4, 3, activation="relu", input_shape=(6, 6, 2)), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(3)]), x=images, y=Y3[:40], batch_size=16, epochs=2)


def test_lstm_with_mask_identical():
    tokens = RNG.integers(0, 10, (40, 7)).astype(np.int32)
    tokens[::3, 4:] = 0  # padded rows: the mask's values are read at every replay
    _assert_same(lambda: keras.Sequential([
        layers.Embedding(10, 6, mask_zero=True), layers.LSTM(5), layers.Dense(3)]),
        x=tokens, y=Y3[:40], batch_size=16, epochs=2)


def test_multi_input_model_identical():
    def make():
        left, right = keras.Input((8,)), keras.Input((3,))
        hidden = layers.Concatenate()([layers.Dense(4, activation="tanh")(left), right])
        return keras.Model([left, right], layers.Dense(3)(hidden))

    other = RNG.normal(size=(70, 3)).astype(np.float32)
    _assert_same(make, x=(X8, other), validation_data=((X8[:10], other[:10]), Y3[:10]))


def test_class_weight_and_sample_weight_identical():
    _assert_same(_dense_dropout_batchnorm, class_weight={0: 1.0, 1: 3.0, 2: 0.5})
    weights = RNG.uniform(0.1, 2.0, 70).astype(np.float32)
    _assert_same(_dense_dropout_batchnorm, sample_weight=weights,
                 compile_kwargs={"weighted_metrics": ["accuracy"]})


class _CustomStep(keras.Model):
    """A train_step override, as in Keras's "customizing fit" guide: it is traced too."""

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


def test_custom_train_step_is_traced_and_identical():
    model, _ = _assert_same(_CustomStep, epochs=2)
    assert model.train_function.tracing_count == 2


def test_callbacks_see_values_and_stop_training():
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(logs["loss"]))
            if batch == 1:
                self.model.stop_training = True

    _, _, model = _train(_dense_dropout_batchnorm, False, callbacks=[Watch()], epochs=5)
    assert len(seen) == 2 and all(np.isfinite(seen))
    assert model.train_function.tracing_count == 1


def test_run_eagerly_switches_and_run_functions_eagerly():
    model = _dense_dropout_batchnorm()
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert model.run_eagerly is False and model.jit_compile is False
    model.fit(X8, Y3, epochs=1, verbose=0)
    assert model.train_function.tracing_count == 2
    model.run_eagerly = True
    model.fit(X8, Y3, epochs=1, verbose=0)
    assert model.train_function.traced is None
    model.run_eagerly = False
    tf.config.run_functions_eagerly(True)
    try:
        model.fit(X8, Y3, epochs=1, verbose=0)
        assert model.train_function.tracing_count == 0
    finally:
        tf.config.run_functions_eagerly(False)
    model.compile("sgd", "sparse_categorical_crossentropy", jit_compile=True)
    assert model.jit_compile is True  # accepted; there is no XLA
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile("sgd", "sparse_categorical_crossentropy", jit_compile=True,
                      run_eagerly=True)
    assert model.jit_compile is False


def test_on_batch_methods_and_make_functions():
    results, models = [], []
    for run_eagerly in (False, True):
        tf.random.set_seed(3)
        model = _dense_dropout_batchnorm()
        models.append(model)
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], run_eagerly=run_eagerly)
        results.append([model.train_on_batch(X8[:16], Y3[:16]) for _ in range(3)]
                       + [model.test_on_batch(X8[16:32], Y3[16:32]),
                          model.predict_on_batch(X8[:5]).tolist()])
    assert results[0] == results[1]
    traced = models[0]
    assert traced.make_train_function() is traced.train_function
    assert traced.train_function.tracing_count == 1
    # Keras's own call: an iterator of batches, steps_per_execution steps per call
    logs = traced.train_function(iter([(tf.constant(X8[:16]), tf.constant(Y3[:16]))]))
    assert set(logs) == {"loss", "accuracy"}


class _Batches(keras.utils.PyDataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return X8[index * 20:(index + 1) * 20], Y3[index * 20:(index + 1) * 20]


def test_dataset_and_py_dataset_inputs_identical():
    def dataset():
        return tf.data.Dataset.from_tensor_slices((X8, Y3)).shuffle(70).batch(25)

    _assert_same(_dense_dropout_batchnorm, x=dataset, y=None, batch_size=None)
    model, _ = _assert_same(_dense_dropout_batchnorm, x=_Batches(), y=None, batch_size=None)
    assert model.train_function.tracing_count == 2  # 20 rows, then 10


class _ReadsValues(layers.Layer):
    """A layer that decides in Python on a tensor's value: it cannot be traced."""

    def call(self, x):
        return x * 2.0 if float(tf.reduce_sum(x).numpy()) > 0 else x


def test_untraceable_model_falls_back_to_eager_with_a_logged_reason(caplog):
    def make():
        return keras.Sequential([layers.Dense(4, input_shape=(8,)), layers.Dropout(0.5),
                                 layers.BatchNormalization(), _ReadsValues(), layers.Dense(3)])

    with caplog.at_level(logging.WARNING, logger="tensorflowish.keras"):
        eager_history, eager_weights, _ = _train(make, True)
        traced_history, traced_weights, model = _train(make, False)
    assert "train_function runs eagerly" in caplog.text
    assert "OperatorNotAllowedInGraphError" in caplog.text
    assert model.train_function.eager_reason is not None
    # the failed trace's side effects (random draws, moving statistics) were undone
    assert traced_history == eager_history
    for traced, eager in zip(traced_weights, eager_weights):
        np.testing.assert_array_equal(traced, eager)


SEQUENCES = RNG.normal(size=(40, 5, 4)).astype(np.float32)
IMAGES = RNG.normal(size=(40, 8, 8, 3)).astype(np.float32)

MORE_MODELS = {
    "gru": (lambda: keras.Sequential([layers.GRU(4, input_shape=(5, 4)), layers.Dense(3)]),
            SEQUENCES),
    "bidirectional simple rnn": (lambda: keras.Sequential([
        layers.Bidirectional(layers.SimpleRNN(4, return_sequences=True), input_shape=(5, 4)),
        layers.GlobalAveragePooling1D(), layers.Dense(3)]), SEQUENCES),
    "noise layers": (lambda: keras.Sequential([
        layers.GaussianNoise(0.1, input_shape=(8,)), layers.GaussianDropout(0.2),
        layers.AlphaDropout(0.1), layers.Dense(3)]), X8[:40]),
    "random image augmentation": (lambda: keras.Sequential([
        layers.RandomFlip(input_shape=(8, 8, 3)), layers.RandomRotation(0.1),
        layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)]), IMAGES),
    "regularizers, nested model": (lambda: keras.Sequential([
        keras.Sequential([layers.Dense(8, activation="relu", kernel_regularizer="l2",
                                       input_shape=(8,)), layers.Dropout(0.2)]),
        layers.ActivityRegularization(l1=0.01), layers.Dense(3)]), X8[:40]),
}


@pytest.mark.parametrize("name", sorted(MORE_MODELS))
def test_more_model_kinds_identical(name):
    make, x = MORE_MODELS[name]
    model, _ = _assert_same(make, x=x, y=Y3[:40], batch_size=16, epochs=2)
    assert model.train_function.tracing_count == 2  # 16 rows, then 8


def test_mixed_precision_and_learning_rate_schedule_identical():
    def make():
        return keras.Sequential([layers.Dense(8, activation="relu", input_shape=(8,)),
                                 layers.Dense(3, dtype="float32")])

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:  # compile wraps the optimiser in a LossScaleOptimizer: its checks run at each replay
        _assert_same(make, callbacks=[
            keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate * 0.5)])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_freezing_a_layer_after_fit_retraces_as_eager_would():
    results = []
    for run_eagerly in (True, False):
        tf.random.set_seed(2)
        model = keras.Sequential([layers.Dense(4, input_shape=(8,)), layers.Dense(3)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      run_eagerly=run_eagerly)
        model.fit(X8, Y3, epochs=1, verbose=0)
        frozen = model.layers[0].get_weights()
        model.layers[0].trainable = False  # no recompile: the next fit must not train it
        model.fit(X8, Y3, epochs=1, verbose=0)
        for before, after in zip(frozen, model.layers[0].get_weights()):
            np.testing.assert_array_equal(before, after)
        results.append(model.get_weights())
    for eager, traced in zip(*results):
        np.testing.assert_array_equal(eager, traced)


def test_steps_per_execution_identical():
    model, _ = _assert_same(_dense_dropout_batchnorm, compile_kwargs={"steps_per_execution": 2},
                            validation_data=(X8[:20], Y3[:20]), validation_batch_size=8)
    assert model.train_function.tracing_count == 2
    assert model.test_function.tracing_count == 2  # batches of 8, then 4


def test_python_generator_input_identical():
    def batches():  # made after the seed, for each run
        def generate():
            for start in range(0, 70, 25):
                yield X8[start:start + 25], Y3[start:start + 25]
        return generate()

    model, _ = _assert_same(_dense_dropout_batchnorm, x=batches, y=None, batch_size=None,
                            epochs=1)
    assert model.train_function.tracing_count == 2  # 25 rows, then 20


def test_many_batch_shapes_stop_tracing_with_a_logged_reason(caplog):
    def batches():  # sizes 1, 2, ..., 10: ten signatures
        def generate():
            start = 0
            for size in range(1, 11):
                yield X8[start:start + size], Y3[start:start + size]
                start += size
        return generate()

    with caplog.at_level(logging.WARNING, logger="tensorflowish.keras"):
        eager_history, eager_weights, _ = _train(_dense_dropout_batchnorm, True, x=batches,
                                                 y=None, batch_size=None, epochs=1)
        history, weights, model = _train(_dense_dropout_batchnorm, False, x=batches, y=None,
                                         batch_size=None, epochs=1)
    assert model.train_function.tracing_count == 8
    assert "more than 8 signatures" in caplog.text
    assert history == eager_history
    for traced, eager in zip(weights, eager_weights):
        np.testing.assert_array_equal(traced, eager)


class _ReturnsMetricsResult(_CustomStep):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = self.compute_loss(x, y, self(x, training=True))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self.get_metrics_result()  # read at every replay, not frozen at the trace


def test_custom_step_returning_get_metrics_result_identical():
    seen = {True: [], False: []}

    class Watch(keras.callbacks.Callback):
        def __init__(self, into):
            super().__init__()
            self.into = into

        def on_train_batch_end(self, batch, logs=None):
            self.into.append(float(logs["loss"]))

    for run_eagerly in (True, False):
        _train(_ReturnsMetricsResult, run_eagerly, callbacks=[Watch(seen[run_eagerly])])
    assert seen[False] == seen[True] and len(set(seen[False])) > 1


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_dynamic_loss_scale_changes_alike_traced_and_eager():
    from tensorflowish.keras.mixed_precision import LossScaleOptimizer

    def make():
        return keras.Sequential([layers.Dense(8, activation="relu", input_shape=(8,)),
                                 layers.Dense(3, dtype="float32")])

    scales = []
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:  # float16 overflows at 2**20: steps are skipped and the scale halves, then grows
        for run_eagerly in (True, False):
            optimizer = LossScaleOptimizer(keras.optimizers.Adam(), initial_scale=2.0 ** 20,
                                           dynamic_growth_steps=2)
            scales.append(_train(make, run_eagerly, compile_kwargs={"optimizer": optimizer},
                                 batch_size=8, epochs=2)[:2])
            scales[-1] += (float(optimizer.dynamic_scale.numpy()),)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    (eager_history, eager_weights, eager_scale), (history, weights, scale) = scales
    assert scale == eager_scale != 2.0 ** 20
    assert history == eager_history
    for traced, eager in zip(weights, eager_weights):
        np.testing.assert_array_equal(traced, eager)


def test_compile_config_keeps_run_eagerly_and_steps_per_execution(tmp_path):
    model = _dense_dropout_batchnorm()
    model.compile("adam", "sparse_categorical_crossentropy", run_eagerly=True,
                  steps_per_execution=2)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.run_eagerly is True and loaded.steps_per_execution == 2
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        compile_config = json.loads(archive.read("config.json"))["compile_config"]
    assert compile_config["run_eagerly"] is True and compile_config["jit_compile"] is False


def test_an_overridden_make_train_function_is_what_fit_calls():
    calls = []

    class OwnFunction(keras.Sequential):
        def make_train_function(self, force=False):  # Keras's contract: set, return nothing
            def train_function(iterator):
                batch = next(iterator)
                calls.append(len(batch[0]))
                return self.train_step(batch)
            self.train_function = train_function

    model = OwnFunction([layers.Dense(3, input_shape=(8,))])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(X8, Y3, batch_size=32, epochs=1, verbose=0)
    assert calls == [32, 32, 6] and np.isfinite(history.history["loss"][0])


class _AddsLoss(layers.Layer):
    def call(self, x):
        self.add_loss(0.1 * tf.reduce_mean(tf.square(x)))
        return x


def test_add_loss_in_call_identical_and_refreshed_by_each_replay():
    model, eager = _assert_same(lambda: keras.Sequential([
        layers.Dense(4, input_shape=(8,), activity_regularizer="l2"), _AddsLoss(),
        layers.Dense(3)]), epochs=2)
    # the last batch's losses (a replay's), not the trace's batch's
    assert len(model.losses) == len(eager.losses) == 2
    assert [float(v) for v in model.losses] == [float(v) for v in eager.losses]
