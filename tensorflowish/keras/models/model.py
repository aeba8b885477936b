"""``tf.keras.Model``: a layer that holds layers (subclassed or functional), its structure,
summary and weights on disk; the training loop comes from the trainer."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish import checkpoint
from tensorflowish.keras.layers import InputLayer, Layer
from tensorflowish.keras.models import functional
from tensorflowish.keras.trainers.compile_utils import LossesContainer, MetricsContainer
from tensorflowish.keras.trainers.trainer import Trainer

# tensorflowish.saving sits above the models (it rebuilds them from files and configs), so it is
# not imported here: that package hands itself down when it loads (saving/__init__.py).
_saving = None


class Model(Trainer, Layer):
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

    # --- the functional API ----------------------------------------------------------------

    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        """Model(inputs, outputs): collect the layers between symbolic inputs and outputs."""
        functional.init_graph(self, inputs, outputs)

    def _run_graph(self, inputs: Any, training: bool | None) -> Any:
        return functional.run_graph(self, inputs, training)

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
        if not self.built:
            from tensorflowish.keras.layers.keras_tensor import _shape_of

            object.__setattr__(self, "_build_input_shape", _shape_of(inputs))  # build_config
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
        """Write all weights to ``filepath``, atomically, in the format its name says:
        ``*.weights.h5`` is Keras 3's HDF5 layout (readable by Keras), ``*.safetensors`` is
        safetensors with a checksum per tensor (named ``NNNN/layer_name/weight`` in the model's
        structural order).
        """
        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists and overwrite=False.")
        if not path.endswith(".safetensors"):
            _saving.saving_lib.save_weights(self, path, overwrite=overwrite)
            return
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

        The format comes from the name: ``*.weights.h5`` (Keras 3's HDF5 layout, also from
        Keras), a ``.keras`` file's weights, or ``*.safetensors``. Everything is checked
        (checksums, count, every shape) before any weight changes.
        """
        path = os.fspath(filepath)
        if not path.endswith(".safetensors"):
            _saving.saving_lib.load_weights(self, path, skip_mismatch=skip_mismatch)
            return
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
            variable._writable_array()[...] = xp.asarray(array.astype(variable.array.dtype,
                                                                       copy=False))

    def save(self, filepath: str | os.PathLike, overwrite: bool = True, **kwargs: Any) -> None:
        """Save the whole model (architecture, weights, optimizer state, compile settings) as a
        Keras 3 ``.keras`` file, which Keras itself can load."""
        _saving.saving_lib.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def to_json(self, **kwargs: Any) -> str:
        """The model's architecture as Keras 3 JSON (``tf.keras.models.model_from_json``)."""
        return _saving.saving_lib.to_json(self, **kwargs)

    def export(self, filepath: str | os.PathLike, format: str = "tf_saved_model",  # noqa: A002
               verbose: bool = True, input_signature: Any = None, **kwargs: Any) -> None:
        """Export for inference: ``format="onnx"`` (an ONNX file) or ``"tf_saved_model"``
        (a folder for :func:`tf.saved_model.load`)."""
        if format == "onnx":
            _saving.onnx_export.export(self, filepath, input_signature=input_signature)
        elif format == "tf_saved_model":
            _saving.saved_model.save(self, filepath)
        else:
            raise ValueError(
                f"Unrecognized format={format!r}; expected 'onnx' or 'tf_saved_model'."
            )

    def get_config(self) -> dict:
        """A functional model's graph (Keras's Functional config), else the constructor
        arguments."""
        if self._graph_outputs is not None and type(self) is Model:
            return _saving.model_config._functional_config(self)
        return super().get_config()

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> Model:
        """Re-create a model from :meth:`get_config` (or from Keras's config)."""
        if "input_layers" in config and "output_layers" in config:
            return _saving.model_config._functional_from_config(config, custom_objects)
        return super().from_config(config)
