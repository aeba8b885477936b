"""docs/tensor-api.md: every example runs and prints what the page says."""

from __future__ import annotations

import doctest
import pathlib

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "tensor-api.md"


def test_tensor_api_guide_examples():
    result = doctest.testfile(str(PAGE), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 20
    assert result.failed == 0
