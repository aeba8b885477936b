"""Lowering rules of the neural-network ops: the fused dense layer, softmax, the
cross-entropies, matmul and bias_add (their eager ops: `ops/nn.py`, `ops/linalg.py`).

The fused ops call the same `kernels` functions as eager (`dense_forward`/`dense_backward`,
`sparse_softmax_cross_entropy`, `softmax_cross_entropy`) with `check_arguments=False`: the
plan's static shapes and dtypes were checked by the op when the graph was traced.
"""

from __future__ import annotations

import numpy as np

from ... import kernels
from ...ops import registry
from . import Backward, Line, Lowered, NotLowered, is_half, lowering, unbroadcaster

_add_reduce = np.add.reduce
_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "gelu", "leaky_relu")


@lowering("nn.dense", half=True)
def dense(line: Line) -> Lowered:
    activation = line.literal("activation")
    alpha = line.literal("alpha")
    if activation is None:
        activation = "linear"
    if activation not in _ACTIVATIONS:
        raise NotLowered(f"activation {activation!r}")
    x, kernel = line.tensor("x", float_only=True), line.tensor("kernel", float_only=True)
    inputs = [x, kernel]
    if line["bias"] is not None:
        inputs.append(line.tensor("bias", float_only=True))
    if any(line.dtype(o) != line.dtype(x) for o in inputs) or len(line.shape(kernel)) != 2:
        raise NotLowered("mixed dtypes")
    if is_half(line.dtype(x)):  # composed, as the eager op on the CPU
        from .precision import dense_half

        return dense_half(line, inputs, activation, alpha)
    x_shape = line.shape(x)
    rows = int(np.prod(x_shape[:-1]))
    flat = len(x_shape) != 2
    out_shape = line.output_shape
    forward_kernel = kernels.cpu.dense_forward  # the NumPy kernel itself: checked when traced

    def forward(a, w, b=None, out=None):
        y, pre = forward_kernel(a.reshape(rows, x_shape[-1]) if flat else a, w, b, activation,
                                alpha, None if out is None else out[0])
        return (y.reshape(out_shape) if flat else y), pre

    dtype = line.dtype(x)
    units = line.shape(kernel)[1]
    # per input of the backward: dx (as the kernel computes it, before a reshape), dkernel, dbias
    gradient_buffers = (((rows, x_shape[-1]), dtype), (line.shape(kernel), dtype),
                        ((units,), dtype))[:len(inputs)]

    def vjp(needs, overwrite):
        need_dx, need_dkernel = needs[0], needs[1]
        need_dbias = len(needs) > 2 and needs[2]
        backward_kernel = kernels.cpu.dense_backward

        def backward(g, a, w, y, pre, out=None):
            dy = g.reshape(rows, -1) if flat else g
            dx, dkernel, dbias = backward_kernel(
                dy, a.reshape(rows, x_shape[-1]) if flat else a, w,
                y.reshape(rows, -1) if flat else y, pre, activation, alpha, need_dx,
                need_dkernel, need_dbias, overwrite and activation != "linear",
                None if out is None else tuple(out) + (None,) * (3 - len(out)))
            if dx is not None and flat:
                dx = dx.reshape(x_shape)
            return (dx, dkernel, dbias)[:len(needs)]
        # linear: dbias and dx come from g itself, never g as it is
        return Backward(backward, ("in0", "in1", "out", "res"), buffers=gradient_buffers)
    # the output's buffer (y before a reshape); gelu's `pre` is a copy the kernel makes
    return Lowered(forward, inputs, vjp, residual=True,
                   buffers=(((rows, units), dtype), None))


@lowering("nn.bias_add", half=True)
def bias_add(line: Line) -> Lowered:
    value, bias = line.binary("value", "bias")
    data_format = line.literal("data_format")
    shape = line.shape(value)
    channels_first = data_format is not None and data_format.upper().startswith("NC") and \
        data_format.upper() != "NC"
    bias_shape = line.shape(bias)
    aligned = (-1,) + (1,) * (len(shape) - 2) if channels_first else bias_shape
    aligned_shape = (bias_shape[0],) + (1,) * (len(shape) - 2) if channels_first else bias_shape
    reduce_bias = unbroadcaster(line.output_shape, aligned_shape)

    def forward(a, b):
        return a + (b.reshape(aligned) if channels_first else b)

    def vjp(needs, overwrite):
        def backward(g):
            gb = None
            if needs[1]:
                gb = reduce_bias(g) if reduce_bias is not None else g
                if channels_first:
                    gb = gb.reshape(bias_shape)
            return (g if needs[0] else None), gb
        return Backward(backward, fresh=False)
    return Lowered(forward, [value, bias], vjp)


