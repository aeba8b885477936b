"""Optimisers (``tf.keras.optimizers``): SGD, Adam, AdamW, RMSprop.

Updates are written in place into each variable's array (one fused pass per variable through
``tensorflowish.kernels`` where a kernel exists), with Keras's formulas, defaults, gradient
clipping (``clipvalue``, ``clipnorm``, ``global_clipnorm``) and decoupled ``weight_decay``.

    >>> import tensorflowish as tf
    >>> w = tf.Variable([1.0, 2.0])
    >>> opt = tf.keras.optimizers.SGD(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(tf.constant([1.0, 1.0]), w)])
    >>> [round(v, 6) for v in w.numpy().tolist()]
    [0.9, 1.9]
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import tensorflowish as tf
from tensorflowish import backend as tf_backend
from tensorflowish.indexed_slices import IndexedSlices
from tensorflowish.keras import schedules
from tensorflowish.keras.schedules import LearningRateSchedule
from tensorflowish.tensor import _UNSHARED, Tensor, Variable, _getrefcount

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "get", "schedules"]


# --- update rules on raw arrays -----------------------------------------------------------------
# The kernels package provides fused versions; these NumPy/CuPy versions have the same
# semantics and are used when a kernel is missing (or for options the kernel lacks).


def _kernel(name: str) -> Callable | None:
    try:
        from tensorflowish import kernels
    except ImportError:
        return None
    return getattr(kernels, name, None)


def sgd_update_reference(
    param: Any, grad: Any, velocity: Any, learning_rate: float, momentum: float = 0.0,
    nesterov: bool = False,
) -> None:  # fmt: skip
    """Keras SGD in place: ``p -= lr*g``; with momentum ``v = m*v - lr*g; p += v`` (nesterov:
    ``p += m*v - lr*g``)."""
    if momentum == 0.0:
        param -= learning_rate * grad
        return
    velocity *= momentum
    velocity -= learning_rate * grad
    if nesterov:
        param += momentum * velocity - learning_rate * grad
    else:
        param += velocity


def adam_update_reference(
    param: Any, grad: Any, m: Any, v: Any, learning_rate: float, beta_1: float, beta_2: float,
    epsilon: float, step: int, weight_decay: float = 0.0,
) -> None:  # fmt: skip
    """Keras Adam in place (AdamW when ``weight_decay``: ``p -= p*wd*lr`` first)."""
    xp = tf_backend.get_array_module(param)
    if weight_decay:
        param -= param * (weight_decay * learning_rate)
    alpha = learning_rate * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
    m += (grad - m) * (1.0 - beta_1)
    v += (grad * grad - v) * (1.0 - beta_2)
    param -= (m * alpha) / (xp.sqrt(v) + epsilon)


# --- the base class -----------------------------------------------------------------------------


def _learning_rate_value(value: Any) -> float:
    if isinstance(value, Tensor):
        return float(value.numpy())
    return float(value)


def gradients_and_variables(loss, var_list, tape=None) -> list:
    """The (gradient, variable) pairs `minimize` applies: `loss` is a zero-argument function
    (run under a new tape that watches `var_list`) or a tensor computed under `tape`."""
    if callable(loss) and not isinstance(loss, Tensor):
        with tf.GradientTape() as tape:
            if callable(var_list):
                var_list = var_list()
            for variable in var_list:
                tape.watch(variable)
            value = loss()
    else:
        if tape is None:
            raise ValueError(
                "minimize got a loss tensor but no tape: pass tape=the GradientTape that "
                "recorded it, or pass the loss as a zero-argument function."
            )
        value = loss
        if callable(var_list):
            var_list = var_list()
    var_list = list(var_list)
    return list(zip(tape.gradient(value, var_list), var_list))


class Optimizer:
    """Base class. Subclasses define ``_update(param, grad, slots, lr, step)`` on raw arrays
    and ``_slot_names``.

    ``apply_gradients(zip(grads, vars))`` clips the gradients, applies decoupled weight decay,
    updates every variable in place and increments ``iterations``.
    """

    _slot_names: tuple[str, ...] = ()

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
        if use_ema:
            raise NotImplementedError("use_ema (exponential moving average) is not supported.")
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

    def _slots_for(self, variable: Variable) -> dict[str, Any]:
        entry = self._slots.get(id(variable))
        if entry is None or entry[0] is not variable:
            xp = tf_backend.get_array_module(variable.array)
            slots = {name: xp.zeros_like(variable.array) for name in self._slot_names}
            entry = (variable, slots)
            self._slots[id(variable)] = entry
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
            if grad.__class__ is IndexedSlices:  # rows of an embedding table: update those only
                if self.clipvalue is None and self.clipnorm is None and \
                        self.global_clipnorm is None:
                    _check_slices(grad, variable)
                    sparse.append((grad, variable))
                    continue
                grad = grad.to_dense()  # clipping needs the whole gradient
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
        if self.clipvalue is not None or self.clipnorm is not None or \
                self.global_clipnorm is not None:
            grads = self._clip(grads)
        learning_rate = self._current_learning_rate()
        step = int(self._iterations_variable.array) + 1
        self._apply_updates(grads, variables, learning_rate, step)
        for grad, variable in sparse:
            self._apply_sparse(grad, variable, learning_rate, step)
        self._iterations_variable._writable_array().fill(step)
        return self._iterations_variable

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
        this optimiser's own ``_update`` on those rows of the variable and of its slots. Other
        rows and their slots stay as they are (TensorFlow's sparse semantics; for Adam that of
        LazyAdam: untouched rows' moments do not decay)."""
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


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum — Keras's formulas:
    ``v = momentum * v - lr * g; p += v`` (Nesterov: ``p += momentum * v - lr * g``)."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "SGD",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD momentum must be in [0, 1], got {momentum}.")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._slot_names = ("momentum",) if self.momentum else ()
        kernel = _kernel("sgd_update")
        # called with check_arguments=False (positionally: a partial with keywords costs more):
        # apply_gradients has matched each gradient's shape and dtype to its variable's
        self._kernel = kernel or (lambda *args: sgd_update_reference(*args[:6]))

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        if weight_decay:
            param -= param * (weight_decay * lr)
        self._kernel(param, grad, slots["momentum"] if slots else None, lr, self.momentum,
                     self.nesterov, False)

    def _apply_updates(self, grads: list, variables: list, learning_rate: float,
                       step: int) -> None:
        if self.momentum or self.weight_decay is not None:
            super()._apply_updates(grads, variables, learning_rate, step)
            return
        kernel = self._kernel  # plain SGD, the most common step of all: no per-variable call
        for grad, variable in zip(grads, variables):
            param = variable.array  # Variable._writable_array, inlined (copy-on-write)
            if _getrefcount(param) > _UNSHARED:
                param = variable._writable_array()
            kernel(param, grad, None, learning_rate, 0.0, False, False)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba) with Keras's formulation and defaults (epsilon 1e-7):
    ``m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
    p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``."""

    _slot_names = ("m", "v")

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "Adam",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self._slot_names = ("m", "v", "v_hat")
        self._kernel = _kernel("adam_update") or adam_update_reference

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        if not self.amsgrad:
            self._kernel(
                param, grad, slots["m"], slots["v"], lr, self.beta_1, self.beta_2, self.epsilon,
                step, weight_decay,
            )  # fmt: skip
            return
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        m, v, v_hat = slots["m"], slots["v"], slots["v_hat"]
        alpha = lr * math.sqrt(1.0 - self.beta_2**step) / (1.0 - self.beta_1**step)
        m += (grad - m) * (1.0 - self.beta_1)
        v += (grad * grad - v) * (1.0 - self.beta_2)
        xp.maximum(v_hat, v, out=v_hat)
        param -= (m * alpha) / (xp.sqrt(v_hat) + self.epsilon)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004): ``p -= p * weight_decay * lr`` before
    each Adam step."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "AdamW",
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError("AdamW needs a weight_decay (use Adam for none).")
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip


class RMSprop(Optimizer):
    """RMSprop with Keras's formulas: ``s = rho*s + (1-rho)*g^2``;
    ``p -= lr * g / sqrt(s + eps)`` (centered: ``s - mean_g^2``; with momentum accumulated)."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "RMSprop",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs,
        )  # fmt: skip
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        names = ["velocity"]
        if self.momentum:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        self._slot_names = tuple(names)

    def _update(self, param, grad, slots, lr, step, weight_decay) -> None:
        xp = tf_backend.get_array_module(param)
        if weight_decay:
            param -= param * (weight_decay * lr)
        velocity = slots["velocity"]
        velocity *= self.rho
        velocity += (1.0 - self.rho) * grad * grad
        if self.centered:
            average = slots["average_gradient"]
            average *= self.rho
            average += (1.0 - self.rho) * grad
            denominator = velocity - average * average + self.epsilon
        else:
            denominator = velocity + self.epsilon
        increment = (lr * grad) / xp.sqrt(denominator)
        if self.momentum:
            buffer = slots["momentum"]
            buffer *= self.momentum
            buffer += increment
            param -= buffer
        else:
            param -= increment

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier: Any) -> Optimizer:
    """An optimiser from a name ('adam', 'sgd', 'rmsprop', 'adamw'; default settings) or an
    instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {identifier!r}; expected one of {sorted(_BY_NAME)} or a "
                "tf.keras.optimizers.Optimizer instance."
            )
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(f"Cannot interpret {identifier!r} as an optimizer.")
