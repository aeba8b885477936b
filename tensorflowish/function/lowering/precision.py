"""Lowering rules for half and mixed precision: casts between any float dtypes (float16 and
bfloat16 included) and the dense layer in float16 and bfloat16 (Keras's `mixed_float16` and
`mixed_bfloat16` policies: float32 variables cast to half precision for the compute).

Each rule computes what its eager op computes on the CPU, in the same dtypes and order:
`ops/math.py`'s `cast` (`astype`, and a cast of the gradient back to the source dtype), and
`ops/nn.py`'s `dense`, which in half precision on the CPU is composed of a matmul that
accumulates in float32 and rounds once (`ops/linalg.py`), a float16 bias add and the
activation op, each with its own VJP on the tape.
"""

from __future__ import annotations

import numpy as np

from . import PASS, Backward, Line, Lowered, NotLowered, Operand, lowering, unbroadcaster

_FLOAT = "fcV"  # V: bfloat16 (ml_dtypes)
_numeric = "iub" + _FLOAT


@lowering("cast", half=True)
def cast(line: Line) -> Lowered:
    from ... import dtypes

    value = line["x"]
    if value.__class__.__name__ != "Slot" or value.index not in line.specs:
        x = line.tensor("x")
    else:
        x = Operand(slot=value.index)
    source = line.dtype(x)
    target = dtypes.numpy_dtype(line.literal("dtype"))
    if target != line.output_dtype or source.kind not in _numeric or \
            target.kind not in _numeric:
        raise NotLowered(f"a cast from {source} to {target}")
    if target == source:  # eager: a snapshot of the same array
        return Lowered(lambda a: a, [x], lambda needs, overwrite: PASS, fresh=False)
    differentiable = source.kind in _FLOAT and target.kind in _FLOAT

    def vjp(needs, overwrite):
        return Backward(lambda g: (g.astype(source),))
    return Lowered(lambda a: a.astype(target), [x], vjp if differentiable else None)


# float16 activations of the dense layer: (forward(z), backward(g, z, y)), the eager ops'
# formulas (ops/nn.py, ops/math.py) on float16 arrays
def _sigmoid(z):
    y = np.tanh(z * 0.5)
    y += 1
    y *= 0.5
    return y


_HALF_ACTIVATIONS = {
    "linear": (None, None),
    "relu": (lambda z: np.maximum(z, 0),
             lambda g, z, y: g * np.greater(y, 0).astype(g.dtype)),
    "sigmoid": (_sigmoid, lambda g, z, y: g * (y * (1 - y))),
    "tanh": (np.tanh, lambda g, z, y: g * (1 - y * y)),
}


def dense_half(line: Line, inputs: list, activation: str, alpha: float) -> Lowered:
    """`nn.dense` on float16 operands, as its eager op composes it on the CPU: `x @ kernel`
    (float32 accumulation, one rounding), `+ bias`, then the activation; the backward is the
    three ops' VJPs in the tape's order (activation, bias add, matmul)."""
    dtype = line.dtype(inputs[0])
    if activation == "leaky_relu" and dtype.kind == "V":
        raise NotLowered("leaky_relu in bfloat16")  # alpha would be taken in float32
    if activation == "leaky_relu":
        forward_act = (lambda z: np.where(z > 0, z, z * alpha))
        backward_act = (lambda g, z, y: np.where(np.greater(z, 0), g, g * alpha))
    elif activation in _HALF_ACTIVATIONS:
        forward_act, backward_act = _HALF_ACTIVATIONS[activation]
    else:
        raise NotLowered(f"activation {activation!r} in float16")
    x_shape, kernel_shape = line.shape(inputs[0]), line.shape(inputs[1])
    if len(x_shape) < 2:
        raise NotLowered("x of rank < 2")
    out_shape = line.output_shape
    has_bias = len(inputs) > 2
    reduce_bias = unbroadcaster(out_shape, kernel_shape[1:]) if has_bias else None
    reduce_kernel = unbroadcaster(x_shape[:-2] + tuple(kernel_shape), tuple(kernel_shape))
    f32 = np.float32

    def forward(a, w, b=None):
        z = np.matmul(a.astype(f32), w.astype(f32)).astype(dtype)
        if b is not None:
            z = z + b
        if forward_act is None:
            return z, z
        y = forward_act(z)  # bfloat16: as the eager activation op, rounded back once
        return (y if y.dtype == dtype else y.astype(dtype)), z

    def vjp(needs, overwrite):
        def backward(g, a, w, y, z):
            dz = g if backward_act is None else backward_act(g, z, y)
            grads = [None] * len(needs)
            if has_bias and needs[2]:
                grads[2] = dz if reduce_bias is None else reduce_bias(dz)
            # linalg.matmul's VJPs (transpose flags as TensorFlow's MatMulGrad)
            if needs[0]:
                grads[0] = np.matmul(dz.astype(f32), np.swapaxes(w, -1, -2).astype(f32)) \
                    .astype(dtype)
            if needs[1]:
                dkernel = np.matmul(np.swapaxes(a, -1, -2).astype(f32), dz.astype(f32)) \
                    .astype(dtype)
                grads[1] = dkernel if reduce_kernel is None else reduce_kernel(dkernel)
            return tuple(grads)
        return Backward(backward, ("in0", "in1", "out", "res"))
    return Lowered(forward, inputs, vjp, residual=True)
