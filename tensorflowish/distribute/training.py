"""The training-side integration (Horovod's): a GradientTape and an optimiser wrapper that
average gradients over ranks. ``Model.fit`` calls ``allreduce_gradients`` itself."""

from __future__ import annotations

from ..autodiff import gradients_and_variables
from ..tape import UnconnectedGradients, _flatten, _unflatten
from ..tensor import Tensor
from .collectives import allreduce_gradients
from .common import OPS
from .process import _get

# --- wrappers: the tape and the optimiser ----------------------------------------------------


class DistributedGradientTape:
    """A GradientTape whose `gradient()` averages the gradients over all ranks.

    Use it like Horovod's: wrap the tape after recording (or use it in the `with` itself).

    >>> import tensorflowish as tf
    >>> from tensorflowish import distribute
    >>> w = tf.Variable(2.0)
    >>> with tf.GradientTape() as tape:
    ...     loss = w * w
    >>> float(distribute.DistributedGradientTape(tape).gradient(loss, w))
    4.0
    """

    def __init__(self, tape, op: str = "average") -> None:
        if op not in OPS:
            raise ValueError(f"Unknown reduction op {op!r}; expected one of {', '.join(OPS)}.")
        self._tape = tape
        self._op = op

    def __enter__(self) -> DistributedGradientTape:
        self._tape.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._tape.__exit__(*exc_info)

    def __getattr__(self, name: str):
        return getattr(self._tape, name)

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """The tape's gradient, averaged over ranks; same structure, None where None everywhere."""
        gradients = self._tape.gradient(target, sources, output_gradients=output_gradients,
                                        unconnected_gradients=unconnected_gradients)
        if _get().size == 1:
            return gradients
        if isinstance(sources, Tensor):
            return allreduce_gradients([gradients], [sources], self._op)[0]
        flat_sources: list = []
        flat_gradients: list = []
        _flatten(sources, flat_sources)
        _flatten(gradients, flat_gradients)
        reduced = allreduce_gradients(flat_gradients, flat_sources, self._op)
        return _unflatten(sources, iter(reduced))


class DistributedOptimizer:
    """Wrap an optimiser so `apply_gradients` averages the gradients over ranks first.

    Works with anything that has `apply_gradients(grads_and_vars)`; every other attribute
    (learning_rate, iterations, get_config, ...) is the wrapped optimiser's.
    """

    def __init__(self, optimizer, op: str = "average") -> None:
        if not callable(getattr(optimizer, "apply_gradients", None)):
            raise TypeError(f"DistributedOptimizer wraps an optimiser with apply_gradients(), "
                            f"got {type(optimizer).__name__}.")
        if op not in OPS:
            raise ValueError(f"Unknown reduction op {op!r}; expected one of {', '.join(OPS)}.")
        object.__setattr__(self, "_optimizer", optimizer)
        object.__setattr__(self, "_op", op)

    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        """Average the gradients over ranks, then let the wrapped optimiser apply them."""
        pairs = list(grads_and_vars)
        variables = [variable for _, variable in pairs]
        gradients = allreduce_gradients([g for g, _ in pairs], variables, self._op)
        return self._optimizer.apply_gradients(list(zip(gradients, variables)), *args, **kwargs)

    def minimize(self, loss, var_list, tape=None):
        """Compute gradients of `loss` (a tensor under `tape`, or a function), average, apply."""
        return self.apply_gradients(gradients_and_variables(loss, var_list, tape))

    def __getattr__(self, name: str):
        return getattr(self._optimizer, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._optimizer, name, value)

    def __repr__(self) -> str:
        return f"<DistributedOptimizer of {self._optimizer!r}>"
