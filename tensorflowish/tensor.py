"""`Tensor` (one backend array, immutable by convention) and `Variable` (mutable, in place).

A Tensor is deliberately lean: the backend array, a unique id the tape keys gradients by, and
nothing else. Everything a Tensor can do is an op in `tensorflowish.ops`; the operator methods
below (`+`, `@`, `[...]`, ...) are installed by `tensorflowish.ops` so this module stays free of
math.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import backend
from . import dtypes as _dtypes

_next_id = itertools.count(1).__next__
_ndarray, _generic, _asarray = np.ndarray, np.generic, np.asarray


class TensorShape(tuple):
    """The shape of a tensor: a tuple of ints, with TensorFlow's helper methods."""

    __slots__ = ()

    def as_list(self) -> list[int]:
        return list(self)

    @property
    def rank(self) -> int:
        return len(self)

    @property
    def ndims(self) -> int:
        return len(self)

    def num_elements(self) -> int:
        return int(np.prod(self, dtype=np.int64))

    def is_compatible_with(self, other) -> bool:
        other = tuple(other)
        return len(other) == len(self) and all(
            a is None or b is None or a == b for a, b in zip(self, other))

    def __repr__(self) -> str:
        return f"TensorShape({list(self)})"

    def __str__(self) -> str:
        return "(" + ", ".join(str(d) for d in self) + ("," if len(self) == 1 else "") + ")"


def format_shape(shape) -> str:
    """[2,3] style, as used in error messages."""
    return "[" + ",".join(str(d) for d in shape) + "]"


