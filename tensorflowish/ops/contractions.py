"""Contractions: einsum, tensordot, matvec and the tensor diagonal.

einsum contracts its operands two at a time in the order NumPy's `einsum_path` picks, and each
pairwise step is one batched matmul (transpose + reshape + GEMM): never an elementwise product
followed by a sum. Each step is built from ops (transpose, reshape, matmul, reduce_sum), so the
gradient needs no code of its own; the one primitive here is the single-operand step (diagonal,
sum, permutation) with its VJP.
"""

from __future__ import annotations

import functools
import string

import numpy as np

from ..errors import InvalidArgumentError
from .linalg import matmul
from .reductions import reduce_sum
from .registry import (
    Tensor,
    array_module,
    as_tensor,
    format_shape,
    record,
    register,
    should_record,
)
from .shapes import broadcast_to, expand_dims, reshape, squeeze, transpose

_LETTERS = set(string.ascii_letters)


# --- parsing -----------------------------------------------------------------------------------
def _parse(equation: str, shapes: list) -> tuple[list[str], str]:
    """Operand subscripts and output subscripts, one letter per axis, '...' replaced by fresh
    upper-case letters (right-aligned, as NumPy and TensorFlow broadcast ellipses)."""
    equation = equation.replace(" ", "")
    if "->" in equation:
        inputs, output = equation.split("->")
        explicit = True
    else:
        inputs, output, explicit = equation, "", False
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise InvalidArgumentError(f"einsum: equation {equation!r} names {len(terms)} operands "
                                   f"but {len(shapes)} were given.")
    used = set(equation) & _LETTERS
    free = [c for c in string.ascii_uppercase[::-1] + string.ascii_lowercase[::-1]
            if c not in used]
    ellipsis_rank = 0
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if "..." in term:
            ellipsis_rank = max(ellipsis_rank, len(shape) - named)
        elif named != len(shape):
            raise InvalidArgumentError(f"einsum: subscripts {term!r} name {named} axes but the "
                                       f"operand has shape {format_shape(shape)}.")
        if set(term.replace("...", "")) - _LETTERS:
            raise InvalidArgumentError(f"einsum: invalid subscripts {term!r} in {equation!r}.")
    ellipsis = "".join(free[:ellipsis_rank])
    subscripts = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            rank = len(shape) - len(term.replace("...", ""))
            if rank < 0:
                raise InvalidArgumentError(f"einsum: subscripts {term!r} name more axes than "
                                           f"the operand's shape {format_shape(shape)}.")
            term = term.replace("...", ellipsis[ellipsis_rank - rank:])
        subscripts.append(term)
    if explicit:
        output = output.replace("...", ellipsis)
        unknown = set(output) - set("".join(subscripts))
        if unknown or len(set(output)) != len(output):
            raise InvalidArgumentError(f"einsum: output subscripts {output!r} of {equation!r} "
                                       "must be distinct letters that appear in the inputs.")
    else:
        counts = {}
        for c in "".join(subscripts):
            counts[c] = counts.get(c, 0) + 1
        output = ellipsis + "".join(sorted(c for c, n in counts.items()
                                           if n == 1 and c not in ellipsis))
    return subscripts, output


def _sizes(subscripts: list[str], shapes: list) -> dict:
    sizes = {}
    for term, shape in zip(subscripts, shapes):
        for label, size in zip(term, shape):
            known = sizes.get(label, 1)
            if size != 1 and known != 1 and size != known:
                raise InvalidArgumentError(f"einsum: label {label!r} has size {known} in one "
                                           f"place and {size} in another.")
            sizes[label] = max(known, size)
    return sizes


