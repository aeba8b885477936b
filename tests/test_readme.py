"""The README and the guides tell the truth: their Python examples run as written, printed
output shown beside an example is what it prints, and the names in the README's table of what
is supported (and not yet) exist (and do not)."""

from __future__ import annotations

import contextlib
import importlib
import io
import pathlib
import re

import pytest

import tensorflowish as tf

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _section(path: pathlib.Path, heading: str) -> str:
    text = path.read_text()
    start = text.index(f"\n{heading}\n") + 1
    following = re.search(r"\n##+ ", text[start + len(heading):])
    return text[start: start + len(heading) + (following.start() if following else len(text))]


def _blocks_under(path: pathlib.Path, heading: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", _section(path, heading), flags=re.S)


def _run(blocks: list[str], where: str) -> tuple[dict, str]:
    namespace: dict = {}
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            for block in blocks:
                exec(compile(block, where, "exec"), namespace)
    finally:
        tf.debugging.disable_strict_gradients()
    return namespace, output.getvalue()


EXAMPLES = [
    ("README.md", "## The idea"),
    ("README.md", "## Keras"),
    ("docs/tensors.md", "## Why is my gradient None?"),
    ("docs/saving.md", "## In one example"),
]


@pytest.mark.parametrize("document, heading", EXAMPLES)
def test_examples_run(document, heading, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks_under(ROOT / document, heading)
    assert blocks, f"no python example under {heading} in {document}"
    _run(blocks, f"{document} {heading}")


def test_the_idea_example_learns():
    namespace, output = _run(_blocks_under(README, "## The idea"), "README")
    assert float(namespace["loss"]) < 0.05
    assert output.startswith("step 0: loss 0.2")


def test_printed_output_shown_in_the_tensors_guide_is_what_it_prints():
    section = _section(ROOT / "docs/tensors.md", "## Why is my gradient None?")
    shown = re.search(r"prints\n\n```\n(.*?)```", section, flags=re.S).group(1)
    _, output = _run(_blocks_under(ROOT / "docs/tensors.md", "## Why is my gradient None?"),
                     "docs/tensors.md")
    assert " ".join(output.split()) == " ".join(shown.split())


# --- the table of what is supported and what is not yet ---------------------------------------
NAMESPACES = [tf, tf.keras, tf.keras.layers, tf.keras.optimizers, tf.keras.losses,
              tf.keras.metrics, tf.keras.callbacks, tf.keras.utils, tf.data, tf.data.Dataset,
              tf.GradientTape, tf.keras.Model, tf.function(lambda x: x)]


def _exists(name: str) -> bool:
    if name.startswith("tensorflowish."):
        try:
            importlib.import_module(name)
        except ImportError:
            return False
        return True
    if name.startswith("tf."):
        found = tf
        for part in name.split(".")[1:]:
            if not _has(found, part):
                return False
            found = getattr(found, part)
        return True
    return any(_has(namespace, name) for namespace in NAMESPACES)


def _has(namespace, name: str) -> bool:
    try:
        return hasattr(namespace, name)
    except Exception:  # noqa: BLE001 - e.g. tf.data's UnimplementedError for a name left out
        return False


def _table_names(column: int) -> list[str]:
    rows = _section(README, "## What is supported, and what is not yet").splitlines()
    rows = [row for row in rows if row.startswith("| ") and not row.startswith("| area")]
    names = []
    for row in rows:
        cell = [c.strip() for c in row.strip("|").split("|")][column]
        names += [n for n in re.findall(r"`([^`]+)`", cell) if re.fullmatch(r"[A-Za-z_][\w.]*", n)]
    return names


def test_what_the_readme_calls_supported_exists():
    names = _table_names(1)
    assert len(names) > 50
    assert [name for name in names if not _exists(name)] == []


def test_what_the_readme_calls_not_yet_is_missing():
    names = _table_names(2)
    assert len(names) > 10
    present = [name for name in names if _exists(name)]
    assert present == [], f"these exist now: move them to the supported column: {present}"
