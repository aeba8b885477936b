"""Compile-check CUDA C sources with NVRTC, the compiler CuPy uses, without a GPU.

``cupy.RawModule`` asks the current device for its architecture, so it cannot compile on a
machine without a GPU; the NVRTC binding underneath it can, for any architecture::

    from tensorflowish.kernels import nvrtc

    for result in nvrtc.check("my_kernel.cu"):          # sm_70, sm_80, sm_90 and PTX
        print(result.arch, result.resources)             # registers, spills, shared memory

:func:`compile_source` uses the options CuPy uses for a ``RawModule`` (C++17, flush-to-zero,
device code by default, CuPy's header and CCCL include directories) and raises
:class:`NvrtcCompileError` with ``file:line`` messages; :func:`check` also fails on register
spills reported by ``ptxas -v``. Needs CuPy and NVRTC of either CUDA version:
``pip install 'tensorflowish[gpu]'`` (``cupy-cuda12x`` and ``nvidia-cuda-nvrtc-cu12``) or
``'tensorflowish[gpu-cuda13]'`` (``cupy-cuda13x`` and ``nvidia-cuda-nvrtc``). NVRTC 13 no longer
builds for Volta (sm_70): :func:`supported_architectures` leaves out what the installed NVRTC
cannot build.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ARCHITECTURES",
    "CompileResult",
    "KernelResources",
    "NvrtcCompileError",
    "NvrtcUnavailableError",
    "check",
    "compile_options",
    "compile_source",
    "supported_architectures",
]

# Real architectures get SASS (so ptxas reports registers and spills); compute_90 is PTX only,
# the form a driver JIT-compiles for GPUs newer than the wheel.
ARCHITECTURES = ("sm_70", "sm_80", "sm_90", "compute_90")
_CUPY_OPTIONS = ("--std=c++17", "-ftz=true", "--device-as-default-execution-space")


class NvrtcUnavailableError(RuntimeError):
    """NVRTC (or CuPy, which binds it) is not installed."""


class NvrtcCompileError(RuntimeError):
    """NVRTC rejected a source; the message holds the compiler's ``file:line`` diagnostics."""


@dataclass
class KernelResources:
    """What ``ptxas -v`` reports for one kernel."""

    name: str
    registers: int = 0
    spill_stores: int = 0
    spill_loads: int = 0
    stack_frame: int = 0
    shared_memory: int = 0


@dataclass
class CompileResult:
    """One source compiled for one architecture."""

    path: Path
    arch: str
    log: str
    ptx: bytes
    resources: dict[str, KernelResources] = field(default_factory=dict)

    def spills(self) -> list[KernelResources]:
        """Kernels that spill registers to local memory."""
        return [r for r in self.resources.values() if r.spill_stores or r.spill_loads]


_INSTALL = ("pip install 'tensorflowish[gpu]' (CUDA 12: cupy-cuda12x and nvidia-cuda-nvrtc-cu12) "
            "or 'tensorflowish[gpu-cuda13]' (CUDA 13: cupy-cuda13x and nvidia-cuda-nvrtc)")


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
    except ImportError as error:
        raise NvrtcUnavailableError(
            f"compiling CUDA kernels needs CuPy and NVRTC: {_INSTALL}") from error
    try:
        nvrtc.getVersion()
    except Exception as error:  # DynamicLibNotFoundError and friends: libnvrtc.so is missing
        raise NvrtcUnavailableError(
            f"CuPy is installed but NVRTC cannot be loaded ({error}); install the NVRTC wheel of "
            f"CuPy's CUDA version: {_INSTALL}"
        ) from error
    return nvrtc


def _number(arch: str) -> int:
    return int(arch.rsplit("_", 1)[1])


def supported_architectures(architectures: Sequence[str] = ARCHITECTURES) -> list[str]:
    """Those of ``architectures`` the installed NVRTC can build (NVRTC 13 dropped sm_70)."""
    supported = set(_nvrtc().getSupportedArchs())
    return [arch for arch in architectures if _number(arch) in supported]


