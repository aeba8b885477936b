"""A fused elementwise run of a GPU plan recorded on a live GradientTape, with a fused backward.

`plan_gpu.py` differentiates a tape at compile time only when everything the tape records is
elementwise. A training step records more (a dense layer, a matmul, a cross-entropy) and takes
its gradients with respect to variables the tape watched on read: then the GPU plan runs the
tape itself (a fresh `GradientTape` per call, as the op-by-op replay) and every line that is not
fused records itself on it, with its op's own VJP (the fused `dense_backward`, ...), as eager.

A fused run records ONE tape entry per value it writes out, whose VJP is a generated kernel:
the run's forward steps that value depends on (recomputed from the run's inputs, kept from the
forward launch), then their VJPs in reverse order, written out for the inputs the tape tracks.
A gradient for a broadcast input (a bias row, a one-element tensor) comes out in the run's
shape and is summed back by the tape's own `_unbroadcast`, as eager's elementwise records are.
The backward kernel is compiled once per (value, set of needed inputs).

Under a tape that records the backward itself (a higher-order gradient) the VJP runs the run's
lines again as ops on an inner tape instead, so that the recording tape sees a differentiable
backward, as the fused dense layer's VJP does.

Only the runs' recording is decided at run time (`should_record`: a tape records and tracks an
input), so a run outside a tape's block pays one test.
"""

from __future__ import annotations

from .. import tape as tape_module
from ..tensor import Tensor


class RunTape:
    """What a fused run (`plan_gpu._Run`) needs to record its outputs on a tape."""

    def __init__(self, run, runner, vjp, emit, new_run) -> None:
        self.run, self.runner = run, runner
        self._vjp, self._emit, self._new_run = vjp, emit, new_run
        names = {name: slot for slot, (name, _) in run.inputs.items()}
        self.input_names = names  # kernel input name -> slot
        position = {name: index for index, (name, _, _) in enumerate(run.steps)}
        # per written-out slot: the step index defining it and the inputs it depends on
        depends: dict[str, set] = {name: {name} for name in names}
        for name, _, args in run.steps:
            depends[name] = set().union(*(depends.get(a, set()) for a in args
                                          if isinstance(a, str)))
        self.outputs = []
        for slot in run.outputs:
            step = run.defines[slot]
            inputs = [slot_ for name, slot_ in names.items() if name in depends[step]]
            self.outputs.append((slot, step, position[step], inputs))
        self.kernels: dict = {}  # (step, needs) -> (FusedKernel, [input slots written out])

    def record(self, values: list, arrays: dict, results: list) -> None:
        """After a launch: record each written-out value on the tapes tracking its inputs."""
        for (_, step, index, inputs), result in zip(self.outputs, results):
            tensors = [values[s] for s in inputs]
            if tensors and tape_module.should_record(tensors):
                tape_module.record(tensors, result, self._backward(step, index, inputs,
                                                                   tensors, arrays))

    def _backward(self, step: str, index: int, inputs: list, tensors: list, arrays: dict):
        shape = self.run.shape
        shapes = [tuple(t.array.shape) for t in tensors]

        def vjp(upstream: Tensor, needs):
            if tape_module._recording_tapes:  # an outer tape records the backward: use ops
                return self._composed_vjp(step, inputs, tensors, upstream, needs)
            key = (step, tuple(needs))
            compiled = self.kernels.get(key)
            if compiled is None:
                compiled = self.kernels[key] = self._compile(step, index, inputs, needs)
            kernel, written = compiled
            if kernel is None:
                return [None] * len(inputs)
            feed = dict(arrays)
            feed["upstream"] = upstream.array
            grads = dict(zip(written, kernel(feed, self.runner, shape=shape)))
            out = []
            for slot, target in zip(inputs, shapes):
                array = grads.get(slot)
                if array is None:
                    out.append(None)
                    continue
                gradient = Tensor(array)
                if tuple(array.shape) != target:
                    gradient = tape_module._unbroadcast(gradient, target)
                out.append(gradient)
            return out

        return vjp

    def _composed_vjp(self, step: str, inputs: list, tensors: list, upstream: Tensor,
                      needs) -> list:
        """The VJP through the run's own lines run again as ops on an inner tape, so that a
        tape recording the backward (a higher-order gradient) records it too (as the fused
        dense layer's VJP does under an outer tape)."""
        from .graph import run_calls

        run = self.run
        ancestors = {step}
        for name, _, args in reversed(run.steps):
            if name in ancestors:
                ancestors.update(a for a in args if isinstance(a, str))
        lines = [run.lines[name] for name, _, _ in run.steps if name in ancestors]
        output = run.lines[step].output_slots[0]
        with tape_module.GradientTape() as inner:
            for tensor in tensors:
                inner.watch(tensor)
            values = dict(zip(inputs, tensors))
            run_calls(lines, values)
        grads = inner.gradient(values[output], list(tensors), output_gradients=upstream)
        return [g if need else None for g, need in zip(grads, needs)]

    def _compile(self, step: str, index: int, inputs: list, needs) -> tuple:
        """The backward chain of `step` for the needed inputs: forward steps recomputed, then
        their VJPs (plan_gpu._vjp, the registry's formulas) in reverse order."""
        from ..kernels import fusion

        run = self.run
        wanted = {slot for slot, need in zip(inputs, needs) if need}
        wanted_names = {name for name, slot in self.input_names.items() if slot in wanted}
        # the forward steps `step` depends on, recomputed (the VJPs read their values)
        ancestors = {step}
        for name, _, args in reversed(run.steps[:index + 1]):
            if name in ancestors:
                ancestors.update(a for a in args if isinstance(a, str))
        backward = self._new_run(run.shape, run.dtype)
        backward.steps = [entry for entry in run.steps[:index + 1] if entry[0] in ancestors]
        backward.counter = run.counter
        # names on a path from a needed input (only their gradients are computed)
        reached = set(wanted_names)
        for name, _, args in backward.steps:
            if any(isinstance(a, str) and a in reached for a in args):
                reached.add(name)
        gradients = {step: "upstream"}
        for name, op, args in reversed(list(backward.steps)):
            g = gradients.pop(name, None)
            if g is None or name not in reached:
                continue
            for arg, vjp in zip(args, self._vjp(backward, op, g, list(args), name)):
                if vjp is None or not isinstance(arg, str) or arg not in reached:
                    continue
                gradients[arg] = vjp if arg not in gradients else \
                    self._emit(backward, "add", (gradients[arg], vjp))
        written = [slot for name, slot in self.input_names.items()
                   if slot in wanted and name in gradients]
        if not written:
            return None, []
        names = [gradients[name] for name, slot in self.input_names.items()
                 if slot in wanted and name in gradients]
        chain_inputs = [(name, kind) for name, kind in run.inputs.values()]
        chain_inputs.append(("upstream", "full"))
        kernel = fusion.compile_chain(fusion.Chain(chain_inputs, backward.steps, names,
                                                   run.dtype))
        return kernel, written
