"""The README's Python examples run as written."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _blocks_under(heading: str) -> list[str]:
    text = README.read_text()
    start = text.index(heading)
    following = re.search(r"\n##+ ", text[start + len(heading):])
    section = text[start: start + len(heading) + (following.start() if following else len(text))]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.parametrize("heading", ["## The idea", "## Keras API",
                                     "### Why is my gradient None?", "## Save, load, deploy"])
def test_readme_examples_run(heading, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks_under(heading)
    assert blocks, f"no python example under {heading}"
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, f"README {heading}", "exec"), namespace)
    finally:
        import tensorflowish as tf

        tf.debugging.disable_strict_gradients()


def test_the_idea_example_learns():
    namespace: dict = {}
    exec(_blocks_under("## The idea")[0], namespace)
    assert float(namespace["loss"]) < 0.05
