"""Run CUDA C kernels on the CPU, to test them on machines without a GPU.

The same ``*.cu`` source that CuPy compiles with NVRTC is compiled here by g++ against a small
shim header (``cuda_emulation.h``) and launched with the call shape of a ``cupy.RawKernel``::

    import numpy as np
    from tensorflowish.kernels import emulator

    module = emulator.load('''
    extern "C" __global__ void scale(float* y, const float* x, int n, float factor) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) y[i] = factor * x[i];
    }''')
    x = np.arange(100, dtype=np.float32)
    y = np.full_like(x, np.nan)                      # poison: unwritten elements stay NaN
    module.get_function("scale")((4,), (32,), (y, x, np.int32(100), np.float32(2.0)))
    assert np.array_equal(y, 2 * x)

What it checks, so that a kernel bug fails here instead of on somebody's GPU:

* every CUDA thread is a fiber, so ``__syncthreads()`` is a real barrier; the threads of a block
  run in ``forward``, ``reverse`` or seeded ``random`` order between barriers (a missing barrier
  gives different or NaN results between orders);
* a barrier reached by only part of a block (an early ``return``) is an error naming its line;
* ``__shared__`` memory is filled with NaN before each block;
* every array is copied into a larger buffer whose guard zones (as large as the array, at least
  4 KiB, on each side) are NaN; a write into them is an error naming the argument, and reads
  from them give NaN;
* arguments are checked against the C signature of the kernel: pointers need C-contiguous arrays
  of the matching dtype, scalars need exactly the NumPy type CuPy would pass (``np.int32`` for
  ``int``, ``np.float32`` for ``float``): CuPy passes a Python ``int`` as a 64-bit integer and a
  Python ``float`` as a double, which a kernel reading ``int``/``float`` misreads.

Dynamic shared memory (``extern __shared__ T name[];`` with ``shared_mem=`` bytes at launch) is
poisoned too, and a write past ``shared_mem`` bytes is an error.

Limits: only ``extern "C" __global__`` kernels (no templates as entry points), no warp
intrinsics (``__shfl*``, ``__syncwarp``), one launch at a time. Results differ from a GPU by
rounding (no FMA contraction), so compare with tolerances.
Compiled launchers are cached in ``$TENSORFLOWISH_KERNEL_CACHE`` (default
``~/.cache/tensorflowish/kernels``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["THREAD_ORDERS", "EmulatedKernel", "EmulatedModule", "EmulatorError", "load"]

THREAD_ORDERS = ("forward", "reverse", "random")
SHIM_PATH = Path(__file__).with_name("cuda_emulation.h")
COMPILE_FLAGS = ("-O1", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-w")
_MIN_GUARD_BYTES = 4096
_POISON_BYTE = 0xFF  # all-ones bytes are NaN as float32 and as float64

# C scalar/pointee type -> NumPy dtype
_C_TYPES: dict[str, np.dtype] = {
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "int": np.dtype(np.int32),
    "signed int": np.dtype(np.int32),
    "unsigned int": np.dtype(np.uint32),
    "unsigned": np.dtype(np.uint32),
    "long long": np.dtype(np.int64),
    "long long int": np.dtype(np.int64),
    "long": np.dtype(np.int64),
    "unsigned long long": np.dtype(np.uint64),
    "size_t": np.dtype(np.uint64),
    "int64_t": np.dtype(np.int64),
    "int32_t": np.dtype(np.int32),
    "uint32_t": np.dtype(np.uint32),
    "uint64_t": np.dtype(np.uint64),
    "short": np.dtype(np.int16),
    "unsigned short": np.dtype(np.uint16),
    "char": np.dtype(np.int8),
    "signed char": np.dtype(np.int8),
    "unsigned char": np.dtype(np.uint8),
    "bool": np.dtype(np.bool_),
}
# What CuPy makes of a plain Python scalar (so the emulator accepts exactly what works on a GPU).
_PYTHON_SCALAR_DTYPES = {
    bool: np.dtype(np.bool_),
    int: np.dtype(np.int64),
    float: np.dtype(np.float64),
}
_QUALIFIERS = {"const", "volatile", "__restrict__", "__restrict", "restrict"}
_EXTERN_SHARED_RE = re.compile(
    r"extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?((?:\w+\s+)*?\w+)\s+(\w+)\s*\[\s*\]\s*;"
)
_KERNEL_RE = re.compile(
    r'extern\s+"C"\s+__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s+)?void\s+'
    r"(?:__launch_bounds__\s*\([^)]*\)\s+)?(\w+)\s*\(([^)]*)\)"
)


class EmulatorError(RuntimeError):
    """A kernel misbehaved on the emulator (or could not be compiled or called)."""


class Parameter:
    """One parameter of a kernel's C signature."""

    def __init__(self, name: str, c_type: str, is_pointer: bool, is_const: bool) -> None:
        self.name = name
        self.c_type = c_type
        self.is_pointer = is_pointer
        self.is_const = is_const
        if c_type not in _C_TYPES:
            raise EmulatorError(f"parameter {name!r}: the emulator does not know C type {c_type!r}")
        self.dtype = _C_TYPES[c_type]

    def __repr__(self) -> str:
        star = "*" if self.is_pointer else ""
        return f"{'const ' if self.is_const else ''}{self.c_type}{star} {self.name}"


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", " ", text)


