"""`tf.function` graphs to ONNX (``tensorflowish.onnx.export(f, path, input_signature=...)``).

The function is traced for the signature (``tf.function`` for a plain Python function) and each
line of its graph (:mod:`tensorflowish.function.graph`) becomes ONNX nodes: variables and
captured tensors become initializers (their values now), a line that reads no input is
evaluated now and stored as a constant, and a ``None`` dimension of the signature stays dynamic.
A line with no translation is an UnimplementedError naming the op.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from tensorflowish import errors
from tensorflowish.atomic import atomic_write
from tensorflowish.saving.onnx_export import OPSET, _Graph, _onnx

__all__ = ["export_function", "supported_ops"]


class _Context:
    """Slot -> ONNX name, rank and dtype, while translating one graph."""

    def __init__(self, graph: _Graph, opset: int) -> None:
        self.graph, self.opset = graph, opset
        self.names: dict[int, str] = {}
        self.ranks: dict[int, int] = {}
        self.dtypes: dict[int, np.dtype] = {}


def _type_info(text: str) -> tuple[np.dtype, int]:
    """('float32[?,4]') -> (float32, 2)."""
    name, dims = text.split("[", 1)
    dims = dims.rstrip("]")
    return np.dtype(name), (0 if dims == "" else dims.count(",") + 1)


def _operand(ctx: _Context, value: Any, dtype: np.dtype) -> tuple[str, int]:
    """The ONNX name and rank of an argument: a slot, or a literal stored as a constant."""
    from tensorflowish.function.graph import Slot

    if isinstance(value, Slot):
        name = ctx.names[value.index]
        if ctx.dtypes[value.index] != dtype:  # e.g. int32 / int32 -> float64, as TensorFlow
            onnx = _onnx()
            name = ctx.graph.node("Cast", [name], "cast",
                                  to=onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
        return name, ctx.ranks[value.index]
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=dtype)
    return ctx.graph.constant(array, "literal"), array.ndim


def _binary(op: str) -> Callable:
    def translate(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
        (x, _), (y, _) = _operand(ctx, a["x"], dtype), _operand(ctx, a["y"], dtype)
        return ctx.graph.node(op, [x, y], hint)
    return translate


def _unary(op: str, argument: str = "x", **attributes: Any) -> Callable:
    def translate(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
        return ctx.graph.node(op, [_operand(ctx, a[argument], dtype)[0]], hint, **attributes)
    return translate


def _activation(graph: _Graph, x: str, name: str, dtype: np.dtype, hint: str,
                alpha: float = 0.2, approximate: bool = False, beta: float = 1.0) -> str:
    const = lambda v: graph.constant(np.asarray(v, dtype), "c")  # noqa: E731
    if name == "linear":
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
              "softsign": "Softsign", "exp": "Exp"}
    if name in simple:
        return graph.node(simple[name], [x], hint)
    if name == "relu6":
        return graph.node("Clip", [x, const(0), const(6)], hint)
    if name == "elu":
        return graph.node("Elu", [x], hint, alpha=1.0)
    if name == "selu":
        return graph.node("Selu", [x], hint, alpha=1.6732632423543772, gamma=1.0507009873554805)
    if name == "leaky_relu":
        return graph.node("LeakyRelu", [x], hint, alpha=float(alpha))
    if name == "silu":
        scaled = x if beta == 1.0 else graph.node("Mul", [x, const(beta)], hint)
        return graph.node("Mul", [x, graph.node("Sigmoid", [scaled], hint)], hint)
    if name == "gelu" and not approximate:  # x * (1 + erf(x / sqrt 2)) / 2
        erf = graph.node("Erf", [graph.node("Div", [x, const(np.sqrt(2.0))], hint)], hint)
        half = graph.node("Mul", [x, const(0.5)], hint)
        return graph.node("Mul", [half, graph.node("Add", [erf, const(1.0)], hint)], hint)
    if name == "gelu":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = graph.node("Mul", [x, graph.node("Mul", [x, x], hint)], hint)
        inner = graph.node("Add", [x, graph.node("Mul", [cube, const(0.044715)], hint)], hint)
        t = graph.node("Tanh", [graph.node("Mul", [inner, const(np.sqrt(2 / np.pi))], hint)],
                       hint)
        half = graph.node("Mul", [x, const(0.5)], hint)
        return graph.node("Mul", [half, graph.node("Add", [t, const(1.0)], hint)], hint)
    raise errors.UnimplementedError(f"ONNX export: activation {name!r} has no ONNX translation.")


def _named_activation(name: str) -> Callable:
    def translate(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
        x = _operand(ctx, a["features"], dtype)[0]
        return _activation(ctx.graph, x, name, dtype, hint, alpha=a.get("alpha", 0.2),
                           approximate=a.get("approximate", False), beta=a.get("beta", 1.0))
    return translate


def _softmax(op: str) -> Callable:
    def translate(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
        return ctx.graph.node(op, [_operand(ctx, a["logits"], dtype)[0]], hint,
                              axis=int(a["axis"]))
    return translate


def _swap_last(ctx: _Context, x: str, rank: int, hint: str) -> str:
    perm = list(range(rank))
    perm[-2:] = perm[-1], perm[-2]
    return ctx.graph.node("Transpose", [x], hint, perm=perm)


def _matmul(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
    if any(a[k] for k in ("a_is_sparse", "b_is_sparse")) or a.get("output_type") is not None:
        raise errors.UnimplementedError("ONNX export: matmul with sparse flags or output_type.")
    x, rank_x = _operand(ctx, a["a"], dtype)
    y, rank_y = _operand(ctx, a["b"], dtype)
    if a["transpose_a"] or a["adjoint_a"]:
        x = _swap_last(ctx, x, rank_x, hint)
    if a["transpose_b"] or a["adjoint_b"]:
        y = _swap_last(ctx, y, rank_y, hint)
    return ctx.graph.node("MatMul", [x, y], hint)


def _dense(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
    x = ctx.graph.node("MatMul", [_operand(ctx, a["x"], dtype)[0],
                                  _operand(ctx, a["kernel"], dtype)[0]], hint)
    if a["bias"] is not None:
        x = ctx.graph.node("Add", [x, _operand(ctx, a["bias"], dtype)[0]], hint)
    activation = a["activation"] or "linear"
    if not isinstance(activation, str):
        activation = getattr(activation, "__name__", str(activation))
    return _activation(ctx.graph, x, activation, dtype, hint, alpha=a["alpha"])


def _bias_add(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
    value, rank = _operand(ctx, a["value"], dtype)
    bias = _operand(ctx, a["bias"], dtype)[0]
    if a["data_format"] not in (None, "NHWC", "NWC", "NDHWC", "N...C"):
        if rank < 3:  # NC...: the bias runs along axis 1
            raise errors.UnimplementedError("ONNX export: bias_add channels-first of rank < 3.")
        axes = ctx.graph.constant(np.arange(1, rank - 1, dtype=np.int64), "axes")
        bias = ctx.graph.node("Unsqueeze", [bias, axes], hint)
    return ctx.graph.node("Add", [value, bias], hint)


def _reshape(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
    shape = np.asarray(_literal(a["shape"], "reshape", "shape"), dtype=np.int64).reshape(-1)
    if (shape == 0).any():
        raise errors.UnimplementedError("ONNX export: reshape to a shape with a 0 dimension.")
    return ctx.graph.node("Reshape", [_operand(ctx, a["tensor"], dtype)[0],
                                      ctx.graph.constant(shape, "shape")], hint)


def _transpose(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
    x, rank = _operand(ctx, a["a"], dtype)
    perm = a["perm"]
    perm = list(range(rank))[::-1] if perm is None else \
        [int(p) for p in np.asarray(_literal(perm, "transpose", "perm")).reshape(-1)]
    return ctx.graph.node("Transpose", [x], hint, perm=perm)


def _concat(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
    values = a["values"] if isinstance(a["values"], (list, tuple)) else [a["values"]]
    names = [_operand(ctx, v, dtype)[0] for v in values]
    return ctx.graph.node("Concat", names, hint, axis=int(_literal(a["axis"], "concat", "axis")))


def _reduce(op: str) -> Callable:
    def translate(ctx: _Context, a: dict, dtype: np.dtype, hint: str) -> str:
        x, rank = _operand(ctx, a["input_tensor"], dtype)
        axis = _literal(a["axis"], op, "axis")
        keepdims = int(bool(a["keepdims"]))
        if axis is None:
            axes = list(range(rank))
        else:
            from tensorflowish.errors import check_axes
            axes = list(check_axes(op, np.asarray(axis).reshape(-1).tolist(), rank))
        if op == "ReduceSum" or ctx.opset >= 18:  # axes an input
            return ctx.graph.node(op, [x, ctx.graph.constant(np.asarray(axes, np.int64), "axes")],
                                  hint, keepdims=keepdims)
        return ctx.graph.node(op, [x], hint, axes=axes, keepdims=keepdims)
    return translate


def _literal(value: Any, op: str, argument: str) -> Any:
    from tensorflowish.function.graph import _has_slot

    if _has_slot(value):
        raise errors.UnimplementedError(
            f"ONNX export: {op}'s {argument} is computed in the graph; only a Python value "
            "(known when tracing) can be exported.")
    return value.numpy() if hasattr(value, "numpy") else value


_TRANSLATIONS: dict[str, Callable] = {
    "math.add": _binary("Add"), "math.subtract": _binary("Sub"),
    "math.multiply": _binary("Mul"), "math.divide": _binary("Div"),
    "math.maximum": _binary("Max"), "math.minimum": _binary("Min"),
    "math.exp": _unary("Exp"), "math.log": _unary("Log"), "math.sqrt": _unary("Sqrt"),
    "math.abs": _unary("Abs"), "math.negative": _unary("Neg"),
    "math.sigmoid": _unary("Sigmoid"), "math.tanh": _unary("Tanh"),
    "shapes.identity": _unary("Identity", "input"),
    "nn.relu": _named_activation("relu"), "nn.relu6": _named_activation("relu6"),
    "nn.elu": _named_activation("elu"), "nn.selu": _named_activation("selu"),
    "nn.softplus": _named_activation("softplus"), "nn.silu": _named_activation("silu"),
    "nn.gelu": _named_activation("gelu"), "nn.leaky_relu": _named_activation("leaky_relu"),
    "nn.softmax": _softmax("Softmax"), "nn.log_softmax": _softmax("LogSoftmax"),
    "nn.dense": _dense, "nn.bias_add": _bias_add, "linalg.matmul": _matmul,
    "shapes.reshape": _reshape, "shapes.transpose": _transpose, "shapes.concat": _concat,
    "reductions.reduce_sum": _reduce("ReduceSum"),
    "reductions.reduce_mean": _reduce("ReduceMean"),
}  # fmt: skip


def supported_ops() -> list[str]:
    """The graph ops a function's ONNX export translates (module.function names)."""
    return sorted(_TRANSLATIONS)


