"""`tf.TensorArray`: a list of same-shaped tensors that graph loops can carry and differentiate.

Its elements live in one tensor of shape [size, *element] (the ops are in
`ops/tensor_array.py`), so a TensorArray passed through `tf.while_loop`, `tf.cond` or a
converted `for`/`while` loop is one loop variable. As in TensorFlow 2: eagerly, `write` and its
kin change the array and return it; inside a traced function they return a new TensorArray and
leave the old one as it was, so always use the result (`ta = ta.write(i, x)`).
"""

from __future__ import annotations

from .. import dtypes
from ..errors import InvalidArgumentError
from ..ops import tensor_array as ops
from ..ops.creation import zeros, zeros_like
from ..ops.indexing import shape as shape_op
from ..ops.shapes import identity
from ..tensor import Tensor, TensorShape, convert_to_tensor
from . import tracing
from .graph import Composite


def _traced() -> bool:
    tracer = tracing.current()
    return tracer is not None and tracer.depth == 0


def _shape_tuple(shape) -> tuple | None:
    if shape is None:
        return None
    return tuple(None if d is None else int(d) for d in shape)


class TensorArray(Composite):
    """A list of tensors of one dtype and shape, written and read by index.

    >>> import tensorflowish as tf
    >>> ta = tf.TensorArray(tf.float32, size=3)
    >>> for i in range(3):
    ...     ta = ta.write(i, tf.fill([2], float(i)))
    >>> ta.stack().numpy().tolist()
    [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    """

    __slots__ = ("_dtype", "_values", "_element_shape", "_dynamic_size", "_clear_after_read",
                 "_infer_shape", "_cleared")

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None) -> None:
        self._dtype = dtypes.as_dtype(dtype)
        self._dynamic_size = bool(dynamic_size)
        self._clear_after_read = True if clear_after_read is None else bool(clear_after_read)
        self._infer_shape = bool(infer_shape)
        self._element_shape = _shape_tuple(element_shape)
        self._cleared: set = set()
        if size is None:
            if not self._dynamic_size:
                raise ValueError("Size must be declared for TensorArrays when eager execution "
                                 "is enabled: pass size=... (or dynamic_size=True to start "
                                 "empty).")
            size = 0
        known = self._element_shape is not None and None not in self._element_shape
        self._values = zeros([size, *self._element_shape] if known else [size], self._dtype)
        if self._element_shape is not None and not known:
            self._element_shape = None  # a partly known shape: learnt at the first write

    # --- the composite protocol (carried by tf.while_loop / tf.cond as its one tensor) -----
    def __tf_flatten__(self) -> tuple:
        metadata = (self._dtype, self._element_shape, self._dynamic_size,
                    self._clear_after_read, self._infer_shape)
        return metadata, [self._values]

    @classmethod
    def __tf_unflatten__(cls, metadata, components):
        array = cls.__new__(cls)
        (array._dtype, array._element_shape, array._dynamic_size, array._clear_after_read,
         array._infer_shape) = metadata
        array._values = components[0]
        array._cleared = set()
        return array

    def _with(self, values, element_shape=None) -> TensorArray:
        """The array holding `values`: this one changed (eagerly) or a new one (traced)."""
        shape = self._element_shape if element_shape is None else element_shape
        if _traced():
            metadata = (self._dtype, shape, self._dynamic_size, self._clear_after_read,
                        self._infer_shape)
            return TensorArray.__tf_unflatten__(metadata, [values])
        self._values, self._element_shape = values, shape
        return self

    # --- properties ----------------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def element_shape(self) -> TensorShape | None:
        """The elements' shape; None while unknown (TensorFlow's TensorShape(None))."""
        return None if self._element_shape is None else TensorShape(self._element_shape)

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    @property
    def flow(self) -> Tensor:
        """The tensor holding the elements (TensorFlow's flow carries the array's state)."""
        return self._values

    handle = flow

    def __repr__(self) -> str:
        return f"<tf.TensorArray dtype={self._dtype.name} element_shape={self.element_shape}>"

    # --- checks --------------------------------------------------------------------------
    def _element(self, value, what: str) -> Tensor:
        if isinstance(value, Tensor):
            if value.dtype != self._dtype:
                raise InvalidArgumentError(
                    f"TensorArray dtype is {self._dtype.name} but Op is trying to {what} dtype "
                    f"{value.dtype.name}. Cast it first with tf.cast(value, "
                    f"tf.{self._dtype.name}).")
            return value
        return convert_to_tensor(value, dtype=self._dtype)

    def _check_shape(self, shape: tuple) -> None:
        known = self._element_shape
        if known is None or not self._infer_shape:
            return
        if len(known) != len(shape) or any(a is not None and b is not None and a != b
                                           for a, b in zip(known, shape)):
            raise ValueError(f"Incompatible shape for value ({shape}), expected "
                             f"({known}): every element of a TensorArray has the "
                             "same shape.")

    def _check_known(self, what: str) -> None:
        if self._element_shape is None and self._values.shape[0] != 0:
            raise ValueError(f"TensorArray.{what}: nothing was written and element_shape is "
                             "unknown, so the elements' shape is unknown. Write an element "
                             "first or pass element_shape=... to tf.TensorArray.")

    # --- writing -------------------------------------------------------------------------
    def write(self, index, value, name=None) -> TensorArray:
        """Write `value` at `index`; returns the array to use from now on."""
        value = self._element(value, "write")
        shape = tuple(value.shape.as_list())
        self._check_shape(shape)
        values = ops.write(self._values, index, value, dynamic_size=self._dynamic_size)
        if not _traced() and not isinstance(index, Tensor):
            self._cleared.discard(int(index))
        return self._with(values, shape)

    def scatter(self, indices, value, name=None) -> TensorArray:
        """Write the rows of `value` at `indices`."""
        value = self._element(value, "write")
        shape = tuple(value.shape.as_list()[1:])
        self._check_shape(shape)
        values = ops.scatter(self._values, indices, value, dynamic_size=self._dynamic_size)
        return self._with(values, shape)

    def unstack(self, value, name=None) -> TensorArray:
        """Make the rows of `value` the elements."""
        value = self._element(value, "write")
        shape = tuple(value.shape.as_list()[1:])
        self._check_shape(shape)
        values = ops.unstack(self._values, value, dynamic_size=self._dynamic_size)
        self._cleared.clear()
        return self._with(values, shape)

    # --- reading -------------------------------------------------------------------------
    def read(self, index, name=None) -> Tensor:
        """The element at `index` (zeros if it was never written)."""
        self._check_known("read")
        eager = not _traced()
        position = int(index.numpy() if isinstance(index, Tensor) else index) if eager else None
        if eager and self._clear_after_read and position in self._cleared:
            raise InvalidArgumentError(
                f"Could not read index {position} twice because it was cleared after a previous "
                "read (perhaps try setting clear_after_read = false?)")
        result = ops.read(self._values, index)
        if eager and self._clear_after_read:  # TensorFlow's eager array drops what was read
            self._cleared.add(position)
            self._values = ops.write(self._values, position, zeros_like(result))
        return result

    def gather(self, indices, name=None) -> Tensor:
        """The elements at `indices`, stacked."""
        self._check_known("gather")
        return ops.gather_rows(self._values, indices)

    def stack(self, name=None) -> Tensor:
        """All elements stacked into one tensor of shape [size, *element_shape]."""
        self._check_known("stack")
        return identity(self._values)

    def concat(self, name=None) -> Tensor:
        """All elements joined along their first dimension."""
        self._check_known("concat")
        return ops.concat_rows(self._values)

    def size(self, name=None) -> Tensor:
        """The number of elements, an int32 scalar tensor."""
        return shape_op(self._values, "int32")[0]

    def identity(self) -> TensorArray:
        """A TensorArray with the same elements."""
        metadata, _ = self.__tf_flatten__()
        return TensorArray.__tf_unflatten__(metadata, [identity(self._values)])

    def close(self, name=None) -> None:
        """Nothing to release (TensorFlow's close)."""

    def mark_used(self) -> None:
        """Nothing to mark (TensorFlow warns about unused arrays)."""