def parse_kernels(source_text: str) -> dict[str, list[Parameter]]:
    """The ``extern "C" __global__`` kernels of a source and their parameters, in order."""
    kernels: dict[str, list[Parameter]] = {}
    for match in _KERNEL_RE.finditer(_strip_comments(source_text)):
        name, parameter_text = match.group(1), match.group(2).strip()
        parameters = []
        if parameter_text and parameter_text != "void":
            for index, declaration in enumerate(parameter_text.split(",")):
                tokens = re.findall(r"\w+|\*|&", declaration)
                if "&" in tokens:
                    raise EmulatorError(f"kernel {name}: reference parameters are not allowed")
                pointer_depth = tokens.count("*")
                if pointer_depth > 1:
                    raise EmulatorError(f"kernel {name}: pointer-to-pointer parameters unsupported")
                words = [t for t in tokens if t != "*"]
                parameter_name = words[-1] if len(words) > 1 else f"arg{index}"
                type_words = words[:-1] if len(words) > 1 else words
                is_const = "const" in type_words
                c_type = " ".join(w for w in type_words if w not in _QUALIFIERS)
                parameters.append(Parameter(parameter_name, c_type, pointer_depth == 1, is_const))
        kernels[name] = parameters
    return kernels


def _cache_dir() -> Path:
    root = os.environ.get("TENSORFLOWISH_KERNEL_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "tensorflowish" / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _local_includes(path: Path, seen: set[Path]) -> list[str]:
    """Text of every ``#include "..."`` file reachable from ``path`` (for the cache key)."""
    texts = []
    for name in re.findall(r'#\s*include\s+"([^"]+)"', path.read_text()):
        included = (path.parent / name).resolve()
        if included.is_file() and included not in seen:
            seen.add(included)
            texts.append(included.read_text())
            texts.extend(_local_includes(included, seen))
    return texts


def _launcher_text(source_path: Path, kernels: dict[str, list[Parameter]]) -> str:
    lines = [f'#include "{SHIM_PATH}"', f'#include "{source_path}"', ""]
    for name, parameters in kernels.items():
        unpacked = ", ".join(
            f"*({p.c_type}{'*' if p.is_pointer else ''}*)args[{i}]"
            for i, p in enumerate(parameters)
        )
        lines += [
            f"static void tfish_thunk_{name}(void** args) "
            f"{{ (void)args; {name}({unpacked}); }}",
            f'extern "C" int tfish_launch_{name}('
            "const unsigned int* grid, const unsigned int* block,",
            "        void** args, unsigned int shared_bytes, int order, unsigned long long seed,",
            "        char* error, int error_len) {",
            f"    return tfish_emu::launch(tfish_thunk_{name}, grid, block, args, shared_bytes,",
            "                             order, seed, error, error_len);",
            "}",
        ]
    return "\n".join(lines) + "\n"


_LIBRARIES: dict[Path, ctypes.CDLL] = {}
_LAUNCH_LOCK = threading.Lock()  # the shim keeps the launch state in globals


def _with_dynamic_shared_memory(source_path: Path, cache: Path) -> Path:
    """The source to compile: ``extern __shared__ T name[];`` (which cannot be a ``static`` like
    other shared memory) becomes a pointer to the shim's dynamic shared memory buffer, in a copy
    whose ``#line`` directive keeps diagnostics pointing at the original file."""
    text = source_path.read_text()
    if not _EXTERN_SHARED_RE.search(text):
        return source_path
    rewritten = _EXTERN_SHARED_RE.sub(
        r"\1* const \2 = reinterpret_cast<\1*>(tfish_emu::dynamic_shared_memory);", text
    )
    digest = hashlib.sha256(f"{source_path}\0{text}".encode()).hexdigest()[:24]
    path = cache / f"rewritten_{digest}.cu"
    if not path.exists():
        path.write_text(f'#line 1 "{source_path}"\n{rewritten}')
    return path


def _compile(
    source_path: Path,
    kernels: dict[str, list[Parameter]],
    include_dirs: Sequence[str],
    flags: Sequence[str],
) -> ctypes.CDLL:
    cache = _cache_dir()
    launcher = _launcher_text(_with_dynamic_shared_memory(source_path, cache), kernels)
    key = hashlib.sha256()
    for part in (
        SHIM_PATH.read_text(),
        source_path.read_text(),
        *_local_includes(source_path, set()),
        launcher,
        " ".join(COMPILE_FLAGS),
        " ".join(flags),
        " ".join(include_dirs),
    ):
        key.update(part.encode())
        key.update(b"\0")
    library_path = cache / f"tfish_emu_{key.hexdigest()[:24]}.so"
    if not library_path.exists():
        stub_dir = cache / "include"
        (stub_dir / "cupy").mkdir(parents=True, exist_ok=True)
        stub = stub_dir / "cupy" / "math_constants.h"
        if not stub.exists():
            stub.write_text("// constants come from cuda_emulation.h\n")
        with tempfile.TemporaryDirectory(dir=cache) as work:
            launcher_path = Path(work) / "launcher.cpp"
            launcher_path.write_text(launcher)
            temporary = Path(work) / library_path.name
            command = ["g++", *COMPILE_FLAGS, *flags, f"-I{source_path.parent}", f"-I{stub_dir}"]
            command += [f"-I{d}" for d in include_dirs]
            command += [str(launcher_path), "-o", str(temporary)]
            try:
                result = subprocess.run(command, check=False, capture_output=True, text=True)
            except FileNotFoundError as error:
                raise EmulatorError("the CUDA emulator needs g++ on the PATH") from error
            if result.returncode != 0:
                raise EmulatorError(f"g++ could not compile {source_path}:\n{result.stderr}")
            os.replace(temporary, library_path)  # atomic: concurrent builders never see half a file
    if library_path not in _LIBRARIES:
        _LIBRARIES[library_path] = ctypes.CDLL(str(library_path))
    return _LIBRARIES[library_path]


def _as_dim3(value: int | Sequence[int], what: str) -> tuple[int, int, int]:
    dims = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not 1 <= len(dims) <= 3 or any(int(d) < 1 for d in dims):
        raise EmulatorError(f"{what} must be 1 to 3 positive integers, got {value!r}")
    return tuple(int(d) for d in dims) + (1,) * (3 - len(dims))  # type: ignore[return-value]


class EmulatedKernel:
    """One kernel of an :class:`EmulatedModule`; call it like a ``cupy.RawKernel``."""

    def __init__(self, module: EmulatedModule, name: str, parameters: list[Parameter]) -> None:
        self.module = module
        self.name = name
        self.parameters = parameters
        self._launch = getattr(module.library, f"tfish_launch_{name}")
        self._launch.restype = ctypes.c_int

    def __call__(
        self,
        grid: int | Sequence[int],
        block: int | Sequence[int],
        args: Sequence[Any],
        shared_mem: int = 0,
        *,
        order: str | None = None,
        seed: int | None = None,
    ) -> None:
        """Launch on the CPU; NumPy array arguments are updated in place, like device memory."""
        order = self.module.order if order is None else order
        seed = self.module.seed if seed is None else seed
        if order not in THREAD_ORDERS:
            raise ValueError(f"order must be one of {THREAD_ORDERS}, got {order!r}")
        if not isinstance(shared_mem, (int, np.integer)) or shared_mem < 0:
            raise EmulatorError(f"{self.name}: shared_mem must be a byte count, got {shared_mem!r}")
        grid3, block3 = _as_dim3(grid, "grid"), _as_dim3(block, "block")
        if block3[0] * block3[1] * block3[2] > 1024:
            raise EmulatorError(f"{self.name}: block {block3} has more than 1024 threads")
        if len(args) != len(self.parameters):
            raise EmulatorError(
                f"{self.name} takes {len(self.parameters)} arguments "
                f"({', '.join(map(repr, self.parameters))}), got {len(args)}"
            )
        slots = (ctypes.c_void_p * len(args))()
        keep_alive: list[Any] = []
        buffers: dict[int, tuple[np.ndarray, np.ndarray, int, Parameter]] = {}
        for index, (parameter, value) in enumerate(zip(self.parameters, args)):
            if parameter.is_pointer:
                array = self._check_array(index, parameter, value)
                address = array.__array_interface__["data"][0]
                if address in buffers:
                    guarded, other, guard, _ = buffers[address]
                    if other.nbytes != array.nbytes:
                        raise EmulatorError(
                            f"{self.name}: argument {parameter.name!r} partly "
                            "overlaps another argument"
                        )
                else:
                    guard = max(_MIN_GUARD_BYTES, -(-array.nbytes // 64) * 64)
                    guarded = np.full(2 * guard + array.nbytes, _POISON_BYTE, dtype=np.uint8)
                    guarded[guard : guard + array.nbytes] = array.reshape(-1).view(np.uint8)
                    buffers[address] = (guarded, array, guard, parameter)
                pointer = ctypes.c_void_p(guarded.ctypes.data + guard)
                keep_alive.append(pointer)
                slots[index] = ctypes.addressof(pointer)
            else:
                scalar = self._check_scalar(index, parameter, value)
                keep_alive.append(scalar)
                slots[index] = scalar.ctypes.data
        written = {
            value.__array_interface__["data"][0]
            for parameter, value in zip(self.parameters, args)
            if parameter.is_pointer and not parameter.is_const
        }
        arrays = [(entry[3].name, entry[1]) for entry in buffers.values()]
        for i, (name, array) in enumerate(arrays):
            for other_name, other in arrays[i + 1 :]:
                if np.may_share_memory(array, other):
                    raise EmulatorError(
                        f"{self.name}: arguments {name!r} and {other_name!r} overlap without "
                        "being the same array; the emulator (and __restrict__) cannot allow that"
                    )
        error = ctypes.create_string_buffer(2048)
        with _LAUNCH_LOCK:
            status = self._launch(
                (ctypes.c_uint * 3)(*grid3),
                (ctypes.c_uint * 3)(*block3),
                slots,
                ctypes.c_uint(int(shared_mem)),
                ctypes.c_int(THREAD_ORDERS.index(order)),
                ctypes.c_ulonglong(seed),
                error,
                ctypes.c_int(len(error)),
            )
        if status != 0:
            raise EmulatorError(f"{self.name}: {error.value.decode()}")
        for address, (guarded, array, guard, parameter) in buffers.items():
            self._check_guards(guarded, array, guard, parameter)
            if address in written:
                array.reshape(-1).view(np.uint8)[...] = guarded[guard : guard + array.nbytes]

    def _check_array(self, index: int, parameter: Parameter, value: Any) -> np.ndarray:
        where = f"{self.name}: argument {index} ({parameter!r})"
        if not isinstance(value, np.ndarray):
            raise EmulatorError(f"{where} needs a NumPy array, got {type(value).__name__}")
        if value.dtype != parameter.dtype:
            raise EmulatorError(
                f"{where} needs an array of dtype {parameter.dtype}, got "
                f"{value.dtype}; convert it with .astype({parameter.dtype.name})"
            )
        if not value.flags.c_contiguous:
            raise EmulatorError(
                f"{where} needs a C-contiguous array (a kernel sees only the "
                "data pointer); use numpy.ascontiguousarray"
            )
        if not parameter.is_const and not value.flags.writeable:
            raise EmulatorError(f"{where} is written by the kernel but the array is read-only")
        return value

    def _check_scalar(self, index: int, parameter: Parameter, value: Any) -> np.ndarray:
        where = f"{self.name}: argument {index} ({parameter!r})"
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, np.generic):
            passed_as = value.dtype
        elif type(value) in _PYTHON_SCALAR_DTYPES:
            passed_as = _PYTHON_SCALAR_DTYPES[type(value)]
        else:
            raise EmulatorError(f"{where} needs a scalar, got {type(value).__name__}")
        if passed_as != parameter.dtype:
            hint = f"pass np.{parameter.dtype.name}(...)"
            if not isinstance(value, np.generic):
                hint = (
                    f"CuPy passes a Python {type(value).__name__} as {passed_as} "
                    f"({passed_as.itemsize * 8} bits), so the kernel would read garbage; {hint}"
                )
            raise EmulatorError(f"{where} got {value} of type {passed_as}; {hint}")
        return np.array(value, dtype=parameter.dtype)

    def _check_guards(
        self, guarded: np.ndarray, array: np.ndarray, guard: int, parameter: Parameter
    ) -> None:
        before = np.flatnonzero(guarded[:guard] != _POISON_BYTE)
        after = np.flatnonzero(guarded[guard + array.nbytes :] != _POISON_BYTE)
        item = array.itemsize
        if before.size:
            elements = -(-(guard - int(before[0])) // item)
            raise EmulatorError(
                f"{self.name}: out-of-bounds write to argument {parameter.name!r}:"
                f" up to {elements} element(s) before its start"
            )
        if after.size:
            raise EmulatorError(
                f"{self.name}: out-of-bounds write to argument {parameter.name!r}:"
                f" element {array.size + int(after[-1]) // item} written but it "
                f"has only {array.size} elements"
            )


class EmulatedModule:
    """A compiled source; :meth:`get_function` returns a kernel, like ``cupy.RawModule``."""

    def __init__(
        self,
        source_path: Path,
        kernels: dict[str, list[Parameter]],
        library: ctypes.CDLL,
        order: str,
        seed: int,
    ) -> None:
        self.source_path = source_path
        self.kernels = kernels
        self.library = library
        self.order = order
        self.seed = seed

    def get_function(self, name: str) -> EmulatedKernel:
        """The kernel ``name`` (an ``extern "C" __global__`` function of the source)."""
        if name not in self.kernels:
            raise EmulatorError(
                f'no extern "C" __global__ kernel {name!r} in {self.source_path};'
                f" it has {sorted(self.kernels)}"
            )
        return EmulatedKernel(self, name, self.kernels[name])


def _is_file(text: str) -> bool:
    if "\n" in text or "{" in text:
        return False
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a name too long to be a path
        return False


def load(
    source: str | os.PathLike[str],
    *,
    order: str = "forward",
    seed: int = 0,
    include_dirs: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> EmulatedModule:
    """Compile a CUDA C source (a path to a ``.cu`` file, or the code itself) for the CPU.

    ``order`` is the default thread order of its kernels (``forward``, ``reverse``, ``random``;
    ``seed`` seeds ``random``); both can be overridden per launch.
    """
    if order not in THREAD_ORDERS:
        raise ValueError(f"order must be one of {THREAD_ORDERS}, got {order!r}")
    is_path = isinstance(source, os.PathLike) or _is_file(source)
    if is_path:
        source_path = Path(source).resolve()
    else:
        digest = hashlib.sha256(str(source).encode()).hexdigest()[:24]
        source_path = _cache_dir() / f"source_{digest}.cu"
        if not source_path.exists():
            source_path.write_text(str(source))
    kernels = parse_kernels(source_path.read_text())
    if not kernels:
        raise EmulatorError(f'{source_path} has no extern "C" __global__ kernel')
    library = _compile(source_path, kernels, include_dirs, flags)
    return EmulatedModule(source_path, kernels, library, order, seed)
