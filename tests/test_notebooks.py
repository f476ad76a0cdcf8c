"""The lesson notebooks run headless, match their sources and leak nothing; the runner reports failures."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS_DIR / "src").glob("*.py"))

#: A real-looking OpenAI key. The mock placeholders (`sk-mock-lesson`) are too short to match.
API_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_-]{20,}")
MISSING_GLYPH_PATTERN = re.compile(r"missing from (current )?font|Glyph \d+ .*missing")


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def _committed(source: Path) -> Path:
    committed = runner.built_path(source)
    if not committed.is_file():
        pytest.fail(f"{committed.name} is not committed; build it with tools/run_notebooks.py --write {source}")
    return committed


def _output_texts(notebook_path: Path) -> list[str]:
    """Every text output of every cell: streams, errors and text/* display data."""
    notebook = nbformat.read(notebook_path, as_version=4)
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append("\n".join(output.get("traceback", [])))
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/"):
                    texts.append(value if isinstance(value, str) else "".join(value))
    return texts


def _write_source(folder: Path, name: str, cells: list[str]) -> Path:
    source = folder / "notebooks" / "src" / f"{name}.py"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("\n\n".join(f"# %%\n{cell}" for cell in cells) + "\n", encoding="utf-8")
    return source


@pytest.mark.notebook
@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_notebook_runs_clean(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("RATELIMIT_TOOLKIT_REAL_API", raising=False)
    committed = runner.built_path(source)
    before = committed.read_bytes() if committed.is_file() else None

    result = runner.run_notebook(source, output=tmp_path / f"{source.stem}.ipynb")

    assert result.ok, runner.format_result(result)
    assert runner.execution_count_problems(result.notebook) == []
    assert (committed.read_bytes() if committed.is_file() else None) == before


@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_committed_matches_source(source: Path) -> None:
    _committed(source)

    assert runner.check_notebook(source) == []


@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_committed_is_valid(source: Path) -> None:
    notebook = nbformat.read(_committed(source), as_version=4)

    nbformat.validate(notebook)


@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_outputs_hold_no_api_key(source: Path) -> None:
    text = _committed(source).read_text(encoding="utf-8")
    current_key = os.environ.get("OPENAI_API_KEY")

    assert API_KEY_PATTERN.findall(text) == []
    if current_key:
        assert current_key not in text


@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_outputs_have_no_missing_glyphs(source: Path) -> None:
    texts = _output_texts(_committed(source))

    assert [text for text in texts if MISSING_GLYPH_PATTERN.search(text)] == []


def test_notebooks_never_mention_openai_error() -> None:
    files = [*SOURCES, *sorted(NOTEBOOKS_DIR.glob("*.ipynb"))]

    offenders = [path.name for path in files if "openai.error" in path.read_text(encoding="utf-8")]

    assert offenders == []


def test_key_pattern_matches_real_looking_key() -> None:
    assert API_KEY_PATTERN.search("sk-proj-" + "a1B2" * 10)
    assert API_KEY_PATTERN.search("sk-mock-lesson") is None


def test_glyph_pattern_matches_matplotlib_warning() -> None:
    assert MISSING_GLYPH_PATTERN.search("Glyph 44032 (\\N{HANGUL SYLLABLE GA}) missing from font(s) DejaVu Sans.")
    assert MISSING_GLYPH_PATTERN.search("Glyph 8722 missing from current font.")


def test_resolve_source_from_notebook(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "01_demo", ["1"])

    assert runner.resolve_source(tmp_path / "notebooks" / "01_demo.ipynb") == source


def test_resolve_source_missing(tmp_path: Path) -> None:
    with pytest.raises(runner.NotebookPathError, match="not found"):
        runner.resolve_source(tmp_path / "notebooks" / "02_absent.ipynb")


def test_resolve_source_rejects_suffix(tmp_path: Path) -> None:
    with pytest.raises(runner.NotebookPathError, match="expected"):
        runner.resolve_source(tmp_path / "notes.txt")


def test_build_sets_kernel_and_ids(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "01_demo", ["x = 1", "x"])

    notebook = runner.build_notebook(source)

    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert [cell["id"] for cell in notebook.cells] == ["cell-000", "cell-001"]
    assert "jupytext" not in notebook.metadata


def test_kernel_environment_drops_keys() -> None:
    environment = runner.kernel_environment(
        {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "https://example.invalid", "RATELIMIT_TOOLKIT_REAL_API": "1", "PATH": "/bin"}
    )

    assert sorted(environment) == ["PATH", "PYDEVD_DISABLE_FILE_VALIDATION"]


def test_check_finds_drift(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "01_demo", ["x = 1", "x"])
    notebook = runner.build_notebook(source)
    notebook.cells[1].source = "x + 1"
    notebook.cells[0].execution_count = 1
    notebook.cells[1].execution_count = 2
    nbformat.write(notebook, runner.built_path(source))

    problems = runner.check_notebook(source)

    assert len(problems) == 1
    assert "cell 2 differs" in problems[0]


def test_check_finds_bad_counts(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "01_demo", ["x = 1", "x"])
    notebook = runner.build_notebook(source)
    notebook.cells[0].execution_count = 1
    notebook.cells[1].execution_count = 3
    nbformat.write(notebook, runner.built_path(source))

    problems = runner.check_notebook(source)

    assert len(problems) == 1
    assert "[1, 3]" in problems[0]


def test_check_reports_missing_build(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "01_demo", ["x = 1"])

    assert "not found" in runner.check_notebook(source)[0]


def test_runner_writes_clean_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-reaches-the-kernel-0123456789")
    source = _write_source(
        tmp_path,
        "01_demo",
        [
            "import os\nprint('key' if 'OPENAI_API_KEY' in os.environ else 'no key')",
            "try:\n    input('?')\nexcept Exception as error:\n    print(type(error).__name__)",
            "print(os.getcwd())",
        ],
    )

    result = runner.run_notebook(source, write=True)
    outputs = [cell.outputs[0]["text"].strip() for cell in result.notebook.cells]

    assert result.ok, runner.format_result(result)
    assert result.written == runner.built_path(source)
    assert runner.check_notebook(source) == []
    assert outputs == ["no key", "StdinNotImplementedError", str(tmp_path / "notebooks")]
    assert result.requests == 0


def test_runner_reports_cell_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _write_source(tmp_path, "01_broken", ["x = 1", "raise ValueError('broken on purpose')", "print('never')"])
    ok_source = _write_source(tmp_path, "02_absent_build", ["1"])
    ok_source.unlink()

    status = runner.main([str(source), str(ok_source)])
    report = capsys.readouterr().err

    assert status == 1
    assert "01_broken" in report
    assert "cell 2 of 3" in report
    assert "raise ValueError('broken on purpose')" in report
    assert "ValueError: broken on purpose" in report
    assert "02_absent_build" in report
    assert not runner.built_path(source).exists()


def test_runner_reports_cell_timeout(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "01_slow", ["import time", "time.sleep(30)"])

    result = runner.run_notebook(source, timeout_seconds=2)
    report = runner.format_result(result, lang="en")

    assert result.failure is not None
    assert result.failure.kind == "timeout"
    assert "timeout in cell 2 of 2" in report
    assert "time.sleep(30)" in report
    assert result.seconds < 25


def test_totals_parse_last_json_line() -> None:
    assert runner._parse_totals('noise\n{"requests": 3, "refused_429": 1}\n') == {"requests": 3, "refused_429": 1}


def test_totals_parse_null() -> None:
    assert runner._parse_totals(json.dumps(None)) is None
