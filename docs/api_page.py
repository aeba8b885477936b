"""Generate docs/api.md from the op registry and TensorFlow's list of public names.

    python docs/api_page.py --write        # rewrite docs/api.md (tests/test_api_page.py checks it)
    python docs/api_page.py --check        # exit 1 if docs/api.md is stale

The list of TensorFlow's public names (docs/tensorflow-public-names.txt) was collected once from
tensorflow-cpu in a throwaway virtual environment (TensorFlow is never a dependency):

    /tmp/tfref/bin/python docs/api_page.py --collect-tensorflow-names
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PAGE = DOCS / "api.md"
NAMES = DOCS / "tensorflow-public-names.txt"
# the namespaces compared with TensorFlow ("" is the top level)
NAMESPACES = ["", "math", "linalg", "nn", "image", "random", "nest", "debugging", "dtypes",
              "errors", "autodiff", "signal", "bitwise", "sets", "strings", "sparse", "ragged",
              "experimental.numpy"]


def collect_tensorflow_names() -> str:
    """TensorFlow's public non-module names per namespace (run with TensorFlow installed)."""
    import tensorflow as tf

    lines = [f"# Public names of TensorFlow {tf.__version__}, one per line as namespace.name "
             "(top-level names without a namespace).",
             "# Collected by `python docs/api_page.py --collect-tensorflow-names`; do not edit."]
    for space in NAMESPACES:
        module = tf
        for part in filter(None, space.split(".")):
            module = getattr(module, part)
        for name in sorted(dir(module)):
            if not name.startswith("_") and not inspect.ismodule(getattr(module, name)):
                lines.append(f"{space}.{name}" if space else name)
    return "\n".join(lines) + "\n"


def tensorflow_names() -> tuple[str, dict[str, list[str]]]:
    """(version line, {namespace: [names]}) from the checked-in list."""
    version, spaces = "", {space: [] for space in NAMESPACES}
    for line in NAMES.read_text().splitlines():
        if line.startswith("#"):
            if not version and "TensorFlow " in line:  # "... of TensorFlow 2.21.0, one ..."
                version = "TensorFlow " + line.split("TensorFlow ")[1].split(",")[0]
            continue
        space, _, name = line.rpartition(".")
        spaces.setdefault(space, []).append(name)
    return version, spaces


def _resolve(tf, space: str):
    module = tf
    for part in filter(None, space.split(".")):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def _public(name: str) -> str:
    return f"tf.{name}"


def _summary(function) -> str:
    doc = inspect.getdoc(function) or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return line.replace("|", "\\|")


def _gradient(info) -> str:
    if not info.differentiable:
        return "none"
    count = len(info.samples(__import__("numpy").random.default_rng(0))) if info.samples else 0
    return f"yes ({count} checked)" if count else "yes (unchecked)"


def render() -> str:
    """The whole page, deterministic for a given registry and name list."""
    import tensorflowish as tf
    from tensorflowish.ops import REGISTRY

    version, tf_spaces = tensorflow_names()
    lines = [
        "# What exists: the public API of tensorflowish",
        "",
        "Generated from the op registry by `python docs/api_page.py --write`; "
        "`tests/test_api_page.py` fails when this page is stale. Edit the ops, not this page.",
        "",
        "- **Ops** lists every registered op under all its public names (an op with none is "
        "internal: a class or a layer calls it). *Gradient*: `yes (n "
        "checked)` means its VJP is compared with central finite differences in float64 on n "
        "sample inputs (`tests/test_gradients.py`); `none` means TensorFlow defines no gradient "
        "(integer, boolean or index results). *Backends*: every op is written once against the "
        "array module, so it runs on NumPy (CPU) and CuPy (GPU); an op that falls back says so.",
        "- **Other names** lists what exists that is not a registry op (classes, helpers, "
        "`tf.nest`, `tf.debugging`, ...).",
        f"- **Not here yet** lists the public names of {version} that do not exist in "
        "tensorflowish: calling one is an AttributeError today.",
        "",
        "## Ops",
        "",
        "| op | public names | gradient | backends | what it does |",
        "|---|---|---|---|---|",
    ]
    for key in sorted(REGISTRY):
        info = REGISTRY[key]
        public = [n for n in info.names if _resolve(tf, n) is not None]
        names = ", ".join(f"`{_public(n)}`" for n in public) or \
            "internal (reached through a class or a layer)"
        lines.append(f"| {key} | {names} | {_gradient(info)} | {info.backends} | "
                     f"{_summary(info.function)} |")
    registered = {name for info in REGISTRY.values() for name in info.names}
    lines += ["", "## Other names", "",
              "TensorFlow's public names that exist here but are not registry ops.", ""]
    for space in NAMESPACES:
        module = _resolve(tf, space)
        if module is None:
            continue
        present = [n for n in tf_spaces.get(space, []) if hasattr(module, n) and
                   (f"{space}.{n}" if space else n) not in registered]
        if present:
            title = f"tf.{space}" if space else "tf"
            lines.append(f"- **{title}** ({len(present)}): " +
                         ", ".join(f"`{n}`" for n in present))
    lines += ["", "## Not here yet", "",
              f"Public names of {version} that tensorflowish does not have.", "",
              "| namespace | present | missing names |", "|---|---|---|"]
    for space in NAMESPACES:
        names = tf_spaces.get(space, [])
        module = _resolve(tf, space)
        missing = [n for n in names if module is None or not hasattr(module, n)]
        title = f"tf.{space}" if space else "tf"
        if not missing:
            lines.append(f"| {title} | {len(names)}/{len(names)} | (none) |")
            continue
        shown = ", ".join(f"`{n}`" for n in missing) if module is not None else \
            f"the whole namespace ({len(missing)} names)"
        lines.append(f"| {title} | {len(names) - len(missing)}/{len(names)} | {shown} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite docs/api.md")
    group.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is stale")
    group.add_argument("--collect-tensorflow-names", action="store_true",
                       help="rewrite docs/tensorflow-public-names.txt (needs tensorflow)")
    arguments = parser.parse_args(argv)
    if arguments.collect_tensorflow_names:
        NAMES.write_text(collect_tensorflow_names())
        return 0
    page = render()
    if arguments.check:
        current = PAGE.read_text() if PAGE.exists() else ""
        if current != page:
            print("docs/api.md is stale: run python docs/api_page.py --write", file=sys.stderr)
            return 1
        return 0
    temporary = PAGE.with_suffix(".md.tmp")
    temporary.write_text(page)
    temporary.replace(PAGE)  # atomic
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(DOCS.parent))
    importlib.invalidate_caches()
    sys.exit(main())