# --- the single-operand step: diagonals, sums and permutations ---------------------------------
def _einsum_one(x: Tensor, subscripts: str, output: str) -> Tensor:
    """einsum on one operand (`ii->i`, `ij->j`, `ijk->kij`): no product, so no BLAS needed."""
    if subscripts == output:
        return x
    if len(set(subscripts)) == len(subscripts):
        summed = tuple(i for i, c in enumerate(subscripts) if c not in output)
        kept = "".join(c for c in subscripts if c in output)
        y = reduce_sum(x, axis=summed) if summed else x
        return y if kept == output else transpose(y, [kept.index(c) for c in output])
    xp = array_module(x.array)
    out = Tensor(xp.einsum(f"{subscripts}->{output}", x.array))
    if should_record((x,)):
        shape = x.array.shape
        record((x,), out, (lambda g: _einsum_one_vjp(g, subscripts, output, shape),))
    return out


def tie_repeats(subscripts: str, used: set) -> tuple[str, list[str]]:
    """`subscripts` with each repeat of a label renamed to a fresh letter (none of `used`), and
    the ties "label new" that identity matrices make equal again (`ii` -> `ij`, ["ij"])."""
    fresh = (c for c in string.ascii_letters if c not in used)
    renamed, ties, seen = "", [], set()
    for c in subscripts:
        if c in seen:
            new = next(fresh)
            ties.append(c + new)
            renamed += new
        else:
            seen.add(c)
            renamed += c
    return renamed, ties


def _einsum_one_vjp(g: Tensor, subscripts: str, output: str, shape: tuple) -> Tensor:
    """Spread g (labels `output`) back over an operand with repeated labels: the repeats are
    renamed and tied to the first with identity matrices, one einsum."""
    sizes = dict(zip(subscripts, shape))
    summed = "".join(dict.fromkeys(c for c in subscripts if c not in output))
    for c in summed:  # put the summed-out labels back as broadcast axes
        g = broadcast_to(expand_dims(g, -1), tuple(g.shape) + (sizes[c],))
    labels = output + summed
    renamed, ties = tie_repeats(subscripts, set(subscripts) | set(labels))
    eyes = [_eye_like(g, sizes[pair[0]]) for pair in ties]
    return einsum(",".join([labels] + ties) + "->" + renamed, g, *eyes)


def _eye_like(x: Tensor, n: int) -> Tensor:
    """An n×n identity of x's dtype on x's device."""
    return Tensor(array_module(x.array).eye(n, dtype=x.array.dtype))


# --- the pairwise step: one batched matmul ---------------------------------------------------
def _contract_pair(a: Tensor, sa: str, b: Tensor, sb: str, keep: set) -> tuple[Tensor, str]:
    """Contract two operands whose labels are distinct within each; labels in `keep` survive.
    Batch labels (in both, kept), contracted labels (in both, not kept) and each side's own
    labels become [batch, M, K] @ [batch, K, N]: one GEMM."""
    own_a = "".join(c for c in sa if c not in sb and c in keep)
    own_b = "".join(c for c in sb if c not in sa and c in keep)
    # labels only in one operand and wanted nowhere else are summed out first
    a = _einsum_one(a, sa, "".join(c for c in sa if c in sb or c in keep))
    sa = "".join(c for c in sa if c in sb or c in keep)
    b = _einsum_one(b, sb, "".join(c for c in sb if c in sa or c in keep))
    sb = "".join(c for c in sb if c in sa or c in keep)
    batch = "".join(c for c in sa if c in sb and c in keep)
    contracted = "".join(c for c in sa if c in sb and c not in keep)
    size_a, size_b = dict(zip(sa, a.array.shape)), dict(zip(sb, b.array.shape))
    # a batch label of size 1 on one side broadcasts: make both sides full-sized
    full = {c: max(size_a[c], size_b[c]) for c in batch + contracted}
    a = _broadcast_labels(a, sa, full)
    b = _broadcast_labels(b, sb, full)
    count = lambda labels, sizes: int(np.prod([sizes[c] for c in labels], dtype=np.int64))  # noqa: E731
    left = _einsum_one(a, sa, batch + own_a + contracted)
    right = _einsum_one(b, sb, batch + contracted + own_b)
    left = reshape(left, (count(batch, full), count(own_a, size_a), count(contracted, full)))
    right = reshape(right, (count(batch, full), count(contracted, full), count(own_b, size_b)))
    product = matmul(left, right)
    labels = batch + own_a + own_b
    shape = [full[c] for c in batch] + [size_a[c] for c in own_a] + [size_b[c] for c in own_b]
    return reshape(product, shape), labels


