"""ONNX translations of the convolution, pooling, reshaping, embedding and recurrent layers.

Keras layers are channels-last (NHWC) while ONNX's Conv and pools are channels-first, so each
spatial op is wrapped in two Transposes; kernels are transposed once, at export. Recurrent
layers become ONNX's LSTM / GRU / RNN ops (time-major, as onnxruntime requires) with Keras's
gate order rearranged to ONNX's (LSTM: Keras i, f, c, o -> ONNX i, o, f, c; GRU's z, r, h is
the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorflowish import errors

__all__ = ["TRANSLATIONS"]


def _value(variable: Any, dtype: Any) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=dtype)


def _to_channels_first(graph: Any, x: str, rank: int, layer: Any) -> str:
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return x
    return graph.node("Transpose", [x], layer.name, perm=[0, rank + 1, *range(1, rank + 1)])


def _to_channels_last(graph: Any, x: str, rank: int, layer: Any) -> str:
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return x
    return graph.node("Transpose", [x], layer.name, perm=[0, *range(2, rank + 2), 1])


def _padding(layer: Any, kernel: tuple, dilation: tuple) -> dict:
    if layer.padding == "same":
        return {"auto_pad": "SAME_UPPER"}
    if layer.padding == "causal":  # Conv1D: all the padding before the sequence
        return {"pads": [dilation[0] * (kernel[0] - 1), 0]}
    return {"pads": [0] * (2 * len(kernel))}


def _activation(graph: Any, x: str, layer: Any, dtype: Any) -> str:
    from tensorflowish.saving import onnx_export

    return onnx_export._activation(graph, x, layer.activation, layer.name, dtype)


def _conv(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    rank = layer.rank
    kernel = _value(layer.kernel, dtype)  # (*k, in / groups, out)
    weights = np.transpose(kernel, (rank + 1, rank, *range(rank)))
    operands = [_to_channels_first(graph, inputs[0], rank, layer),
                graph.constant(np.ascontiguousarray(weights), "kernel")]
    if layer.bias is not None:
        operands.append(graph.constant(_value(layer.bias, dtype), "bias"))
    x = graph.node("Conv", operands, layer.name, kernel_shape=list(layer.kernel_size),
                   strides=list(layer.strides), dilations=list(layer.dilation_rate),
                   group=int(layer.groups), **_padding(layer, layer.kernel_size,
                                                       layer.dilation_rate))
    return _activation(graph, _to_channels_last(graph, x, rank, layer), layer, dtype)


def _conv_transpose(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    rank = layer.rank
    kernel = _value(layer.kernel, dtype)  # (*k, out, in)
    weights = np.transpose(kernel, (rank + 1, rank, *range(rank)))  # (in, out, *k)
    operands = [_to_channels_first(graph, inputs[0], rank, layer),
                graph.constant(np.ascontiguousarray(weights), "kernel")]
    if layer.bias is not None:
        operands.append(graph.constant(_value(layer.bias, dtype), "bias"))
    padding = {"auto_pad": "SAME_UPPER"} if layer.padding == "same" else {}
    x = graph.node("ConvTranspose", operands, layer.name, kernel_shape=list(layer.kernel_size),
                   strides=list(layer.strides), dilations=list(layer.dilation_rate), **padding)
    return _activation(graph, _to_channels_last(graph, x, rank, layer), layer, dtype)


def _depthwise_weights(kernel: np.ndarray) -> np.ndarray:
    """Keras's (kh, kw, channels, multiplier) as ONNX's (channels * multiplier, 1, kh, kw)."""
    kh, kw, channels, multiplier = kernel.shape
    flat = kernel.reshape(kh, kw, channels * multiplier)
    return np.ascontiguousarray(np.transpose(flat, (2, 0, 1))[:, None])


def _depthwise(graph: Any, layer: Any, inputs: list[str], dtype: Any, kernel: Any,
               bias: Any) -> str:
    weights = _depthwise_weights(_value(kernel, dtype))
    operands = [_to_channels_first(graph, inputs[0], 2, layer),
                graph.constant(weights, "depthwise")]
    if bias is not None:
        operands.append(graph.constant(_value(bias, dtype), "bias"))
    return graph.node("Conv", operands, layer.name, kernel_shape=list(layer.kernel_size),
                      strides=list(layer.strides), dilations=list(layer.dilation_rate),
                      group=int(kernel.shape[2]),
                      **_padding(layer, layer.kernel_size, layer.dilation_rate))


def _depthwise_conv(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    x = _depthwise(graph, layer, inputs, dtype, layer.kernel, layer.bias)
    return _activation(graph, _to_channels_last(graph, x, 2, layer), layer, dtype)


def _separable_conv(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    x = _depthwise(graph, layer, inputs, dtype, layer.depthwise_kernel, None)
    pointwise = _value(layer.pointwise_kernel, dtype)  # (1, 1, in, out)
    operands = [x, graph.constant(np.ascontiguousarray(np.transpose(pointwise, (3, 2, 0, 1))),
                                  "pointwise")]
    if layer.bias is not None:
        operands.append(graph.constant(_value(layer.bias, dtype), "bias"))
    x = graph.node("Conv", operands, layer.name, kernel_shape=[1, 1])
    return _activation(graph, _to_channels_last(graph, x, 2, layer), layer, dtype)


def _pool(op: str):
    def translate(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
        rank = layer.rank
        padding = {"auto_pad": "SAME_UPPER"} if layer.padding == "same" else {}
        x = graph.node(op, [_to_channels_first(graph, inputs[0], rank, layer)], layer.name,
                       kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                       **padding)
        return _to_channels_last(graph, x, rank, layer)

    return translate


def _global_pool(op: str):
    def translate(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
        rank = layer._export_rank - 2
        if getattr(layer, "data_format", "channels_last") == "channels_first":
            axes = list(range(2, rank + 2))
        else:
            axes = list(range(1, rank + 1))
        return graph.node(op, [inputs[0]], layer.name, axes=axes,
                          keepdims=int(bool(layer.keepdims)))

    return translate


def _embedding(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    if getattr(layer, "mask_zero", False):
        raise errors.UnimplementedError(
            f"ONNX export: Embedding '{layer.name}' has mask_zero=True; masks are not exported."
        )
    table = graph.constant(_value(layer.embeddings, dtype), "embeddings")
    return graph.node("Gather", [table, inputs[0]], layer.name, axis=0)


def _channels_last_only(layer: Any) -> None:
    if getattr(layer, "data_format", None) == "channels_first":
        raise errors.UnimplementedError(
            f"ONNX export: {type(layer).__name__} '{layer.name}' with channels_first."
        )


def _zero_padding(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    _channels_last_only(layer)
    (top, bottom), (left, right) = layer.padding
    pads = np.asarray([0, top, left, 0, 0, bottom, right, 0], np.int64)
    return graph.node("Pad", [inputs[0], graph.constant(pads, "pads")], layer.name)


def _cropping(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    _channels_last_only(layer)
    (top, bottom), (left, right) = layer.cropping
    big = np.iinfo(np.int64).max
    starts = np.asarray([top, left], np.int64)
    ends = np.asarray([-bottom if bottom else big, -right if right else big], np.int64)
    return graph.node("Slice", [inputs[0], graph.constant(starts, "starts"),
                                graph.constant(ends, "ends"),
                                graph.constant(np.asarray([1, 2], np.int64), "axes")],
                      layer.name)


def _up_sampling(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    _channels_last_only(layer)
    if layer.interpolation != "nearest":
        raise errors.UnimplementedError(
            f"ONNX export: UpSampling2D '{layer.name}' with interpolation="
            f"{layer.interpolation!r}; only 'nearest' is exported."
        )
    x = _to_channels_first(graph, inputs[0], 2, layer)
    scales = np.asarray([1.0, 1.0, *layer.size], np.float32)
    x = graph.node("Resize", [x, "", graph.constant(scales, "scales")], layer.name,
                   mode="nearest", nearest_mode="floor",
                   coordinate_transformation_mode="asymmetric")
    return _to_channels_last(graph, x, 2, layer)


def _identity(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    return graph.node("Identity", [inputs[0]], layer.name)


# --- recurrent layers --------------------------------------------------------------------------

_ONNX_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}


def _activation_name(layer: Any, function: Any) -> str:
    from tensorflowish.keras import activations

    name = activations.serialize(function)
    if name not in _ONNX_ACTIVATIONS:
        raise errors.UnimplementedError(
            f"ONNX export: {type(layer).__name__} '{layer.name}' uses activation {name!r}; "
            f"ONNX's recurrent ops take {sorted(_ONNX_ACTIVATIONS)}."
        )
    return _ONNX_ACTIVATIONS[name]


def _recurrent(graph: Any, layer: Any, inputs: list[str], dtype: Any) -> str:
    cell = layer.cell
    kind = type(layer).__name__
    if getattr(layer, "return_state", False) or getattr(layer, "stateful", False):
        raise errors.UnimplementedError(
            f"ONNX export: {kind} '{layer.name}' with return_state or stateful."
        )
    units = int(cell.units)
    kernel = _value(cell.kernel, dtype)
    recurrent = _value(cell.recurrent_kernel, dtype)
    bias = _value(cell.bias, dtype) if getattr(cell, "bias", None) is not None else None
    extra: dict = {}
    if kind == "LSTM":
        def reorder(matrix: np.ndarray) -> np.ndarray:  # Keras i, f, c, o -> ONNX i, o, f, c
            i, f, c, o = np.split(matrix, 4, axis=-1)
            return np.concatenate([i, o, f, c], axis=-1)

        op = "LSTM"
        kernel, recurrent = reorder(kernel), reorder(recurrent)
        bias = None if bias is None else np.concatenate([reorder(bias), np.zeros_like(bias)])
        names = [_activation_name(layer, cell.recurrent_activation),
                 _activation_name(layer, cell.activation), _activation_name(layer, cell.activation)]
    elif kind == "GRU":
        op = "GRU"
        if bias is not None:
            bias = bias.reshape(-1) if cell.reset_after else np.concatenate(
                [bias, np.zeros_like(bias)])
        extra["linear_before_reset"] = int(bool(cell.reset_after))
        names = [_activation_name(layer, cell.recurrent_activation),
                 _activation_name(layer, cell.activation)]
    else:  # SimpleRNN
        op = "RNN"
        bias = None if bias is None else np.concatenate([bias, np.zeros_like(bias)])
        names = [_activation_name(layer, cell.activation)]
    x = inputs[0]
    if getattr(layer, "go_backwards", False):  # Keras runs (and returns) the steps in reverse
        big = np.iinfo(np.int64).max
        x = graph.node("Slice", [x, graph.constant(np.asarray([-1], np.int64), "start"),
                                 graph.constant(np.asarray([-big], np.int64), "end"),
                                 graph.constant(np.asarray([1], np.int64), "axis"),
                                 graph.constant(np.asarray([-1], np.int64), "step")], layer.name)
    x = graph.node("Transpose", [x], layer.name, perm=[1, 0, 2])  # time-major (onnxruntime)
    operands = [x, graph.constant(np.ascontiguousarray(kernel.T[None]), "W"),
                graph.constant(np.ascontiguousarray(recurrent.T[None]), "R")]
    if bias is not None:
        operands.append(graph.constant(bias[None].astype(dtype), "B"))
    onnx = __import__("onnx")
    sequence, last = graph.name(f"{layer.name}_Y"), graph.name(f"{layer.name}_Y_h")
    outputs = [sequence, last] + ([graph.name(f"{layer.name}_Y_c")] if op == "LSTM" else [])
    graph.nodes.append(onnx.helper.make_node(
        op, operands, outputs, name=sequence, hidden_size=units, activations=names, **extra))
    if layer.return_sequences:  # Y: (steps, directions, batch, units)
        axis = graph.constant(np.asarray([1], np.int64), "axis")
        steps = graph.node("Squeeze", [sequence, axis], layer.name)
        return graph.node("Transpose", [steps], layer.name, perm=[1, 0, 2])
    axis = graph.constant(np.asarray([0], np.int64), "axis")  # Y_h: (directions, batch, units)
    return graph.node("Squeeze", [last, axis], layer.name)


TRANSLATIONS = {
    "Conv1D": _conv, "Conv2D": _conv, "Conv2DTranspose": _conv_transpose,
    "DepthwiseConv2D": _depthwise_conv, "SeparableConv2D": _separable_conv,
    "MaxPooling1D": _pool("MaxPool"), "MaxPooling2D": _pool("MaxPool"),
    "AveragePooling1D": _pool("AveragePool"), "AveragePooling2D": _pool("AveragePool"),
    "GlobalMaxPooling1D": _global_pool("ReduceMax"),
    "GlobalMaxPooling2D": _global_pool("ReduceMax"),
    "GlobalAveragePooling1D": _global_pool("ReduceMean"),
    "GlobalAveragePooling2D": _global_pool("ReduceMean"),
    "Embedding": _embedding, "ZeroPadding2D": _zero_padding, "Cropping2D": _cropping,
    "UpSampling2D": _up_sampling, "SpatialDropout2D": _identity,
    "LSTM": _recurrent, "GRU": _recurrent, "SimpleRNN": _recurrent,
}  # fmt: skip
