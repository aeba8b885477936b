"""Models and the training loop: Sequential, subclassed models, fit/evaluate/predict, callbacks."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.keras.models import MetricsContainer


def blobs(n=240, seed=0):
    """Three well-separated Gaussian blobs in 4-D: an easy classification problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    x = (centers[y] + rng.normal(scale=0.5, size=(n, 4))).astype(np.float32)
    return x, y


def small_model(units=3):
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(16, activation="relu", input_shape=(4,)),
            tf.keras.layers.Dense(units),
        ]
    )


def compiled(units=3, metrics=("accuracy",), optimizer=None):
    tf.random.set_seed(0)
    model = small_model(units)
    model.compile(
        optimizer=optimizer or tf.keras.optimizers.Adam(0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics),
    )
    return model


def test_fit_learns_and_returns_history(capsys):
    x, y = blobs()
    model = compiled()
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert history.epoch == list(range(8))
    assert set(history.history) == {"loss", "accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.95
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.95 and loss < 0.3
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] == accuracy
    predictions = model.predict(x, verbose=0)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (240, 3)
    assert capsys.readouterr().out == ""


def test_accuracy_string_resolves_from_shapes_like_keras():
    x, y = blobs(30)
    container = MetricsContainer(["accuracy"], tf.keras.losses.SparseCategoricalCrossentropy())
    container.update_state(tf.constant(y), tf.constant(np.eye(3)[y]))
    assert type(container.metrics[0]).__name__ == "SparseCategoricalAccuracy"
    container = MetricsContainer(["accuracy"], tf.keras.losses.CategoricalCrossentropy())
    container.update_state(tf.constant(np.eye(3)[y]), tf.constant(np.eye(3)[y]))
    assert type(container.metrics[0]).__name__ == "CategoricalAccuracy"
    container = MetricsContainer(["acc"], tf.keras.losses.BinaryCrossentropy())
    container.update_state(tf.constant([[1.0]]), tf.constant([[0.7]]))
    assert type(container.metrics[0]).__name__ == "BinaryAccuracy"
    assert container.metrics[0].name == "acc"


def test_one_line_per_epoch_when_not_a_terminal(capsys):
    x, y = blobs(64)
    model = compiled()
    model.fit(x, y, batch_size=16, epochs=3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/3 - 4/4 - ") and "loss: " in lines[0]
    assert "accuracy: " in lines[2] and "\r" not in lines[2]


def test_progress_bar_redraws_in_place_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    monkeypatch.setattr("sys.stdout", stream)
    x, y = blobs(64)
    compiled().fit(x, y, batch_size=16, epochs=1)
    text = stream.getvalue()
    assert text.startswith("Epoch 1/1\n") and "\r4/4 [" in text and "=]" in text


def test_validation_split_and_validation_data():
    x, y = blobs()
    model = compiled()
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert {"val_loss", "val_accuracy"} <= set(history.history)
    history = model.fit(x, y, epochs=1, validation_data=(x[:20], y[:20]), verbose=0)
    assert len(history.history["val_loss"]) == 1
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)


def test_fit_on_a_dataset_and_evaluate_on_one():
    x, y = blobs()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(240, seed=1).batch(32)
    model = compiled()
    history = model.fit(dataset, epochs=6, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert model.evaluate(dataset, verbose=0)[1] > 0.9
    with pytest.raises(ValueError, match="y must be None"):
        model.fit(dataset, y, verbose=0)
    infinite = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(infinite, epochs=1, verbose=0)
    history = model.fit(infinite, epochs=2, steps_per_epoch=3, verbose=0)
    assert int(model.optimizer.iterations) >= 3


def test_sample_weight_zero_ignores_examples():
    x, y = blobs(64)
    model = compiled(metrics=())
    weights = np.zeros(64, dtype=np.float32)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, sample_weight=weights, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)  # zero loss: Adam's first steps are zero


def test_subclassed_model_tracks_layers_and_trains():
    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = tf.keras.layers.Dense(16, activation="relu")
            self.norm = tf.keras.layers.BatchNormalization()
            self.out = tf.keras.layers.Dense(3)

        def call(self, x, training=False):
            return self.out(self.norm(self.hidden(x), training=training))

    tf.random.set_seed(0)
    model = Net()
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    x, y = blobs()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=5, verbose=0)
    assert [layer.name for layer in model.layers] == [
        model.hidden.name,
        model.norm.name,
        model.out.name,
    ]
    assert len(model.trainable_variables) == 6 and len(model.non_trainable_variables) == 2
    assert model.evaluate(x, y, verbose=0)[1] > 0.9
    assert np.abs(model.norm.moving_mean.numpy()).sum() > 0