def compile_options(arch: str, include_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[str]:
    """The NVRTC options of a CuPy ``RawModule`` build for ``arch``, plus ``-Xptxas -v``."""
    from cupy._core import core

    options = [f"-arch={arch}", *_CUPY_OPTIONS, f"-I{core._get_header_dir_path()}"]
    options += list(core._get_cccl_include_options())
    options += [f"-I{d}" for d in include_dirs]
    if arch.startswith("sm_"):
        options += ["-Xptxas", "-v"]
    return options


def _as_file_line(log: str, path: Path) -> str:
    """NVRTC writes ``name(12): error: ...``; rewrite it as ``name:12: error: ...``."""
    return re.sub(r"^(\S+?)\((\d+)\): ", r"\1:\2: ", log, flags=re.MULTILINE)


def _parse_ptxas(log: str) -> dict[str, KernelResources]:
    resources: dict[str, KernelResources] = {}
    current: KernelResources | None = None
    for line in log.splitlines():
        if match := re.search(
            r"(?:Compiling entry function|Function properties for) '?(\w+)'?", line
        ):
            current = resources.setdefault(match.group(1), KernelResources(match.group(1)))
        if current is None:
            continue
        if match := re.search(
            r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
            r"(\d+) bytes spill loads",
            line,
        ):
            current.stack_frame, current.spill_stores, current.spill_loads = map(
                int, match.groups()
            )
        if match := re.search(r"Used (\d+) registers", line):
            current.registers = int(match.group(1))
        if match := re.search(r"(\d+) bytes smem", line):
            current.shared_memory = int(match.group(1))
    return resources


def compile_source(
    path: str | os.PathLike[str],
    arch: str = "sm_80",
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    options: Sequence[str] = (),
) -> CompileResult:
    """Compile one ``.cu`` file with NVRTC for ``arch`` (``sm_XX`` or ``compute_XX``)."""
    nvrtc = _nvrtc()
    if _number(arch) not in set(nvrtc.getSupportedArchs()):
        major, minor = nvrtc.getVersion()
        raise NvrtcCompileError(
            f"NVRTC {major}.{minor} cannot build {arch}; it builds "
            f"{', '.join(f'sm_{n}' for n in nvrtc.getSupportedArchs())}. Use "
            "supported_architectures() to leave out what this NVRTC cannot build.")
    path = Path(path).resolve()
    all_options = compile_options(arch, [path.parent, *include_dirs]) + list(options)
    program = nvrtc.createProgram(path.read_text(), str(path), (), ())
    try:
        try:
            nvrtc.compileProgram(program, all_options)
        except nvrtc.NVRTCError as error:
            log = _as_file_line(nvrtc.getProgramLog(program), path)
            raise NvrtcCompileError(
                f"NVRTC could not compile {path} for {arch} ({error}):\n{log}") from None
        log = nvrtc.getProgramLog(program)
        ptx = nvrtc.getPTX(program)
    finally:
        nvrtc.destroyProgram(program)
    return CompileResult(path, arch, _as_file_line(log, path), ptx, _parse_ptxas(log))


def check(
    path: str | os.PathLike[str],
    architectures: Sequence[str] | None = None,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
) -> list[CompileResult]:
    """Compile for every architecture (default: those of ``ARCHITECTURES`` that the installed
    NVRTC builds); raise on an error or on a kernel that spills registers."""
    results = []
    for arch in supported_architectures() if architectures is None else architectures:
        result = compile_source(path, arch, include_dirs)
        if spilling := result.spills():
            details = ", ".join(
                f"{r.name} ({r.spill_stores} bytes spill stores, {r.spill_loads} bytes spill loads)"
                for r in spilling
            )
            raise NvrtcCompileError(f"{result.path} for {arch}: register spills in {details}")
        results.append(result)
    return results