class Tensor:
    """An immutable n-dimensional array on one device, recorded by active GradientTapes.

    >>> import tensorflowish as tf
    >>> x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    >>> (x @ x + 1.0).numpy().tolist()
    [[8.0, 11.0], [16.0, 23.0]]
    """

    __slots__ = ("array", "_id", "__weakref__")
    __array_priority__ = 100  # NumPy defers `ndarray + Tensor` to Tensor.__radd__
    __array_ufunc__ = None

    def __init__(self, array) -> None:
        if array.__class__ is not _ndarray and isinstance(array, _generic):
            array = _asarray(array)  # NumPy returns scalars from 0-d arithmetic
        self.array = array
        self._id = _next_id()

    # --- what a tensor is -------------------------------------------------------------
    @property
    def shape(self) -> TensorShape:
        return TensorShape(self.array.shape)

    @property
    def dtype(self) -> _dtypes.DType:
        return _dtypes.as_dtype(self.array.dtype)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self) -> str:
        return "/job:localhost/replica:0/task:0/device:" + backend.device_of(self.array)

    @property
    def backend(self) -> str:
        """'numpy' or 'cupy': which library holds this tensor's array."""
        return "numpy" if isinstance(self.array, np.ndarray) else "cupy"

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (a host copy for GPU tensors)."""
        return backend.to_numpy(self.array)

    def ref(self):
        """A hashable reference to this tensor (tensors themselves compare elementwise)."""
        return _Reference(self)

    # --- moving between devices ----------------------------------------------------------
    def cpu(self) -> Tensor:
        """A copy on the CPU (differentiable)."""
        from .ops import to_device

        return to_device(self, "CPU:0")

    def gpu(self, index: int = 0) -> Tensor:
        """A copy on GPU `index` (differentiable); raises BackendError if no GPU is usable."""
        from .ops import to_device

        return to_device(self, f"GPU:{index}")

    def to(self, device: str) -> Tensor:
        """A copy on `device` ('CPU:0', 'GPU:0', ...), differentiable."""
        from .ops import to_device

        return to_device(self, device)

    # --- Python protocols -----------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __dlpack__(self, *args, **kwargs):
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a scalar (0-d) tensor is undefined.")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("Cannot iterate over a scalar (0-d) tensor.")
        return (self[i] for i in range(self.array.shape[0]))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise ValueError(f"The truth value of a tensor of shape {format_shape(self.shape)} "
                             "is ambiguous. Use tf.reduce_any or tf.reduce_all.")
        return bool(self.array)

    def __float__(self) -> float:
        return float(self.array)

    def __int__(self) -> int:
        return int(self.array)

    def __index__(self) -> int:
        if not self.dtype.is_integer:
            raise TypeError(f"Only integer scalar tensors can be used as an index, got "
                            f"{self.dtype}")
        return int(self.array)

    __hash__ = None  # like TensorFlow: == is elementwise; use .ref() as a dict key

    def __repr__(self) -> str:
        return f"<tf.Tensor: shape={self.shape}, dtype={self.dtype.name}, numpy={self.numpy()!r}>"

    def __str__(self) -> str:
        separator = "\n" if self.array.ndim >= 2 else ""
        return f"tf.Tensor({separator}{self.numpy()}, shape={self.shape}, dtype={self.dtype.name})"


class _Reference:
    __slots__ = ("_tensor",)

    def __init__(self, tensor: Tensor) -> None:
        self._tensor = tensor

    def deref(self) -> Tensor:
        return self._tensor

    def __hash__(self) -> int:
        return self._tensor._id

    def __eq__(self, other) -> bool:
        return isinstance(other, _Reference) and other._tensor is self._tensor


class Variable(Tensor):
    """A mutable tensor: model parameters. Updated in place, so its array object never changes.

    Trainable variables are watched automatically by a GradientTape that reads them.

    >>> import tensorflowish as tf
    >>> v = tf.Variable([1.0, 2.0], name="w")
    >>> _ = v.assign_sub([0.5, 0.5])
    >>> v.numpy().tolist()
    [0.5, 1.5]
    """

    __slots__ = ("name", "trainable", "_shared_name", "constraint")
    _counter = itertools.count()

    def __init__(self, initial_value=None, trainable: bool = True, name: str | None = None,
                 dtype=None, shape=None, constraint=None) -> None:
        if initial_value is None:
            raise ValueError("tf.Variable needs an initial_value (a tensor, array or callable).")
        if callable(initial_value):
            initial_value = initial_value()
        value = convert_to_tensor(initial_value, dtype=dtype)
        # own a private, contiguous copy so in-place updates never touch the caller's array
        xp = backend.get_array_module(value.array)
        super().__init__(xp.array(value.array, copy=True, order="C"))
        self.trainable = bool(trainable)
        # applied by the optimisers after each update (tf.Variable's and Keras's constraint)
        self.constraint = constraint
        index = next(Variable._counter)
        self._shared_name = name if name else ("Variable" if index == 0 else f"Variable_{index}")
        self.name = self._shared_name + ":0"

    def _check_assignable(self, value, what: str):
        value = convert_to_tensor(value, dtype=self.dtype)
        if tuple(value.shape) != tuple(self.array.shape):
            raise ValueError(f"{what}: cannot assign a value of shape {format_shape(value.shape)} "
                             f"to variable '{self.name}' of shape {format_shape(self.shape)}.")
        if backend.device_of(value.array) != backend.device_of(self.array):
            raise ValueError(f"{what}: the value is on {backend.device_of(value.array)} but "
                             f"variable '{self.name}' is on {backend.device_of(self.array)}; "
                             "move it first with .to(...).")
        return value.array

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Write `value` into the variable in place."""
        self.array[...] = self._check_assignable(value, "assign")
        return self if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Add `delta` in place."""
        self.array += self._check_assignable(delta, "assign_add")
        return self if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """Subtract `delta` in place."""
        self.array -= self._check_assignable(delta, "assign_sub")
        return self if read_value else None

    def numpy(self) -> np.ndarray:
        """A copy of the current value (later assignments do not change it), as in TensorFlow."""
        array = self.array
        return array.copy() if isinstance(array, np.ndarray) else backend.to_numpy(array)

    def read_value(self) -> Tensor:
        """A Tensor snapshot of the current value (differentiable with respect to the variable)."""
        from .ops import identity

        return identity(self)

    def value(self) -> Tensor:
        return self.read_value()

    def __repr__(self) -> str:
        return (f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={self.numpy()!r}>")


def _infer_numpy_dtype(value):
    """TensorFlow's defaults: Python floats -> float32, Python ints -> int32."""
    if isinstance(value, np.generic):
        return value.dtype
    if isinstance(value, bool):
        return np.bool_
    if isinstance(value, int):
        return np.int32
    if isinstance(value, float):
        return np.float32
    if isinstance(value, complex):
        return np.complex128
    if isinstance(value, (list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind == "f":
            return np.float32
        if array.dtype.kind in "iu":
            return np.int32 if array.size == 0 or (
                np.abs(array).max() < 2**31) else np.int64
        return array.dtype
    return None


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    """Turn a Tensor, NumPy/CuPy array, Python number or nested list into a Tensor.

    A Tensor of another dtype than `dtype` is an error (use tf.cast); plain data is converted.
    """
    wanted = _dtypes.numpy_dtype(dtype)
    if hasattr(value, "to_dense") and not isinstance(value, Tensor):  # tf.IndexedSlices
        value = value.to_dense()
    if isinstance(value, Tensor):
        if wanted is not None and value.array.dtype != wanted:
            raise TypeError(f"Expected a tensor of dtype {_dtypes.as_dtype(wanted).name}, got "
                            f"{value.dtype.name} (shape {format_shape(value.shape)}). "
                            "Use tf.cast to convert it.")
        return value
    if wanted is None:
        wanted = _infer_numpy_dtype(value)
        if wanted is None and dtype_hint is not None:
            kind = np.asarray(value).dtype.kind if not hasattr(value, "dtype") else value.dtype.kind
            hint = _dtypes.numpy_dtype(dtype_hint)
            if kind == hint.kind or (kind in "iu" and hint.kind == "f"):
                wanted = hint
    if hasattr(value, "__cuda_array_interface__") and type(value).__module__.startswith("cupy"):
        xp = backend.get_array_module(value)
        return Tensor(xp.asarray(value, dtype=wanted))
    if isinstance(value, np.ndarray) or np.isscalar(value) or isinstance(value, (list, tuple)):
        array = np.asarray(value, dtype=wanted)
        if wanted is not None and isinstance(value, np.ndarray) and value.dtype.kind == "f" \
                and array.dtype.kind in "iub":
            raise TypeError(f"Cannot convert a floating-point array ({value.dtype}) to "
                            f"{array.dtype} implicitly; use tf.cast.")
        if array.dtype.kind in "OUS":
            raise TypeError(f"Cannot convert {type(value).__name__} with dtype {array.dtype} "
                            "to a tensor: only numbers and booleans are supported.")
        return Tensor(backend.asarray(array))
    try:
        array = np.asarray(value, dtype=wanted)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Cannot convert {type(value).__name__} to a tensor: {error}") from error
    return Tensor(backend.asarray(array))


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor from Python data or an array: `tf.constant([1.0, 2.0])` is float32.

    Unlike convert_to_tensor, `dtype` casts data; `shape` broadcasts a scalar or reshapes.
    """
    if isinstance(value, Tensor):
        array = value.array
        if dtype is not None:
            array = array.astype(_dtypes.numpy_dtype(dtype))
        tensor = Tensor(array.copy() if array is value.array else array)
    else:
        wanted = _dtypes.numpy_dtype(dtype) or _infer_numpy_dtype(value)
        array = np.asarray(backend.to_numpy(value) if hasattr(value, "__cuda_array_interface__")
                           else value, dtype=wanted)
        tensor = Tensor(backend.asarray(array))
    if shape is not None:
        xp = backend.get_array_module(tensor.array)
        shape = tuple(shape)
        if tensor.array.size == 1:
            tensor = Tensor(xp.full(shape, tensor.array.reshape(()), dtype=tensor.array.dtype))
        elif tensor.array.size == int(np.prod(shape)):
            tensor = Tensor(tensor.array.reshape(shape))
        else:
            raise ValueError(f"constant: {tensor.array.size} values cannot fill shape "
                             f"{format_shape(shape)}.")
    return tensor
