"""A griffe extension for the API reference: docstring examples (``>>>`` lines and the output
after them) become fenced ``pycon`` code blocks, so Markdown does not read them as text.

Loaded by mkdocs.yml (mkdocstrings' ``extensions`` option); not a page of the site.
"""

from __future__ import annotations

import griffe


def fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>``/``...`` lines and their output (up to a blank line) in a fence,
    unless it is already inside a fenced or indented code block."""
    lines, out, in_fence, in_example = text.splitlines(), [], False, False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence:
            out.append(line)
            continue
        indented = line.startswith("    ")
        if not in_example and stripped.startswith(">>>") and not indented:
            out.append("```pycon")
            in_example = True
        elif in_example and not stripped:
            out.append("```")
            in_example = False
        out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
