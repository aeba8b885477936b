"""Elementwise-chain fusion: a small IR compiled into ONE generated CUDA kernel.

A chain is a list of steps over named inputs; each step applies one op of :data:`OPS` to inputs,
earlier steps or numeric literals, and the chosen steps are written out. The whole chain runs in
one grid-stride loop, each element read once and each output written once::

    import numpy as np
    from tensorflowish.kernels import fusion

    chain = fusion.Chain(
        inputs=[("x", "full"), ("b", "row"), ("alpha", "scalar")],
        steps=[("z", "add", ("x", "b")), ("a", "tanh", ("z",)),
               ("y", "multiply", ("a", "alpha"))],
        outputs=["y", "z"],
        dtype="float32",
    )
    kernel = fusion.compile_chain(chain)          # kernel.source, kernel.key, kernel.name
    y, z = kernel({"x": x, "b": b, "alpha": 0.5}, fusion.emulator_runner())   # or cupy_runner()

Input kinds: ``full`` (an array of the output shape), ``row`` (a vector along the last axis,
such as a bias), ``element`` (a one-element array on the device, read at index 0: a scalar
tensor) and ``scalar`` (a host number passed as a kernel argument). Inputs have the chain's
dtype unless given another one (``("mask", "full", "bool")``); such an input must go through
``cast`` before other ops use it, except as the condition of ``where``.
float32 and float64 chains compute in their own precision; float16 and bfloat16 chains read
and write 16 bits and compute in float, as the ``_f16``/``_bf16`` kernels of ``*.cu`` do.

The same source runs on CuPy (``cupy.RawModule``) and on the CPU emulator
(:mod:`tensorflowish.kernels.emulator`), which is how the tests check generated kernels.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cuda import ELEMENTWISE_THREADS, KERNEL_DIR, MAX_BLOCKS

__all__ = ["KINDS", "OPS", "Chain", "ChainError", "FusedKernel", "FusionRunner",
           "compile_chain", "cupy_runner", "emulator_runner"]

KINDS = ("full", "row", "element", "scalar")


class ChainError(ValueError):
    """A chain that cannot be compiled or launched (unknown op, bad operand, wrong shape)."""


# op -> (arity, C expression over a, b, c in the compute type T; F(name) is the math function)
OPS: dict[str, tuple[int, str]] = {
    "add": (2, "({a} + {b})"),
    "subtract": (2, "({a} - {b})"),
    "multiply": (2, "({a} * {b})"),
    "divide": (2, "({a} / {b})"),
    "negative": (1, "(-{a})"),
    "exp": (1, "{exp}({a})"),
    "log": (1, "{log}({a})"),
    "tanh": (1, "{tanh}({a})"),
    "sigmoid": (1, "(T(1) / (T(1) + {exp}(-{a})))"),
    "relu": (1, "({a} < T(0) ? T(0) : {a})"),  # NaN stays NaN, as TensorFlow's relu
    "square": (1, "({a} * {a})"),
    "sqrt": (1, "{sqrt}({a})"),
    "rsqrt": (1, "(T(1) / {sqrt}({a}))"),
    "abs": (1, "{fabs}({a})"),
    # NaN-propagating, as tf.maximum/tf.minimum (fmax/fmin would drop a NaN)
    "maximum": (2, "(({a} != {a} || {a} > {b}) ? {a} : {b})"),
    "minimum": (2, "(({a} != {a} || {a} < {b}) ? {a} : {b})"),
    "greater": (2, "({a} > {b} ? T(1) : T(0))"),  # a mask in the chain's dtype
    "where": (3, "({a} ? {b} : {c})"),  # condition: nonzero (or a bool input)
    "cast": (1, "((T)({a}))"),  # an input of another dtype into the chain's
}
_MATH = {
    "float": {"exp": "expf", "log": "logf", "tanh": "tanhf", "sqrt": "sqrtf", "fabs": "fabsf"},
    "double": {"exp": "exp", "log": "log", "tanh": "tanh", "sqrt": "sqrt", "fabs": "fabs"},
}
# chain dtype -> (storage struct of tfish_common.cuh, C type stored, C type computed)
_STORAGE = {
    "float32": ("tfish_f32", "float", "float"),
    "float64": ("tfish_f64", "double", "double"),
    "float16": ("tfish_f16", "unsigned short", "float"),
    "bfloat16": ("tfish_bf16", "unsigned short", "float"),
}
# dtypes an input other than the chain's may have (read as this C type, then `cast`)
_OTHER_DTYPES = {"bool": "bool", "int32": "int", "int64": "long long",
                 "float32": "float", "float64": "double"}


def _dtype_name(dtype: Any) -> str:
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    return {"float": "float64", "bool_": "bool"}.get(name, name)


@dataclass(frozen=True)
class Chain:
    """The IR: ``inputs`` as ``(name, kind)`` or ``(name, kind, dtype)``; ``steps`` as
    ``(name, op, args)`` with args naming inputs or earlier steps, or numbers; ``outputs``
    naming steps (or inputs); ``dtype`` the chain's float dtype."""

    inputs: Sequence[tuple]
    steps: Sequence[tuple]
    outputs: Sequence[str]
    dtype: Any = "float32"

    def canonical(self) -> tuple:
        """The chain validated and normalised: (inputs, steps, outputs, dtype) as tuples."""
        dtype = _dtype_name(self.dtype)
        if dtype not in _STORAGE:
            raise ChainError(f"a fused chain computes in one of {sorted(_STORAGE)}, got dtype "
                             f"{dtype!r}; cast the values first")
        value_dtypes: dict[str, str] = {}
        inputs = []
        for entry in self.inputs:
            if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
                raise ChainError(f"an input is (name, kind) or (name, kind, dtype), got {entry!r}")
            name, kind = entry[0], entry[1]
            own = _dtype_name(entry[2]) if len(entry) == 3 else dtype
            _check_name(name, value_dtypes)
            if kind not in KINDS:
                raise ChainError(f"input {name!r}: kind must be one of {KINDS}, got {kind!r}")
            if own != dtype and own not in _OTHER_DTYPES:
                raise ChainError(f"input {name!r}: dtype {own!r} is not supported; use the "
                                 f"chain's {dtype} or one of {sorted(_OTHER_DTYPES)}")
            if kind == "scalar" and own != dtype:
                raise ChainError(f"scalar input {name!r} must have the chain's dtype {dtype}, "
                                 f"got {own}")
            value_dtypes[name] = own
            inputs.append((name, kind, own))
        steps = []
        for entry in self.steps:
            if not isinstance(entry, (tuple, list)) or len(entry) != 3:
                raise ChainError(f"a step is (name, op, args), got {entry!r}")
            name, op, args = entry[0], entry[1], tuple(entry[2])
            if op not in OPS:
                raise ChainError(f"step {name!r}: unknown op {op!r}; a fused chain knows "
                                 f"{sorted(OPS)}")
            arity = OPS[op][0]
            if len(args) != arity:
                raise ChainError(f"step {name!r}: {op} takes {arity} operand(s), got "
                                 f"{len(args)}: {args!r}")
            normalised = []
            for position, arg in enumerate(args):
                if isinstance(arg, numbers.Real) and not isinstance(arg, bool):
                    normalised.append(float(arg))
                    continue
                if arg not in value_dtypes:
                    raise ChainError(f"step {name!r}: operand {arg!r} is neither an input nor "
                                     "an earlier step")
                foreign = value_dtypes[arg] != dtype
                if foreign and not (op == "cast" or (op == "where" and position == 0)):
                    raise ChainError(
                        f"step {name!r}: {op} got {arg!r} of dtype {value_dtypes[arg]} in a "
                        f"{dtype} chain; add a 'cast' step first")
                normalised.append(arg)
            _check_name(name, value_dtypes)
            value_dtypes[name] = dtype
            steps.append((name, op, tuple(normalised)))
        if not self.outputs:
            raise ChainError("a chain needs at least one output")
        for name in self.outputs:
            if name not in value_dtypes:
                raise ChainError(f"output {name!r} is neither an input nor a step")
            if value_dtypes[name] != dtype:
                raise ChainError(f"output {name!r} has dtype {value_dtypes[name]}, not the "
                                 f"chain's {dtype}; cast it")
        return tuple(inputs), tuple(steps), tuple(self.outputs), dtype


