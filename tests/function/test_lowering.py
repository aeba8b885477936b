"""Every lowering rule against its eager op, on the op's registry samples (float64).

For each sample a tf.function computes the op and its VJP with a GradientTape inside (with a
random output gradient). Its second call runs the replay plan, whose line for the op must have
been lowered (not run through the op); values and gradients must equal eager's bit for bit
(the rules repeat the eager formulas on arrays).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tensorflowish as tf
from tensorflowish.function import lowering
from tensorflowish.ops import REGISTRY

BFLOAT16 = tf.bfloat16.as_numpy_dtype


def _cases():
    rng = np.random.default_rng(0)
    covered, _ = lowering.coverage()
    for key in covered:
        info = REGISTRY[key]
        for number, (args, kwargs) in enumerate(info.samples(rng) if info.samples else ()):
            yield pytest.param(key, args, kwargs, id=f"{key}-{number}")


def _split(info, args, kwargs):
    """(template of args/kwargs with arrays as indices, arrays, indices differentiated)."""
    arrays, sources = [], []

    def leaf(value, position=None):
        if isinstance(value, np.ndarray):
            arrays.append(value)
            index = len(arrays) - 1
            if value.dtype.kind in "fV" and (info.grad_arguments is None or
                                            position in info.grad_arguments):
                sources.append(index)
            return ("array", index)
        return value

    template_args = [leaf(a, i) for i, a in enumerate(args)]
    template_kwargs = {k: leaf(v) for k, v in kwargs.items()}
    return (template_args, template_kwargs), arrays, sources


def _fill(template, tensors):
    def value(v):
        return tensors[v[1]] if isinstance(v, tuple) and len(v) == 2 and v[0] == "array" else v
    args, kwargs = template
    return [value(a) for a in args], {k: value(v) for k, v in kwargs.items()}


_LOWERED: set = set()  # rules that lowered at least one of their samples


def _lowers(key, graph) -> bool:
    """Whether the rule of `key` takes the graph's line of that op."""
    for call in graph.calls:
        found = lowering.rule_for(call.function)
        if found is not None and found[0] == key:
            try:
                found[1](lowering.Line(key, call.function, call.args, call.kwargs, graph.specs,
                                       call.output_slots))
            except lowering.NotLowered:
                return False
            return True
    raise AssertionError(f"no line of {key} in the graph")


@pytest.mark.parametrize("key,args,kwargs", list(_cases()))
def test_rule_equals_eager_op(key, args, kwargs):
    if _check_rule(key, args, kwargs):
        _LOWERED.add(key)


def _half_cases():
    for case in _cases():
        key = case.values[0]
        if key in lowering.HALF_PRECISION:
            yield pytest.param(*case.values, np.float16, id=case.id + "-float16")
            yield pytest.param(*case.values, BFLOAT16, id=case.id + "-bfloat16")


_LOWERED_HALF: set = set()


@pytest.mark.parametrize("key,args,kwargs,dtype", list(_half_cases()))
def test_half_precision_rule_equals_eager_op(key, args, kwargs, dtype):
    """The rules registered with `half=True` on the samples' floats cast to float16 and to
    bfloat16: the plan's values and gradients equal eager's half-precision ops' bit for bit."""
    def half(value):
        return value.astype(dtype) if isinstance(value, np.ndarray) and \
            value.dtype.kind == "f" else value
    args = tuple(half(a) for a in args)
    kwargs = {k: half(v) for k, v in kwargs.items()}
    if _check_rule(key, args, kwargs):
        _LOWERED_HALF.add((key, np.dtype(dtype).name))


def test_every_half_rule_lowered_one_of_its_float16_samples():
    if not _LOWERED_HALF:
        pytest.skip("the table of float16 rules did not run (-k)")
    covered = {(key, dtype) for key in lowering.HALF_PRECISION for dtype in
               ("float16", "bfloat16") if REGISTRY[key].samples is not None}
    assert sorted(covered - _LOWERED_HALF) == []