def _key(function: Callable) -> str:
    module = getattr(function, "__module__", "") or ""
    return f"{module.removeprefix('tensorflowish.ops.')}.{function.__qualname__}"


def _bind(call: Any) -> dict:
    try:
        bound = inspect.signature(call.function).bind(*call.args, **call.kwargs)
    except (TypeError, ValueError) as error:
        raise errors.UnimplementedError(f"ONNX export: cannot read the arguments of graph op "
                                        f"'{call.name}': {error}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _concrete(function: Any, input_signature: Any) -> tuple[Any, list]:
    import tensorflowish as tf
    from tensorflowish.function.polymorphic import ConcreteFunction, Function

    if isinstance(function, ConcreteFunction):
        return function, list(function.structured_input_signature)
    if not isinstance(function, Function):
        function = tf.function(function)
    if input_signature is None:
        input_signature = function.input_signature
    if input_signature is None:
        raise errors.InvalidArgumentError(
            "ONNX export of a function needs its inputs: pass input_signature=[tf.TensorSpec("
            "shape, dtype), ...] (None for a dynamic dimension), or give the tf.function one.")
    specs = list(input_signature) if isinstance(input_signature, (list, tuple)) else \
        [input_signature]
    for spec in specs:
        if not isinstance(spec, tf.TensorSpec):
            raise errors.InvalidArgumentError(
                f"ONNX export: input_signature holds {type(spec).__name__}; expected a flat list "
                "of tf.TensorSpec.")
    return function.get_concrete_function(*specs), specs


def export_function(function: Any, filepath: str | os.PathLike, input_signature: Any = None,
                    opset: int = OPSET) -> None:
    """Write a traced function's graph as an ONNX file (dynamic where the signature is None)."""
    onnx = _onnx()
    import tensorflowish as tf
    from tensorflowish.function.graph import Slot, flatten
    from tensorflowish.tensor import Variable

    if opset < 17:
        raise errors.InvalidArgumentError(f"ONNX export: opset {opset}; expected 17 or more.")
    concrete, specs = _concrete(function, input_signature)
    traced = concrete.graph
    graph = _Graph()
    ctx = _Context(graph, opset)
    graph_inputs, used_names = [], set()
    for index, (slot, spec) in enumerate(zip(traced.input_slots, specs)):
        name = spec.name or (traced.input_names[index] if index < len(traced.input_names)
                             else f"input_{index}")
        name = name if name not in used_names else f"{name}_{index}"
        used_names.add(name)
        dtype = np.dtype(tf.as_dtype(spec.dtype).as_numpy_dtype)
        dims = [f"{name}_d{i}" if d is None else int(d) for i, d in enumerate(spec.shape)]
        graph_inputs.append(onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(dtype), dims))
        ctx.names[slot], ctx.ranks[slot], ctx.dtypes[slot] = name, len(dims), dtype
    for slot, value in traced.captures:
        array = np.asarray(value.numpy())
        hint = value.name.split(":")[0] if isinstance(value, Variable) else "captured"
        ctx.names[slot] = graph.constant(array, hint.replace("/", "_"))
        ctx.ranks[slot], ctx.dtypes[slot] = array.ndim, array.dtype
    for call in traced.calls:
        if call.control is not None or call.stateful:
            raise errors.UnimplementedError(
                f"ONNX export: graph op '{call.name}' (control flow or a stateful call) has no "
                f"ONNX translation. Supported ops: {', '.join(supported_ops())}.")
        if not any(kind != 2 for kind, _ in call.plan) and not call.dynamic_kwargs:
            result = call.function(*call.args, **call.kwargs)  # no input: a constant now
            leaves: list = []
            flatten(result, leaves)
            for slot, position in zip(call.output_slots, call.output_positions):
                array = np.asarray((result if position == -1 else leaves[position]).numpy())
                ctx.names[slot] = graph.constant(array, call.name)
                ctx.ranks[slot], ctx.dtypes[slot] = array.ndim, array.dtype
            continue
        translation = _TRANSLATIONS.get(_key(call.function))
        if translation is None or call.output_positions != [-1]:
            raise errors.UnimplementedError(
                f"ONNX export: graph op '{call.name}' ({_key(call.function)}) has no ONNX "
                f"translation. Supported ops: {', '.join(supported_ops())}.")
        slot = call.output_slots[0]
        dtype, rank = _type_info(call.types[0])
        ctx.names[slot] = translation(ctx, _bind(call), dtype, call.name)
        ctx.ranks[slot], ctx.dtypes[slot] = rank, dtype
    outputs: list = []
    flatten(traced.output_template, outputs)
    graph_outputs = []
    for index, leaf in enumerate(outputs):
        if not isinstance(leaf, Slot):
            raise errors.UnimplementedError(
                f"ONNX export: the function returns {type(leaf).__name__} {leaf!r}; only "
                "tensors can be ONNX outputs.")
        final = f"output_{index}"
        graph.nodes.append(onnx.helper.make_node("Identity", [ctx.names[leaf.index]], [final],
                                                 name=final))
        graph_outputs.append(onnx.helper.make_tensor_value_info(
            final, onnx.helper.np_dtype_to_tensor_dtype(ctx.dtypes[leaf.index]), None))
    onnx_graph = onnx.helper.make_graph(graph.nodes, traced.name, graph_inputs, graph_outputs,
                                        graph.initializers)
    model = onnx.helper.make_model(onnx_graph, producer_name="tensorflowish",
                                   opset_imports=[onnx.helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 9)  # readable by older runtimes
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    atomic_write(os.fspath(filepath), model.SerializeToString())
