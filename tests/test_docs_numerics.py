"""docs/numerics.md: every example runs and prints what the page says."""

from __future__ import annotations

import doctest
import pathlib

import pytest

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "numerics.md"


def test_numerics_guide_examples():
    pytest.importorskip("ml_dtypes")
    result = doctest.testfile(str(PAGE), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 20
    assert result.failed == 0
