"""Lowering rules of einsum and tensordot (their eager ops: `ops/contractions.py`).

Eager einsum is a composition: per operand a reduce_sum and transpose (`_einsum_one`), then
pairwise contractions in NumPy's greedy order, each broadcast_to, transposes, reshapes and one
batched matmul; a label repeated inside one operand (a diagonal) is taken first with NumPy's
einsum. The rule repeats those steps on arrays, recording each step's VJP on a small tape of
its own, and walks it backwards as eager's tape does (last record first, shares added as
`previous + gradient`), so values and gradients equal eager's bit for bit. Covered: float32
and float64 operands, no operand passed twice, where NumPy lays the result and every gradient
out in C order (an equation whose labels come in the order the contraction produces them:
`ij,jk->ik`, `bij,bjk->bik`; not `bqd,bkd->bqk`, whose `k` gradient is a transposed view):
otherwise a plan computing what follows into its own buffers would sum in another order.
"""

from __future__ import annotations

import string

import numpy as np

from ...ops import contractions as eager
from . import Backward, Line, Lowered, NotLowered, lowering, unbroadcaster
from .shapes import _spread

_add_reduce = np.add.reduce


class _Tape:
    """Records (input nodes, output node, VJP per input) of array steps."""

    def __init__(self, arrays) -> None:
        self.arrays = list(arrays)  # per node: the operands first, then each step's result
        self.records = []

    def step(self, inputs: list, array, vjps: tuple) -> int:
        node = len(self.arrays)
        self.arrays.append(array)
        self.records.append((inputs, node, vjps))
        return node

    def backward(self, output: int, g, leaves: int) -> list:
        grads = {output: g}
        for inputs, node, vjps in reversed(self.records):
            upstream = grads.get(node)
            if upstream is None:
                continue
            for index, vjp in zip(inputs, vjps):
                gradient = vjp(upstream)
                previous = grads.get(index)
                grads[index] = gradient if previous is None else previous + gradient
        return [grads.get(i) for i in range(leaves)]


def _reduce_sum(tape, x, axes):
    a = tape.arrays[x]
    shape = a.shape
    kept = tuple(1 if i in axes else size for i, size in enumerate(shape))
    return tape.step([x], _add_reduce(a, axes, None, None, False),
                     (lambda g: _spread(g.reshape(kept), shape),))


def _transpose(tape, x, perm):
    inverse = tuple(np.argsort(perm))
    return tape.step([x], tape.arrays[x].transpose(perm), (lambda g: g.transpose(inverse),))


def _reshape(tape, x, shape):
    original = tape.arrays[x].shape
    return tape.step([x], tape.arrays[x].reshape(shape), (lambda g: g.reshape(original),))


def _broadcast_to(tape, x, target):
    reduce = unbroadcaster(target, tape.arrays[x].shape)
    return tape.step([x], np.broadcast_to(tape.arrays[x], target), (reduce,))


def _matmul(tape, left, right):
    a, b = tape.arrays[left], tape.arrays[right]
    return tape.step([left, right], np.matmul(a, b),
                     (lambda g: np.matmul(g, b.swapaxes(-1, -2)),
                      lambda g: np.matmul(a.swapaxes(-1, -2), g)))


def _one(tape, x, subscripts: str, output: str):
    """eager's _einsum_one for distinct labels: a reduce_sum, then a transpose."""
    if subscripts == output:
        return x
    summed = tuple(i for i, c in enumerate(subscripts) if c not in output)
    kept = "".join(c for c in subscripts if c in output)
    y = _reduce_sum(tape, x, summed) if summed else x
    return y if kept == output else _transpose(tape, y, [kept.index(c) for c in output])


