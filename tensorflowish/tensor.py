"""`Tensor` (one backend array, immutable by convention) and `Variable` (mutable, in place).

A Tensor is deliberately lean: the backend array, a unique id the tape keys gradients by, and
nothing else. Everything a Tensor can do is an op in `tensorflowish.ops`; the operator methods
below (`+`, `@`, `[...]`, ...) are installed by `tensorflowish.ops` so this module stays free of
math.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from . import backend
from . import dtypes as _dtypes

_next_id = itertools.count(1).__next__
_ndarray, _generic, _asarray = np.ndarray, np.generic, np.asarray
_getrefcount = sys.getrefcount
# references to a Variable's buffer when nothing else holds it: its slot, the local name in
# `_writable_array` and getrefcount's own argument (measured on CPython 3.10-3.13)
_UNSHARED = 3
# The ops package: it sits above this module (every op imports Tensor), so it is not imported
# here; `tensorflowish.ops` hands itself down when it loads, as it installs the operators.
_ops = None


def shape_tuple(shape) -> tuple:
    """A shape argument (a list, a tuple, an int or a 1-D tensor; None for unknown) as a tuple
    of ints, -1 standing for None."""
    if isinstance(shape, Tensor):
        shape = shape.numpy().tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(-1 if s is None else int(s) for s in shape)


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
    # NumPy defers `ndarray + Tensor` to Tensor.__radd__ (a Tensor, as in TensorFlow), while
    # `np.add(tensor, 1)` converts through __array__ and returns an ndarray
    __array_priority__ = 100

    def __init__(self, array) -> None:
        if array.__class__ is not _ndarray and isinstance(array, (_generic, bytes)):
            # NumPy returns scalars from 0-d arithmetic (bytes from 0-d string arrays)
            array = _asarray(array, dtype=object) if array.__class__ is bytes else \
                _asarray(array)
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
        """The values as a new NumPy array: a copy, so writing into it never changes the tensor
        (as TensorFlow's `numpy()`). `np.asarray(t)` gives a read-only view without copying."""
        array = self.array
        return array.copy() if array.__class__ is _ndarray else backend.to_numpy(array)

    def ref(self):
        """A hashable reference to this tensor (tensors themselves compare elementwise)."""
        return _Reference(self)

    # --- moving between devices ----------------------------------------------------------
    def cpu(self) -> Tensor:
        """A copy on the CPU (differentiable)."""
        return _ops.to_device(self, "CPU:0")

    def gpu(self, index: int = 0) -> Tensor:
        """A copy on GPU `index` (differentiable); raises BackendError if no GPU is usable."""
        return _ops.to_device(self, f"GPU:{index}")

    def to(self, device: str) -> Tensor:
        """A copy on `device` ('CPU:0', 'GPU:0', ...), differentiable."""
        return _ops.to_device(self, device)

    # --- Python protocols -----------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        """A read-only view of the values (a copy if `copy=True` or a dtype change asks for one);
        GPU tensors are copied to the host."""
        array = self.array
        if array.__class__ is not _ndarray:
            array = backend.to_numpy(array)
        if copy:
            return array.astype(dtype) if dtype is not None else array.copy()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            if copy is False:
                raise ValueError("Tensor.__array__: a dtype change needs a copy (copy=False).")
            return array.astype(dtype)
        view = array.view()
        view.flags.writeable = False
        return view

    def __format__(self, spec: str) -> str:
        if spec and self.array.ndim == 0:
            return format(self.array.item(), spec)  # f"{loss:.4f}" on a scalar tensor
        if spec:
            return format(self.numpy(), spec)
        return str(self)

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
        return (f"<tf.Tensor: shape={self.shape}, dtype={self.dtype.name}, "
                f"numpy={_numpy_repr(self)}>")

    def __str__(self) -> str:
        separator = "\n" if self.array.ndim >= 2 else ""
        array = self.numpy()
        # NumPy's str (float32 digits: 1.020288), b'abc' for a scalar string, as TensorFlow
        text = repr(array.item()) if array.ndim == 0 and array.dtype.kind == "O" else str(array)
        return f"tf.Tensor({separator}{text}, shape={self.shape}, dtype={self.dtype.name})"


def _numpy_repr(tensor: Tensor) -> str:
    array = tensor.numpy()
    if array.ndim == 0:  # numpy=1.5 and numpy=b'abc', as TensorFlow prints scalars
        return repr(array.item()) if array.dtype.kind == "O" else str(array)
    return repr(array)


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
            from .errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"{what}: cannot assign a value of shape {format_shape(value.shape)} to "
                f"variable '{self.name}' of shape {format_shape(self.shape)}.")
        if backend.device_of(value.array) != backend.device_of(self.array):
            from .errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"{what}: the value is on {backend.device_of(value.array)} but variable "
                f"'{self.name}' is on {backend.device_of(self.array)}; move it first with "
                ".to(...).")
        return value.array

    # --- copy-on-write ------------------------------------------------------------------------
    # A Variable updates its buffer in place only while nothing else holds it. A snapshot tensor
    # (read_value, stop_gradient, a slice or reshape: views of the buffer) or a live tape record
    # (which keeps the buffer its op read) is a second reference; then the update writes into a
    # fresh buffer and the holders keep the values they saw. In a plain training loop the tape
    # is released by gradient(), so the optimiser writes in place.
    def _is_shared(self) -> bool:
        array = self.array
        return _getrefcount(array) > _UNSHARED

    def _writable_array(self):
        """The buffer to update in place: the variable's own, or a fresh copy if it is shared."""
        array = self.array
        if _getrefcount(array) > _UNSHARED:
            array = self.array = array.copy()
        return array

    def _fresh(self, ufunc: str, delta):
        """`self.array <ufunc> delta` in a new buffer of the variable's own shape and dtype: a
        plain `a + b` turns a 0-d array into a NumPy scalar, which is no backend array."""
        array = self.array
        xp = backend.get_array_module(array)
        return getattr(xp, ufunc)(array, delta, out=xp.empty_like(array))

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Set the variable's value (in place unless a snapshot or a tape holds the buffer)."""
        value = self._check_assignable(value, "assign")
        if self._is_shared():
            xp = backend.get_array_module(self.array)
            self.array = xp.array(value, copy=True, order="C")
        else:
            self.array[...] = value
        return self if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Add `delta` (in place unless a snapshot or a tape holds the buffer)."""
        delta = self._check_assignable(delta, "assign_add")
        if self._is_shared():
            self.array = self._fresh("add", delta)
        else:
            self.array += delta
        return self if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """Subtract `delta` (in place unless a snapshot or a tape holds the buffer)."""
        delta = self._check_assignable(delta, "assign_sub")
        if self._is_shared():
            self.array = self._fresh("subtract", delta)
        else:
            self.array -= delta
        return self if read_value else None

    def numpy(self) -> np.ndarray:
        """A copy of the current value (later assignments do not change it), as in TensorFlow."""
        array = self.array
        return array.copy() if isinstance(array, np.ndarray) else backend.to_numpy(array)

    def read_value(self) -> Tensor:
        """A Tensor snapshot of the current value (differentiable with respect to the variable);
        later assignments do not change it."""
        return _ops.identity(self)

    def value(self) -> Tensor:
        return self.read_value()

    def __repr__(self) -> str:
        return (f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={_numpy_repr(self)}>")

    __str__ = __repr__  # print(variable) shows what TensorFlow shows


def _infer_numpy_dtype(value):
    """TensorFlow's defaults: Python floats -> float32, Python ints -> int32 (int64 when they do
    not fit), str/bytes -> string."""
    if isinstance(value, np.generic):
        return np.dtype(object) if value.dtype.kind in "SU" else value.dtype
    if isinstance(value, bool):
        return np.bool_
    if isinstance(value, int):
        return np.int32 if -2**31 <= value < 2**31 else _int64_or_error(value)
    if isinstance(value, float):
        return np.float32
    if isinstance(value, complex):
        return np.complex128
    if isinstance(value, (str, bytes)):
        return np.dtype(object)
    if isinstance(value, (list, tuple)):
        array = np.asarray(value) if not _holds_big_ints(value) else np.asarray(value, object)
        if array.dtype.kind == "f":
            return np.float32
        if array.dtype.kind in "iu" or _all_ints(array):
            if array.size == 0:
                return np.int32
            low, high = int(array.min()), int(array.max())
            if -2**31 <= low and high < 2**31:
                return np.int32
            return _int64_or_error(low if low < -2**63 else high)
        if array.dtype.kind in "SU" or (array.dtype.kind == "O" and _all_strings(array)):
            return np.dtype(object)
        return array.dtype
    return None


def _holds_big_ints(value) -> bool:
    try:
        return np.asarray(value).dtype.kind == "O"
    except (ValueError, OverflowError):
        return True


def _all_ints(array) -> bool:
    return array.dtype.kind == "O" and array.size > 0 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in array.flat)


def _holds_strings(value) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "SUO" and value.size > 0 and _all_strings(value)
    if isinstance(value, (list, tuple)):
        try:
            return _all_strings(np.asarray(value, dtype=object).reshape(-1)[:1])
        except ValueError:
            return False
    return False


def _all_strings(array) -> bool:
    return all(isinstance(v, (str, bytes, np.str_, np.bytes_)) for v in array.flat)


def _int64_or_error(value: int):
    if -2**63 <= value < 2**63:
        return np.int64
    from .errors import InvalidArgumentError

    raise InvalidArgumentError(f"Can't convert Python integer {value} to a tensor: it does not "
                               "fit in int64 (TensorFlow's widest integer).")


def string_bytes(item) -> bytes | None:
    """The UTF-8 bytes of a str, bytes or NumPy string (plain bytes, as a string tensor holds
    them); None for anything else."""
    if isinstance(item, np.bytes_):  # a subclass of bytes that prints differently
        return bytes(item)
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):  # np.str_ included
        return item.encode("utf-8")
    return None


def _string_array(value) -> np.ndarray:
    """str/bytes data (any nesting) as an object array of bytes, as TensorFlow holds strings."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        source = value
    else:
        source = np.asarray(value, dtype=object)
    out = np.empty(source.shape, dtype=object)
    for index, item in np.ndenumerate(source):
        data = string_bytes(item)
        if data is None:
            raise TypeError(f"A string tensor holds only str/bytes, got {type(item).__name__} "
                            f"({item!r}).")
        out[index] = data
    return out


