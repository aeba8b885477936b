"""Every CUDA source compiles with NVRTC (no driver needed) for each architecture, without
register spills; NVRTC's errors name the file and line; a missing NVRTC names the extra to
install."""

from __future__ import annotations

import pytest
from tensorflowish.kernels import emulator, nvrtc

from tensorflowish import kernels

SOURCES = kernels.kernel_sources()


def test_every_source_is_tested() -> None:
    assert {p.name for p in SOURCES} == {"dense.cu", "softmax_cross_entropy.cu", "optimizers.cu",
                                         "recurrent.cu", "conv.cu", "attention.cu"}
    # conv.cu: test_conv_kernels; recurrent.cu, attention.cu: test_recurrent/attention_kernels


@pytest.mark.parametrize("arch", nvrtc.ARCHITECTURES)
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_nvrtc_compiles_without_spills(source, arch) -> None:
    if arch not in nvrtc.supported_architectures():
        pytest.skip(f"NVRTC {'.'.join(map(str, nvrtc._nvrtc().getVersion()))} cannot build "
                    f"{arch} (CUDA 13 dropped Volta); the other architectures are checked")
    result = nvrtc.check(source, [arch])[0]
    assert result.ptx
    names = set(emulator.parse_kernels(source.read_text()))
    if arch.startswith("sm_"):
        assert set(result.resources) == names  # ptxas reported on every kernel
        assert not result.spills()
        for resources in result.resources.values():
            assert 0 < resources.registers <= 64, resources


def test_nvrtc_reports_file_and_line(tmp_path) -> None:
    source = tmp_path / "broken.cu"
    source.write_text('extern "C" __global__ void k(float* y) {\n    y[0] = INFINITY;\n}\n')
    with pytest.raises(nvrtc.NvrtcCompileError, match=r"broken\.cu:2: error: .*INFINITY"):
        nvrtc.compile_source(source, "sm_80")


def test_nvrtc_leaves_out_what_it_cannot_build(monkeypatch) -> None:
    from cupy_backends.cuda.libs import nvrtc as binding

    monkeypatch.setattr(binding, "getSupportedArchs", lambda: (75, 80, 86, 89, 90, 100, 120))
    monkeypatch.setattr(binding, "getVersion", lambda: (13, 0))  # as CUDA 13's NVRTC
    assert nvrtc.supported_architectures() == ["sm_80", "sm_90", "compute_90"]
    with pytest.raises(nvrtc.NvrtcCompileError, match=r"NVRTC 13\.0 cannot build sm_70"):
        nvrtc.compile_source(SOURCES[0], "sm_70")


def test_nvrtc_reports_spills() -> None:
    log = (
        "ptxas info    : Compiling entry function 'tfish_x' for 'sm_80'\n"
        "ptxas info    : Function properties for tfish_x\n"
        "    8 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
        "ptxas info    : Used 255 registers, 1024 bytes smem, 380 bytes cmem[0]\n"
    )
    resources = nvrtc._parse_ptxas(log)["tfish_x"]
    assert (resources.registers, resources.spill_stores, resources.spill_loads) == (255, 8, 4)
    assert resources.shared_memory == 1024


def test_nvrtc_missing_names_the_gpu_extra(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name.startswith("cupy_backends"):
            raise ImportError("No module named 'cupy_backends'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(nvrtc.NvrtcUnavailableError,
                       match=r"tensorflowish\[gpu\].*tensorflowish\[gpu-cuda13\]"):
        nvrtc.compile_source(SOURCES[0], "sm_80")
