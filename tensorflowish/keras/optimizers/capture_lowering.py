"""`Optimizer.apply_gradients` inside a CUDA graph (tensorflowish/function/cuda_graph.py).

Eager's update kernels take their scalars (the learning rate, Adam's bias-corrected step size,
the weight-decay factor) as host arguments, computed from the iteration count at each call: a
captured launch would keep the first call's. Here the update of plain SGD and of Adam/AdamW
is a generated elementwise kernel (`tensorflowish.kernels.fusion`) per variable that reads
those scalars from one-element device buffers and writes the variable and its slots in place
(`out=` them): the graph holds the update, and before each launch the host computes the step's
scalars as `apply_gradients` does and fills the buffers (a fill on the launch's stream, so
ordered before the graph); after it, the `iterations` counter is advanced. The arithmetic is
the `optimizers.cu` kernels', in their order:

- SGD: ``param - lr * grad``;
- Adam/AdamW: ``m + (g - m)(1 - b1)``, ``v + (g*g - v)(1 - b2)``,
  ``param * decay - lr_t * m / (sqrt(v) + eps)``.

Other optimisers and configurations (momentum, amsgrad, clipping, accumulation, moving
averages, constraints, half precision) stay outside the graph, run after it as eager runs them.
"""

from __future__ import annotations

import math

import numpy as np

from tensorflowish.function import cuda_graph
from tensorflowish.function.graph import Call, Slot
from tensorflowish.keras.optimizers.adam import Adam, AdamW
from tensorflowish.keras.optimizers.plan_lowering import bound_apply_gradients
from tensorflowish.keras.optimizers.sgd import SGD

_ADAM_STEPS = (
    ("d", "subtract", ("g", "m")), ("d2", "multiply", ("d", "b1")), ("m1", "add", ("m", "d2")),
    ("gg", "multiply", ("g", "g")), ("e", "subtract", ("gg", "v")),
    ("e2", "multiply", ("e", "b2")), ("v1", "add", ("v", "e2")),
    ("pd", "multiply", ("p", "decay")), ("s", "sqrt", ("v1",)), ("den", "add", ("s", "eps")),
    ("num", "multiply", ("lr_t", "m1")), ("q", "divide", ("num", "den")),
    ("p1", "subtract", ("pd", "q")))


def lower_apply_gradients(call: Call, variables: dict, specs: dict):
    """A `CapturedUpdate` for a plain SGD or Adam/AdamW `apply_gradients` line, else None."""
    bound = bound_apply_gradients(call)
    if bound is None:
        return None
    optimizer, pairs = bound
    if type(optimizer) not in (SGD, Adam, AdamW) or optimizer.clipvalue is not None or \
            optimizer.clipnorm is not None or optimizer.global_clipnorm is not None or \
            optimizer.gradient_accumulation_steps or optimizer.use_ema:
        return None
    if type(optimizer) is SGD and (optimizer.momentum or optimizer.weight_decay is not None):
        return None
    if isinstance(optimizer, Adam) and optimizer.amsgrad:
        return None
    planned = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or \
                pair[0].__class__ is not Slot or pair[1].__class__ is not Slot:
            return None
        grad, slot = pair[0].index, pair[1].index
        variable = variables.get(slot)
        if variable is None or variable.constraint is not None or \
                specs.get(grad, (None,))[:2] != specs.get(slot, (None, None))[:2] or \
                np.dtype(specs[slot][1]).name not in ("float32", "float64"):
            return None
        planned.append((grad, slot, variable))
    return CapturedUpdate(optimizer, planned)


