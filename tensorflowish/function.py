"""`tf.function`: accepted as a decorator, and runs the function eagerly.

tensorflowish has no graph compiler: a decorated function behaves exactly like the plain Python
function (same results, same gradients), so TensorFlow code that uses `@tf.function` runs
unchanged. Arguments such as `input_signature` or `jit_compile` are accepted and ignored.
"""

from __future__ import annotations

import functools


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_relax_shapes=None, **kwargs):
    """Decorator that returns the function unchanged in behaviour (eager execution)."""
    def decorate(f):
        @functools.wraps(f)
        def eager(*args, **kw):
            return f(*args, **kw)
        eager.python_function = f
        eager.input_signature = input_signature  # read by tf.saved_model
        return eager
    return decorate if func is None else decorate(func)