def _broadcast_labels(x: Tensor, labels: str, full: dict) -> Tensor:
    target = tuple(full.get(c, size) for c, size in zip(labels, x.array.shape))
    return x if target == tuple(x.array.shape) else broadcast_to(x, target)


@functools.lru_cache(maxsize=256)
def _order(subscripts: tuple[str, ...], output: str, shapes: tuple) -> list:
    """NumPy's greedy contraction order, found from shapes alone (no data is touched) and
    remembered: a training loop asks for the same equation and shapes every step."""
    if len(subscripts) <= 2:
        return [(0, 1)] if len(subscripts) == 2 else []
    dummies = [np.broadcast_to(np.empty((), dtype=np.float32), s) for s in shapes]
    path, _ = np.einsum_path(",".join(subscripts) + "->" + output, *dummies, optimize="greedy")
    return [tuple(step) for step in path[1:]]


def _einsum_samples(rng):
    draw = lambda *shape: rng.uniform(-1, 1, shape)  # noqa: E731
    return [(("ij,jk->ik", draw(3, 4), draw(4, 2)), {}),
            (("bij,bjk->bik", draw(2, 3, 4), draw(2, 4, 2)), {}),
            (("ii->i", draw(3, 3)), {}),
            (("ij,ij->", draw(2, 3), draw(2, 3)), {}),
            (("...ij,...jk", draw(2, 3, 4), draw(4, 2)), {}),
            (("ij,jk,kl->il", draw(2, 3), draw(3, 4), draw(4, 2)), {}),
            (("iij,jk->ki", draw(3, 3, 2), draw(2, 4)), {}),
            (("i,j->ij", draw(3), draw(2)), {})]


@register("einsum", "linalg.einsum", samples=_einsum_samples)
def einsum(equation, *inputs, **kwargs) -> Tensor:
    """Einstein summation over any equation TensorFlow accepts (ellipsis and implicit output
    included), as a sequence of pairwise matmuls.

    >>> import tensorflowish as tf
    >>> tf.einsum("ij,jk->ik", tf.ones([2, 3]), tf.ones([3, 4])).shape
    TensorShape([2, 4])
    """
    kwargs.pop("name", None)
    kwargs.pop("optimize", None)
    if kwargs:
        raise TypeError(f"einsum: unexpected arguments {sorted(kwargs)}.")
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    if not inputs:
        raise InvalidArgumentError("einsum: needs at least one operand.")
    tensors = [as_tensor(x) for x in inputs]
    dtypes = {t.array.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"einsum: operands have different dtypes "
                        f"{sorted(t.dtype.name for t in tensors)}; use tf.cast to match them.")
    shapes = [tuple(t.array.shape) for t in tensors]
    subscripts, output = _parse(str(equation), shapes)
    _sizes(subscripts, shapes)
    # repeated labels inside one operand (a diagonal) are taken first
    operands = []
    for t, s in zip(tensors, subscripts):
        unique = "".join(dict.fromkeys(s))
        operands.append((_einsum_one(t, s, unique) if unique != s else t, unique))
    for i, j in _order(tuple(s for _, s in operands), output,
                       tuple(tuple(t.shape) for t, _ in operands)):
        (a, sa), (b, sb) = operands[i], operands[j]
        rest = [op for k, op in enumerate(operands) if k not in (i, j)]
        keep = set(output).union(*[set(s) for _, s in rest])
        operands = rest + [_contract_pair(a, sa, b, sb, keep)]
    result, labels = operands[0]
    if set(output) - set(labels):
        raise InvalidArgumentError(f"einsum: output labels {output!r} are not all in the inputs.")
    return _einsum_one(result, labels, output)


