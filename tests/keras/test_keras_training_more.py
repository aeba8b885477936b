"""fit() as Keras 3 runs it: class weights, weighted metrics, generators and PyDataset,
steps_per_execution, validation frequency, history keys; expectations worked out by hand or
printed by Keras 3.15 for the same settings."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import tensorflowish as tf

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3)).astype("float32")
Y = (X[:, 0] > 0).astype("int32")


def _model(kernel="glorot_uniform", lr=0.01):
    model = tf.keras.Sequential([tf.keras.Input((3,)),
                                 tf.keras.layers.Dense(2, activation="softmax",
                                                       kernel_initializer=kernel)])
    model.compile(tf.keras.optimizers.SGD(lr), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_class_weight_scales_each_example_loss():
    # equal logits: every example's loss is log 2; weights 1 (class 0) and 3 (class 1)
    model = _model(kernel="ones", lr=0.0)
    plain = model.fit(X, Y, epochs=1, batch_size=40, shuffle=False, verbose=0)
    weighted = model.fit(X, Y, epochs=1, batch_size=40, shuffle=False, verbose=0,
                         class_weight={0: 1.0, 1: 3.0})
    ones = int(Y.sum())
    assert plain.history["loss"][0] == pytest.approx(math.log(2))
    want = math.log(2) * (40 - ones + 3 * ones) / 40
    assert weighted.history["loss"][0] == pytest.approx(want, rel=1e-6)
    assert want == pytest.approx(1.3516371, rel=1e-6)  # Keras printed this for the same data
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(40)
    from_dataset = model.fit(dataset, epochs=1, verbose=0, class_weight={0: 1.0, 1: 3.0})
    assert from_dataset.history["loss"][0] == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="keys 0 to 1"):
        model.fit(X, Y, verbose=0, class_weight={0: 1.0, 2: 3.0})


def test_class_weight_reads_one_hot_targets_and_multiplies_sample_weights():
    model = tf.keras.Sequential([tf.keras.Input((3,)),
                                 tf.keras.layers.Dense(2, activation="softmax",
                                                       kernel_initializer="ones")])
    model.compile(tf.keras.optimizers.SGD(0.0), "categorical_crossentropy")
    one_hot = np.eye(2, dtype="float32")[Y]
    sample = np.linspace(0.5, 1.5, 40).astype("float32")
    history = model.fit(X, one_hot, epochs=1, batch_size=40, verbose=0, sample_weight=sample,
                        class_weight={0: 2.0, 1: 0.5})
    weights = sample * np.where(Y == 1, 0.5, 2.0)
    assert history.history["loss"][0] == pytest.approx(math.log(2) * weights.mean(), rel=1e-6)


def test_weighted_metrics_and_history_keys_match_keras():
    model = _model()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    weights = np.where(Y == 1, 3.0, 0.0).astype("float32")
    history = model.fit(X, Y, epochs=3, batch_size=8, verbose=0, sample_weight=weights,
                        validation_data=(X, Y), validation_freq=2)
    assert list(history.history) == ["accuracy", "loss", "weighted_accuracy", "val_accuracy",
                                     "val_loss", "val_weighted_accuracy"]
    assert len(history.history["loss"]) == 3 and len(history.history["val_loss"]) == 1
    results = model.evaluate(X, Y, sample_weight=weights, verbose=0, return_dict=True)
    predicted = model.predict(X, verbose=0).argmax(axis=1)
    assert results["accuracy"] == pytest.approx((predicted == Y).mean())
    assert results["weighted_accuracy"] == pytest.approx(
        ((predicted == Y) * weights).sum() / weights.sum(), rel=1e-6)


def test_validation_freq_as_list_and_validation_dataset():
    model = _model()
    validation = tf.data.Dataset.from_tensor_slices((X, Y)).batch(16)
    history = model.fit(X, Y, epochs=4, verbose=0, validation_data=validation,
                        validation_freq=[1, 4])
    assert len(history.history["val_loss"]) == 2
    with pytest.raises(ValueError, match="validation_freq"):
        model.fit(X, Y, verbose=0, validation_data=(X, Y), validation_freq=0)


class Batches(tf.keras.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.epochs_ended = 0
        self.threads = set()

    def __len__(self):
        return 5

    def __getitem__(self, index):
        self.threads.add(threading.get_ident())
        return X[index * 8:(index + 1) * 8], Y[index * 8:(index + 1) * 8]

    def on_epoch_end(self):
        self.epochs_ended += 1


@pytest.mark.parametrize("workers", [1, 3])
def test_py_dataset_feeds_fit_evaluate_and_predict(workers):
    data = Batches(workers=workers, max_queue_size=2)
    model = _model()
    history = model.fit(data, epochs=2, verbose=0, validation_data=Batches())
    assert data.epochs_ended == 2 and len(history.history["val_loss"]) == 2
    if workers > 1:
        assert threading.get_ident() not in data.threads  # loaded in the pool
    assert model.predict(Batches(), verbose=0).shape == (40, 2)
    ordered = model.evaluate(Batches(), verbose=0, return_dict=True)
    assert ordered["loss"] == pytest.approx(model.evaluate(X, Y, verbose=0,
                                                           return_dict=True)["loss"], rel=1e-5)
    with pytest.raises(ValueError, match="batch_size must not be given"):
        model.fit(Batches(), batch_size=8, verbose=0)


def test_generator_runs_across_epochs_with_steps_per_epoch():
    def batches():
        while True:
            for i in range(5):
                yield X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]

    model = _model()
    history = model.fit(batches(), steps_per_epoch=5, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    finite = model.fit((b for b in [(X[:8], Y[:8]), (X[8:16], Y[8:16])]), epochs=1, verbose=0)
    assert len(finite.history["loss"]) == 1


def test_steps_per_execution_calls_batch_hooks_per_execution():
    seen = []
    model = _model()
    model.compile("sgd", "sparse_categorical_crossentropy", steps_per_execution=2)
    callback = tf.keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(Batches(), epochs=1, verbose=0, callbacks=[callback])
    assert seen == [1, 3, 5]  # as Keras 3 numbers them (5 steps, 2 per execution)
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.compile("sgd", "mse", steps_per_execution=0)


def test_fit_with_use_ema_ends_on_the_averaged_weights():
    model = _model(lr=0.5)
    model.compile(tf.keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.5),
                  "sparse_categorical_crossentropy")
    captured = []
    callback = tf.keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: captured.append(model.get_weights()))
    model.fit(X, Y, epochs=2, batch_size=40, verbose=0, callbacks=[callback])
    last_raw = captured[-1]
    # two steps: average = 0.5 * w1 + 0.5 * w2, not the raw last weights
    assert not np.allclose(model.get_weights()[0], last_raw[0])
