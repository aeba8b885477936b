"""The op registry and the helpers every op shares.

Each op registers itself once with `@register(...)`: its public names (`tf.add`,
`tf.math.add`, ...), whether it is differentiable, and sample inputs for the gradient tests.
The public namespaces and the finite-difference tests are generated from this registry, so an
op can neither be forgotten in `tf.math` nor skip its gradient check.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable

import numpy as np

from .. import backend
from ..errors import DTypeMismatchError, InvalidArgumentError, check_axes, check_axis
from ..tape import _recording_tapes, record, should_record
from ..tensor import Tensor, convert_to_tensor, format_shape

__all__ = ["OpInfo", "REGISTRY", "register", "record", "should_record", "recording",
           "as_tensor", "binary_operands", "unbroadcast", "require_float", "check_same_device",
           "array_module", "Tensor", "format_shape", "check_axis", "check_axes",
           "InvalidArgumentError", "refuse_strings"]


@dataclasses.dataclass
class OpInfo:
    """What the registry knows of one op."""

    name: str
    function: Callable
    names: tuple[str, ...]  # public paths, e.g. ("add", "math.add")
    differentiable: bool
    # samples(rng) -> list of (args, kwargs); float64 numpy arrays in args are differentiated
    samples: Callable | None
    # positions in args that the gradient check differentiates (default: every float array)
    grad_arguments: tuple[int, ...] | None = None
    # () -> what the gradient check differentiates instead of `function`, for ops whose
    # gradient assumes structured input (e.g. a symmetric matrix of which only one triangle is
    # read); None: `function` itself
    check_function: Callable | None = None
    # where the op runs, as docs/api.md shows it; note any backend that falls back to another
    backends: str = "NumPy, CuPy"


REGISTRY: dict[str, OpInfo] = {}

# Set by tf.function while it traces: called instead of the op, so that the trace can record
# the call (tensorflowish.function.tracing). None the rest of the time: one test per op call.
_trace_hook = None


def set_trace_hook(hook) -> None:
    """Route every public op call through `hook(info, function, args, kwargs)` (None: off)."""
    global _trace_hook
    _trace_hook = hook


def register(*names: str, differentiable: bool = True, samples=None, grad_arguments=None,
             check_function=None, backends: str = "NumPy, CuPy"):
    """Register an op under its public names; the first name is the op's own."""

    def decorate(function):
        op = _dispatcher(function, lambda: info)
        functools.update_wrapper(op, function)
        info = OpInfo(names[0].split(".")[-1] if "." in names[0] else names[0], op,
                      tuple(names), differentiable, samples, grad_arguments, check_function,
                      backends)
        REGISTRY[names[0]] = info
        return op

    return decorate


