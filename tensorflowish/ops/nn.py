"""Neural-network ops: activations, softmax, cross-entropies and the fused dense layer.

relu, sigmoid and tanh take their derivative from the saved output; the fused ops (dense, the
softmax cross-entropies) call `tensorflowish.kernels` for one-pass forward and backward, and
fall back to composed ops when an outer tape needs to differentiate the backward pass itself.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..tape import GradientTape, _recording_tapes
from .math import (
    _unary_op,
    cast,
    erf_array,
    exp,
    greater,
    multiply,
    negative,
    sigmoid,
    tanh,
    where,
)
from .reductions import reduce_sum
from .registry import (
    InvalidArgumentError,
    Tensor,
    array_module,
    as_tensor,
    binary_operands,
    check_axis,
    check_same_device,
    format_shape,
    record,
    recording,
    register,
    require_float,
    should_record,
)
from .shapes import expand_dims, reshape


def _activation_samples(rng):
    x = rng.uniform(0.1, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))  # away from the kink
    return [((x,), {})]


@register("nn.relu", "keras.activations.relu", samples=_activation_samples)
def relu(features, name=None) -> Tensor:
    """max(x, 0) (+0.0 for negative inputs); the gradient is taken from the output (y > 0)."""
    return _unary_op("relu", features, lambda a: array_module(a).maximum(a, 0),
                     lambda g, x, out: g * cast(greater(out, 0), g.dtype), float_only=False)


@register("nn.relu6", samples=lambda rng: [((rng.uniform(0.1, 2.0, (3, 4)) *
                                             rng.choice([-4.0, 1.0, 4.0], (3, 4)),), {})])
def relu6(features, name=None) -> Tensor:
    """min(max(x, 0), 6)."""
    def vjp(g, x, out):
        inside = cast(greater(out, 0), g.dtype) * cast(greater(6, out), g.dtype)
        return g * inside
    # astype: clip returns float32 for bfloat16; integers stay integers, as in TensorFlow
    return _unary_op("relu6", features,
                     lambda a: array_module(a).clip(a, 0, 6).astype(a.dtype, copy=False), vjp,
                     float_only=False)


@register("nn.leaky_relu", samples=_activation_samples)
def leaky_relu(features, alpha: float = 0.2, name=None) -> Tensor:
    """x where x > 0, else alpha * x (TensorFlow's default alpha is 0.2)."""
    def forward(a):
        return array_module(a).where(a > 0, a, a * alpha)

    def vjp(g, x, out):
        return where(greater(x, 0), g, g * alpha)
    features = as_tensor(features)
    if features.array.dtype.kind in "iu":  # TensorFlow casts integer features to float32
        features = cast(features, "float32")
    return _unary_op("leaky_relu", features, forward, vjp)


@register("nn.elu", "keras.activations.elu", samples=_activation_samples)
def elu(features, name=None) -> Tensor:
    """x where x > 0, else exp(x) - 1; gradient from the output (y + 1 below zero)."""
    def forward(a):
        xp = array_module(a)
        return xp.where(a > 0, a, xp.expm1(xp.minimum(a, 0)))

    def vjp(g, x, out):
        return where(greater(x, 0), g, g * (out + 1))
    return _unary_op("elu", features, forward, vjp)


@register("nn.selu", "keras.activations.selu", samples=_activation_samples)
def selu(features, name=None) -> Tensor:
    """Scaled ELU with the self-normalising constants."""
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    return scale * where(greater(as_tensor(features), 0), features, alpha * elu(features))


@register("nn.softplus", "math.softplus", "keras.activations.softplus",
          samples=lambda rng: [((rng.uniform(-5, 5, (3, 4)),), {})])
def softplus(features, name=None) -> Tensor:
    """log(1 + e^x), stable for large |x|; the gradient is sigmoid(x)."""
    def forward(a):
        xp = array_module(a)
        return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))
    return _unary_op("softplus", features, forward, lambda g, x, out: g * sigmoid(x))


@register("nn.silu", "nn.swish", "keras.activations.swish",
          samples=lambda rng: [((rng.uniform(-3, 3, (3, 4)),), {})])