# --- tensordot, matvec, tensor diagonal --------------------------------------------------------
def _tensordot_axes(axes, rank_a: int, rank_b: int) -> tuple[list, list]:
    if isinstance(axes, Tensor):
        axes = axes.numpy().tolist()
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(rank_a, rank_b):
            raise InvalidArgumentError(f"tensordot: axes={n} must be in [0, {min(rank_a, rank_b)}]"
                                       f" for operands of rank {rank_a} and {rank_b}.")
        return list(range(rank_a - n, rank_a)), list(range(n))
    axes = list(axes)
    if len(axes) != 2:
        raise InvalidArgumentError(f"tensordot: axes must be an int or a pair of axis lists, got "
                                   f"{axes!r}.")
    first, second = ([a] if isinstance(a, (int, np.integer)) else list(a) for a in axes)
    if len(first) != len(second):
        raise InvalidArgumentError(f"tensordot: the axis lists {first} and {second} must have "
                                   "the same length.")
    from ..errors import check_axes

    return list(check_axes("tensordot", first, rank_a)), list(check_axes("tensordot", second,
                                                                          rank_b))


def tensordot(a, b, axes, name=None) -> Tensor:
    """Sum of products over `axes` of `a` and `b` (one matmul after transposes and reshapes)."""
    a, b = as_tensor(a), as_tensor(b)
    first, second = _tensordot_axes(axes, a.array.ndim, b.array.ndim)
    for i, j in zip(first, second):
        if a.array.shape[i] != b.array.shape[j]:
            raise InvalidArgumentError(
                f"tensordot: axis {i} of shape {format_shape(a.shape)} (size {a.array.shape[i]}) "
                f"and axis {j} of shape {format_shape(b.shape)} (size {b.array.shape[j]}) "
                "differ.")
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a.array.ndim)]
    sb = [next(letters) for _ in range(b.array.ndim)]
    for i, j in zip(first, second):
        sb[j] = sa[i]
    output = [c for k, c in enumerate(sa) if k not in first] + \
        [c for k, c in enumerate(sb) if k not in second]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(output), a, b)


register("tensordot", "linalg.tensordot", samples=lambda rng: [
    ((rng.uniform(-1, 1, (2, 3, 4)), rng.uniform(-1, 1, (3, 4, 5)), 2), {}),
    ((rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (4, 2)), [[0], [1]]), {})])(tensordot)


@register("linalg.matvec", samples=lambda rng: [
    ((rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (4,))), {}),
    ((rng.uniform(-1, 1, (2, 4, 3)), rng.uniform(-1, 1, (2, 4))), {"transpose_a": True})])
def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False,
           name=None) -> Tensor:
    """Matrix times vector over the last axes: `a @ b[..., None]` without the trailing 1."""
    b = as_tensor(b)
    return squeeze(matmul(a, expand_dims(b, -1), transpose_a=transpose_a, adjoint_a=adjoint_a),
                   [-1])


@register("linalg.tensor_diag", samples=lambda rng: [((rng.uniform(-1, 1, (2, 3)),), {})])
def tensor_diag(diagonal, name=None) -> Tensor:
    """The tensor of shape `d.shape + d.shape` with `d` on its diagonal and zeros elsewhere."""
    d = as_tensor(diagonal)
    n = int(d.array.size)
    flat = reshape(d, [n, 1]) * _eye_like(d, n)
    return reshape(flat, tuple(d.array.shape) * 2)


@register("linalg.tensor_diag_part", samples=lambda rng: [((rng.uniform(-1, 1, (2, 3, 2, 3)),),
                                                            {})])
def tensor_diag_part(input, name=None) -> Tensor:  # noqa: A002
    """The diagonal of a tensor of shape `s + s`: `out[i...] = input[i..., i...]`."""
    x = as_tensor(input)
    rank = x.array.ndim
    if rank % 2 or x.array.shape[:rank // 2] != x.array.shape[rank // 2:]:
        raise InvalidArgumentError(f"tensor_diag_part: the input's shape "
                                   f"{format_shape(x.shape)} must be s + s for some shape s.")
    half = tuple(x.array.shape[:rank // 2])
    n = int(np.prod(half, dtype=np.int64))
    return reshape(einsum("ii->i", reshape(x, [n, n])), half)