class CapturedUpdate:
    """One `apply_gradients` line as generated in-place kernels reading device scalars."""

    def __init__(self, optimizer, planned: list) -> None:
        from tensorflowish.kernels import fusion

        self.optimizer = optimizer
        self.grad_slots = [grad for grad, _, _ in planned]
        self.variable_slots = [slot for _, slot, _ in planned]
        self.variables = [variable for _, _, variable in planned]
        self.adam = isinstance(optimizer, Adam)
        self.kernels = []
        self.scalars: dict = {}  # (dtype name, what) -> one-element buffer
        for variable in self.variables:
            dtype = variable.array.dtype.name
            if self.adam:
                decays = optimizer._decays(variable)
                steps = [(name, op, tuple(_literal(a, optimizer) for a in args))
                         for name, op, args in _ADAM_STEPS]
                inputs = [("p", "full"), ("g", "full"), ("m", "full"), ("v", "full"),
                          ("lr_t", "element"), ("decay", "element")]
                chain = fusion.Chain(inputs, steps, ["m1", "v1", "p1"], dtype)
                self.kernels.append((fusion.compile_chain(chain), dtype,
                                     "decay" if decays else "one"))
            else:
                chain = fusion.Chain([("p", "full"), ("g", "full"), ("lr", "element")],
                                     [("s", "multiply", ("lr", "g")),
                                      ("p1", "subtract", ("p", "s"))], ["p1"], dtype)
                self.kernels.append((fusion.compile_chain(chain), dtype, None))
        self.step = None

    def _scalar(self, xp, dtype: str, what: str):
        buffer = self.scalars.get((dtype, what))
        if buffer is None:
            buffer = self.scalars[(dtype, what)] = xp.ones(1, dtype)
        return buffer

    def prepare(self, xp) -> None:
        """Before a launch: the step's scalars into their buffers, as apply_gradients computes
        them, and each variable's buffer made its own (copy-on-write) so the graph may write
        it. The caller re-captures when a buffer's address changed."""
        optimizer = self.optimizer
        step = int(optimizer._iterations_variable.array) + 1
        learning_rate = optimizer._current_learning_rate()
        optimizer._begin_step(step)
        for dtype in {variable.array.dtype.name for variable in self.variables}:
            if self.adam:
                lr_t = learning_rate * math.sqrt(1 - optimizer.beta_2 ** step) / \
                    (1 - optimizer.beta_1 ** step)
                self._scalar(xp, dtype, "lr_t").fill(lr_t)
                self._scalar(xp, dtype, "one").fill(1.0)
                self._scalar(xp, dtype, "decay").fill(
                    1.0 - (optimizer.weight_decay or 0.0) * learning_rate)
            else:
                self._scalar(xp, dtype, "lr").fill(learning_rate)
        for variable in self.variables:
            variable._writable_array()
        self.step = step

    def buffers(self) -> list:
        """What the graph writes and must find at the same addresses: variables and slots."""
        found = []
        for variable in self.variables:
            found.append(variable.array)
            if self.adam:
                slots = self.optimizer._slots_for(variable)
                found += [slots["m"], slots["v"]]
        return found

    def launch(self, grads: list, runner, scratch: bool = False) -> None:
        """The update kernels (inside the graph); with `scratch`, on copies of the variables
        and slots (a warm-up or a capture that executes must not change them)."""
        xp = runner.xp
        for (kernel, dtype, decay), grad, variable in zip(self.kernels, grads, self.variables):
            param = variable.array
            if self.adam:
                slots = self.optimizer._slots_for(variable)
                m, v = slots["m"], slots["v"]
                out = [m, v, param]
                if scratch:
                    out = [xp.array(a, copy=True) for a in out]
                kernel({"p": out[2], "g": grad, "m": out[0], "v": out[1],
                        "lr_t": self._scalar(xp, dtype, "lr_t"),
                        "decay": self._scalar(xp, dtype, decay)}, runner,
                       shape=param.shape, out=out)
            else:
                out = [xp.array(param, copy=True) if scratch else param]
                kernel({"p": out[0], "g": grad, "lr": self._scalar(xp, dtype, "lr")}, runner,
                       shape=param.shape, out=out)

    def finish(self) -> None:
        """After a launch: count the step (as apply_gradients does)."""
        self.optimizer._iterations_variable._writable_array().fill(self.step)


def _literal(name: str, optimizer):
    return {"b1": 1.0 - optimizer.beta_1, "b2": 1.0 - optimizer.beta_2,
            "eps": optimizer.epsilon}.get(name, name)


# The CUDA graph capture (tensorflowish.function, below Keras) asks its registered lowerings.
cuda_graph.register_update_capture(lower_apply_gradients)