@lowering("linalg.matmul", half=True)
def matmul(line: Line) -> Lowered:
    a, b = line.binary("a", "b")
    for flag in ("adjoint_a", "adjoint_b", "a_is_sparse", "b_is_sparse", "grad_a", "grad_b"):
        if line.literal(flag):
            raise NotLowered(f"{flag}")
    if line.literal("output_type") is not None or line.dtype(a).kind not in "fV":
        raise NotLowered("output_type or a non-float matmul")
    transpose_a, transpose_b = bool(line.literal("transpose_a")), \
        bool(line.literal("transpose_b"))
    shape_a, shape_b = line.shape(a), line.shape(b)
    if len(shape_a) < 2 or len(shape_b) < 2:
        raise NotLowered("rank < 2")

    def swap(m):
        return m.swapaxes(-1, -2)

    half = is_half(line.dtype(a))
    dtype = line.dtype(a)

    def product(left, right, ta=False, tb=False, out=None):
        left, right = swap(left) if ta else left, swap(right) if tb else right
        if half:  # as eager: half products accumulate in float32, rounded once (no buffers)
            return np.matmul(left.astype(np.float32), right.astype(np.float32)).astype(dtype)
        return np.matmul(left, right, out=out)

    def forward(x, y, out=None):
        return product(x, y, transpose_a, transpose_b, None if out is None else out[0])

    dtype, batch = line.dtype(a), tuple(line.output_shape[:-2])
    # a gradient summed over broadcast batch axes is computed into no buffer
    gradient_buffers = () if half else tuple(
        (shape, dtype) if batch + tuple(shape[-2:]) == tuple(shape) else None
        for shape in (shape_a, shape_b))

    def vjp(needs, overwrite):
        # eager's products (TensorFlow's MatMulGrad), each summed back over batch axes
        def backward(g, x, y, out=None):
            ga = gb = None
            out_a, out_b = (None, None) if out is None else out
            if needs[0]:
                if not transpose_a:
                    ga = product(g, y, tb=not transpose_b, out=out_a)
                elif not transpose_b:
                    ga = product(y, g, tb=True, out=out_a)
                else:
                    ga = product(y, g, True, True, out=out_a)
                reduce = unbroadcaster(ga.shape, shape_a)
                ga = ga if reduce is None else reduce(ga)
            if needs[1]:
                if not transpose_b:
                    gb = product(x, g, ta=not transpose_a, out=out_b)
                elif not transpose_a:
                    gb = product(g, x, ta=True, out=out_b)
                else:
                    gb = product(g, x, True, True, out=out_b)
                reduce = unbroadcaster(gb.shape, shape_b)
                gb = gb if reduce is None else reduce(gb)
            return ga, gb
        return Backward(backward, ("in0", "in1"), buffers=gradient_buffers)
    return Lowered(forward, [a, b], vjp,
                   buffers=() if half else ((tuple(line.output_shape), dtype),))


# --- softmax and the cross-entropies ----------------------------------------------------------
def _last_axis(line: Line, operand, name: str = "axis") -> int:
    axis = line.literal(name)
    rank = len(line.shape(operand))
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise NotLowered("axis")
    return int(axis) % rank


@lowering("nn.softmax")
def softmax(line: Line) -> Lowered:
    x = line.tensor("logits", float_only=True)
    axis = _last_axis(line, x)

    def forward(a):
        shifted = a - a.max(axis=axis, keepdims=True)
        values = np.exp(shifted, out=shifted)
        values /= values.sum(axis=axis, keepdims=True)
        return values

    def vjp(needs, overwrite):
        def backward(g, out):
            return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)
        return Backward(backward, ("out",))
    return Lowered(forward, [x], vjp)


@lowering("nn.log_softmax")
def log_softmax(line: Line) -> Lowered:
    x = line.tensor("logits", float_only=True)
    axis = _last_axis(line, x)

    def forward(a):
        shifted = a - a.max(axis=axis, keepdims=True)
        shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return shifted

    def vjp(needs, overwrite):
        def backward(g, out):
            return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
        return Backward(backward, ("out",))
    return Lowered(forward, [x], vjp)