def silu(features, beta: float = 1.0, name=None) -> Tensor:
    """x * sigmoid(beta * x) (composed)."""
    return features * sigmoid(as_tensor(features) * beta)


@register("nn.gelu", "keras.activations.gelu",
          samples=lambda rng: [((rng.uniform(-3, 3, (3, 4)),), {}),
                               ((rng.uniform(-3, 3, (3, 4)),), {"approximate": True})])
def gelu(features, approximate: bool = False, name=None) -> Tensor:
    """x * Phi(x) (exact, with erf) or its tanh approximation."""
    x = as_tensor(features)
    if approximate:
        c = np.sqrt(2 / np.pi)
        return 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)))

    def forward(a):
        return 0.5 * a * (1 + erf_array(a * float(1 / np.sqrt(2))))  # a Python float keeps
        # float16 (a NumPy float64 scalar would promote)

    def vjp(g, x, out):
        # d/dx x Phi(x) = Phi(x) + x phi(x); Phi(x) = out / x is unsafe at 0, so recompute it
        from .math import erf

        phi = exp(negative(x * x * 0.5)) * (1 / np.sqrt(2 * np.pi))
        return g * (0.5 * (1 + erf(x * (1 / np.sqrt(2)))) + x * phi)
    return _unary_op("gelu", x, forward, vjp)


def _axis_samples(rng):
    return [((rng.uniform(-2, 2, (3, 4)),), {}), ((rng.uniform(-2, 2, (3, 4)),), {"axis": 0})]


def _at_least_float32(array):
    """float16/bfloat16 arrays as float32: softmax accumulates in float32, as TensorFlow."""
    return array.astype("float32") if array.dtype.itemsize == 2 and array.dtype.kind in "fV" \
        else array


