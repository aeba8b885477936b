"""tf.keras.mixed_precision: float32 variables with float16/bfloat16 compute, and dynamic loss
scaling (LossScaleOptimizer) as Keras 3 does it."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflowish as tf

mixed_precision = tf.keras.mixed_precision


@pytest.fixture(autouse=True)
def default_policy():
    yield
    mixed_precision.set_global_policy(None)


def test_policies():
    policy = mixed_precision.Policy("mixed_float16")
    assert (policy.name, policy.compute_dtype, policy.variable_dtype) == \
        ("mixed_float16", "float16", "float32")
    assert mixed_precision.Policy("mixed_bfloat16").compute_dtype == "bfloat16"
    assert mixed_precision.Policy("float64").variable_dtype == "float64"
    assert mixed_precision.global_policy().name == "float32"
    mixed_precision.set_global_policy("mixed_float16")
    assert mixed_precision.global_policy() == policy
    assert mixed_precision.Policy("int32").compute_dtype == "int32"  # an int32 Input's policy
    with pytest.raises(ValueError, match="mixed precision policy"):
        mixed_precision.Policy("mixed_int8")
    ids = tf.keras.Input((3,), dtype="int32")
    assert ids.dtype == tf.int32


def test_layer_computes_in_half_precision_with_float32_variables(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    reference = tf.keras.layers.Dense(2, activation="tanh")
    expected = reference(x).numpy()
    mixed_precision.set_global_policy("mixed_float16")
    layer = tf.keras.layers.Dense(2, activation="tanh")
    layer.build((None, 3))
    layer.set_weights(reference.get_weights())
    assert (layer.dtype, layer.compute_dtype, layer.kernel.dtype) == \
        ("float32", "float16", tf.float32)
    assert layer.get_config()["dtype"] == "mixed_float16"
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32))
    assert y.dtype == tf.float16
    np.testing.assert_allclose(y.numpy().astype(np.float32), expected, rtol=5e-3, atol=5e-3)
    kernel_gradient, bias_gradient = tape.gradient(loss, [layer.kernel, layer.bias])
    assert kernel_gradient.dtype == tf.float32  # through the cast, back to the variable's dtype
    with tf.GradientTape() as tape:
        loss32 = tf.reduce_sum(reference(x))
    np.testing.assert_allclose(kernel_gradient.numpy(),
                               tape.gradient(loss32, reference.kernel).numpy(), rtol=1e-2,
                               atol=1e-2)
    assert isinstance(layer.kernel, tf.Variable)  # the cast was only for the call


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_fit_under_a_mixed_policy_tracks_float32(policy, rng):
    x = rng.normal(size=(128, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)

    def train(policy_name):
        mixed_precision.set_global_policy(policy_name)
        tf.keras.utils.set_random_seed(3)
        model = tf.keras.Sequential([
            tf.keras.Input((6,)), tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(2),
            tf.keras.layers.Activation("softmax", dtype="float32")])
        model.compile(optimizer=tf.keras.optimizers.SGD(0.1),
                      loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=4, batch_size=32, verbose=0, shuffle=False)
        return model, history.history["loss"]

    model, losses = train(policy)
    _, reference = train("float32")
    wrapped = isinstance(model.optimizer, mixed_precision.LossScaleOptimizer)
    assert wrapped == (policy == "mixed_float16")  # Keras scales float16 losses only
    assert all(w.dtype == tf.float32 for w in model.weights)
    tolerance = 2e-2 if policy == "mixed_float16" else 6e-2
    np.testing.assert_allclose(losses, reference, rtol=tolerance)
    assert losses[-1] < losses[0]


def test_loss_scale_optimizer_dynamics():
    variable = tf.Variable([1.0, 2.0])
    optimizer = mixed_precision.LossScaleOptimizer(tf.keras.optimizers.SGD(0.5),
                                                   initial_scale=8.0, dynamic_growth_steps=2)
    assert float(optimizer.scale_loss(tf.constant(3.0))) == 24.0
    optimizer.apply_gradients([(tf.constant([8.0, 16.0]), variable)])  # = [1, 2] unscaled
    np.testing.assert_allclose(variable.numpy(), [0.5, 1.0])
    assert float(optimizer.dynamic_scale.numpy()) == 8.0
    optimizer.apply_gradients([(tf.constant([0.0, 0.0]), variable)])
    assert float(optimizer.dynamic_scale.numpy()) == 16.0  # two finite steps: doubled
    optimizer.apply_gradients([(tf.constant([np.inf, 1.0]), variable)])
    np.testing.assert_allclose(variable.numpy(), [0.5, 1.0])  # skipped
    assert float(optimizer.dynamic_scale.numpy()) == 8.0  # halved
    assert int(optimizer.iterations.numpy()) == 2
    assert optimizer.learning_rate == pytest.approx(0.5)


def test_a_mixed_model_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    mixed_precision.set_global_policy("mixed_float16")
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3),
                                 tf.keras.layers.Activation("softmax", dtype="float32")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "mixed.keras")
    mixed_precision.set_global_policy(None)
    loaded = tf.keras.models.load_model(tmp_path / "mixed.keras")
    assert loaded.layers[0].compute_dtype == "float16"
    assert loaded.layers[0].kernel.dtype == tf.float32
    assert isinstance(loaded.optimizer, tf.keras.optimizers.LossScaleOptimizer)
    assert isinstance(loaded.optimizer.inner_optimizer, tf.keras.optimizers.Adam)
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
