"""Keras models to ONNX (``model.export(path, format="onnx")``, ``tensorflowish.onnx.export``).

Sequential and functional models are translated layer by layer into an ONNX graph (opset 17,
the batch dimension dynamic), built and checked with the ``onnx`` package. Each layer kind has
one translation function in ``_TRANSLATIONS``; a layer without one is an error naming it. The
``onnx`` package is needed only here (``pip install tensorflowish[onnx]``).

    >>> import os, tempfile, tensorflowish as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    >>> tf.onnx.export(model, path)
    >>> os.path.getsize(path) > 0
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from tensorflowish import errors
from tensorflowish.atomic import atomic_write
from tensorflowish.saving import model_config

__all__ = ["export", "supported_layers"]

OPSET = 17


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package: pip install 'tensorflowish[onnx]' (onnx, and "
            "onnxruntime to run the result)."
        ) from None
    return onnx


class _Graph:
    """The ONNX graph under construction: nodes, initializers, unique names."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, array: Any, hint: str) -> str:
        onnx = _onnx()
        name = self.name(hint)
        self.initializers.append(onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attributes: Any) -> str:
        onnx = _onnx()
        output = self.name(hint)
        self.nodes.append(onnx.helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def _value(variable: Any, dtype: Any = np.float32) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=dtype)


# --- activations -------------------------------------------------------------------------------


def _activation(graph: _Graph, x: str, activation: Any, hint: str, dtype: Any) -> str:
    from tensorflowish.keras import activations

    name = activations.serialize(activation)
    one = lambda: graph.constant(np.asarray(1.0, dtype), "one")  # noqa: E731
    if name in (None, "linear") and activation in (None, activations.linear):
        return x
    if name == "relu":
        return graph.node("Relu", [x], hint)
    if name == "relu6":
        return graph.node("Clip", [x, graph.constant(np.asarray(0, dtype), "zero"),
                                   graph.constant(np.asarray(6, dtype), "six")], hint)
    if name == "sigmoid":
        return graph.node("Sigmoid", [x], hint)
    if name == "tanh":
        return graph.node("Tanh", [x], hint)
    if name == "softmax":
        return graph.node("Softmax", [x], hint, axis=-1)
    if name == "log_softmax":
        return graph.node("LogSoftmax", [x], hint, axis=-1)
    if name == "elu":
        return graph.node("Elu", [x], hint, alpha=1.0)
    if name == "selu":
        return graph.node("Selu", [x], hint, alpha=1.6732632423543772,
                          gamma=1.0507009873554805)
    if name == "softplus":
        return graph.node("Softplus", [x], hint)
    if name == "softsign":
        return graph.node("Softsign", [x], hint)
    if name in ("silu", "swish"):
        return graph.node("Mul", [x, graph.node("Sigmoid", [x], hint)], hint)
    if name == "exponential":
        return graph.node("Exp", [x], hint)
    if name == "leaky_relu":
        return graph.node("LeakyRelu", [x], hint, alpha=0.2)
    if name == "hard_sigmoid":
        return graph.node("HardSigmoid", [x], hint, alpha=1.0 / 6.0, beta=0.5)
    if name == "gelu":  # exact: x * (1 + erf(x / sqrt 2)) / 2
        scaled = graph.node("Div", [x, graph.constant(np.asarray(np.sqrt(2.0), dtype), "s")],
                            hint)
        erf = graph.node("Add", [graph.node("Erf", [scaled], hint), one()], hint)
        half = graph.node("Mul", [x, graph.constant(np.asarray(0.5, dtype), "half")], hint)
        return graph.node("Mul", [half, erf], hint)
    raise errors.UnimplementedError(
        f"ONNX export: activation {name or activation!r} has no ONNX translation; use one of "
        "relu, relu6, sigmoid, tanh, softmax, log_softmax, elu, selu, softplus, softsign, silu, "
        "exponential, leaky_relu, hard_sigmoid, gelu."
    )


# --- layers ------------------------------------------------------------------------------------


