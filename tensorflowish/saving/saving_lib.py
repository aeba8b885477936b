"""Whole models in Keras 3's ``.keras`` format, and weights by file name.

A ``.keras`` file is an uncompressed zip of ``metadata.json``, ``config.json`` (the model's
config with ``build_config`` and ``compile_config``) and ``model.weights.h5`` (see
:mod:`tensorflowish.saving.weights_h5`), exactly as Keras 3 writes it, so files cross both
ways. Files are written atomically with the user's umask; loading checks the zip's CRCs and the
weights before anything is assigned, and never runs code from the file unless
``safe_mode=False``.

    >>> import os, tempfile, numpy as np, tensorflowish as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> again = tf.keras.models.load_model(path)
    >>> x = np.ones((1, 3), "float32")
    >>> bool(np.allclose(again.predict(x, verbose=0), model.predict(x, verbose=0)))
    True
"""

from __future__ import annotations

import datetime
import io
import json
import os
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

from tensorflowish import errors
from tensorflowish.atomic import atomic_write
from tensorflowish.saving import model_config, serialization_lib, weights_h5

__all__ = ["clone_model", "load_model", "load_weights", "model_from_json", "save_model",
           "save_weights"]

KERAS_VERSION = "3.15.1"  # the Keras version whose format these files follow
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


def _compile_config(model: Any) -> dict | None:
    if not getattr(model, "_is_compiled", False):
        return None
    loss = model.compiled_loss.loss if model.compiled_loss is not None else None
    metrics = model.compiled_metrics._specs if model.compiled_metrics is not None else None
    serialize = serialization_lib.serialize_keras_object
    return {
        "optimizer": serialize(model.optimizer),
        "loss": _loss_or_metric(loss), "loss_weights": None,
        "metrics": [_loss_or_metric(m) for m in metrics] if metrics else None,
        "weighted_metrics": None, "run_eagerly": bool(model.run_eagerly),
        "steps_per_execution": int(getattr(model, "steps_per_execution", 1) or 1),
        "jit_compile": bool(model.jit_compile),
    }  # fmt: skip


def _loss_or_metric(value: Any) -> Any:
    from tensorflowish.keras import losses

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, losses.LossFunctionWrapper) and type(value) is losses.LossFunctionWrapper:
        return serialization_lib.serialize_function(value.fn)
    return serialization_lib.serialize_keras_object(value)


def model_to_config(model: Any) -> dict:
    """The model's ``config.json`` content (with build and compile configs)."""
    config = serialization_lib.serialize_keras_object(model)
    compile_config = _compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    spec = getattr(model, "_input_spec", None)
    if "build_config" not in config and spec is not None:
        config["build_config"] = {"input_shape": model_config._shape_list(spec)}
    return config


def _check_built(model: Any, what: str) -> None:
    from tensorflowish.keras.models import Model

    unbuilt = [layer.name for layer in model._flatten_layers(include_self=False)
               if not layer.built]
    if isinstance(model, Model) and (not model.built or unbuilt):
        raise errors.FailedPreconditionError(
            f"{what}: model '{model.name}' is not built yet"
            + (f" (unbuilt layers: {', '.join(unbuilt)})" if unbuilt else "")
            + ". Build it first: call it on a batch, call model.build(input_shape), or start it "
            "with tf.keras.Input(shape=...)."
        )


