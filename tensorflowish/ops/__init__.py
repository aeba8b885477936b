"""Every differentiable op, each one block: forward, its VJP, and a kernel path where one pays.

Importing this package registers all ops (see `registry.REGISTRY`) and gives `Tensor` its
Python operators.
"""

from __future__ import annotations

import sys

from .. import tape as _tape
from .. import tensor as _tensor
from ..tensor import Tensor
from . import (
    attention,
    contractions,
    control,
    convolution,
    creation,
    embedding,
    image,
    image_color,
    image_quality,
    image_resize,
    indexing,
    linalg,
    linalg_decompositions,
    linalg_solvers,
    linalg_structure,
    math,
    nn,
    partition,
    pooling,
    recurrent,
    reductions,
    scans,
    shapes,
    sorting,
    tensor_array,
    variable_methods,
)
from .creation import eye, fill, linspace, one_hot, ones, ones_like, range, zeros, zeros_like
from .linalg import matmul
from .math import (
    abs,
    add,
    add_n,
    cast,
    ceil,
    clip_by_value,
    cos,
    divide,
    equal,
    erf,
    exp,
    expm1,
    floor,
    floordiv,
    floormod,
    greater,
    greater_equal,
    is_finite,
    is_nan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    pow,
    reciprocal,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    subtract,
    tanh,
    where,
)
from .nn import (
    bias_add,
    dense,
    dropout,
    elu,
    gelu,
    l2_loss,
    leaky_relu,
    log_softmax,
    moments,
    relu,
    relu6,
    selu,
    sigmoid_cross_entropy_with_logits,
    silu,
    softmax,
    softmax_cross_entropy_with_logits,
    softplus,
    sparse_softmax_cross_entropy_with_logits,
)
from .reductions import (
    argmax,
    argmin,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_std,
    reduce_sum,
    reduce_variance,
)
from .registry import REGISTRY, OpInfo
from .shapes import (
    broadcast_to,
    concat,
    expand_dims,
    gather,
    getitem,
    identity,
    reshape,
    split,
    squeeze,
    stack,
    stop_gradient,
    tile,
    to_device,
    transpose,
    unstack,
)


def _reflected(function):
    return lambda self, other: function(other, self)


def _equality(function):
    def compare(self, other):
        if other is None:
            return function is not_equal
        try:
            return function(self, other)
        except (TypeError, ValueError):
            return NotImplemented
    return compare


_OPERATORS = {
    "__add__": add, "__radd__": _reflected(add),
    "__sub__": subtract, "__rsub__": _reflected(subtract),
    "__mul__": multiply, "__rmul__": _reflected(multiply),
    "__truediv__": divide, "__rtruediv__": _reflected(divide),
    "__floordiv__": floordiv, "__rfloordiv__": _reflected(floordiv),
    "__mod__": floormod, "__rmod__": _reflected(floormod),
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": negative, "__abs__": abs, "__pos__": shapes.snapshot,
    "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
    "__eq__": _equality(equal), "__ne__": _equality(not_equal),
    "__and__": logical_and, "__or__": logical_or, "__invert__": logical_not,
    "__getitem__": getitem,
}


def _eager(function):
    """The op's own function, without the tf.function dispatcher: one call less for every
    operator on a tensor. While a tf.function traces, the tracer installs `_OPERATORS` (the
    dispatchers) instead, so the trace sees `x + y` (tensorflowish.function.tracing)."""
    return getattr(function, "__wrapped__", function)


EAGER_OPERATORS = {
    "__add__": _eager(add), "__radd__": _reflected(_eager(add)),
    "__sub__": _eager(subtract), "__rsub__": _reflected(_eager(subtract)),
    "__mul__": _eager(multiply), "__rmul__": _reflected(_eager(multiply)),
    "__truediv__": _eager(divide), "__rtruediv__": _reflected(_eager(divide)),
}
for _name, _function in {**_OPERATORS, **EAGER_OPERATORS}.items():
    setattr(Tensor, _name, _function)
variable_methods.install_variable_methods()
Tensor.get_shape = lambda self: self.shape
Tensor.__hash__ = None

# The core below the ops (tensor.py, tape.py) calls a few ops itself (Tensor.cpu, the tape's
# jacobian); rather than importing up into this package, it is handed this package here.
_tensor._ops = _tape._ops = sys.modules[__name__]