def test_custom_train_step_like_the_keras_guide():
    class Custom(tf.keras.Sequential):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    tf.random.set_seed(0)
    model = Custom([tf.keras.layers.Dense(3)])
    model.compile(
        optimizer=tf.keras.optimizers.SGD(0.1),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x, y = blobs()
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.8


def test_summary_lists_layers_shapes_and_parameters(capsys):
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(8, 8)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.Dense(10),
        ],
        name="digits",
    )
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "digits"' in out
    assert "(None, 64)" in out and "(None, 128)" in out and "(None, 10)" in out
    assert "8,320" in out and "1,290" in out
    assert "Total params: 10,122" in out and "Non-trainable params: 256" in out
    assert len(model.layers) == 4


def test_model_errors_are_clear():
    model = small_model()
    x, y = blobs(10)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="x has 10, y has 9"):
        model.fit(x, y[:9], verbose=0)
    with pytest.raises(TypeError, match="instance, not the class"):
        tf.keras.Sequential([tf.keras.layers.Flatten])
    with pytest.raises(ValueError, match="needs both inputs= and outputs="):
        tf.keras.Model(inputs=tf.keras.Input(shape=(2,)))
    with pytest.raises(NotImplementedError, match="no call"):
        tf.keras.Model()(tf.ones((1, 2)))
    with pytest.raises(ValueError, match="a batch first"):  # a generator of scalars, not batches
        model.fit((i for i in range(3)), verbose=0)


def test_early_stopping_restores_best_weights():
    class Scripted(tf.keras.callbacks.Callback):
        """Feed EarlyStopping a fixed val_loss sequence."""

        values = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9]

        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = self.values[epoch]

    x, y = blobs(32)
    model = compiled()
    stopper = tf.keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    saved = {}

    class Snapshot(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved[epoch] = [w.copy() for w in self.model.get_weights()]

    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[Scripted(), Snapshot(), stopper])
    assert history.epoch == [0, 1, 2, 3] and stopper.stopped_epoch == 3
    for a, b in zip(model.get_weights(), saved[1]):
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    x, y = blobs(64)
    x[5] = np.nan
    model = compiled()
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[tf.keras.callbacks.TerminateOnNaN()],
    )
    assert len(history.epoch) == 1 and math.isnan(history.history["loss"][0])
    assert "Invalid loss" in capsys.readouterr().out


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = blobs(32)
    model = compiled(optimizer=tf.keras.optimizers.SGD(0.1))
    seen = []

    class Record(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))

    scheduler = tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[scheduler, Record()])
    assert seen == pytest.approx([0.05, 0.025, 0.0125])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])


def test_model_checkpoint_saves_best_only(tmp_path):
    x, y = blobs(64)
    model = compiled()
    path = tmp_path / "best-{epoch:02d}.safetensors"
    checkpoint = tf.keras.callbacks.ModelCheckpoint(str(path), monitor="loss", save_best_only=True)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[checkpoint])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["best-01.safetensors", "best-02.safetensors", "best-03.safetensors"]
    fresh = small_model()
    fresh.load_weights(tmp_path / "best-03.safetensors")
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_batch_hooks_and_lambda_callback():
    x, y = blobs(64)
    batches = []
    callback = tf.keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append((batch, logs["loss"]))
    )
    compiled().fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    assert [b for b, _ in batches] == [0, 1, 2, 3] * 2
    assert all(isinstance(loss, float) for _, loss in batches)


def test_train_test_predict_on_batch():
    x, y = blobs(32)
    model = compiled()
    loss, accuracy = model.train_on_batch(x, y)
    assert loss > 0 and 0 <= accuracy <= 1
    assert model.test_on_batch(x, y, return_dict=True).keys() == {"loss", "accuracy"}
    assert model.predict_on_batch(x).shape == (32, 3)


def test_weights_round_trip_and_set_weights():
    model = compiled()
    other = small_model()
    other.set_weights(model.get_weights())
    x, _ = blobs(8)
    np.testing.assert_allclose(other.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="4 weights but set_weights got 1"):
        other.set_weights([np.zeros(3)])


def test_sequential_add_pop_input_and_build():
    model = tf.keras.Sequential(name="stack")
    model.add(tf.keras.Input(shape=(5,)))
    model.add(tf.keras.layers.Dense(4))
    assert model.built and model.count_params() == 24
    model.add(tf.keras.layers.Dense(2))
    assert model.predict(np.ones((3, 5), np.float32), verbose=0).shape == (3, 2)
    removed = model.pop()
    assert isinstance(removed, tf.keras.layers.Dense) and len(model.layers) == 1
    lazy = tf.keras.Sequential([tf.keras.layers.Dense(3)])
    assert not lazy.weights
    lazy.build((None, 7))
    assert lazy.layers[0].kernel.shape.as_list() == [7, 3]
    with pytest.raises(ValueError, match="build needs every dimension"):
        tf.keras.Model.build(lazy, (None, None))