@register("nn.softmax", "math.softmax", "keras.activations.softmax", samples=_axis_samples)
def softmax(logits, axis=-1, name=None) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, shifted by the max for stability."""
    x = as_tensor(logits)
    require_float("softmax", x)
    axis = check_axis("softmax", axis, x.array.ndim)
    xp = array_module(x.array)
    array = _at_least_float32(x.array)
    shifted = array - array.max(axis=axis, keepdims=True)
    values = xp.exp(shifted, out=shifted)
    values /= values.sum(axis=axis, keepdims=True)
    out = Tensor(values.astype(x.array.dtype, copy=False))
    if should_record((x,)):
        record((x,), out, (lambda g: out * (g - reduce_sum(g * out, axis, keepdims=True)),))
    return out


@register("nn.log_softmax", "math.log_softmax", samples=_axis_samples)
def log_softmax(logits, axis=-1, name=None) -> Tensor:
    """x - logsumexp(x) along `axis`, stable for large logits."""
    x = as_tensor(logits)
    require_float("log_softmax", x)
    axis = check_axis("log_softmax", axis, x.array.ndim)
    xp = array_module(x.array)
    array = _at_least_float32(x.array)
    shifted = array - array.max(axis=axis, keepdims=True)
    shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    out = Tensor(shifted.astype(x.array.dtype, copy=False))
    if should_record((x,)):
        record((x,), out, (lambda g: g - exp(out) * reduce_sum(g, axis, keepdims=True),))
    return out


def _rows(op: str, labels: Tensor, logits: Tensor, axis: int):
    """Both tensors as (rows, classes) with the class axis last."""
    if labels.array.shape != logits.array.shape:
        raise InvalidArgumentError(f"{op}: labels and logits must have the same shape, got labels "
                         f"{format_shape(labels.array.shape)} and logits "
                         f"{format_shape(logits.array.shape)}.")
    if logits.array.ndim == 0:
        raise InvalidArgumentError(f"{op}: logits must have rank >= 1, got a scalar.")
    axis = check_axis(op, axis, logits.array.ndim)
    xp = array_module(logits.array)
    move = lambda a: xp.moveaxis(a, axis, -1) if axis not in (-1, a.ndim - 1) else a  # noqa: E731
    lg, lb = move(logits.array), move(labels.array)
    return (xp.ascontiguousarray(lg.reshape(-1, lg.shape[-1])),
            xp.ascontiguousarray(lb.reshape(-1, lb.shape[-1])), lg.shape[:-1])


def _ce_samples(rng):
    labels = rng.uniform(0.1, 1.0, (4, 5))
    labels /= labels.sum(axis=1, keepdims=True)
    return [((), {"labels": labels, "logits": rng.uniform(-3, 3, (4, 5))})]


@register("nn.softmax_cross_entropy_with_logits", samples=_ce_samples)
def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None) -> Tensor:
    """-sum(labels * log_softmax(logits)) per row, fused with its gradient (softmax - labels)."""
    logits = as_tensor(logits)
    require_float("softmax_cross_entropy_with_logits", logits)
    labels = binary_operands(logits, labels, "softmax_cross_entropy_with_logits")[1]
    if logits.array.dtype.itemsize == 2 and (logits.array.__class__ is np.ndarray or
                                             logits.array.dtype != np.float16):
        # float16/bfloat16 on the CPU: in float32, as TensorFlow's kernel; float16 on the GPU
        # takes the _f16 kernel below (which computes in float too)
        loss = softmax_cross_entropy_with_logits(cast(labels, "float32"),
                                                 cast(logits, "float32"), axis)
        return cast(loss, logits.dtype)
    logits2d, labels2d, batch_shape = _rows("softmax_cross_entropy_with_logits", labels, logits,
                                            axis)
    loss, grad = kernels.softmax_cross_entropy(logits2d, labels2d)
    out = Tensor(loss.reshape(batch_shape))
    if should_record((labels, logits)):
        def vjp(upstream: Tensor, needs):
            if recording():  # an outer tape differentiates this backward pass: compose it
                return _recompute_vjp(lambda lb, lg: -reduce_sum(lb * log_softmax(lg, axis), axis),
                                      (labels, logits), upstream, needs)
            g = expand_dims(upstream, axis).array
            grad_labels = None
            if needs[0]:
                grad_labels = Tensor(-g * log_softmax(logits, axis).array)
            grad_logits = None
            if needs[1]:
                grad_array = grad.reshape(batch_shape + grad.shape[-1:])
                if axis not in (-1, logits.array.ndim - 1):
                    grad_array = array_module(grad).moveaxis(grad_array, -1, axis)
                grad_logits = Tensor(grad_array * g)
            return grad_labels, grad_logits
        record((labels, logits), out, vjp)
    return out


@register("nn.sparse_softmax_cross_entropy_with_logits",
          samples=lambda rng: [((), {"labels": np.array([0, 3, 1, 4]),
                                     "logits": rng.uniform(-3, 3, (4, 5))})])
def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None) -> Tensor:
    """Cross-entropy against integer class labels, fused with its gradient."""
    if logits.__class__ is not Tensor:
        logits = as_tensor(logits)
    if labels.__class__ is not Tensor:
        labels = as_tensor(labels)
    if logits.array.dtype.itemsize == 2 and logits.array.dtype.kind in "fV" and (
            logits.array.__class__ is np.ndarray or logits.array.dtype != np.float16):
        # half on the CPU: in float32; float16 on the GPU: the _f16 kernel (computing in float)
        return cast(sparse_softmax_cross_entropy_with_logits(labels, cast(logits, "float32")),
                    logits.dtype)
    logits_array, labels_array = logits.array, labels.array
    if logits_array.dtype.kind not in "fcV":
        require_float("sparse_softmax_cross_entropy_with_logits", logits)
    if labels_array.dtype.kind not in "iu":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be integer class "
                        f"indices, got {labels.dtype.name}; for one-hot or probability labels "
                        "use softmax_cross_entropy_with_logits.")
    if logits_array.shape[:-1] != labels_array.shape:
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: labels shape "
                         f"{format_shape(labels_array.shape)} must equal logits shape without "
                         f"its last axis: logits {format_shape(logits_array.shape)}.")
    classes = logits_array.shape[-1]
    if labels_array.__class__ is not np.ndarray:  # the CPU kernel checks labels itself
        _check_labels(labels, classes)
    logits2d = logits_array
    if logits_array.ndim != 2 or not logits_array.flags.c_contiguous:
        logits2d = array_module(logits_array).ascontiguousarray(
            logits_array.reshape(-1, classes))
    try:
        loss, grad = kernels.sparse_softmax_cross_entropy(
            logits2d, labels_array if labels_array.ndim == 1 else labels_array.reshape(-1),
            check_arguments=False)
    except ValueError:
        _check_labels(labels, classes)  # say it in this op's words when the labels are wrong
        raise
    out = Tensor(loss if labels_array.ndim == 1 else loss.reshape(labels_array.shape))
    if should_record((logits,)):
        def vjp(upstream: Tensor):
            if _recording_tapes:
                from .creation import one_hot

                hot = one_hot(labels, classes, dtype=logits.dtype)
                return _recompute_vjp(lambda lg: -reduce_sum(hot * log_softmax(lg), -1),
                                      (logits,), upstream, (True,))[0]
            g = upstream.array.reshape(-1, 1)
            return Tensor((grad * g).reshape(logits_array.shape))
        record((logits,), out, (vjp,))
    return out


@register("nn.sigmoid_cross_entropy_with_logits",
          samples=lambda rng: [((), {"labels": rng.uniform(0, 1, (3, 4)),
                                     "logits": rng.uniform(-3, 3, (3, 4))})])
def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None) -> Tensor:
    """max(x, 0) - x*z + log(1 + e^-|x|): binary cross-entropy, stable for logits of ±1000."""
    if labels is None or logits is None:
        raise InvalidArgumentError(
            "sigmoid_cross_entropy_with_logits needs both labels= and logits=.")
    logits = as_tensor(logits)
    require_float("sigmoid_cross_entropy_with_logits", logits)
    labels = binary_operands(logits, labels, "sigmoid_cross_entropy_with_logits")[1]
    if labels.array.shape != logits.array.shape:
        raise InvalidArgumentError(
            f"sigmoid_cross_entropy_with_logits: labels and logits must have the "
                         f"same shape, got {format_shape(labels.array.shape)} and "
                         f"{format_shape(logits.array.shape)}.")
    xp = array_module(logits.array)
    x, z = logits.array, labels.array
    out = Tensor(xp.maximum(x, 0) - x * z + xp.log1p(xp.exp(-xp.abs(x))))
    if should_record((labels, logits)):
        record((labels, logits), out, (lambda g: negative(g * logits),
                                       lambda g: g * (sigmoid(logits) - labels)))
    return out


def _check_labels(labels: Tensor, classes: int) -> None:
    if labels.array.size and (int(labels.array.min()) < 0 or int(labels.array.max()) >= classes):
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: labels must be in "
                         f"[0, {classes}), got values from {int(labels.array.min())} to "
                         f"{int(labels.array.max())}.") from None


def _recompute_vjp(function, inputs, upstream, needs):
    """The VJP of `function` by re-running it on an inner tape (used under an outer tape, so the
    outer tape sees a fully differentiable backward pass)."""
    with GradientTape() as inner:
        for tensor in inputs:
            inner.watch(tensor)
        result = function(*inputs)
    grads = inner.gradient(result, list(inputs), output_gradients=upstream)
    return tuple(g if need else None for g, need in zip(grads, needs))


# --- the fused dense layer ---------------------------------------------------------------------
_DENSE_ACTIVATIONS = {
    "linear": lambda z, alpha: z,
    "relu": lambda z, alpha: relu(z),
    "sigmoid": lambda z, alpha: sigmoid(z),
    "tanh": lambda z, alpha: tanh(z),
    "gelu": lambda z, alpha: gelu(z),
    "leaky_relu": lambda z, alpha: leaky_relu(z, alpha),
}


def _dense_samples(rng):
    draw = lambda *shape: rng.uniform(-1, 1, shape)  # noqa: E731
    cases = []
    for activation in (None, "relu", "sigmoid", "tanh", "gelu", "leaky_relu"):
        cases.append(((draw(5, 4), draw(4, 3), draw(3)), {"activation": activation}))
    cases.append(((draw(2, 5, 4), draw(4, 3)), {"activation": "tanh"}))  # no bias, rank 3
    return cases


@register("nn.dense", samples=_dense_samples)
def dense(x, kernel, bias=None, activation=None, alpha: float = 0.2, name=None) -> Tensor:
    """act(x @ kernel + bias) as ONE op: a GEMM plus one fused bias+activation pass, and one
    fused backward pass plus GEMMs. Leading axes of x beyond the last are batch axes.

    activation: None/'linear', 'relu', 'sigmoid', 'tanh', 'gelu' or 'leaky_relu'.

    >>> import tensorflowish as tf
    >>> y = tf.nn.dense(tf.ones([2, 3]), tf.ones([3, 4]), tf.zeros([4]), activation="relu")
    >>> y.numpy().tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
    """
    if activation is None:
        activation = "linear"
    elif activation.__class__ is not str and callable(activation):
        activation = getattr(activation, "__name__", str(activation))
    if activation not in _DENSE_ACTIVATIONS:
        raise InvalidArgumentError(f"dense: unknown activation {activation!r}; expected one of "
                         f"{sorted(_DENSE_ACTIVATIONS)} or None.")
    # the common case, CPU tensors of one float dtype, is checked in a few tests on locals; the
    # rest (conversions, mixed dtypes or devices) takes the checked path with its clear errors
    x_array = x.array if x.__class__ is Tensor else None
    kernel_array = kernel.array if isinstance(kernel, Tensor) else None
    bias_array = bias.array if isinstance(bias, Tensor) else None
    if x_array is None or kernel_array is None or (bias is not None and bias_array is None) or \
            x_array.__class__ is not np.ndarray or x_array.dtype.kind != "f" or \
            kernel_array.dtype is not x_array.dtype or kernel_array.__class__ is not np.ndarray or \
            (bias_array is not None and (bias_array.dtype is not x_array.dtype or
                                         bias_array.__class__ is not np.ndarray)):
        x, kernel = binary_operands(x, kernel, "dense")
        require_float("dense", x)
        if bias is not None:
            bias = binary_operands(x, bias, "dense")[1]
        check_same_device("dense", *((x, kernel) if bias is None else (x, kernel, bias)))
        x_array, kernel_array = x.array, kernel.array
        bias_array = None if bias is None else bias.array
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    if kernel_array.ndim != 2:
        raise InvalidArgumentError(f"dense: kernel must be a matrix, got shape "
                         f"{format_shape(kernel_array.shape)}.")
    kernel_shape = kernel_array.shape
    if x_array.ndim < 2 or x_array.shape[-1] != kernel_shape[0]:
        raise InvalidArgumentError(
            f"dense: inner dimensions differ: x {format_shape(x_array.shape)} @ "
                         f"kernel {format_shape(kernel_shape)}; x's last axis must equal "
                         "kernel's first.")
    if bias_array is not None and (bias_array.ndim != 1 or
                                   bias_array.shape[0] != kernel_shape[1]):
        raise InvalidArgumentError(
            f"dense: bias must have shape [{kernel_shape[1]}] to match kernel "
                         f"{format_shape(kernel_shape)}, got "
                         f"{format_shape(bias_array.shape)}.")
    if x_array.dtype.itemsize == 2 and (x_array.__class__ is np.ndarray or
                                        x_array.dtype != np.float16):
        # float16/bfloat16 on the CPU: composed (matmul accumulates in float32); float16 on the
        # GPU takes the kernels below (cuBLAS GEMMs and the dense.cu _f16 passes)
        z = inputs[0] @ inputs[1] + inputs[2] if bias_array is not None else \
            inputs[0] @ inputs[1]
        return _DENSE_ACTIVATIONS[activation](z, alpha)
    x2d = x_array if x_array.ndim == 2 else x_array.reshape(-1, x_array.shape[-1])
    # the checks above are the kernel's, in this op's words: it need not repeat them
    y, pre = kernels.dense_forward(x2d, kernel_array, bias_array, activation, alpha,
                                   check_arguments=False)
    out = Tensor(y if x_array.ndim == 2 else y.reshape(x_array.shape[:-1] + y.shape[-1:]))
    if should_record(inputs):
        def vjp(upstream: Tensor, needs):
            if _recording_tapes:
                def composed(x_, kernel_, *bias_):
                    z = x_ @ kernel_ + bias_[0] if bias_ else x_ @ kernel_
                    return _DENSE_ACTIVATIONS[activation](z, alpha)
                return _recompute_vjp(composed, inputs, upstream, needs)
            has_bias = len(needs) > 2
            dy = upstream.array
            dx, dkernel, dbias = kernels.dense_backward(
                dy if dy.ndim == 2 else dy.reshape(y.shape), x2d, kernel_array, y, pre,
                activation, alpha, need_dx=needs[0], need_dkernel=needs[1],
                need_dbias=has_bias and needs[2], check_arguments=False)
            dx = None if dx is None else Tensor(dx if x_array.ndim == 2 else
                                                dx.reshape(x_array.shape))
            dkernel = None if dkernel is None else Tensor(dkernel)
            if has_bias:
                return dx, dkernel, None if dbias is None else Tensor(dbias)
            return dx, dkernel
        record(inputs, out, vjp)
    return out


@register("nn.bias_add", samples=lambda rng: [
    ((rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (4,))), {}),
    ((rng.uniform(-1, 1, (2, 3, 2, 2)), rng.uniform(-1, 1, (3,))), {"data_format": "NCHW"})])
def bias_add(value, bias, data_format=None, name=None) -> Tensor:
    """value + bias along the channel axis: the last ('N...C', 'NHWC', default) or axis 1
    ('NC...', 'NCHW', 'NCW') (composed)."""
    value, bias = binary_operands(value, bias, "bias_add")
    channels_first = data_format is not None and data_format.upper().startswith("NC") and \
        data_format.upper() != "NC"
    axis = 1 if channels_first else -1
    if value.array.ndim < 2 or bias.array.ndim != 1 or \
            bias.array.shape[0] != value.array.shape[axis]:
        size = value.array.shape[axis] if value.array.ndim else "?"
        raise InvalidArgumentError(
            f"bias_add: bias must be a vector of size {size} (the channel axis {axis} of value "
            f"{format_shape(value.array.shape)}, data_format "
            f"{data_format!r}), got shape {format_shape(bias.array.shape)}.")
    if channels_first:
        bias = reshape(bias, (-1,) + (1,) * (value.array.ndim - 2))
    return value + bias


@register("nn.l2_loss", samples=lambda rng: [((rng.uniform(-1, 1, (3, 4)),), {})])
def l2_loss(t, name=None) -> Tensor:
    """sum(t ** 2) / 2 (composed)."""
    t = as_tensor(t)
    return reduce_sum(t * t) * 0.5


def dropout(x, rate, noise_shape=None, seed=None, name=None) -> Tensor:
    """Zero each element with probability `rate` and scale the rest by 1 / (1 - rate)."""
    from ..random import numpy_generator

    x = as_tensor(x)
    rate = float(rate)
    if not 0 <= rate < 1:
        raise InvalidArgumentError(f"dropout: rate must be in [0, 1), got {rate}.")
    if rate == 0:
        return x
    shape = x.array.shape if noise_shape is None else tuple(noise_shape)
    keep = numpy_generator(seed).random(shape) >= rate
    scale = np.asarray(keep, dtype=x.array.dtype) / (1 - rate)
    from .. import backend

    return multiply(x, Tensor(backend.to_device(scale, backend.device_of(x.array))))


def moments(x, axes, shift=None, keepdims: bool = False, name=None):
    """(mean, variance) over `axes` (composed)."""
    from .math import square
    from .reductions import reduce_mean

    x = as_tensor(x)
    mean = reduce_mean(x, axes, keepdims=True)
    variance = reduce_mean(square(x - mean), axes, keepdims=True)
    if not keepdims:
        mean = reduce_mean(x, axes)
        variance = reshape(variance, mean.array.shape)
    return mean, variance


__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "softplus", "silu", "gelu", "softmax",
           "log_softmax", "softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits",
           "dense", "bias_add", "l2_loss", "dropout", "moments"]