@lowering("nn.sparse_softmax_cross_entropy_with_logits")
def sparse_softmax_cross_entropy(line: Line) -> Lowered:
    labels = line.tensor("labels")
    logits = line.tensor("logits", float_only=True)
    if line.dtype(labels).kind not in "iu" or line.dtype(logits).kind != "f":
        raise NotLowered("labels or logits dtype")
    logits_shape = line.shape(logits)
    classes = logits_shape[-1]
    flat = len(logits_shape) != 2
    labels_shape = line.shape(labels)
    if not classes:
        raise NotLowered("no classes")
    # the NumPy kernel and its label check (labels change per call), without the dispatch
    fused, check_labels = kernels.cpu.sparse_softmax_cross_entropy, kernels._check_label_range

    def forward(lb, lg, out=None):
        lb = lb.reshape(-1) if flat else lb
        try:
            check_labels(lb, classes)
        except ValueError:  # the op's own error (InvalidArgumentError), in its words
            from ...ops.nn import _check_labels

            _check_labels(registry.Tensor(lb), classes)
            raise
        loss, grad = fused(np.ascontiguousarray(lg.reshape(-1, classes)) if flat else lg, lb,
                           out)
        return (loss.reshape(labels_shape) if flat else loss), grad

    def vjp(needs, overwrite):
        if lowered.consume_residual:  # the gradient of the logits, scaled in place
            def backward(g, grad):
                return None, np.multiply(grad, g.reshape(-1, 1), out=grad).reshape(logits_shape)
            return Backward(backward, ("res",), aliases=("res",))

        def backward(g, grad):
            return None, (grad * g.reshape(-1, 1)).reshape(logits_shape)
        return Backward(backward, ("res",))
    count, dtype = int(np.prod(labels_shape)), line.dtype(logits)
    lowered = Lowered(forward, [labels, logits], vjp, residual=True,
                      buffers=(((count,), dtype), ((count, classes), dtype)))
    return lowered


@lowering("nn.softmax_cross_entropy_with_logits")
def softmax_cross_entropy(line: Line) -> Lowered:
    logits = line.tensor("logits", float_only=True)
    labels = line.binary("logits", "labels")[1]
    axis = _last_axis(line, logits)
    shape = line.shape(logits)
    if line.shape(labels) != shape or not shape:
        raise NotLowered("labels' shape")
    last = axis == len(shape) - 1
    fused = kernels.softmax_cross_entropy

    def rows(a):
        moved = a if last else np.moveaxis(a, axis, -1)
        return np.ascontiguousarray(moved.reshape(-1, moved.shape[-1]))

    batch_shape = line.output_shape

    def forward(lb, lg):
        loss, grad = fused(rows(lg), rows(lb))
        return loss.reshape(batch_shape), grad

    def vjp(needs, overwrite):
        def backward(g, lb, lg, grad):
            g_kept = np.expand_dims(g, axis)
            grad_labels = grad_logits = None
            if needs[0]:
                shifted = lg - lg.max(axis=axis, keepdims=True)
                shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
                grad_labels = -g_kept * shifted
            if needs[1]:
                grad_array = grad.reshape(batch_shape + grad.shape[-1:])
                if not last:
                    grad_array = np.moveaxis(grad_array, -1, axis)
                grad_logits = grad_array * g_kept
            return grad_labels, grad_logits
        return Backward(backward, ("in0", "in1", "res"))
    return Lowered(forward, [labels, logits], vjp, residual=True)


@lowering("nn.sigmoid_cross_entropy_with_logits")
def sigmoid_cross_entropy(line: Line) -> Lowered:
    logits = line.tensor("logits", float_only=True)
    labels = line.binary("logits", "labels")[1]
    if line.shape(labels) != line.shape(logits):
        raise NotLowered("labels' shape")

    def forward(z, x):
        return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))

    def vjp(needs, overwrite):
        def backward(g, z, x):
            grad_labels = -(g * x) if needs[0] else None
            if needs[1]:
                y = np.tanh(x * 0.5)
                y += 1
                y *= 0.5
                return grad_labels, g * (y - z)
            return grad_labels, None
        return Backward(backward, ("in0", "in1"))
    return Lowered(forward, [labels, logits], vjp)


@lowering("attention.masked_softmax")
def masked_softmax(line: Line) -> Lowered:
    from ...kernels import attention as attention_kernels

    x = line.tensor("scores", float_only=True)
    shape = line.shape(x)
    axis = _last_axis(line, x)
    inputs = [x]
    if line["mask"] is not None:
        mask = line.tensor("mask")
        try:
            np.broadcast_shapes(line.shape(mask), shape)
        except ValueError:
            raise NotLowered("mask shape") from None
        inputs.append(mask)
    moved = axis != len(shape) - 1
    width = shape[-1] if shape else 1
    kernel = attention_kernels.masked_softmax

    def forward(a, keep=None):  # the op's own steps
        keep = np.ones(shape, bool) if keep is None else keep
        if keep.dtype != bool:
            keep = keep > 0.5
        keep = np.broadcast_to(np.asarray(keep), shape)
        scores, keep = (np.moveaxis(a, axis, -1), np.moveaxis(keep, axis, -1)) if moved \
            else (a, keep)
        values = kernel(np.ascontiguousarray(scores).reshape(-1, width),
                        np.ascontiguousarray(keep).reshape(-1, width)).reshape(scores.shape)
        return np.ascontiguousarray(np.moveaxis(values, -1, axis)) if moved else values

    def backward(g, out):
        return (out * (g - _add_reduce(g * out, (axis,), None, None, True)),) + \
            (None,) * (len(inputs) - 1)
    return Lowered(forward, inputs, lambda needs, overwrite: Backward(backward, ("out",)))