def _pair(tape, a, sa: str, b, sb: str, keep: set):
    """eager's _contract_pair."""
    own_a = "".join(c for c in sa if c not in sb and c in keep)
    own_b = "".join(c for c in sb if c not in sa and c in keep)
    a = _one(tape, a, sa, "".join(c for c in sa if c in sb or c in keep))
    sa = "".join(c for c in sa if c in sb or c in keep)
    b = _one(tape, b, sb, "".join(c for c in sb if c in sa or c in keep))
    sb = "".join(c for c in sb if c in sa or c in keep)
    batch = "".join(c for c in sa if c in sb and c in keep)
    contracted = "".join(c for c in sa if c in sb and c not in keep)
    size_a = dict(zip(sa, tape.arrays[a].shape))
    size_b = dict(zip(sb, tape.arrays[b].shape))
    full = {c: max(size_a[c], size_b[c]) for c in batch + contracted}
    a = _labels(tape, a, sa, full)
    b = _labels(tape, b, sb, full)

    def count(labels, sizes):
        return int(np.prod([sizes[c] for c in labels], dtype=np.int64))
    left = _one(tape, a, sa, batch + own_a + contracted)
    right = _one(tape, b, sb, batch + contracted + own_b)
    left = _reshape(tape, left, (count(batch, full), count(own_a, size_a),
                                 count(contracted, full)))
    right = _reshape(tape, right, (count(batch, full), count(contracted, full),
                                   count(own_b, size_b)))
    product = _matmul(tape, left, right)
    shape = [full[c] for c in batch] + [size_a[c] for c in own_a] + [size_b[c] for c in own_b]
    return _reshape(tape, product, tuple(shape)), batch + own_a + own_b


def _labels(tape, x, labels: str, full: dict):
    target = tuple(full.get(c, size) for c, size in zip(labels, tape.arrays[x].shape))
    return x if target == tuple(tape.arrays[x].shape) else _broadcast_to(tape, x, target)


def _compile(equation: str, shapes: list, dtype):
    """`run(arrays)` -> (tape, output node): eager einsum's steps on arrays, for operands of
    `shapes` (the equation's checks and NumPy's contraction order resolved once, here)."""
    try:
        subscripts, output = eager._parse(str(equation), shapes)
        eager._sizes(subscripts, shapes)
    except (ValueError, TypeError):
        raise NotLowered("the equation") from None  # the op raises its error
    # repeated labels inside one operand (a diagonal) are taken first, as eager takes them
    uniques = ["".join(dict.fromkeys(s)) for s in subscripts]
    diagonals = {}
    for i, (s, unique, shape) in enumerate(zip(subscripts, uniques, shapes)):
        if unique != s:
            diagonals[i] = _diagonal(s, unique, shape, dtype)
    taken = [tuple(dict(zip(s, shape))[c] for c in unique)
             for s, unique, shape in zip(subscripts, uniques, shapes)]
    order = eager._order(tuple(uniques), output, tuple(taken))

    def run(arrays):
        tape = _Tape(arrays)
        nodes = []
        for i, unique in enumerate(uniques):
            nodes.append((diagonals[i](tape, i) if i in diagonals else i, unique))
        for i, j in order:
            (a, sa), (b, sb) = nodes[i], nodes[j]
            rest = [node for k, node in enumerate(nodes) if k not in (i, j)]
            keep = set(output).union(*[set(s) for _, s in rest])
            nodes = rest + [_pair(tape, a, sa, b, sb, keep)]
        result, labels = nodes[0]
        if set(output) - set(labels):
            raise NotLowered("output labels")
        return tape, _one(tape, result, labels, output)

    run([np.zeros(s, dtype) for s in shapes])  # checks the equation once
    return run


def _diagonal(subscripts: str, output: str, shape: tuple, dtype):
    """eager's _einsum_one for repeated labels (nothing summed: `output` keeps every label
    once): NumPy's einsum, and as VJP eager's _einsum_one_vjp, g tied to the repeats with
    identity matrices in one einsum (run by this module's own steps, as eager runs it)."""
    sizes = dict(zip(subscripts, shape))
    renamed, ties = eager.tie_repeats(subscripts, set(subscripts) | set(output))
    eyes = [np.eye(sizes[pair[0]], dtype=dtype) for pair in ties]
    spread = _compile(",".join([output] + ties) + "->" + renamed,
                      [tuple(sizes[c] for c in output)] + [eye.shape for eye in eyes], dtype)
    equation = f"{subscripts}->{output}"

    def vjp(g):
        tape, node = spread([g] + eyes)
        return tape.arrays[node]

    def step(tape, x):
        return tape.step([x], np.einsum(equation, tape.arrays[x]), (vjp,))
    return step


