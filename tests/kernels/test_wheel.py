"""The wheel ships the CUDA sources: build it, install it in a fresh venv, look from outside."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = """
import json, sys
from pathlib import Path
import tensorflowish.kernels as kernels
from tensorflowish.kernels import emulator
folder = Path(kernels.__file__).parent
module = emulator.load(folder / "dense.cu")  # the shim header and the .cuh come along
print(json.dumps({
    "package": str(folder),
    "sources": sorted(p.name for p in kernels.kernel_sources()),
    "shipped": sorted(p.name for p in folder.iterdir() if p.suffix in (".cu", ".cuh", ".h")),
    "kernels": sorted(module.kernels),
}))
"""


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, check=False, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(source: Path, dist: Path) -> None:
    """Offline with the test environment's setuptools where it can; else with build isolation
    (which needs the package index, e.g. in a fresh venv whose bundled setuptools is too old)."""
    if importlib.util.find_spec("build"):
        base = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)]
        attempts = [[*base, "--no-isolation"], base]
    else:
        base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(source)]
        attempts = [[*base, "--no-build-isolation"], base]
    logs = []
    for command in attempts:
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        if result.returncode == 0:
            return
        logs.append(f"{' '.join(command)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    pytest.fail("could not build the wheel:\n" + "\n\n".join(logs))


def test_installed_wheel_finds_every_kernel_source(tmp_path: Path, kernel_cache: Path) -> None:
    # Build from a clean copy of what a build reads (top-level files, the two package folders),
    # so that the repository gets no build/ folder and no virtual environment is copied.
    source = tmp_path / "source"
    source.mkdir()
    for entry in REPO.iterdir():
        if entry.is_file():
            shutil.copy2(entry, source / entry.name)
    for folder in ("tensorflowish", "kernels"):
        shutil.copytree(
            REPO / folder,
            source / folder,
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"),
        )
    dist = tmp_path / "dist"
    _build_wheel(source, dist)
    (wheel,) = dist.glob("tensorflowish-*.whl")

    # A fresh venv, outside the repository; the dependencies (not tensorflowish) are linked in
    # from the test environment so that nothing is downloaded.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ]
    )
    dependencies = tmp_path / "dependencies"
    dependencies.mkdir()
    # every site folder this interpreter reads (a --system-site-packages venv has two)
    folders = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    for folder in dict.fromkeys(Path(f) for f in folders if Path(f).is_dir()):
        for entry in folder.iterdir():
            if entry.name.startswith(("tensorflowish", "__editable__")) or entry.suffix == ".pth":
                continue
            if not (dependencies / entry.name).exists():
                (dependencies / entry.name).symlink_to(entry)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = _run([str(python), "-c", purelib]).stdout.strip()
    (Path(site_packages) / "test_dependencies.pth").write_text(f"{dependencies}\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TENSORFLOWISH_KERNEL_CACHE"] = str(kernel_cache)
    found = json.loads(_run([str(python), "-c", CHECK], cwd=tmp_path, env=env).stdout)

    assert Path(found["package"]).is_relative_to(venv)  # not the repository's kernels/
    expected = sorted(
        p.name for p in (REPO / "kernels").iterdir() if p.suffix in (".cu", ".cuh", ".h")
    )
    assert found["shipped"] == expected
    assert found["sources"] == sorted(n for n in expected if n.endswith(".cu"))
    assert "tfish_dense_fused_f32" in found["kernels"]
