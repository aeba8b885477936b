"""`tf.function`: trace a Python function into a graph of registry ops, replay it per call.

>>> import tensorflowish as tf
>>> @tf.function
... def f(x):
...     return x * x + 1.0
>>> float(f(tf.constant(2.0)))
5.0
>>> print(f.get_concrete_function(tf.constant(2.0)).graph)
graph f(%0: float32[]) {
  %1: float32[] = multiply(%0, %0)
  %2: float32[] = add(%1, 1.0)
  return %2
}
"""

from __future__ import annotations

import contextlib

from .control_flow import cond, switch_case, while_loop
from .graph import Graph
from .polymorphic import ConcreteFunction, Function
from .python_calls import numpy_function, py_function
from .tensor_array import TensorArray
from .tracing import OperatorNotAllowedInGraphError, TracedTensor, current

__all__ = ["function", "cond", "switch_case", "while_loop", "TensorArray", "py_function",
           "numpy_function", "Function",
           "ConcreteFunction", "Graph", "init_scope", "OperatorNotAllowedInGraphError",
           "TracedTensor", "inside_function"]


def function(func=None, input_signature=None, autograph: bool = True, jit_compile=None,
             reduce_retracing: bool = False, experimental_implements=None,
             experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None,
             experimental_follow_type_hints=None, name=None):
    """Trace `func` into a graph once per input signature and replay the graph on later calls.

    Python side effects (print, appending to lists) run while tracing only; `tf.print`,
    variable assignments and random ops run at every call. A new signature (another dtype or
    shape of a tensor argument, another value of a Python argument) traces again.
    `input_signature` fixes the signature (None dimensions accept any size);
    `reduce_retracing=True` replaces the dimensions that changed by None instead of tracing
    per shape. `jit_compile` is accepted and ignored (there is no XLA).
    """
    relax = reduce_retracing or bool(experimental_relax_shapes)

    def decorate(f):
        return Function(f, input_signature=input_signature, autograph=autograph,
                        jit_compile=jit_compile, reduce_retracing=relax, name=name)

    return decorate if func is None else decorate(func)


def inside_function() -> bool:
    """True while a tf.function is being traced, outside tf.init_scope (TensorFlow's
    tf.inside_function)."""
    tracer = current()
    return tracer is not None and tracer.depth == 0


@contextlib.contextmanager
def init_scope():
    """Run the block eagerly, outside the graph being traced: its ops are not recorded and its
    results become constants of the graph (TensorFlow's tf.init_scope)."""
    tracer = current()
    if tracer is None:
        yield
        return
    tracer.depth += 1
    try:
        yield
    finally:
        tracer.depth -= 1
