"""The suite's skip summary: one line per reason, with the reason `tensorflowish info` gives."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

from tensorflowish import backend


def _root_conftest():
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("root_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Reporter:
    def __init__(self, reports):
        self.stats = {"skipped": reports}
        self.lines: list[str] = []

    def write_sep(self, sep, title):
        self.lines.append(f"{sep * 3} {title} {sep * 3}")

    def write_line(self, line):
        self.lines.append(line)


def _skip(reason, when="setup", where="tests/test_x.py"):
    return SimpleNamespace(when=when, longrepr=(where, 10, f"Skipped: {reason}"))


def test_skips_are_grouped_by_reason_whatever_their_place():
    gpu = "no usable GPU: No NVIDIA driver found (libcuda is missing)."
    reports = [_skip(gpu, where=f"tests/test_{i}.py") for i in range(5)]
    reports += [_skip("mpi4py is not installed", when="call"), _skip(gpu, when="call")]
    reporter = _Reporter(reports)
    _root_conftest().pytest_terminal_summary(reporter, 0, None)
    assert reporter.lines == ["=== 7 skipped, by reason ===", f"    6 x {gpu}",
                              "    1 x mpi4py is not installed"]


def test_nothing_is_printed_without_skips():
    reporter = _Reporter([])
    _root_conftest().pytest_terminal_summary(reporter, 0, None)
    assert reporter.lines == []


def test_gpu_skips_give_the_reason_info_gives(capsys):
    reason = backend.gpu_unavailable_reason()
    if reason is None:
        return  # a usable GPU: nothing is skipped for want of one
    from tensorflowish.tools import cli

    cli.info()
    assert f"GPU: not usable: {reason}" in capsys.readouterr().out
    kernels_conftest = Path(__file__).resolve().parent / "kernels" / "conftest.py"
    spec = importlib.util.spec_from_file_location("kernels_conftest", kernels_conftest)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("kernels_conftest", module)  # its dataclasses look it up there
    spec.loader.exec_module(module)
    assert module.gpu_unavailable_reason() == f"no usable GPU: {reason}"