def _check_name(name: Any, seen: Mapping) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ChainError(f"value names must be identifiers, got {name!r}")
    if name in seen:
        raise ChainError(f"value name {name!r} is used twice")


def _literal(value: float, compute: str) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ChainError(f"a chain literal must be finite, got {value}; pass it as a scalar input")
    return f"T({value!r})" if compute == "double" else f"T({float(np.float32(value))!r}f)"


def generate(canonical: tuple, name: str) -> str:
    """The CUDA C source of a canonical chain: one ``extern "C" __global__`` kernel."""
    inputs, steps, outputs, dtype = canonical
    storage, stored, compute = _STORAGE[dtype]
    math_names = _MATH[compute]
    parameters, body = [], []
    symbol: dict[str, str] = {}
    for index in range(len(outputs)):
        parameters.append(f"{stored}* __restrict__ out{index}")
    for index, (input_name, kind, own) in enumerate(inputs):
        variable = f"v_{input_name}"
        symbol[input_name] = variable
        c_type = stored if own == dtype else _OTHER_DTYPES[own]
        if kind == "scalar":
            parameters.append(f"{compute} in{index}")
            body.append(f"        const T {variable} = in{index};")
            continue
        parameters.append(f"const {c_type}* __restrict__ in{index}")
        at = {"full": "i", "row": "i % cols", "element": "0"}[kind]
        if own == dtype:
            body.append(f"        const T {variable} = S::load(in{index}[{at}]);")
        else:
            body.append(f"        const {c_type} {variable} = in{index}[{at}];")
    for step_name, op, args in steps:
        operands = [_literal(a, compute) if isinstance(a, float) else symbol[a] for a in args]
        expression = OPS[op][1].format(**dict(zip("abc", operands)), **math_names)
        symbol[step_name] = f"s_{step_name}"
        body.append(f"        const T s_{step_name} = {expression};  // {op}")
    for index, output in enumerate(outputs):
        body.append(f"        out{index}[i] = S::store({symbol[output]});")
    signature = ",\n        ".join([*parameters, "int n", "int cols"])
    lines = [
        f"// generated by tensorflowish.kernels.fusion: a {dtype} elementwise chain of "
        f"{len(steps)} step(s)",
        '#include "tfish_common.cuh"',
        "",
        f'extern "C" __global__ void {name}(',
        f"        {signature}) {{",
        f"    typedef {storage} S;",
        f"    typedef {compute} T;",
        "    const long long stride = (long long)blockDim.x * gridDim.x;",
        "    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < n;"
        " j += stride) {",
        "        const int i = (int)j;",
        *body,
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class FusionRunner:
    """Where generated kernels run: array module, source -> module with ``get_function``,
    allocator of outputs (may be garbage), and the grid limit of the grid-stride loop."""

    xp: Any
    compile: Callable[[str], Any]
    empty: Callable[[tuple, Any], Any]
    max_blocks: int = MAX_BLOCKS


_CUPY_MODULES: dict[tuple[int, str], Any] = {}


def cupy_runner() -> FusionRunner:
    """Generated kernels on CuPy: ``cupy.RawModule``, compiled once per device and source."""
    import cupy

    def compile_source(source: str) -> Any:
        key = (cupy.cuda.Device().id, source)
        if key not in _CUPY_MODULES:
            _CUPY_MODULES[key] = cupy.RawModule(
                code=source, options=("--std=c++17", f"-I{KERNEL_DIR}"))
        return _CUPY_MODULES[key]

    return FusionRunner(cupy, compile_source, lambda shape, dtype: cupy.empty(shape, dtype))


def emulator_runner(order: str = "forward", seed: int = 0, max_blocks: int = MAX_BLOCKS,
                    poison: bool = True) -> FusionRunner:
    """Generated kernels on the CPU emulator, on NumPy arrays; outputs poisoned with NaN (so an
    element the kernel does not write shows) unless ``poison=False``."""
    from . import emulator

    modules: dict[str, Any] = {}

    def compile_source(source: str) -> Any:
        if source not in modules:
            modules[source] = emulator.load(source, order=order, seed=seed,
                                            include_dirs=[str(KERNEL_DIR)])
        return modules[source]

    def empty(shape: tuple, dtype: Any) -> np.ndarray:
        if poison:
            return np.full(shape, np.nan, dtype=dtype)
        return np.empty(shape, dtype=dtype)

    return FusionRunner(np, compile_source, empty, max_blocks)


class FusedKernel:
    """A compiled chain: ``source`` (CUDA C), ``key`` (stable over processes), ``name`` (the
    kernel's), and a launcher: ``kernel(inputs, runner)`` returns the outputs."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.inputs, self.steps, self.outputs, self.dtype = chain.canonical()
        self.key = hashlib.sha256(repr((self.inputs, self.steps, self.outputs,
                                        self.dtype)).encode()).hexdigest()[:20]
        self.name = f"tfish_fused_{self.key}"
        self.source = generate((self.inputs, self.steps, self.outputs, self.dtype), self.name)

    def __repr__(self) -> str:
        return (f"FusedKernel({self.name}, {self.dtype}, {len(self.steps)} steps, "
                f"outputs {list(self.outputs)})")

    def output_shape(self, inputs: Mapping[str, Any]) -> tuple:
        shapes = {name: tuple(inputs[name].shape) for name, kind, _ in self.inputs
                  if kind == "full"}
        if not shapes:
            raise ChainError("a chain needs a 'full' input to know its shape, or shape=")
        first = next(iter(shapes.values()))
        for shape in shapes.values():
            if shape != first:
                raise ChainError(f"full inputs must share one shape: {dict(shapes)}; "
                                 "broadcast them first or mark a bias as 'row'")
        return first

    def __call__(self, inputs: Mapping[str, Any], runner: FusionRunner,
                 shape: tuple | None = None, out: Sequence[Any] | None = None) -> list:
        """Run the chain on ``inputs`` (name -> array or number) and return its outputs."""
        xp, dtype = runner.xp, _numpy_dtype(self.dtype)
        missing = [name for name, _, _ in self.inputs if name not in inputs]
        if missing:
            raise ChainError(f"{self.name}: missing inputs {missing}; the chain takes "
                             f"{[name for name, _, _ in self.inputs]}")
        shape = self.output_shape(inputs) if shape is None else tuple(shape)
        n = math.prod(shape)
        if n >= 2**31:
            raise ChainError(f"{n} elements is too many for one fused kernel (int32 indices)")
        cols = shape[-1] if shape else 1
        half = dtype.itemsize == 2
        arguments = []
        if out is None:
            out = [runner.empty(shape, dtype) for _ in self.outputs]
        elif len(out) != len(self.outputs) or any(
                tuple(o.shape) != shape or o.dtype != dtype or not o.flags.c_contiguous
                for o in out):
            raise ChainError(f"out= must be {len(self.outputs)} C-contiguous {dtype} arrays of "
                             f"shape {shape}")
        arguments += [o.view(np.uint16) if half else o for o in out]
        for name, kind, own in self.inputs:
            value = inputs[name]
            if kind == "scalar":
                arguments.append((np.float32 if half else dtype.type)(value))
                continue
            array = xp.ascontiguousarray(value, dtype=_numpy_dtype(own))
            expected = {"full": shape, "row": (cols,), "element": None}[kind]
            if kind == "element" and array.size != 1:
                raise ChainError(f"input {name!r} (element) needs one element, got shape "
                                 f"{tuple(array.shape)}")
            if expected is not None and tuple(array.shape) != expected:
                raise ChainError(f"input {name!r} ({kind}) needs shape {expected} for output "
                                 f"shape {shape}, got {tuple(array.shape)}")
            if own == self.dtype and half:
                array = array.view(np.uint16)
            arguments.append(array.reshape(-1))
        if n:
            blocks = max(1, min(math.ceil(n / ELEMENTWISE_THREADS), runner.max_blocks))
            kernel = runner.compile(self.source).get_function(self.name)
            kernel((blocks,), (ELEMENTWISE_THREADS,), (*arguments, np.int32(n), np.int32(cols)))
        return list(out)


def _numpy_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


_COMPILED: dict[Any, FusedKernel] = {}


def compile_chain(chain: Chain) -> FusedKernel:
    """The fused kernel of ``chain`` (cached by its canonical form)."""
    kernel = FusedKernel(chain)
    return _COMPILED.setdefault(kernel.key, kernel)