def _dispatcher(function, get_info):
    """A function with `function`'s own parameters that calls it, or the trace hook while a
    tf.function traces. Generated with the same signature so that an eager call pays one
    plain call and one test, not the packing of *args and **kwargs."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        parameters = None
    if parameters is not None and all(p.kind is not p.POSITIONAL_ONLY for p in parameters):
        declared, passed, keywords, named = [], [], [], []
        star = False
        for p in parameters:
            name = p.name
            if p.kind is p.VAR_POSITIONAL:
                declared.append("*" + name)
                passed.append("*" + name)
                star = True
            elif p.kind is p.VAR_KEYWORD:
                declared.append("**" + name)
                keywords.append("**" + name)
            elif p.kind is p.KEYWORD_ONLY:
                if not star:
                    declared.append("*")
                    star = True
                declared.append(name)
                keywords.append(f"{name}={name}")
            else:
                declared.append(name)
                passed.append(name)
                if p.default is not p.empty:  # the trace sees it by name, as the user wrote
                    named.append(name)
        arguments = ", ".join(passed + keywords)
        if not star:
            passed = [a for a in passed if a not in named]
            keywords = [f"{n}={n}" for n in named] + keywords
        kwargs = ", ".join(f"{k.split('=')[0]!r}: {k.split('=')[0]}" for k in keywords
                           if not k.startswith("**"))
        extra = next((k[2:] for k in keywords if k.startswith("**")), None)
        kwargs_text = "{" + kwargs + (f", **{extra}" if extra and kwargs else
                                      f"**{extra}" if extra else "") + "}"
        positional = [a[1:] if a.startswith("*") else a for a in passed]
        args_text = " + ".join(f"tuple({a})" if f"*{a}" in passed else f"({a},)"
                               for a in positional) or "()"
        source = (f"def {function.__name__}({', '.join(declared)}):\n"
                  f"    if _registry._trace_hook is None:\n"
                  f"        return _function({arguments})\n"
                  f"    return _registry._trace_hook(_get_info(), _function, {args_text}, "
                  f"{kwargs_text})\n")
        namespace = {"_function": function, "_get_info": get_info,
                     "_registry": sys.modules[__name__]}
        exec(source, namespace)  # noqa: S102 - the source is built from a signature above
        op = namespace[function.__name__]
        op.__defaults__ = function.__defaults__
        op.__kwdefaults__ = function.__kwdefaults__
        return op

    def op(*args, **kwargs):
        if _trace_hook is None:
            return function(*args, **kwargs)
        return _trace_hook(get_info(), function, args, kwargs)
    return op


def recording() -> bool:
    """True while any tape is recording (VJPs use this to choose fused or composable paths)."""
    return bool(_recording_tapes)


array_module = backend.get_array_module


def as_tensor(value, dtype=None) -> Tensor:
    return value if isinstance(value, Tensor) and dtype is None else convert_to_tensor(value, dtype)


def check_same_device(op: str, *tensors: Tensor) -> None:
    """Raise a clear error when an op mixes CPU and GPU tensors."""
    first = type(tensors[0].array)
    for tensor in tensors[1:]:
        if type(tensor.array) is not first or (first is not np.ndarray and
                                               tensor.array.device != tensors[0].array.device):
            a = backend.device_of(tensors[0].array)
            b = backend.device_of(tensor.array)
            if a != b:
                raise InvalidArgumentError(
                    f"{op}: tensors are on different devices: {a} and {b}. Move one "
                                 f"with .to('{a}') (or .cpu()/.gpu()) before combining them.")


# the only ops strings take part in (TensorFlow's Add concatenates strings)
_STRING_OPS = frozenset({"add", "equal", "not_equal"})


def refuse_strings(op: str, *dtypes) -> None:
    """A clear error when a string tensor reaches arithmetic (or mixes with numbers)."""
    names = [np.dtype(d) for d in dtypes]
    if not any(d.kind == "O" for d in names):
        return
    shown = " and ".join("string" if d.kind == "O" else d.name for d in names)
    if op in _STRING_OPS and all(d.kind == "O" for d in names):
        return
    raise DTypeMismatchError(f"{op}: cannot apply to {shown} operands: string tensors support "
                             "only +, == and != with other strings. Convert numbers with "
                             "tf.strings.to_number, or strings with tf.strings.as_string.")


def _coerce_like(value, like: Tensor, op: str) -> Tensor:
    """Convert plain data to the dtype and device of `like` (TensorFlow's operand rule)."""
    dtype = like.array.dtype
    if dtype.kind == "O" or isinstance(value, (str, bytes)):
        other = convert_to_tensor(value)
        refuse_strings(op, dtype, other.array.dtype)
        return other
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        if isinstance(value, float) and dtype.kind in "iub" and not float(value).is_integer():
            raise TypeError(f"{op}: cannot combine a tensor of dtype {like.dtype.name} with the "
                            f"float {value!r}; cast the tensor first with tf.cast(x, tf.float32).")
        xp = array_module(like.array)
        return Tensor(xp.asarray(value, dtype=dtype))
    array = np.asarray(value) if not hasattr(value, "__cuda_array_interface__") else value
    if array.dtype.kind in "fV" and dtype.kind in "iub":
        raise TypeError(f"{op}: cannot combine a tensor of dtype {like.dtype.name} with "
                        f"{array.dtype} data; cast with tf.cast first.")
    return Tensor(backend.asarray(array, dtype=dtype, device=backend.device_of(like.array)))


def binary_operands(x, y, op: str) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of one dtype on one device, or a clear error."""
    if isinstance(x, Tensor):
        if not isinstance(y, Tensor):
            return x, _coerce_like(y, x, op)
    elif isinstance(y, Tensor):
        return _coerce_like(x, y, op), y
    else:
        x = convert_to_tensor(x)
        y = _coerce_like(y, x, op)
        return x, y
    if x.array.dtype != y.array.dtype:
        refuse_strings(op, x.array.dtype, y.array.dtype)
        raise DTypeMismatchError(f"{op}: operands have different dtypes: {x.dtype.name} "
                        f"(shape {format_shape(x.shape)}) and {y.dtype.name} "
                        f"(shape {format_shape(y.shape)}). Use tf.cast to make them match.")
    if type(x.array) is not np.ndarray or type(y.array) is not np.ndarray:
        check_same_device(op, x, y)  # CPU with GPU, or two different GPUs
    return x, y


def broadcast_shape(op: str, a: tuple, b: tuple) -> tuple:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise InvalidArgumentError(f"{op}: shapes {format_shape(a)} and {format_shape(b)} are not "
                         "broadcastable (trailing dimensions must be equal or 1).") from None


def require_float(op: str, *tensors: Tensor) -> None:
    """A clear TypeError unless every tensor is floating-point (or complex)."""
    for tensor in tensors:
        if tensor.array.dtype.kind not in "fcV":  # V: bfloat16 (ml_dtypes)
            refuse_strings(op, tensor.array.dtype)
            raise TypeError(f"{op}: expects a floating-point tensor, got {tensor.dtype.name} "
                            f"(shape {format_shape(tensor.shape)}). Use tf.cast(x, tf.float32).")


def unbroadcast(gradient: Tensor, shape: tuple) -> Tensor:
    """Sum a broadcast gradient back down to `shape` (the one helper every binary VJP uses)."""
    if gradient.array.shape == shape:
        return gradient
    from .reductions import reduce_sum
    from .shapes import reshape

    extra = gradient.array.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape)
        if size == 1 and gradient.array.shape[extra + i] != 1)
    summed = reduce_sum(gradient, axis=axes) if axes else gradient
    return reshape(summed, shape) if summed.array.shape != shape else summed
