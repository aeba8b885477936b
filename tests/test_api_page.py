"""docs/api.md tells the truth: it is regenerated from the registry, and the registry's names
are what users get."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import tensorflowish as tf
from tensorflowish.ops import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("api_page", ROOT / "docs" / "api_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_page_is_current():
    page = (ROOT / "docs" / "api.md").read_text()
    assert page == _generator().render(), \
        "docs/api.md is stale: run `python docs/api_page.py --write` and commit it"


def test_every_registered_name_reaches_its_op():
    """In the namespaces generated from the registry (tf, tf.math, ...), each public name is the
    registered function itself: no two ops fight over a name."""
    for key, info in REGISTRY.items():
        for path in info.names:
            space = path.rpartition(".")[0]
            if space and space not in tf._namespaces and space != "Tensor":
                continue  # e.g. keras.activations wraps the op in Keras's signature
            target = tf
            for part in path.split("."):
                target = getattr(target, part)
            assert target is info.function, \
                f"tf.{path} is not the op registered as {key!r} (two ops claim the name?)"


def test_no_public_name_is_claimed_twice():
    owners = {}
    for key, info in REGISTRY.items():
        for path in info.names:
            assert path not in owners, f"tf.{path} is registered by {owners[path]!r} and {key!r}"
            owners[path] = key


def test_missing_names_really_are_missing():
    generator = _generator()
    _, spaces = generator.tensorflow_names()
    page = (ROOT / "docs" / "api.md").read_text()
    missing_section = page.split("## Not here yet")[1]
    assert "`einsum`" not in missing_section.split("| tf.linalg |")[1].split("\n")[0]
    assert "`scatter_nd`" not in missing_section.split("| tf |")[1].split("\n")[0]
    assert sum(len(names) for names in spaces.values()) > 1000