def test_utilities():
    np.testing.assert_array_equal(
        tf.keras.utils.to_categorical([0, 2], num_classes=3), [[1, 0, 0], [0, 0, 1]]
    )
    assert tf.keras.backend.floatx() == "float32"
    tf.keras.utils.set_random_seed(4)
    a = tf.keras.layers.Dense(2)(tf.ones((1, 2))).numpy()
    tf.keras.utils.set_random_seed(4)
    b = tf.keras.layers.Dense(2)(tf.ones((1, 2))).numpy()
    np.testing.assert_array_equal(a, b)
    bar_stream = io.StringIO()
    bar = tf.keras.utils.Progbar(4, stream=bar_stream)
    for step in range(1, 5):
        bar.update(step, {"loss": 0.25})
    assert bar_stream.getvalue().strip() == bar_stream.getvalue().strip().splitlines()[0]
    assert "4/4" in bar_stream.getvalue() and "loss: 0.2500" in bar_stream.getvalue()


def test_structure_cache_sees_in_place_list_changes():
    class Growing(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [tf.keras.layers.Dense(2)]

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    model = Growing()
    model(tf.ones((1, 2)))
    assert len(model.trainable_variables) == 2
    model.blocks.append(tf.keras.layers.Dense(2))
    model(tf.ones((1, 2)))
    assert len(model.trainable_variables) == 4


def test_unbatched_datasets_and_batch_size_with_a_dataset_are_clear_errors():
    x, y = blobs(16)
    model = compiled()
    with pytest.raises(ValueError, match="single examples.*batch\\(32\\)"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)), verbose=0)
    with pytest.raises(ValueError, match="batch_size must not be given"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), batch_size=4, verbose=0)


def test_functional_api_like_the_keras_guide(capsys):
    tf.random.set_seed(0)
    inputs = tf.keras.Input(shape=(4,), name="features")
    hidden = tf.keras.layers.Dense(16, activation="relu")(inputs)
    hidden = tf.keras.layers.Dropout(0.1)(hidden)
    outputs = tf.keras.layers.Dense(3)(hidden)
    model = tf.keras.Model(inputs=inputs, outputs=outputs, name="functional")
    assert outputs.shape.as_list() == [None, 3] and "dense" in repr(outputs)
    assert len(model.layers) == 3 and len(model.trainable_variables) == 4
    model.summary()
    assert "(None, 16)" in capsys.readouterr().out
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x, y = blobs()
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.9


def test_functional_api_with_two_inputs_and_shared_layers():
    left, right = tf.keras.Input(shape=(3,)), tf.keras.Input(shape=(3,))
    shared = tf.keras.layers.Dense(2)
    merged = tf.keras.layers.Concatenate()([shared(left), shared(right)])
    total = tf.keras.layers.Add()([merged, merged])
    model = tf.keras.Model([left, right], total)
    assert len(model.trainable_variables) == 2
    a, b = np.ones((5, 3), np.float32), np.zeros((5, 3), np.float32)
    result = model([a, b]).numpy()
    expected = 2 * np.concatenate(
        [
            a @ shared.kernel.numpy() + shared.bias.numpy(),
            b @ shared.kernel.numpy() + shared.bias.numpy(),
        ],
        axis=1,
    )
    np.testing.assert_allclose(result, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="2 inputs"):
        model(a)
    with pytest.raises(ValueError, match="not in Model\\(inputs"):
        tf.keras.Model(left, total)
    with pytest.raises(TypeError, match="Lambda"):
        tf.nn.relu(left)


def test_fit_evaluate_predict_on_each_backend(device):
    x, y = blobs(96)
    model = compiled()
    assert model.layers[0].kernel.device.endswith(device)
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0, validation_split=0.25)
    assert history.history["accuracy"][-1] > 0.8
    assert isinstance(model.predict(x, verbose=0), np.ndarray)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(96, seed=0).batch(32)
    first_x, _ = next(iter(dataset))
    assert first_x.device.endswith(device)
    assert model.evaluate(dataset, verbose=0)[1] > 0.8


def test_a_two_input_model_takes_a_list_of_arrays_in_fit_evaluate_predict():
    first, second = tf.keras.Input((3,)), tf.keras.Input((2,))
    joined = tf.keras.layers.Concatenate()([first, second])
    model = tf.keras.Model([first, second], tf.keras.layers.Dense(1)(joined))
    x0 = np.arange(15, dtype=np.float32).reshape(5, 3)
    x1 = np.ones((5, 2), np.float32)
    expected = model([tf.constant(x0), tf.constant(x1)]).numpy()
    # Keras: a list (or tuple) of arrays is one array per input, never (x, y)
    np.testing.assert_allclose(model.predict([x0, x1], verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict((x0, x1), verbose=0), expected, rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit([x0, x1], np.ones((5, 1), np.float32), epochs=1, verbose=0,
                        validation_split=0.2)
    assert sorted(history.history) == ["loss", "val_loss"]
    assert np.isfinite(model.evaluate([x0, x1], np.ones((5, 1), np.float32), verbose=0))