def _dense(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    x = graph.node("MatMul", [inputs[0], graph.constant(_value(layer.kernel, dtype), "kernel")],
                   layer.name)
    if layer.bias is not None:
        x = graph.node("Add", [x, graph.constant(_value(layer.bias, dtype), "bias")], layer.name)
    return _activation(graph, x, layer.activation, layer.name, dtype)


def _identity(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    return graph.node("Identity", [inputs[0]], layer.name)


def _activation_layer(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    return _activation(graph, inputs[0], layer.activation, layer.name, dtype)


def _softmax(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    return graph.node("Softmax", [inputs[0]], layer.name, axis=int(layer.axis))


def _relu_layer(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    if layer.threshold:
        raise errors.UnimplementedError("ONNX export: ReLU(threshold != 0) is not supported.")
    x = inputs[0]
    if layer.negative_slope:
        x = graph.node("LeakyRelu", [x], layer.name, alpha=float(layer.negative_slope))
    else:
        x = graph.node("Relu", [x], layer.name)
    if layer.max_value is not None:
        x = graph.node("Min", [x, graph.constant(np.asarray(layer.max_value, dtype), "max")],
                       layer.name)
    return x


def _batch_normalization(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    # Inference form folded into one scale and one offset per feature (exact to rounding).
    variance = _value(layer.moving_variance, np.float64)
    mean = _value(layer.moving_mean, np.float64)
    scale = 1.0 / np.sqrt(variance + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * _value(layer.gamma, np.float64)
    offset = -mean * scale
    if layer.beta is not None:
        offset = offset + _value(layer.beta, np.float64)
    shape = _feature_shape(list(layer._axes), layer._export_rank, mean.shape)
    x = graph.node("Mul", [inputs[0], graph.constant(scale.reshape(shape).astype(dtype), "s")],
                   layer.name)
    return graph.node("Add", [x, graph.constant(offset.reshape(shape).astype(dtype), "o")],
                      layer.name)


def _feature_shape(axes: list[int], rank: int, sizes: tuple) -> tuple:
    """The shape that broadcasts per-feature values over (batch, ...) inputs of ``rank``."""
    shape = [1] * rank
    for axis, size in zip(axes, sizes):
        shape[axis] = int(size)
    return tuple(shape[1:])


def _layer_normalization(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    axes, rank = list(layer._axes), layer._export_rank
    if axes != list(range(axes[0], rank)):
        raise errors.UnimplementedError(
            f"ONNX export: LayerNormalization over axes {axes} of rank-{rank} inputs; ONNX "
            "normalizes trailing axes only."
        )
    size = tuple(int(d) for d in (layer.gamma if layer.gamma is not None else layer.beta).shape)
    gamma = _value(layer.gamma, dtype) if layer.gamma is not None else np.ones(size, dtype)
    beta = _value(layer.beta, dtype) if layer.beta is not None else np.zeros(size, dtype)
    return graph.node("LayerNormalization", [inputs[0], graph.constant(gamma, "gamma"),
                                             graph.constant(beta, "beta")],
                      layer.name, axis=axes[0], epsilon=float(layer.epsilon))


def _flatten(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    return graph.node("Flatten", [inputs[0]], layer.name, axis=1)


def _reshape(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    shape = np.asarray([0, *layer.target_shape], dtype=np.int64)  # 0: keep the batch size
    return graph.node("Reshape", [inputs[0], graph.constant(shape, "shape")], layer.name)


def _concatenate(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    return graph.node("Concat", inputs, layer.name, axis=int(layer.axis))


def _add(graph: _Graph, layer: Any, inputs: list[str], dtype: Any) -> str:
    total = inputs[0]
    for other in inputs[1:]:
        total = graph.node("Add", [total, other], layer.name)
    return total


_TRANSLATIONS: dict[str, Callable] = {
    "Dense": _dense, "Dropout": _identity, "Activation": _activation_layer,
    "Softmax": _softmax, "ReLU": _relu_layer, "BatchNormalization": _batch_normalization,
    "LayerNormalization": _layer_normalization, "Flatten": _flatten, "Reshape": _reshape,
    "Concatenate": _concatenate, "Add": _add, "InputLayer": _identity,
}  # fmt: skip


def _register_spatial_layers() -> None:
    from tensorflowish.saving import onnx_layers

    _TRANSLATIONS.update(onnx_layers.TRANSLATIONS)


_register_spatial_layers()


def supported_layers() -> list[str]:
    """The layer classes ONNX export translates."""
    return sorted(_TRANSLATIONS)


def _translate(graph: _Graph, layer: Any, inputs: list[str], rank: int, dtype: Any) -> str:
    translation = None
    for klass in type(layer).__mro__:
        translation = _TRANSLATIONS.get(klass.__name__)
        if translation is not None and klass.__module__.startswith("tensorflowish."):
            break
        translation = None
    if translation is None:
        raise errors.UnimplementedError(
            f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) has no ONNX "
            f"translation. Supported layers: {', '.join(supported_layers())}."
        )
    object.__setattr__(layer, "_export_rank", rank)
    return translation(graph, layer, inputs, dtype)


# --- models ------------------------------------------------------------------------------------


def _input_specs(model: Any, input_signature: Any) -> list[tuple[list, Any, str]]:
    """[(shape with None batch, dtype, name)] for the model's inputs."""
    import tensorflowish as tf

    if input_signature is not None:
        specs = list(input_signature) if isinstance(input_signature, (list, tuple)) else \
            [input_signature]
        return [(list(s.shape), tf.as_dtype(s.dtype), getattr(s, "name", None) or
                 f"input_{i}") for i, s in enumerate(specs)]
    if model_config.is_functional(model):
        symbols = model_config._symbols(model._graph_inputs)
        names = model_config._input_names(model)
        return [(list(s.shape), s.dtype, names[id(s)]) for s in symbols]
    spec = getattr(model, "_input_spec", None)
    if spec is None:
        raise errors.FailedPreconditionError(
            "ONNX export needs the model's input shape: start the model with "
            "tf.keras.Input(shape=...), or pass input_signature=[tf.TensorSpec(...)]."
        )
    dtype = model._input_dtype or model._dtype
    return [(list(spec), tf.as_dtype(dtype), "input")]


def export(model: Any, filepath: str | os.PathLike, input_signature: Any = None,
           opset: int = OPSET) -> None:
    """Write ``model`` (Sequential or functional) as an ONNX file with a dynamic batch size.

    ``model`` may also be a ``tf.function`` or a Python function: it is traced for
    ``input_signature`` (a list of ``tf.TensorSpec``) and its graph translated
    (:mod:`tensorflowish.saving.onnx_function`)."""
    onnx = _onnx()
    import tensorflowish as tf
    from tensorflowish.keras.models import Model, Sequential

    if not isinstance(model, Model) and callable(model):  # a tf.function or Python function
        from tensorflowish.saving.onnx_function import export_function

        return export_function(model, filepath, input_signature, opset)
    if not isinstance(model, Model):
        raise errors.InvalidArgumentError(
            f"ONNX export takes a Keras model or a function; got {type(model).__name__}."
        )
    if not isinstance(model, Sequential) and not model_config.is_functional(model):
        raise errors.UnimplementedError(
            f"ONNX export: '{model.name}' is a subclassed model, whose call() is Python code "
            "with no graph to translate. Rebuild it as a Sequential or functional model."
        )
    specs = _input_specs(model, input_signature)
    graph = _Graph()
    graph_inputs = []
    for shape, dtype, name in specs:
        dims = ["batch" if i == 0 else (f"d{i}" if d is None else int(d))
                for i, d in enumerate(shape)]
        graph_inputs.append(onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype.as_numpy_dtype)), dims))
    dtype = np.dtype(specs[0][1].as_numpy_dtype)
    if not np.issubdtype(dtype, np.floating):  # token ids in: the model computes in floats
        dtype = np.dtype(tf.as_dtype(model.dtype).as_numpy_dtype)
    if isinstance(model, Sequential):
        x, rank = specs[0][2], len(specs[0][0])
        for layer in model.layers:
            x = _translate(graph, layer, [x], rank, dtype)
            rank = len(layer.output_shape) if layer.output_shape is not None else rank
        outputs = [(x, model.layers[-1])]
    else:
        outputs = _functional(graph, model, specs, dtype)
    graph_outputs = []
    for index, (name, layer) in enumerate(outputs):
        final = f"output_{index}"
        graph.nodes.append(onnx.helper.make_node("Identity", [name], [final], name=final))
        shape = layer.output_shape
        dims = None if shape is None else ["batch"] + [int(d) if d is not None else f"o{i}"
                                                       for i, d in enumerate(shape[1:])]
        graph_outputs.append(onnx.helper.make_tensor_value_info(
            final, onnx.helper.np_dtype_to_tensor_dtype(dtype), dims))
    onnx_graph = onnx.helper.make_graph(graph.nodes, model.name, graph_inputs, graph_outputs,
                                        graph.initializers)
    onnx_model = onnx.helper.make_model(
        onnx_graph, producer_name="tensorflowish", opset_imports=[
            onnx.helper.make_opsetid("", opset)])
    onnx_model.ir_version = min(onnx_model.ir_version, 9)  # readable by older runtimes
    onnx.checker.check_model(onnx_model, full_check=True)
    atomic_write(os.fspath(filepath), onnx_model.SerializeToString())


def _functional(graph: _Graph, model: Any, specs: list, dtype: Any) -> list:
    produced: dict[int, Any] = {}
    names = model_config._input_names(model)
    for symbol in model_config._symbols(model._graph_inputs):
        produced[id(symbol)] = (names[id(symbol)], len(symbol.shape))
    results: dict[int, Any] = {}

    def value_of(symbol: Any) -> tuple[str, int]:
        if symbol.node is None:
            return produced[id(symbol)]
        node = symbol.node
        if id(node) not in results:
            parents = [value_of(parent) for parent in model_config.node_parents(node)]
            rank = parents[0][1]
            name = _translate(graph, node.layer, [p[0] for p in parents], rank, dtype)
            results[id(node)] = (name, len(symbol.shape))
        return results[id(node)]

    outputs = []
    for symbol in model_config._symbols(model._graph_outputs):
        outputs.append((value_of(symbol)[0], symbol.node.layer))
    return outputs
