"""Pooling: `tf.nn.max_pool1d/2d`, `tf.nn.avg_pool1d/2d`, `tf.nn.max_pool`, `tf.nn.avg_pool` and
`tf.nn.pool`, on the NHWC kernels of `kernels.convolution`.

Max pooling keeps, per output, the offset of its window's first maximum; its VJP adds each
gradient onto that input, and the VJP of that is reading the upstream gradient there, so each of
these linear maps is the other's VJP. Average pooling divides by the number of real (not
padding) inputs in the window, as TensorFlow does; it is linear, and its adjoint spreads each
gradient evenly over the window. SAME padding and output sizes are TensorFlow's.
"""

from __future__ import annotations

from ..errors import InvalidArgumentError
from ..kernels import convolution as conv_kernels
from .convolution import (
    Geometry,
    channels_last,
    check_rank,
    from_nhwc,
    output_sizes,
    resolve_pads,
    spatial,
    to_nhwc,
)
from .registry import Tensor, as_tensor, record, register, require_float, should_record


# ---- the linear maps, each the other's VJP ---------------------------------------------------
def _max_pool(x: Tensor, geometry: Geometry) -> Tensor:
    y, argmax = conv_kernels.max_pool(x.array, geometry.kernel_size, *geometry.arguments())
    out = Tensor(y)
    if should_record((x,)):
        record((x,), out, (lambda g: _max_pool_scatter(g, argmax, geometry, x.array.shape),))
    return out


def _max_pool_scatter(g: Tensor, argmax, geometry: Geometry, input_shape) -> Tensor:
    out = Tensor(conv_kernels.max_pool_backward(g.array, argmax, tuple(input_shape),
                                                geometry.kernel_size, *geometry.arguments()))
    if should_record((g,)):
        record((g,), out, (lambda u: _max_pool_gather(u, argmax, geometry),))
    return out


def _max_pool_gather(u: Tensor, argmax, geometry: Geometry) -> Tensor:
    out = Tensor(conv_kernels.max_pool_gather(u.array, argmax, geometry.kernel_size,
                                              *geometry.arguments()))
    if should_record((u,)):
        record((u,), out, (lambda v: _max_pool_scatter(v, argmax, geometry, u.array.shape),))
    return out


def _avg_pool(x: Tensor, geometry: Geometry) -> Tensor:
    out = Tensor(conv_kernels.avg_pool(x.array, geometry.kernel_size, *geometry.arguments()))
    if should_record((x,)):
        record((x,), out, (lambda g: _avg_pool_spread(g, geometry, x.array.shape),))
    return out


def _avg_pool_spread(g: Tensor, geometry: Geometry, input_shape) -> Tensor:
    out = Tensor(conv_kernels.avg_pool_backward(g.array, tuple(input_shape),
                                                geometry.kernel_size, *geometry.arguments()))
    if should_record((g,)):
        record((g,), out, (lambda u: _avg_pool(u, geometry),))
    return out


def _pool(op, input, ksize, strides, padding, data_format, rank, kind, dilations=None) -> Tensor:
    """The shared body of every pooling op (1-D or 2-D, any layout)."""
    layout = ("NWC", "NCW") if rank == 1 else ("NHWC", "NCHW")
    last = channels_last(op, data_format, layout[0])
    x = as_tensor(input)
    require_float(op, x)
    check_rank(op, x, rank + 2, layout[0] if last else layout[1])
    window = spatial(op, ksize, rank, "ksize", last)
    strides = spatial(op, strides, rank, "strides", last)
    dilations = spatial(op, dilations, rank, "dilations", last)
    if kind == "AVG" and not isinstance(padding, str):
        raise InvalidArgumentError(f"{op}: average pooling takes padding 'SAME' or 'VALID', "
                                   f"got {padding!r}.")
    x = to_nhwc(x, last, rank)
    if rank == 1:
        window, strides, dilations = (1,) + window, (1,) + strides, (1,) + dilations
    sizes = x.array.shape[1:3]
    pads = resolve_pads(op, padding, sizes, window, strides, dilations, last, rank)
    limits = (window[0], window[0], window[1], window[1])
    if not isinstance(padding, str) and any(p >= k for p, k in zip(pads, limits)):
        raise InvalidArgumentError(f"{op}: explicit padding {padding!r} must be smaller than the "
                                   f"window {list(window[-rank:])}: a window of padding only "
                                   "has no value.")
    geometry = Geometry(window, strides, dilations, pads)
    output_sizes(op, sizes, geometry)
    y = _max_pool(x, geometry) if kind == "MAX" else _avg_pool(x, geometry)
    return from_nhwc(y, last, rank)


