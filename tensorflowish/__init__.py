"""tensorflowish: TensorFlow 2's eager API on NumPy (CPU) and CuPy (GPU), small enough to read.

>>> import tensorflowish as tf
>>> w = tf.Variable(0.5)
>>> with tf.GradientTape() as tape:
...     loss = (w * 3.0 - 6.0) ** 2
>>> float(tape.gradient(loss, w))
-27.0
"""

from __future__ import annotations

import sys
import types as _types

from . import autodiff, backend, dtypes, errors, ops
from . import random as random  # noqa: PLC0414
from .autodiff import custom_gradient, gradients, hessians, recompute_grad
from .backend import BackendError
from .dtypes import (
    DType,
    as_dtype,
    bool,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from .function import (
    TensorArray,
    cond,
    function,
    init_scope,
    inside_function,
    numpy_function,
    py_function,
    switch_case,
    while_loop,
)
from .function import autograph as _autograph
from .function import trace_type as _trace_type
from .module import Module
from .ops.clip import clip_by_global_norm, clip_by_norm
from .ops.indexed_slices import IndexedSlices
from .ops.registry import REGISTRY
from .ragged import RaggedTensor
from .tape import GradientTape, UnconnectedGradients
from .tensor import Tensor, TensorShape, Variable, constant
from .tensor import convert_to_tensor as _convert_to_tensor

__version__ = "0.1.0"
newaxis = None


def _namespace(name: str, doc: str) -> _types.ModuleType:
    module = _types.ModuleType(f"{__name__}.{name}", doc)
    sys.modules[module.__name__] = module
    return module


math = _namespace("math", "tf.math: elementwise math and reductions.")
nn = _namespace("nn", "tf.nn: activations, losses and the fused dense layer.")
linalg = _namespace("linalg", "tf.linalg: matrix operations.")
experimental = _namespace("experimental", "tf.experimental: DLPack interchange.")
image = _namespace("image", "tf.image: resizing, cropping, colours and quality measures (NHWC).")
types = _namespace("types", "tf.types: the tracing protocol's TraceType.")
types.experimental = _namespace("types.experimental", "tf.types.experimental: TraceType.")
autograph = _namespace("autograph", "tf.autograph: the source AutoGraph converts (to_code).")
autograph.experimental = _namespace("autograph.experimental", "tf.autograph.experimental.")
_namespaces = {"math": math, "nn": nn, "linalg": linalg, "dtypes": dtypes, "image": image}

# The public namespaces come from the op registry, so no op can be forgotten in one of them.
for _info in REGISTRY.values():
    for _path in _info.names:
        _space, _, _attribute = _path.rpartition(".")
        if not _space:
            globals()[_attribute] = _info.function
        elif _space in _namespaces:
            setattr(_namespaces[_space], _attribute, _info.function)

for _name in ("random_flip_left_right", "random_flip_up_down", "random_crop"):
    setattr(image, _name, getattr(ops.image, _name))  # random: no finite-difference samples
image.ResizeMethod = ops.image_resize.ResizeMethod
for _name in ("dropout", "moments"):
    setattr(nn, _name, getattr(ops.nn, _name))
types.experimental.TraceType = _trace_type.TraceType
autograph.to_code = _autograph.to_code
autograph.experimental.do_not_convert = _autograph.do_not_convert
unstack = ops.unstack
split = ops.split
identity = ops.identity


def _l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    """x / sqrt(max(sum(x²), epsilon)) along `axis`."""
    x = ops.registry.as_tensor(x)
    return x * ops.rsqrt(ops.maximum(ops.reduce_sum(x * x, axis, keepdims=True), epsilon))


def _compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """Mean of per-example losses (over `global_batch_size` when given)."""
    loss = ops.registry.as_tensor(per_example_loss)
    if sample_weight is not None:
        loss = loss * sample_weight
    size = global_batch_size if global_batch_size is not None else max(int(loss.array.size), 1)
    return ops.reduce_sum(loss) / float(size)


math.l2_normalize = nn.l2_normalize = _l2_normalize
nn.compute_average_loss = _compute_average_loss




def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    """A Tensor from a tensor, Variable, array, number, string or nested list.

    A Variable gives a snapshot of its current value (differentiable with respect to it, and
    unchanged by later assignments); NumPy data is copied.

    >>> import tensorflowish as tf
    >>> v = tf.Variable([1.0, 2.0])
    >>> t = tf.convert_to_tensor(v)
    >>> _ = v.assign([5.0, 6.0])
    >>> t.numpy().tolist()
    [1.0, 2.0]
    """
    tensor = _convert_to_tensor(value, dtype=dtype, dtype_hint=dtype_hint)
    return ops.shapes.snapshot(tensor)


def is_tensor(x) -> bool:
    """True for tensors and variables."""
    return isinstance(x, Tensor)


def executing_eagerly() -> bool:
    """True, except while a tf.function is being traced."""
    return not inside_function()


def print(*inputs, sep=" ", end="\n", **kwargs):  # noqa: A001
    """Print tensors by value (like tf.print)."""
    import builtins

    builtins.print(*[x.numpy() if isinstance(x, Tensor) else x for x in inputs], sep=sep, end=end)


def device(name: str):
    """Context manager placing new tensors on 'CPU:0' or 'GPU:0' (the cupy backend).

    >>> import tensorflowish as tf
    >>> with tf.device("CPU:0"):
    ...     tf.ones([2]).device
    '/job:localhost/replica:0/task:0/device:CPU:0'
    """
    return backend.device_scope(name)


from . import config, debugging, nest  # noqa: E402
from . import dlpack as _dlpack  # noqa: E402
from .assertions import (  # noqa: E402 - TensorFlow's top-level aliases
    Assert,
    assert_equal,
    assert_greater,
    assert_less,
    assert_rank,
)
from .ops.functional import foldl, foldr, map_fn, scan  # noqa: E402

experimental.dlpack = _dlpack

from . import (  # noqa: E402
    data,  # noqa: E402
    distribute,  # noqa: E402 - Horovod-style data parallelism (mpi4py imported lazily)
    keras,  # noqa: E402
    strings,  # noqa: E402 - tf.strings (string tensors are host object arrays)
    summary,  # noqa: E402 - tf.summary (tensorboardX imported lazily)
)
from .data import TensorSpec  # noqa: E402
from .saving import onnx, saved_model, train  # noqa: E402 - ONNX export, tf.saved_model, tf.train

as_string = strings.as_string

del _info, _path, _space, _attribute, _name


def __getattr__(name: str):
    if name == "bfloat16":  # made on first use: it needs ml_dtypes (see dtypes.py)
        return dtypes.bfloat16
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