def _einsum_lowered(line: Line, equation: str, operands: list) -> Lowered:
    if len({o.slot for o in operands}) != len(operands) or any(o.slot is None for o in operands):
        raise NotLowered("an operand passed twice, or a constant operand")
    dtypes = {line.dtype(o) for o in operands}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f" or next(iter(dtypes)).itemsize < 4:
        raise NotLowered("not float32/float64 operands of one dtype")
    dtype, shapes = next(iter(dtypes)), [tuple(line.shape(o)) for o in operands]
    run = _compile(equation, shapes, dtype)
    # whether the output and the gradients are new arrays: a diagonal, a transpose or a
    # reshape of an operand (or of g) is a view, a spread gradient a read-only one (the same
    # for any values of these shapes, so probed once)
    probe = [np.zeros(s, dtype) for s in shapes]
    tape, node = run(probe)
    fresh = _new_array(tape.arrays[node], probe)
    g = np.zeros(np.shape(tape.arrays[node]), dtype)
    gradients = tape.backward(node, g, len(probe))
    fresh_gradients = all(_new_array(grad, probe + [g]) for grad in gradients)
    if not all(np.asarray(a).flags.c_contiguous for a in [tape.arrays[node]] + gradients):
        # an output labelled out of order is a transposed view (as eager's): a plan computing
        # what follows into its own C-ordered buffers would sum in another order than eager
        raise NotLowered("a result or gradient NumPy does not lay out in C order")

    def forward(*arrays):
        tape, node = run(arrays)
        return tape.arrays[node]

    def vjp(needs, overwrite):
        def backward(g, *arrays):
            tape, node = run(arrays)
            grads = tape.backward(node, g, len(arrays))
            return [grad if need else None for grad, need in zip(grads, needs)]
        return Backward(backward, tuple(f"in{i}" for i in range(len(operands))),
                        fresh=fresh_gradients)
    return Lowered(forward, list(operands), vjp, fresh=fresh)


def _new_array(array, others: list) -> bool:
    return array.__class__ is np.ndarray and array.flags.writeable and \
        not any(np.may_share_memory(array, other) for other in others)


@lowering("einsum")
def einsum(line: Line) -> Lowered:
    kwargs = dict(line["kwargs"]) if "kwargs" in line.arguments else {}
    kwargs.pop("name", None)
    kwargs.pop("optimize", None)
    if kwargs:
        raise NotLowered("arguments")
    inputs = list(line["inputs"])
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = list(inputs[0])
    equation = line.literal("equation")
    if not inputs or not isinstance(equation, str):
        raise NotLowered("no operands or an equation that is not a string")
    return _einsum_lowered(line, equation, [line.tensor_value(x, float_only=True)
                                            for x in inputs])


@lowering("tensordot")
def tensordot(line: Line) -> Lowered:
    a, b = line.tensor("a", float_only=True), line.tensor("b", float_only=True)
    rank_a, rank_b = len(line.shape(a)), len(line.shape(b))
    try:
        first, second = eager._tensordot_axes(line.literal("axes"), rank_a, rank_b)
    except (ValueError, TypeError):
        raise NotLowered("axes") from None
    letters = iter(string.ascii_letters)  # as the eager op writes its equation
    sa = [next(letters) for _ in range(rank_a)]
    sb = [next(letters) for _ in range(rank_b)]
    for i, j in zip(first, second):
        sb[j] = sa[i]
    output = [c for k, c in enumerate(sa) if k not in first] + \
        [c for k, c in enumerate(sb) if k not in second]
    return _einsum_lowered(line, "".join(sa) + "," + "".join(sb) + "->" + "".join(output),
                           [a, b])
