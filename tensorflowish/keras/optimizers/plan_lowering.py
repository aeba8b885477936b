"""`Optimizer.apply_gradients` in a replay plan: the optimiser's own array update, called
directly on the plan's gradient arrays.

`apply_gradients` checks and converts each (gradient, variable) pair, then runs the update
(`_apply_updates`: the fused kernels of tensorflowish.kernels) and counts the step. In a plan the
pairs are fixed and their shapes and dtypes known, so only the update remains. Configurations
that need more (clipping, gradient accumulation, moving averages, variable constraints, an
optimiser wrapping another) keep the `apply_gradients` line as it is.
"""

from __future__ import annotations

import inspect

import numpy as np

from tensorflowish.function import plan
from tensorflowish.function.graph import Call, Slot, _indexed_slices
from tensorflowish.keras.optimizers.optimizer import Optimizer
from tensorflowish.ops.indexed_slices import IndexedSlices
from tensorflowish.tensor import Tensor


def lower_apply_gradients(call: Call, variables: dict, specs: dict):
    """(update(grads), [(gradient slot, variable slot)]) for a plain update line, else None."""
    bound = bound_apply_gradients(call)
    if bound is None:
        return None
    optimizer, pairs = bound
    if optimizer.clipvalue is not None or optimizer.clipnorm is not None or \
            optimizer.global_clipnorm is not None or optimizer.gradient_accumulation_steps or \
            optimizer.use_ema:
        return None
    planned, updated, sparse, rows = [], [], [], []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or \
                pair[1].__class__ is not Slot:
            return None
        variable = pair[1].index
        if variable not in variables or variables[variable].constraint is not None:
            return None
        slices = _sparse_gradient(pair[0], variables[variable], specs)
        if slices is not None and optimizer._sparse_rows:  # updated row by row, after the rest
            rows.append((slices, variable))
            sparse.append(variables[variable])
            continue
        if slices is None and (pair[0].__class__ is not Slot or
                               specs.get(pair[0].index, (None,))[:2] != specs[variable][:2]):
            return None
        # a dense gradient, or an IndexedSlices made dense here (as apply_gradients does)
        planned.append((pair[0].index if slices is None else slices, variable))
        updated.append(variables[variable])
    # apply_gradients updates the dense gradients' variables first, then the sparse ones
    planned += rows
    iterations = optimizer._iterations_variable
    if not sparse and len(updated) == sum(grad.__class__ is int for grad, _ in planned) and \
            _plain_sgd(optimizer, updated):
        return _sgd_update(optimizer, updated), planned
    dense_count = len(updated)
    shapes = [variables[variable].shape for _, variable in planned]

    def update(grads: list, consumable: tuple) -> None:
        # apply_gradients after its checks, in its order
        step = int(iterations.array) + 1
        learning_rate = optimizer._current_learning_rate()
        optimizer._begin_step(step)
        # a 0-d gradient computed by the plan's NumPy arithmetic arrives as a NumPy scalar
        dense = [np.asarray(g) if isinstance(g, np.generic) else
                 _indexed_slices(Tensor(g[0]), Tensor(g[1]), shape).to_dense_array()
                 if g.__class__ is tuple else g for g, shape in zip(grads[:dense_count], shapes)]
        optimizer._apply_updates(dense, updated, learning_rate, step)
        for (values, indices), variable in zip(grads[dense_count:], sparse):
            slices = _indexed_slices(Tensor(values), Tensor(indices), variable.shape)
            optimizer._apply_sparse(slices, variable, learning_rate, step)
        iterations._writable_array().fill(step)
    # this package's updates only read the gradients (so a plan may keep their buffers from
    # call to call); a user's `_update` might store them
    update.keeps_gradients = not all(
        getattr(type(optimizer), method).__module__.startswith(__package__ + ".")
        for method in ("_update", "_apply_updates") + (("_apply_sparse",) if sparse else ()))
    return update, planned


def bound_apply_gradients(call: Call):
    """(optimiser, its (gradient, variable) pairs) of a line calling `Optimizer.apply_gradients`
    itself with nothing but the pairs (and a name), else None."""
    if call.function is not Optimizer.apply_gradients:
        return None
    try:
        bound = inspect.signature(call.function).bind(*call.args, **call.kwargs)
    except TypeError:
        return None
    optimizer = bound.arguments.get("self")
    pairs = bound.arguments.get("grads_and_vars")
    if set(bound.arguments) - {"self", "grads_and_vars", "name"} or \
            not isinstance(optimizer, Optimizer) or \
            type(optimizer).apply_gradients is not Optimizer.apply_gradients or \
            not isinstance(pairs, (list, tuple)) or not pairs:
        return None
    return optimizer, pairs


def _sparse_gradient(grad, variable, specs: dict):
    """(values slot, indices slot) of an IndexedSlices gradient of `variable`, else None.
    apply_gradients applies it row by row where the optimiser's `_sparse_rows` says that is its
    update (plain SGD), and otherwise makes it dense first (as Keras 3)."""
    if grad.__class__ is not IndexedSlices or grad.values.__class__ is not Slot or \
            grad.indices.__class__ is not Slot:
        return None
    values, indices = specs.get(grad.values.index), specs.get(grad.indices.index)
    if values is None or indices is None or values[1] != variable.array.dtype or \
            tuple(values[0][1:]) != tuple(variable.shape[1:]) or \
            (grad.dense_shape is not None and tuple(grad.dense_shape) != tuple(variable.shape)):
        return None
    return grad.values.index, grad.indices.index


def _plain_sgd(optimizer, variables) -> bool:
    from tensorflowish.keras.optimizers.sgd import SGD

    return type(optimizer) is SGD and not optimizer.momentum and \
        optimizer.weight_decay is None and type(optimizer)._apply_updates is SGD._apply_updates \
        and all(v.array.dtype.kind == "f" and v.array.dtype.itemsize > 2 for v in variables)


def _sgd_update(optimizer, variables):
    """Plain SGD (the most common step of all): SGD._apply_updates's loop with the NumPy
    kernel called directly (float32/float64 variables on the CPU, checked at compile time)."""
    from tensorflowish import kernels
    from tensorflowish.tensor import _UNSHARED, _getrefcount

    iterations, kernel = optimizer._iterations_variable, kernels.cpu.sgd_update
    multiply, subtract, ndarray = np.multiply, np.subtract, np.ndarray

    def update(grads: list, consumable: tuple) -> None:
        step = int(iterations.array) + 1
        learning_rate = optimizer._current_learning_rate()
        for grad, variable, consume in zip(grads, variables, consumable):
            param = variable.array  # Variable._writable_array, inlined (copy-on-write)
            if _getrefcount(param) > _UNSHARED:
                param = variable._writable_array()
            if consume and grad.__class__ is ndarray and grad.ndim:
                # the kernel's `param -= grad * lr`, its scratch array being the gradient
                # itself (a buffer of the plan that dies here)
                subtract(param, multiply(grad, learning_rate, out=grad), out=param)
            else:
                kernel(param, grad, None, learning_rate, 0.0, False)
        iterations._writable_array().fill(step)
    update.keeps_gradients = False  # it scales them in place at most
    return update


# The replay plan (tensorflowish.function, below Keras) asks its registered lowerings.
plan.register_update_lowering(lower_apply_gradients)
