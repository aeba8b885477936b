"""The engine-neutral collectives: allreduce, broadcast and barrier on Tensors and Variables,
packed into fused buffers and handed to the MPI or NCCL back end."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .. import backend
from ..tape import _flatten
from ..tensor import Tensor, Variable, convert_to_tensor
from .common import OPS
from .process import _get

# --- fused buffers -----------------------------------------------------------------------------


def _reduction_dtype(dtype: np.dtype) -> np.dtype:
    """MPI has no float16: reduce it in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _buckets(entries: list[tuple[int, Any, tuple, np.dtype]], bucket_bytes: int):
    """Group (index, xp, shape, dtype) entries by array module and dtype, then cut each group
    into buckets of at most `bucket_bytes` (a tensor larger than that gets a bucket of its own)."""
    groups: dict[tuple, list] = {}
    for entry in entries:
        groups.setdefault((entry[1].__name__, _reduction_dtype(entry[3])), []).append(entry)
    for (_, dtype), members in groups.items():
        bucket, used = [], 0
        for entry in members:
            nbytes = int(np.prod(entry[2], dtype=np.int64)) * dtype.itemsize
            if bucket and used + nbytes > bucket_bytes:
                yield dtype, bucket
                bucket, used = [], 0
            bucket.append(entry)
            used += nbytes
        if bucket:
            yield dtype, bucket


def _spec(name: str, xp: Any, shape: tuple, dtype: np.dtype, present: bool) -> tuple:
    """What the ranks compare before a collective call: where, what dtype, what shape."""
    where = "numpy" if xp is np else "cupy"
    return (name, f"{where}:{np.dtype(dtype).name}", tuple(int(d) for d in shape), present)


def _reduce_arrays(arrays: list, shapes: list, dtypes: list, names: list, op: str,
                   kind: str, modules: list | None = None) -> list:
    """Reduce a list of backend arrays (None for absent ones) across ranks in fused buffers.

    An entry None on every rank stays None; None on some ranks only counts as zeros there.
    """
    if op not in OPS:
        raise ValueError(f"Unknown reduction op {op!r}; expected one of {', '.join(OPS)}.")
    for array, dtype, name in zip(arrays, dtypes, names):
        if array is None:  # e.g. an integer variable: no gradient anywhere, nothing to check
            continue
        if op == "average" and np.dtype(dtype).kind not in "fc":
            raise TypeError(f"Cannot average '{name}' of dtype {np.dtype(dtype).name}: use "
                            "op='sum', 'min' or 'max' for integers, or cast to float first.")
        if np.dtype(dtype).kind == "b" or (op in ("min", "max") and np.dtype(dtype).kind == "c"):
            raise TypeError(f"Cannot reduce '{name}' of dtype {np.dtype(dtype).name} with "
                            f"op={op!r}.")
    context = _get()
    if context.size == 1:
        return list(arrays)
    if modules is None:
        modules = [np if a is None else backend.get_array_module(a) for a in arrays]
    specs = [_spec(n, xp, s, d, a is not None)
             for a, xp, s, d, n in zip(arrays, modules, shapes, dtypes, names)]
    present = context.agree(kind, f"op={op}", -1, specs)
    results: list = [None] * len(arrays)
    entries = [(i, modules[i], tuple(shapes[i]), np.dtype(dtypes[i]))
               for i in range(len(arrays)) if present[i]]
    for dtype, bucket in _buckets(entries, context.bucket_bytes):
        xp = bucket[0][1]
        sizes = [int(np.prod(shape, dtype=np.int64)) for _, _, shape, _ in bucket]
        buffer = context.fused_buffer(xp, dtype, sum(sizes), _device_id(arrays, bucket))
        offset = 0
        for (index, _, _, _), count in zip(bucket, sizes):
            if arrays[index] is None:
                buffer[offset:offset + count] = 0  # absent here, present elsewhere: adds nothing
            else:
                buffer[offset:offset + count] = arrays[index].reshape(-1)
            offset += count
        context.reduce_buffer(buffer, op)
        offset = 0
        for (index, _, shape, original), count in zip(bucket, sizes):
            piece = buffer[offset:offset + count].reshape(shape)
            result = piece / context.size if op == "average" else piece.copy()
            results[index] = result if result.dtype == original else result.astype(original)
            offset += count
    return results


def _device_id(arrays: list, bucket: list) -> int:
    """The GPU of a bucket's arrays (0 for host arrays)."""
    for index, *_ in bucket:
        if arrays[index] is not None and not backend.is_numpy(arrays[index]):
            return int(arrays[index].device.id)
    return 0


# --- the public collectives ----------------------------------------------------------------


def allreduce(tensor, op: str = "average", name: str | None = None) -> Tensor:
    """The elementwise average (or sum, min, max) of `tensor` over all ranks, on every rank.

    >>> import tensorflowish as tf
    >>> from tensorflowish import distribute
    >>> distribute.allreduce(tf.constant([1.0, 2.0])).numpy().tolist()   # one process
    [1.0, 2.0]
    """
    tensor = convert_to_tensor(tensor)
    array = tensor.array
    (result,) = _reduce_arrays([array], [array.shape], [array.dtype], [name or "tensor"], op,
                               "allreduce")
    return tensor if result is array else Tensor(result)


