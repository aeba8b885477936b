"""Every script in examples/ runs, as a user would run it (small sizes), and learns."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent / "distribute"))
from mpi_helpers import requires_mpi  # noqa: E402


def run_example(name: str, *arguments: str, monkeypatch) -> None:
    """`python examples/<name> <arguments>`, in this process."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *arguments])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def last_number(text: str, prefix: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert lines, f"no line starts with {prefix!r} in:\n{text}"
    return float(lines[-1].split()[-1].strip("()"))


def test_every_example_is_tested():
    """Each script in examples/ is run by one of the tests/test_examples*.py files."""
    tests = " ".join(path.read_text() for path in Path(__file__).parent.glob("test_examples*.py"))
    untested = [path.name for path in EXAMPLES.glob("*.py")
                if f'"{path.name}"' not in tests and f'"{path.stem}"' not in tests]
    assert untested == [], f"no test runs these examples: {untested}"


def test_neuron(monkeypatch, capsys):
    run_example("neuron.py", "--steps", "200", monkeypatch=monkeypatch)
    output = capsys.readouterr().out
    assert last_number(output, "step 0:") > 0.2 and last_number(output, "step 199:") < 0.005
    assert "predictions: [0.9" in output


def test_keras_mlp(monkeypatch, capsys):
    pytest.importorskip("sklearn")
    run_example("keras_mlp.py", "--epochs", "3", monkeypatch=monkeypatch)
    assert last_number(capsys.readouterr().out, "test accuracy:") > 0.85


def test_custom_training_loop(monkeypatch, capsys):
    pytest.importorskip("sklearn")
    run_example("custom_training_loop.py", "--epochs", "2", monkeypatch=monkeypatch)
    output = capsys.readouterr().out
    assert output.count("epoch ") == 2 and last_number(output, "epoch 2:") > 0.9


def test_cnn(monkeypatch, capsys):
    pytest.importorskip("sklearn")
    run_example("cnn.py", "--epochs", "2", monkeypatch=monkeypatch)
    output = capsys.readouterr().out
    assert "Conv2D" in output and last_number(output, "test accuracy:") > 0.7


def test_data_parallel_in_one_process(monkeypatch, capsys):
    pytest.importorskip("sklearn")
    run_example("data_parallel.py", "--epochs", "2", monkeypatch=monkeypatch)
    output = capsys.readouterr().out
    assert "(1 processes)" in output and last_number(output, "test accuracy:") > 0.8


@requires_mpi
@pytest.mark.slow
def test_data_parallel_on_two_processes(tmp_path):
    pytest.importorskip("sklearn")
    import subprocess

    result = subprocess.run([sys.executable, str(EXAMPLES / "data_parallel.py"), "--epochs", "2",
                             "--processes", "2"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("epoch 2:") == 1 and "(2 processes)" in result.stdout  # chief only
    assert last_number(result.stdout, "test accuracy:") > 0.8