def _check_rule(key, args, kwargs) -> bool:
    """Plan against eager on one sample; whether the op's line was lowered."""
    info = REGISTRY[key]
    template, arrays, sources = _split(info, args, kwargs)
    rng = np.random.default_rng(2)

    def step(tensors, seed):
        call_args, call_kwargs = _fill(template, tensors)
        with tf.GradientTape() as tape:
            for i in sources:
                tape.watch(tensors[i])
            out = info.function(*call_args, **call_kwargs)
        grads = tape.gradient(out, [tensors[i] for i in sources], output_gradients=seed) \
            if sources else []
        return out, grads

    traced = tf.function(step)
    first = [tf.constant(a) for a in arrays]
    eager_out = step(first, None)[0]
    seed_shape, seed_dtype = tuple(eager_out.shape), eager_out.dtype

    def seed():
        return tf.constant(rng.uniform(0.5, 1.5, seed_shape), seed_dtype) if sources else None
    traced(first, seed())  # the trace
    second = [tf.constant((a + rng.uniform(-0.01, 0.01, a.shape)).astype(a.dtype)
                          if a.dtype.kind in "fV" else a) for a in arrays]
    seed_value = seed()
    planned_out, planned_grads = traced(second, seed_value)
    graph = traced.get_concrete_function(second, seed_value).graph
    lowered = _lowers(key, graph)
    if lowered:
        assert graph.plan, f"{key}: no plan ({graph.plan_note})"
        assert graph.plan.lowered_lines >= 1, f"{key}: the op's line was not lowered"
    else:  # a configuration the rule refuses (an advanced index, say): the op runs instead
        assert not graph.plan or "has no lowering rule" in graph.plan_note or \
            graph.plan.lowered_lines == 0
    eager_out, eager_grads = step(second, seed_value)
    np.testing.assert_array_equal(planned_out.numpy(), eager_out.numpy())
    assert planned_out.dtype == eager_out.dtype and planned_out.shape == eager_out.shape
    for planned, eager in zip(planned_grads, eager_grads):
        if eager is None:
            assert planned is None
        else:
            np.testing.assert_array_equal(planned.numpy(), eager.numpy())
            assert planned.dtype == eager.dtype
    return lowered


_BUFFERED: set = set()  # rules whose results a plan computed into its persistent buffers


@pytest.mark.parametrize("key,args,kwargs", list(_cases()))
def test_rule_into_persistent_buffers_equals_eager_op(key, args, kwargs):
    """The same as above with the op's value and gradients kept inside the function (reduced
    against random weights), so the plan computes them into the buffers it keeps from call to
    call: poisoned with NaN before the compared call, they must be written exactly."""
    info = REGISTRY[key]
    template, arrays, sources = _split(info, args, kwargs)
    rng = np.random.default_rng(3)

    def step(tensors, seed):
        call_args, call_kwargs = _fill(template, tensors)
        with tf.GradientTape() as tape:
            for i in sources:
                tape.watch(tensors[i])
            out = info.function(*call_args, **call_kwargs)
        if not isinstance(out, tf.Tensor) or out.dtype.as_numpy_dtype().dtype.kind not in "f":
            return None
        grads = tape.gradient(out, [tensors[i] for i in sources], output_gradients=seed) \
            if sources else []
        return [tf.reduce_sum(out * weight)] + [
            None if g is None or not isinstance(g, tf.Tensor) else tf.reduce_sum(g * w)
            for g, w in zip(grads, weights)]

    first = [tf.constant(a) for a in arrays]
    eager = info.function(*_fill(template, first)[0], **_fill(template, first)[1])
    if not isinstance(eager, tf.Tensor) or eager.dtype.as_numpy_dtype().dtype.kind != "f":
        pytest.skip("not a float tensor output")
    seed = tf.constant(rng.uniform(0.5, 1.5, eager.shape), eager.dtype)
    weight = tf.constant(rng.uniform(0.5, 1.5, eager.shape), eager.dtype)
    weights = [tf.constant(rng.uniform(0.5, 1.5, arrays[i].shape), arrays[i].dtype)
               for i in sources]
    traced = tf.function(step)
    traced(first, seed)  # the trace
    traced(first, seed)  # compiles the plan
    graph = traced.get_concrete_function(first, seed).graph
    if not graph.plan:
        return
    for buffer in graph.plan.buffers:
        buffer.fill(np.nan if buffer.dtype.kind in "fc" else 1)
    second = [tf.constant(a + rng.uniform(-0.01, 0.01, a.shape) if a.dtype.kind == "f"
                      else a) for a in arrays]
    planned = traced(second, seed)
    expected = step(second, seed)
    for got, want in zip(planned, expected):
        if want is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    # a rule's own buffers are passed as a tuple, `out=(P0, ...)` (the test's lines, a multiply
    # and 0-d sums, never are)
    if "out=(P" in graph.plan.source and _lowers(key, graph):
        _BUFFERED.add(key)


