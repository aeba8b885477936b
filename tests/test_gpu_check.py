"""scripts/gpu-check: the dry run (every step that needs no GPU) and the parts of the real run
that can be checked without one (the time budget, the summary of JUnit XML and bench JSON)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu-check"


def _load_script():
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(SCRIPT))
    spec = importlib.util.spec_from_loader("gpu_check", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


@pytest.mark.slow
def test_dry_run_passes_here_and_writes_its_summary(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# GPU check (dry run: no GPU used)")
    for step in ("install", "info", "fused chains", "captured step", "collect", "bench"):
        assert f"| {step} | ok |" in summary
    assert "1 kernel(s), values equal eager" in summary  # the fused chain on the emulator
    assert "Adam step" in summary and "host-side logic only" in summary  # the captured step
    assert "GPU tests collected" in summary and "CuPy" in (out / "info.txt").read_text()
    report = json.loads((out / "bench.json").read_text())
    assert report["quick"] and {r["device"] for r in report["results"]} == {"CPU:0"}
    assert (out / "bench.png").exists() or "no plot" in (out / "bench.log").read_text()


def test_budget_stops_pytest_after_the_test_that_used_it_up(tmp_path):
    gpu_check = _load_script()
    tests = tmp_path / "test_three.py"
    tests.write_text("def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n")
    step = gpu_check.pytest_step("budget", [str(tests), "--rootdir", str(tmp_path)], tmp_path,
                                 0.0, {}, "budget.xml")
    counts = gpu_check.junit_counts(tmp_path / "budget.xml")
    assert step.returncode == 2  # pytest's "interrupted"
    assert counts["total"] == 1 and counts["passed"] == 1
    assert "time budget of 0 s is used up" in (tmp_path / step.log).read_text()


def test_summary_of_a_real_run(tmp_path):
    gpu_check = _load_script()
    (tmp_path / "gpu-tests.xml").write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.test_x" name="test_ok" time="0.5"/>'
        '<testcase classname="tests.test_x" name="test_bad" time="2.0">'
        '<failure message="AssertionError: 1 != 2">trace</failure></testcase>'
        '<testcase classname="tests.test_x" name="test_skip" time="0.0">'
        '<skipped message="NCCL is not installed"/></testcase>'
        '</testsuite></testsuites>')
    (tmp_path / "gpu-tests.log").write_text("1 failed, 1 passed, 1 skipped\n")
    (tmp_path / "bench.json").write_text(json.dumps({
        "machine": "x86_64, 16 cores", "blas": "openblas", "quick": False, "repeats": 15,
        "results": [
            {"workload": "MLP training step", "size": "large", "device": "CPU:0",
             "seconds": 0.2, "ratio": 1.01},
            {"workload": "MLP training step", "size": "large", "device": "GPU:0",
             "seconds": 0.004, "ratio": 1.2}],
        "gpu_targets": [{"name": "GPU:0 MLP training step large: CPU time / GPU time",
                         "value": 50.0, "target": 20.0, "comparison": ">=", "unit": "x",
                         "detail": "200 ms vs 4 ms", "verdict": "met"}]}))
    step = gpu_check.Step("gpu tests", ["pytest"], returncode=1, seconds=3.0, log="gpu-tests.log")
    text = gpu_check.summary(tmp_path, [step], dry_run=False, started=0.0)
    assert "| gpu tests | failed (exit code 1) | 3 s | gpu-tests.log |" in text
    assert "1 passed, 1 failed, 0 errors, 1 skipped (3 run)." in text
    assert "- FAILED tests.test_x::test_bad: AssertionError: 1 != 2" in text
    assert "- 1 × NCCL is not installed" in text
    assert "- 2.00 s tests.test_x::test_bad" in text
    assert "| MLP training step | large | GPU:0 | 4.000 | 1.20x | 50.0x |" in text
    assert "(target >= 20.00x) **met**; 200 ms vs 4 ms" in text
