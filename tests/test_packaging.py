"""The set-up files agree: pyproject.toml, environment.yml and the public surface."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements.update(extra)
    return {re.sub(r"\s+", "", item) for item in requirements}


def _environment_requirements() -> set[str]:
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    pip_section = text.split("- pip:", 1)[1]
    items = re.findall(r"^\s+- (\S+)\s*$", pip_section, flags=re.MULTILINE)
    return {item for item in items if item not in ("-e", ".")}


def test_environment_matches_pyproject() -> None:
    assert _environment_requirements() == _pyproject_requirements()


def test_environment_python_floor_matches() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floor = project["requires-python"].removeprefix(">=")
    assert f"python>={floor}" in (ROOT / "environment.yml").read_text(encoding="utf-8")


def test_package_never_mentions_openai_error() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("ratelimit_toolkit", "notebooks", "benchmarks", "tools")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".ipynb") and "openai.error" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