def _host_array(value, wanted) -> np.ndarray:
    """`value` as a NEW NumPy array of dtype `wanted` (never a view of the caller's array)."""
    if wanted is not None and np.dtype(wanted).kind == "O":
        return _string_array(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "SU":
        return _string_array(value)
    array = np.array(value, dtype=wanted, copy=True)
    if wanted is not None and isinstance(value, np.ndarray) and value.dtype.kind == "f" \
            and array.dtype.kind in "iub":
        raise TypeError(f"Cannot convert a floating-point array ({value.dtype}) to "
                        f"{array.dtype} implicitly; use tf.cast.")
    if array.dtype.kind == "O":
        if _all_strings(array):
            return _string_array(array)
        raise TypeError(f"Cannot convert {type(value).__name__} with dtype {array.dtype} "
                        "to a tensor: only numbers, booleans and strings are supported.")
    if array.dtype.kind in "SU":
        return _string_array(array)
    return array


def _to_backend(array: np.ndarray):
    # strings live on the host whatever the device, as TensorFlow places string ops on the CPU
    return array if array.dtype.kind == "O" else backend.asarray(array)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    """Turn a Tensor, NumPy/CuPy array, Python number, string or nested list into a Tensor.

    A Tensor of another dtype than `dtype` is an error (use tf.cast); plain data is converted.
    NumPy data is copied: changing the array later does not change the tensor (as TensorFlow).
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
        return Tensor(xp.array(value, dtype=wanted, copy=True))
    try:
        array = _host_array(value, wanted)
    except (TypeError, ValueError, OverflowError) as error:
        if isinstance(error, TypeError) and "tensor" in str(error):
            raise
        raise TypeError(f"Cannot convert {type(value).__name__} to a tensor"
                        f"{'' if wanted is None else ' of dtype ' + _dtypes.as_dtype(wanted).name}"
                        f": {error}") from error
    return Tensor(_to_backend(array))


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor from Python data or an array: `tf.constant([1.0, 2.0])` is float32.

    Unlike convert_to_tensor, `dtype` casts data; `shape` broadcasts a scalar or reshapes.
    The data is always copied (changing a NumPy array afterwards does not change the tensor).
    """
    if isinstance(value, Tensor):
        array = value.array
        if dtype is not None:
            array = array.astype(_dtypes.numpy_dtype(dtype))
        tensor = Tensor(array.copy() if array is value.array else array)
    else:
        wanted = _dtypes.numpy_dtype(dtype)
        host = backend.to_numpy(value) if hasattr(value, "__cuda_array_interface__") else value
        if wanted is None:
            wanted = _infer_numpy_dtype(host)
            array = _host_array(host, wanted)
        elif wanted.kind == "O":
            array = _string_array(host)
        else:
            # tf.constant casts (convert_to_tensor does not): Python data straight to the dtype
            # (no detour through float32), arrays with astype
            array = _host_array(host, None if isinstance(host, np.ndarray) else wanted) \
                if not _holds_strings(host) else None
            if array is None or array.dtype.kind == "O":
                raise TypeError(f"constant: cannot convert strings to "
                                f"{_dtypes.as_dtype(wanted).name}; use tf.strings.to_number.")
            array = array.astype(wanted, copy=False)
        tensor = Tensor(_to_backend(array))
    if shape is not None:
        xp = backend.get_array_module(tensor.array)
        shape = tuple(shape)
        if tensor.array.size == 1:
            tensor = Tensor(xp.full(shape, tensor.array.reshape(()), dtype=tensor.array.dtype))
        elif tensor.array.size == int(np.prod(shape)):
            tensor = Tensor(tensor.array.reshape(shape))
        else:
            from .errors import InvalidArgumentError

            raise InvalidArgumentError(f"constant: {tensor.array.size} values cannot fill shape "
                                       f"{format_shape(shape)}.")
    return tensor