def allreduce_gradients(gradients: list, variables: list | None = None,
                        op: str = "average") -> list:
    """Average a list of gradients (Tensors, arrays or None) across ranks in fused buffers.

    With `variables` (the matching sources), a gradient that is None on some ranks only is
    taken as zeros there; None on every rank stays None. Returns a list of Tensors and Nones.
    This is what DistributedGradientTape and DistributedOptimizer call, and what `Model.fit`
    calls between `tape.gradient` and `optimizer.apply_gradients`.
    """
    gradients = list(gradients)
    if variables is not None:
        variables = list(variables)
        if len(variables) != len(gradients):
            raise ValueError(f"allreduce_gradients got {len(gradients)} gradients for "
                             f"{len(variables)} variables.")
    arrays, shapes, dtypes, names, modules = [], [], [], [], []
    for index, gradient in enumerate(gradients):
        variable = variables[index] if variables is not None else None
        name = getattr(variable, "name", None) or f"gradient {index}"
        if gradient is None:
            if variable is None:
                raise ValueError(f"allreduce_gradients: gradient {index} is None and no variable "
                                 "was given to take its shape from; pass variables=.")
            array, reference = None, variable.array
        else:
            array = gradient.array if isinstance(gradient, Tensor) else \
                convert_to_tensor(gradient).array
            reference = array
        arrays.append(array)
        shapes.append(tuple(reference.shape))
        dtypes.append(reference.dtype)
        names.append(name)
        modules.append(backend.get_array_module(reference))
    if _get().size == 1:
        return [g if g is None or isinstance(g, Tensor) else Tensor(a)
                for g, a in zip(gradients, arrays)]
    reduced = _reduce_arrays(arrays, shapes, dtypes, names, op, "allreduce_gradients", modules)
    return [None if r is None else Tensor(r) for r in reduced]


def allreduce_metrics(metrics: dict, weight: float | None = None) -> dict:
    """Average a dict of scalar metrics over ranks: one small allreduce for all of them.

    weight: this rank's number of samples, to weight the average (default: equal weights).
    Every rank must pass the same keys.

    >>> from tensorflowish import distribute
    >>> distribute.allreduce_metrics({"loss": 0.5, "accuracy": 0.75})
    {'loss': 0.5, 'accuracy': 0.75}
    """
    keys = list(metrics)
    values = np.array([float(np.asarray(metrics[k])) for k in keys], dtype=np.float64)
    context = _get()
    if context.size == 1:
        return dict(zip(keys, values.tolist()))
    weight = 1.0 if weight is None else float(weight)
    buffer = np.append(values * weight, weight)
    context.agree("allreduce_metrics", json.dumps(keys), -1,
                  [_spec("metrics", np, buffer.shape, buffer.dtype, True)])
    context.reduce_buffer(buffer, "sum")
    total = buffer[-1] if buffer[-1] != 0 else 1.0
    return dict(zip(keys, (buffer[:-1] / total).tolist()))


def barrier() -> None:
    """Wait until every rank gets here (with the same deadline and failure checks as others)."""
    context = _get()
    if context.size > 1:
        context.agree("barrier", "", -1, [])


def _collect_variables(variables) -> list:
    if isinstance(variables, Variable):
        return [variables]
    if not isinstance(variables, (list, tuple, dict)) and hasattr(variables, "variables"):
        variables = variables.variables  # a tf.Module or Keras model
    flat: list = []
    _flatten(variables, flat)
    for item in flat:
        if not isinstance(item, Variable):
            raise TypeError(f"broadcast_variables updates tf.Variable objects in place, got a "
                            f"{type(item).__name__}; use distribute.broadcast(tensor) for a value.")
    return flat


def broadcast_variables(variables, root_rank: int = 0) -> None:
    """Overwrite `variables` in place with their values on `root_rank` (one fused buffer).

    Call it once after the model is built and before training, so all ranks start alike.
    `variables` is a list/tuple/dict of tf.Variable, or anything with `.variables` (a tf.Module,
    a Keras model).
    """
    flat = _collect_variables(variables)
    context = _get()
    if not 0 <= root_rank < context.size:
        raise ValueError(f"root_rank {root_rank} is not a rank of this job (size {context.size}).")
    if context.size == 1:
        return
    specs = [_spec(v.name, backend.get_array_module(v.array), v.array.shape, v.array.dtype, True)
             for v in flat]
    context.agree("broadcast_variables", "", root_rank, specs)
    entries = [(i, backend.get_array_module(v.array), tuple(v.array.shape), v.array.dtype)
               for i, v in enumerate(flat)]
    for dtype, bucket in _buckets(entries, context.bucket_bytes):
        xp = bucket[0][1]
        sizes = [int(np.prod(shape, dtype=np.int64)) for _, _, shape, _ in bucket]
        buffer = context.fused_buffer(xp, dtype, sum(sizes),
                                      _device_id([v.array for v in flat], bucket))
        if context.rank == root_rank:
            offset = 0
            for (index, _, _, _), count in zip(bucket, sizes):
                buffer[offset:offset + count] = flat[index].array.reshape(-1)
                offset += count
        context.broadcast_buffer(buffer, root_rank)
        if context.rank != root_rank:
            offset = 0
            for (index, _, shape, _), count in zip(bucket, sizes):
                flat[index]._writable_array()[...] = buffer[offset:offset + count].reshape(shape)
                offset += count


def broadcast(tensor, root_rank: int = 0, name: str | None = None) -> Tensor:
    """`tensor`'s value on `root_rank`, returned on every rank as a new Tensor."""
    tensor = convert_to_tensor(tensor)
    context = _get()
    if context.size == 1:
        return tensor
    variable = Variable(tensor, trainable=False, name=name or "broadcast")
    broadcast_variables([variable], root_rank)
    return Tensor(variable.array)
