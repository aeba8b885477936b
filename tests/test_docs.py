"""The documentation: the site builds strictly (a broken link or docstring fails), and no
paragraph is written twice (the README and the guides in docs/ each say a thing once, and link)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GENERATED = {"api.md"}  # written by docs/api_page.py from the registry


def paragraphs(path: Path) -> list[tuple[str, int]]:
    """(normalised text, first line) of every paragraph of 3+ lines outside code blocks; table
    rows and list items are paragraphs too. Whitespace and case do not count."""
    found, block, start, fenced = [], [], 0, False
    lines = path.read_text().splitlines() + [""]
    for number, line in enumerate(lines, 1):
        if line.strip().startswith("```"):
            fenced = not fenced
            block = []
            continue
        if fenced:
            continue
        if line.strip():
            if not block:
                start = number
            block.append(line)
            continue
        if len(block) >= 3:
            found.append((re.sub(r"\s+", " ", " ".join(block)).strip().lower(), start))
        block = []
    return found


def documents() -> list[Path]:
    return [ROOT / "README.md"] + sorted(p for p in DOCS.rglob("*.md") if p.name not in GENERATED)


def test_no_paragraph_is_in_two_places():
    seen: dict[str, str] = {}
    repeated = []
    for path in documents():
        for text, line in paragraphs(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if text in seen and not seen[text].startswith(f"{path.relative_to(ROOT)}:"):
                repeated.append(f"{where} repeats {seen[text]}: {text[:80]}...")
            seen.setdefault(text, where)
    assert not repeated, ("Say each thing once and link to it; these paragraphs are written "
                          "twice:\n" + "\n".join(repeated))


def test_the_duplicate_finder_finds_duplicates(tmp_path):
    text = "A first line\nof a paragraph that\nruns over three lines.\n\nshort\n"
    (tmp_path / "a.md").write_text("# A\n\n" + text)
    (tmp_path / "b.md").write_text("```\nA first line\nof a paragraph that\nruns\n```\n")
    assert [t for t, _ in paragraphs(tmp_path / "a.md")] == [
        "a first line of a paragraph that runs over three lines."]
    assert paragraphs(tmp_path / "b.md") == []  # code blocks are not prose


def test_site_builds_strictly(tmp_path):
    missing = [name for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
               if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the docs extra is not installed ({', '.join(missing)} missing): "
                    "pip install -e '.[docs]'")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "reference" / "tensor" / "index.html").exists()
    assert "GradientTape" in (tmp_path / "reference" / "tape" / "index.html").read_text()