def save_model(model: Any, filepath: str | os.PathLike, overwrite: bool = True,
               zipped: bool | None = None, **kwargs: Any) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` file (atomically)."""
    path = os.fspath(filepath)
    if not path.endswith(".keras"):
        if path.endswith(".h5") or path.endswith(".hdf5"):
            raise errors.InvalidArgumentError(
                f"model.save('{path}'): the legacy HDF5 whole-model format is not supported. "
                "Save with a .keras name, or save only the weights with "
                "model.save_weights('x.weights.h5')."
            )
        raise errors.InvalidArgumentError(
            f"model.save('{path}'): the file name must end in .keras (Keras 3's format). For a "
            "tf.Module use tf.saved_model.save(module, folder)."
        )
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False.")
    # An unbuilt model is saved as Keras saves it: its config, and the weights it has (none)
    config = json.dumps(model_to_config(model))
    weights = weights_h5.write_weights(model)
    metadata = json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    })

    def write(stream: Any) -> None:
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, metadata)
            archive.writestr(_CONFIG, config)
            archive.writestr(_WEIGHTS, weights)

    atomic_write(path, write)


def _read_archive(path: str) -> tuple[dict, bytes]:
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        raise errors.NotFoundError(f"No file or directory found at {path}.") from None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            damaged = archive.testzip()
            if damaged is not None:
                raise errors.DataLossError(
                    f"{path} is damaged: the CRC of its member '{damaged}' does not match. "
                    "Re-create the file, or restore it from a backup."
                )
            names = set(archive.namelist())
            for member in (_CONFIG, _WEIGHTS):
                if member not in names:
                    raise errors.DataLossError(
                        f"{path} is not a complete .keras file: it has no {member} (it holds "
                        f"{sorted(names)})."
                    )
            config = json.loads(archive.read(_CONFIG))
            weights = archive.read(_WEIGHTS)
    except zipfile.BadZipFile as error:
        raise errors.DataLossError(
            f"{path} is damaged or is not a .keras file (a zip archive): {error}."
        ) from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise errors.DataLossError(f"{path}: its config.json is not valid JSON ({error}).") \
            from error
    return config, weights


def load_model(filepath: str | os.PathLike, custom_objects: Mapping[str, Any] | None = None,
               compile: bool = True, safe_mode: bool = True) -> Any:
    """A model from a ``.keras`` file (written here or by Keras 3), with its weights and, when
    ``compile``, its optimizer, loss and metrics."""
    path = os.fspath(filepath)
    if os.path.isdir(path):
        raise errors.InvalidArgumentError(
            f"{path} is a folder. A TensorFlow SavedModel cannot be loaded as a Keras model "
            "here: load tf.saved_model folders written by tensorflowish with "
            "tf.saved_model.load, and Keras models from .keras files."
        )
    if not path.endswith(".keras"):
        raise errors.InvalidArgumentError(
            f"load_model('{path}'): expected a .keras file (Keras 3's format); legacy .h5 "
            "whole-model files are not supported."
        )
    config, weights = _read_archive(path)
    stored = weights_h5.read_weights(weights, path)
    model = deserialize_model(config, custom_objects, safe_mode, compile)
    weights_h5.apply_weights(model, stored, path, load_optimizer=compile)
    return model


def deserialize_model(config: Mapping, custom_objects: Any, safe_mode: bool = True,
                      compile: bool = True) -> Any:
    """A model from its config (``build_config`` and ``compile_config`` applied)."""
    with serialization_lib.SafeModeScope(safe_mode):
        model = serialization_lib._deserialize(dict(config), custom_objects)
        build = config.get("build_config") or {}
        if not model.built or not model.weights:
            shape = build.get("input_shape")
            if shape is not None:
                model_config.build_layer(model, shape)
        compile_config = config.get("compile_config")
        if compile and compile_config:
            _compile_from_config(model, compile_config, custom_objects)
    return model


def _compile_from_config(model: Any, config: Mapping, custom_objects: Any) -> None:
    def item(value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return serialization_lib._deserialize(value, custom_objects)
        return value

    try:
        optimizer = item(config.get("optimizer"))
        loss = item(config.get("loss"))
        metrics = config.get("metrics")
        metrics = [item(m) for m in metrics] if metrics else None
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                      run_eagerly=bool(config.get("run_eagerly", False)),
                      steps_per_execution=config.get("steps_per_execution") or 1,
                      jit_compile=config.get("jit_compile", "auto"))
    except (errors.OpError, ValueError, TypeError, NotImplementedError) as error:
        warnings.warn(
            f"The model's compile_config could not be restored ({error}); the model is loaded "
            "uncompiled. Call model.compile(...) yourself.",
            stacklevel=4,
        )


def model_from_json(json_string: str, custom_objects: Mapping[str, Any] | None = None) -> Any:
    """A model (new weights) from ``model.to_json()``."""
    return deserialize_model(json.loads(json_string), custom_objects, compile=False)


def to_json(model: Any, **kwargs: Any) -> str:
    """The model's config as a JSON string (Keras's ``model.to_json``)."""
    config = serialization_lib.serialize_keras_object(model)
    return json.dumps(config, **kwargs)


def clone_model(model: Any, input_tensors: Any = None, clone_function: Any = None,
                **kwargs: Any) -> Any:
    """A new model with the same architecture and freshly initialised weights."""
    if input_tensors is not None or clone_function is not None:
        raise errors.UnimplementedError(
            "clone_model(input_tensors=..., clone_function=...) is not supported; clone the "
            "whole model and change it afterwards."
        )
    config = serialization_lib.serialize_keras_object(model)
    if "build_config" not in config and getattr(model, "_input_spec", None) is not None:
        config["build_config"] = {"input_shape": model_config._shape_list(model._input_spec)}
    clone = deserialize_model(config, None, compile=False)
    if model_config.is_functional(model) or getattr(model, "_input_spec", None) is not None:
        return clone
    return clone


def save_weights(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Weights to ``*.weights.h5`` (Keras's HDF5 layout) or ``*.safetensors``, by name."""
    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False.")
    if path.endswith(".safetensors"):
        return None  # the caller writes its own safetensors format
    if not path.endswith(".weights.h5"):
        raise errors.InvalidArgumentError(
            f"save_weights('{path}'): the file name must end in .weights.h5 (Keras's HDF5 "
            "layout) or .safetensors."
        )
    _check_built(model, "save_weights")
    atomic_write(path, weights_h5.write_weights(model))
    return None


def load_weights(model: Any, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Weights from a ``*.weights.h5`` file (or a ``.keras`` file's weights)."""
    path = os.fspath(filepath)
    if path.endswith(".keras"):
        _, data = _read_archive(path)
    else:
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            raise errors.NotFoundError(f"No weight file at {path}.") from None
    _check_built(model, "load_weights")
    weights_h5.apply_weights(model, weights_h5.read_weights(data, path), path,
                             skip_mismatch=skip_mismatch)