# ---- public ops --------------------------------------------------------------------------------
def _samples_2d(rng):
    x = lambda h, w: rng.permutation(2 * h * w * 3).reshape(2, h, w, 3) / 7.0  # no ties
    return [((x(5, 4), 2, 2, "VALID"), {}),
            ((x(5, 5), 3, 2, "SAME"), {}),
            ((x(7, 6), [2, 3], [3, 2], "SAME"), {}),
            ((rng.permutation(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) / 7.0, 2, 1, "VALID"),
             {"data_format": "NCHW"})]


def _samples_1d(rng):
    x = lambda w: rng.permutation(2 * w * 3).reshape(2, w, 3) / 7.0  # noqa: E731
    return [((x(7), 2, 2, "VALID"), {}), ((x(7), 3, 2, "SAME"), {}),
            ((x(8), 3, 3, "SAME"), {"data_format": "NCW"})]


@register("nn.max_pool2d", samples=lambda rng: _samples_2d(rng) + [
    ((rng.permutation(2 * 5 * 4 * 2).reshape(2, 5, 4, 2) / 7.0, 3, 2,
      [[0, 0], [1, 1], [0, 2], [0, 0]]), {})])
def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None) -> Tensor:
    """The maximum of each `ksize` window of `input` (N, H, W, C); padding 'SAME' (padding
    never wins), 'VALID' or explicit [[0, 0], [top, bottom], [left, right], [0, 0]]."""
    return _pool("max_pool2d", input, ksize, strides, padding, data_format, 2, "MAX")


@register("nn.max_pool1d", samples=_samples_1d)
def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None) -> Tensor:
    """The maximum of each `ksize` window of `input` (N, W, C)."""
    return _pool("max_pool1d", input, ksize, strides, padding, data_format, 1, "MAX")


@register("nn.avg_pool2d", samples=_samples_2d)
def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None) -> Tensor:
    """The mean of each `ksize` window of `input` (N, H, W, C), over its real inputs only
    (SAME padding is not counted)."""
    return _pool("avg_pool2d", input, ksize, strides, padding, data_format, 2, "AVG")


@register("nn.avg_pool1d", samples=_samples_1d)
def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None) -> Tensor:
    """The mean of each `ksize` window of `input` (N, W, C)."""
    return _pool("avg_pool1d", input, ksize, strides, padding, data_format, 1, "AVG")


def _rank_of(op: str, input) -> int:
    rank = as_tensor(input).array.ndim - 2
    if rank not in (1, 2):
        raise InvalidArgumentError(f"{op}: only 1-D and 2-D pooling are supported (input rank 3 "
                                   f"or 4), got an input of rank {rank + 2}.")
    return rank


@register("nn.max_pool", samples=lambda rng: _samples_2d(rng)[:1] + _samples_1d(rng)[:1])
def max_pool(input, ksize, strides, padding, data_format=None, name=None) -> Tensor:
    """max_pool1d or max_pool2d by the input's rank."""
    return _pool("max_pool", input, ksize, strides, padding, data_format,
                 _rank_of("max_pool", input), "MAX")


@register("nn.avg_pool", samples=lambda rng: _samples_2d(rng)[:1] + _samples_1d(rng)[:1])
def avg_pool(input, ksize, strides, padding, data_format=None, name=None) -> Tensor:
    """avg_pool1d or avg_pool2d by the input's rank."""
    return _pool("avg_pool", input, ksize, strides, padding, data_format,
                 _rank_of("avg_pool", input), "AVG")


@register("nn.pool", samples=lambda rng: [
    ((rng.permutation(2 * 7 * 6 * 2).reshape(2, 7, 6, 2) / 7.0, [2, 2], "MAX"),
     {"padding": "SAME", "dilations": [2, 1]}),
    ((rng.uniform(-1, 1, (2, 7, 6, 2)), [3, 2], "AVG"), {"strides": [2, 1], "padding": "SAME"})])
def pool(input, window_shape, pooling_type, strides=None, padding="VALID", data_format=None,
         dilations=None, name=None) -> Tensor:
    """Max or average pooling ('MAX' or 'AVG') over 1-D or 2-D windows, with dilations."""
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise InvalidArgumentError(f"pool: pooling_type must be 'MAX' or 'AVG', got "
                                   f"{pooling_type!r}.")
    rank = _rank_of("pool", input)
    if len(list(window_shape)) != rank:
        raise InvalidArgumentError(f"pool: window_shape {list(window_shape)} must have {rank} "
                                   f"entries for an input of rank {rank + 2}.")
    if strides is not None and dilations is not None and \
            max(spatial("pool", strides, rank, "strides")) > 1 and \
            max(spatial("pool", dilations, rank, "dilations")) > 1:
        raise InvalidArgumentError("pool: strides > 1 together with dilations > 1 is not "
                                   "supported (as in TensorFlow); use one of them.")
    return _pool("pool", input, window_shape, strides, padding, data_format, rank, kind,
                 dilations)


__all__ = ["avg_pool", "avg_pool1d", "avg_pool2d", "max_pool", "max_pool1d", "max_pool2d", "pool"]
