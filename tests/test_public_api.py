"""The names `ratelimit_toolkit` re-exports exist and stay listed in `__all__`."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ratelimit_toolkit


def test_all_is_sorted() -> None:
    assert ratelimit_toolkit.__all__ == sorted(ratelimit_toolkit.__all__)


@pytest.mark.parametrize("name", ratelimit_toolkit.__all__)
def test_exported_name_resolves(name: str) -> None:
    assert getattr(ratelimit_toolkit, name) is not None


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        ratelimit_toolkit.no_such_name  # noqa: B018


def test_import_skips_heavy_modules() -> None:
    code = "import sys, ratelimit_toolkit; print(sorted(m for m in ('matplotlib', 'redis', 'tiktoken') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
