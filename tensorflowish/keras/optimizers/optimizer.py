"""The optimiser base class: what every ``tf.keras.optimizers`` optimiser shares.

Gradient checks, clipping (``clipvalue``, ``clipnorm``, ``global_clipnorm``), decoupled
``weight_decay``, gradient accumulation (``gradient_accumulation_steps``), variable constraints,
the exponential moving average of the weights (``use_ema``), the learning rate (a number or a
schedule) and the ``iterations`` counter, in Keras 3's order. Subclasses only write one update
on raw arrays.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.autodiff import gradients_and_variables
from tensorflowish.function import tracing
from tensorflowish.keras.optimizers import schedules
from tensorflowish.keras.optimizers.schedules import LearningRateSchedule
from tensorflowish.ops.indexed_slices import IndexedSlices
from tensorflowish.tensor import Tensor, Variable

__all__ = ["Optimizer", "gradients_and_variables", "schedules"]


def _kernel(name: str) -> Callable | None:
    try:
        from tensorflowish import kernels
    except ImportError:
        return None
    return getattr(kernels, name, None)




def _learning_rate_value(value: Any) -> float:
    if isinstance(value, Tensor):
        return float(value.numpy())
    return float(value)


class Optimizer:
    """Base class. Subclasses define ``_update(param, grad, slots, lr, step, weight_decay)`` on
    raw arrays and ``_slot_names`` (or ``_make_slots`` for state not shaped like the variable).

    ``apply_gradients(zip(grads, vars))`` accumulates (``gradient_accumulation_steps``), clips,
    applies decoupled weight decay, updates every variable in place, applies the variables'
    constraints, updates the moving averages (``use_ema``) and increments ``iterations``.
    """

    _slot_names: tuple[str, ...] = ()
    # Whether applying an IndexedSlices gradient to its rows only equals Keras's update. Keras 3
    # (on TensorFlow) densifies a sparse gradient wherever the update mixes it with dense state
    # (moments, accumulators, momentum, weight decay): untouched rows' moments decay and their
    # weights move. Only plain SGD updates just the touched rows (SGD overrides this).
    _sparse_rows = False

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        jit_compile: bool | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "lr" in kwargs:  # the TensorFlow 1 / early Keras name
            learning_rate = kwargs.pop("lr")
        if kwargs.get("decay") in (None, 0, 0.0):  # the legacy per-step decay, when unused
            kwargs.pop("decay", None)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword arguments: "
                f"{', '.join(sorted(kwargs))}."
            )
        if loss_scale_factor is not None:
            raise NotImplementedError(
                "loss_scale_factor (for float16 training) is not supported; leave it None."
            )
        if gradient_accumulation_steps is not None and not (
            isinstance(gradient_accumulation_steps, int) and gradient_accumulation_steps >= 2
        ):
            raise ValueError(
                "gradient_accumulation_steps must be an integer >= 2 (or None), got "
                f"{gradient_accumulation_steps!r}."
            )
        if use_ema and not 0.0 <= ema_momentum <= 1.0:
            raise ValueError(f"ema_momentum must be in [0, 1], got {ema_momentum}.")
        if ema_overwrite_frequency is not None and not (
            isinstance(ema_overwrite_frequency, int) and ema_overwrite_frequency >= 1
        ):
            raise ValueError(
                "ema_overwrite_frequency must be a positive integer (or None), got "
                f"{ema_overwrite_frequency!r}."
            )
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(
                "Pass at most one of clipnorm (per variable) and global_clipnorm (over all)."
            )
        for option, value in (
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ):
            if value is not None and not value > 0:
                raise ValueError(f"{option} must be positive, got {value}.")
        self.name = name or _snake(type(self).__name__)
        self.weight_decay = None if weight_decay in (None, 0, 0.0) else float(weight_decay)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.use_ema, self.ema_momentum = bool(use_ema), float(ema_momentum)
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.loss_scale_factor = None
        self._accumulators: dict[int, tuple[Variable, Any]] = {}
        self._averages: dict[int, tuple[Variable, Any]] = {}
        with tf_backend.device_scope("CPU:0"):  # read every step, so kept on the host
            self._iterations_variable = tf.Variable(
                0, trainable=False, name=f"{self.name}/iteration", dtype=tf.int64
            )
        self._schedule: LearningRateSchedule | Callable | None = None
        self._learning_rate_variable: Variable | None = None
        self.learning_rate = learning_rate
        self._slots: dict[int, tuple[Variable, dict[str, Any]]] = {}
        self._excluded_from_decay: set[int] = set()
        self._excluded_names: tuple[str, ...] = ()

    # --- hyper-parameters ----------------------------------------------------------------

    @property
    def iterations(self) -> Variable:
        """How many updates have been applied: an int64 variable, as in TensorFlow (``assign``
        it, or set this attribute, to change it)."""
        return self._iterations_variable

    @iterations.setter
    def iterations(self, value: Any) -> None:
        count = int(value.numpy() if hasattr(value, "numpy") else value)
        self._iterations_variable._writable_array().fill(count)

    @property
    def _iterations(self) -> int:
        return int(self._iterations_variable.array)

    @property
    def learning_rate(self) -> Any:
        """The learning rate: a variable (``.assign`` it, or set this attribute), or the current
        value of the schedule."""
        if self._schedule is not None:
            return tf.constant(self._current_learning_rate(), dtype=tf.float32)
        return self._learning_rate_variable

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(value, LearningRateSchedule) or (
            callable(value) and not isinstance(value, Tensor)
        ):
            self._schedule = value
            return
        try:
            number = _learning_rate_value(value)
        except (TypeError, ValueError):
            raise TypeError(
                "learning_rate must be a number, a scalar tensor or a "
                f"tf.keras.optimizers.schedules.LearningRateSchedule, got {type(value).__name__}."
            ) from None
        if not number >= 0.0:
            raise ValueError(f"learning_rate must be >= 0, got {number}.")
        self._schedule = None
        if self._learning_rate_variable is None:
            # Read every step, so kept on the host; float64 so that 0.1 stays 0.1.
            with tf_backend.device_scope("CPU:0"):
                self._learning_rate_variable = tf.Variable(
                    number, trainable=False, name=f"{self.name}/learning_rate", dtype=tf.float64
                )
        else:
            self._learning_rate_variable._writable_array()[...] = number

    lr = learning_rate

    def _current_learning_rate(self) -> float:
        schedule = self._schedule
        if schedule is None:
            return float(self._learning_rate_variable.array)
        if isinstance(schedule, LearningRateSchedule) and (
            type(schedule).__call__ is LearningRateSchedule.__call__
        ):
            return schedule.value(float(self._iterations))
        return _learning_rate_value(schedule(self._iterations))

    def exclude_from_weight_decay(
        self, var_list: Sequence[Variable] | None = None, var_names: Sequence[str] | None = None
    ) -> None:
        """Exempt variables (or those whose name contains one of ``var_names``) from decay."""
        self._excluded_from_decay |= {id(v) for v in var_list or ()}
        self._excluded_names = tuple(var_names or ())

    # --- state -------------------------------------------------------------------------

    def _make_slots(self, array: Any) -> dict[str, Any]:
        """The state of one variable, made on its first update: zeros like it, by default."""
        xp = tf_backend.get_array_module(array)
        return {name: xp.zeros_like(array) for name in self._slot_names}

    def _slots_for(self, variable: Variable) -> dict[str, Any]:
        entry = self._slots.get(id(variable))
        if entry is None or entry[0] is not variable:
            if self._slot_names:
                from tensorflowish.function.tracing import check_new_state

                check_new_state(f"the {type(self).__name__} slots of {variable.name!r}")
            entry = (variable, self._make_slots(variable.array))
            self._slots[id(variable)] = entry
        return entry[1]

    @staticmethod
    def _state_for(table: dict, variable: Variable, make: Callable[[Any], Any]) -> Any:
        entry = table.get(id(variable))
        if entry is None or entry[0] is not variable:
            entry = (variable, make(variable.array))
            table[id(variable)] = entry
        return entry[1]

    def build(self, var_list: Sequence[Variable]) -> None:
        """Create the per-variable state (done automatically on the first update)."""
        for variable in var_list:
            self._slots_for(variable)

    @property
    def variables(self) -> list:
        """The optimiser's state as tensors (iterations, then each variable's slots)."""
        result = [self.iterations]
        for _, slots in self._slots.values():
            result.extend(Tensor(array) for array in slots.values())
        return result

    # --- updating ----------------------------------------------------------------------

    def _clip(self, grads: list) -> list:
        if self.clipvalue is not None:
            c = float(self.clipvalue)
            grads = [tf_backend.get_array_module(g).clip(g, -c, c) for g in grads]
        if self.clipnorm is not None:
            clipped = []
            for g in grads:
                xp = tf_backend.get_array_module(g)
                norm = float(xp.sqrt((g.astype(xp.float64) ** 2).sum()))
                clipped.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            grads = clipped
        if self.global_clipnorm is not None:
            total = 0.0
            for g in grads:
                xp = tf_backend.get_array_module(g)
                total += float((g.astype(xp.float64) ** 2).sum())
            norm = math.sqrt(total)
            if norm > self.global_clipnorm:
                grads = [g * (self.global_clipnorm / norm) for g in grads]
        return grads

    def _decays(self, variable: Variable) -> bool:
        if self.weight_decay is None or id(variable) in self._excluded_from_decay:
            return False
        return not any(name in variable.name for name in self._excluded_names)

    def apply_gradients(
        self, grads_and_vars: Iterable[tuple[Any, Variable]], name: str | None = None, **kwargs
    ) -> Tensor:
        """Update each variable in place with its gradient; returns ``iterations``.

        Pairs whose gradient is None are skipped (with a warning naming the variables); it is an
        error when every gradient is None.
        """
        grads, variables, missing, sparse = [], [], [], []
        for grad, variable in grads_and_vars:
            if not isinstance(variable, Variable):
                raise TypeError(
                    f"apply_gradients expects (gradient, tf.Variable) pairs, got a "
                    f"{type(variable).__name__} as the variable."
                )
            if grad is None:
                missing.append(variable.name)
                continue
            if grad.__class__ is IndexedSlices:  # rows of an embedding table
                if self.clipvalue is None and self.clipnorm is None and \
                        self.global_clipnorm is None and self._sparse_rows and \
                        self.gradient_accumulation_steps is None:
                    _check_slices(grad, variable)
                    sparse.append((grad, variable))
                    continue
                # as Keras 3: the dense gradient (untouched rows are zero), and clipping and
                # accumulation need the whole gradient anyway
                grad = grad.to_dense()
            array = grad.array if isinstance(grad, Tensor) else _as_array_like(grad, variable)
            if array.shape != variable.array.shape:
                raise ValueError(
                    f"Gradient for '{variable.name}' has shape {tuple(array.shape)} but the "
                    f"variable has shape {tuple(variable.shape)}."
                )
            if array.dtype != variable.array.dtype:
                array = array.astype(variable.array.dtype)
            grads.append(array)
            variables.append(variable)
        if not variables and not sparse:
            raise ValueError(
                "No gradients provided for any variable: "
                f"{missing}. Check that the loss was computed from the variables inside the "
                "GradientTape and that they are trainable."
            )
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss; they "
                "are left unchanged.",
                stacklevel=2,
            )
        step = int(self._iterations_variable.array) + 1
        accumulators = None
        if self.gradient_accumulation_steps:
            accumulators = [
                self._state_for(self._accumulators, variable, _zeros_like) for variable in variables
            ]
            if step % self.gradient_accumulation_steps:  # not an update step: only accumulate
                for accumulator, grad in zip(accumulators, grads):
                    accumulator += grad
                self._iterations_variable._writable_array().fill(step)
                return self._iterations_variable
            steps = self.gradient_accumulation_steps
            grads = [(grad + accumulator) / steps for grad, accumulator in zip(grads, accumulators)]
        if self.clipvalue is not None or self.clipnorm is not None or \
                self.global_clipnorm is not None:
            grads = self._clip(grads)
        learning_rate = self._current_learning_rate()
        self._begin_step(step)
        self._apply_updates(grads, variables, learning_rate, step)
        for grad, variable in sparse:
            self._apply_sparse(grad, variable, learning_rate, step)
        if accumulators is not None:
            for accumulator in accumulators:
                accumulator.fill(0)
        for variable in variables:  # plain loops: this runs in every small training step
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable))
        for _, variable in sparse:
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable))
        if self.use_ema:
            self._update_moving_averages([*variables, *(v for _, v in sparse)],
                                         first_step=step == 1)
        self._iterations_variable._writable_array().fill(step)
        return self._iterations_variable

    # --- moving averages of the weights (use_ema) ------------------------------------------

    def _update_moving_averages(self, variables: list, first_step: bool) -> None:
        # Keras: average = m * average + (1 - m) * variable, with m = 0 at the first step
        momentum = 0.0 if first_step else self.ema_momentum
        for variable in variables:
            average = self._state_for(self._averages, variable, _copy)
            average *= momentum
            average += (1.0 - momentum) * variable.array
        frequency = self.ema_overwrite_frequency
        if frequency and (int(self._iterations_variable.array) + 1) % frequency == 0:
            self._overwrite_with_averages(variables)

    def _overwrite_with_averages(self, variables: Iterable[Variable]) -> None:
        for variable in variables:
            entry = self._averages.get(id(variable))
            if entry is not None and entry[0] is variable:
                variable.assign(Tensor(entry[1]))

    def finalize_variable_values(self, var_list: Sequence[Variable]) -> None:
        """Give each variable its moving average (with ``use_ema``; ``fit`` calls this at its
        end). Does nothing without ``use_ema``."""
        if self.use_ema:
            self._overwrite_with_averages(var_list)

    def _begin_step(self, step: int) -> None:
        """Called once per update step, before any variable is updated (for per-step state)."""

    def _apply_updates(self, grads: list, variables: list, learning_rate: float,
                       step: int) -> None:
        """Call ``_update`` for each variable (gradients already match their variables)."""
        # looked up once: this loop is a good part of a small model's training step
        update, has_slots, decay = self._update, bool(self._slot_names), self.weight_decay
        for grad, variable in zip(grads, variables):
            update(
                variable._writable_array(), grad, self._slots_for(variable) if has_slots else {},
                learning_rate, step, decay if decay is not None and self._decays(variable) else 0.0,
            )  # fmt: skip

    def _apply_sparse(self, grad: IndexedSlices, variable: Variable, learning_rate: float,
                      step: int) -> None:
        """Update only the rows an ``IndexedSlices`` gradient touches (repeated rows summed):
        this optimiser's own ``_update`` on those rows of the variable and of its slots. Used
        only where that equals the dense update (``_sparse_rows``: plain SGD), as Keras's
        ``scatter_sub``; other optimisers get the dense gradient, as in Keras 3."""
        xp = tf_backend.get_array_module(variable.array)
        rows, values = grad.unique_rows()
        values = xp.ascontiguousarray(values, dtype=variable.array.dtype)
        param = variable._writable_array()
        slots = self._slots_for(variable) if self._slot_names else {}
        param_rows = param[rows]
        slot_rows = {name: slot[rows] for name, slot in slots.items()}
        decay = self.weight_decay if self.weight_decay is not None and self._decays(variable) \
            else 0.0
        self._update(param_rows, values, slot_rows, learning_rate, step, decay)
        param[rows] = param_rows
        for name, slot in slots.items():
            slot[rows] = slot_rows[name]

    def _update(
        self, param: Any, grad: Any, slots: dict, lr: float, step: int, weight_decay: float
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def minimize(
        self,
        loss: Callable[[], Any] | Tensor,
        var_list: Sequence[Variable] | Callable[[], Sequence[Variable]],
        tape: Any = None,
    ) -> Tensor:
        """Compute the gradients of ``loss`` and apply them.

        ``loss`` is a zero-argument function, or a tensor computed under ``tape``.
        """
        return self.apply_gradients(gradients_and_variables(loss, var_list, tape))

    def get_config(self) -> dict:
        """The constructor arguments."""
        if self._schedule is not None:
            rate: Any = self._schedule
        else:
            rate = float(self._learning_rate_variable.array)
        return {
            "name": self.name,
            "learning_rate": rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        """Re-create an optimiser from :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} learning_rate={self._current_learning_rate():g}>"


def _check_slices(grad: IndexedSlices, variable: Variable) -> None:
    if grad.dense_shape is not None and tuple(grad.dense_shape) != tuple(variable.array.shape):
        raise ValueError(
            f"Gradient for '{variable.name}' has shape {tuple(grad.dense_shape)} but the "
            f"variable has shape {tuple(variable.shape)}."
        )


def _as_array_like(value: Any, variable: Variable) -> Any:
    xp = tf_backend.get_array_module(variable.array)
    return xp.asarray(tf_backend.to_numpy(value) if hasattr(value, "get") else value)


def _zeros_like(array: Any) -> Any:
    return tf_backend.get_array_module(array).zeros_like(array)


def _copy(array: Any) -> Any:
    return array.copy()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# Inside a tf.function, each update is one graph line, run again at every call.
tracing.trace_as_stateful(Optimizer, ("apply_gradients", "apply"), lambda *a, **k: None)