def test_rules_with_buffers_computed_into_them():
    """Runs after the table above: the rules declaring buffers used them in a plan."""
    if not _BUFFERED:
        pytest.skip("the table of rules did not run (-k)")
    expected = {"nn.dense", "linalg.matmul", "nn.sparse_softmax_cross_entropy_with_logits",
                "reduce_sum", "reduce_mean", "nn.conv", "nn.max_pool2d", "nn.pool"}
    assert sorted(expected - _BUFFERED) == []


def test_every_rule_lowered_one_of_its_samples():
    """Runs after the table above (same module): a rule refusing every sample is a defect."""
    covered = [key for key in lowering.coverage()[0] if REGISTRY[key].samples is not None]
    if not _LOWERED:
        pytest.skip("the table of rules did not run (-k)")
    assert sorted(set(covered) - _LOWERED) == []


def test_every_rule_belongs_to_a_differentiable_or_listed_op():
    covered, missing = lowering.coverage()
    assert len(covered) >= 30
    assert not set(covered) & set(missing)
    for key in covered:
        assert key in REGISTRY


def test_docs_list_the_lowered_ops():
    """docs/function.md names exactly the registry ops that have lowering rules."""
    text = (Path(__file__).parents[2] / "docs" / "function.md").read_text()
    match = re.search(r"<!-- lowered ops -->(.*?)<!-- /lowered ops -->", text, re.S)
    assert match, "docs/function.md lacks the list of lowered ops"
    listed = sorted(re.findall(r"`([\w.]+)`", match.group(1)))
    assert listed == lowering.coverage()[0]


_FLOATS = np.array([[0.5, -1.0, 2.0], [2.0, 0.0, -3.0]])
_OTHERS = np.array([[0.5, 1.0, -2.0], [1.0, 0.0, -3.0]])
_BOOLS = np.array([[True, False, True], [False, False, True]])
_NO_SAMPLES = {  # the rules of ops without registry samples: (args as arrays or literals)
    "equal": (_FLOATS, _OTHERS), "not_equal": (_FLOATS, _OTHERS), "less": (_FLOATS, _OTHERS),
    "less_equal": (_FLOATS, _OTHERS), "greater": (_FLOATS, 0.5),
    "greater_equal": (_FLOATS, _OTHERS), "logical_and": (_BOOLS, _BOOLS[::-1].copy()),
    "logical_or": (_BOOLS, _BOOLS[::-1].copy()), "logical_not": (_BOOLS,),
    "shape": (_FLOATS,), "size": (_FLOATS,), "rank": (_FLOATS,), "zeros_like": (_FLOATS,),
    "ones_like": (_BOOLS,), "stop_gradient": (_FLOATS,), "zeros": ((2, 3),),
    "ones": ([4],), "fill": ([2, 2], 1.5),
}


def _caller(info, literals):
    def call(*tensors):
        values = iter(tensors)
        return info.function(*[next(values) if a is None else a for a in literals])
    return call


def test_rules_of_ops_without_samples_equal_their_ops():
    covered = [key for key in lowering.coverage()[0] if REGISTRY[key].samples is None]
    assert sorted(covered) == sorted(_NO_SAMPLES)
    for key, args in _NO_SAMPLES.items():
        info = REGISTRY[key]
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        literals = [a if not isinstance(a, np.ndarray) else None for a in args]

        call = _caller(info, literals)
        traced = tf.function(call, autograph=False)
        first = [tf.constant(a) for a in arrays]
        second = [tf.constant(a[::-1].copy()) for a in arrays]
        traced(*first)
        for tensors in (second, first):
            got, expected = traced(*tensors), call(*tensors)
            np.testing.assert_array_equal(got.numpy(), expected.numpy())
            assert got.dtype == expected.dtype, key
        graph = traced.get_concrete_function(*first).graph
        assert graph.plan and (graph.plan.lowered_lines >= 1 or not graph.calls), key
