"""`tf.py_function` and `tf.numpy_function`: escape from a traced graph back to Python.

The Python function becomes one graph line, so it runs at every call of the traced function, on
that call's values (reading them in Python is allowed inside it). `py_function` hands it tensors
and its ops are differentiated like any eager ops; `numpy_function` hands it NumPy arrays and has
no gradient, as in TensorFlow.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor, convert_to_tensor
from . import tracing


def _as_outputs(result, Tout, what: str):  # noqa: N803 - TensorFlow's argument name
    if Tout is None:
        return None
    if isinstance(Tout, (list, tuple)):
        values = list(result) if isinstance(result, (list, tuple)) else [result]
        if len(values) != len(Tout):
            raise ValueError(f"{what}: the function returned {len(values)} values but Tout "
                             f"lists {len(Tout)} dtypes.")
        return [_as_output(v, t, what) for v, t in zip(values, Tout)]
    return _as_output(result, Tout, what)


def _as_output(value, dtype, what: str) -> Tensor:
    wanted = dtypes.as_dtype(dtype)
    if isinstance(value, Tensor):
        if value.dtype != wanted:
            raise TypeError(f"{what}: the function returned a {value.dtype.name} tensor where "
                            f"Tout says {wanted.name}; cast it inside the function.")
        return value
    return convert_to_tensor(np.asarray(value, dtype=dtypes.numpy_dtype(wanted)))


def _run_py(func, inp, Tout):  # noqa: N803
    return _as_outputs(func(*inp), Tout, "tf.py_function")


def _run_numpy(func, inp, Tout):  # noqa: N803
    arrays = [x.numpy() if isinstance(x, Tensor) else np.asarray(x) for x in inp]
    return _as_outputs(func(*arrays), Tout, "tf.numpy_function")


def _call(name: str, runner, func, inp, Tout):  # noqa: N803
    inp = list(inp) if isinstance(inp, (list, tuple)) else [inp]
    tracer = tracing.current()
    if tracer is None or tracer.depth:
        return runner(func, inp, Tout)
    return tracer.record(name, runner, (func, inp, Tout), {}, stateful=True)


def py_function(func=None, inp=None, Tout=None, name=None):  # noqa: N803
    """Call `func(*inp)` in Python at every call, even inside a tf.function. Without `func`
    (`@tf.py_function(Tout=tf.float32)`), a decorator: the decorated function's calls become
    py_function calls on their arguments.

    >>> import tensorflowish as tf
    >>> @tf.function
    ... def f(x):
    ...     return tf.py_function(lambda t: t * float(t.numpy()), [x], tf.float32)
    >>> float(f(tf.constant(3.0)))
    9.0
    """
    if func is None:
        import functools

        def decorate(function):
            @functools.wraps(function)
            def wrapper(*args):
                return _call("py_function", _run_py, function, list(args), Tout)
            return wrapper
        return decorate
    return _call("py_function", _run_py, func, inp, Tout)


def numpy_function(func, inp, Tout, stateful=True, name=None):  # noqa: N803
    """Call `func` on NumPy arrays at every call, even inside a tf.function (no gradient)."""
    return _call("numpy_function", _run_numpy, func, inp, Tout)
