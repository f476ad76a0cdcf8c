"""Build the lesson notebooks from their sources, execute them headless, and check them.

Usage::

    python tools/run_notebooks.py [--write] [--timeout 60] PATH...
    python tools/run_notebooks.py --check PATH...

A PATH is a jupytext percent-format source, `notebooks/src/NN_name.py`, or a
built notebook, `notebooks/NN_name.ipynb`, whose source is then
`notebooks/src/NN_name.py`.

Each notebook is converted with jupytext, validated with nbformat and executed
with nbclient in a fresh `python3` kernel whose working directory is
`notebooks/`. The kernel's environment has no `OPENAI_*` variables and no
`RATELIMIT_TOOLKIT_REAL_API`, so lessons always use the mock server, and
`input()` raises instead of waiting. After the last cell the runner reads
`ratelimit_toolkit.mock.process_totals()` in the same kernel. That query is
not saved in the notebook. One line per notebook reports the seconds taken, the
requests sent to mock servers and the 429s they answered.

`--write` saves the executed notebook as `notebooks/NN_name.ipynb`, only when
every cell succeeded. Without it the committed file is left alone. `--check`
executes nothing: it verifies that each committed notebook has the cells of its
source and execution counts 1 to n. The exit status is 1 when any notebook
failed or drifted, and 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from ratelimit_toolkit import messages

logger = logging.getLogger("run_notebooks")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
SOURCE_DIR_NAME = "src"

KERNEL_NAME = "python3"
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
DEFAULT_CELL_TIMEOUT_SECONDS = 60.0

#: Seconds the totals query may take after the last cell.
TOTALS_TIMEOUT_SECONDS = 10.0

#: Variables removed from the kernel's environment. Every `OPENAI_*` variable
#: goes too, so no key or real endpoint can reach a lesson.
REMOVED_VARIABLES = ("RATELIMIT_TOOLKIT_REAL_API", "OPENAI_API_KEY", "MPLBACKEND")

# Run in the kernel after the last cell. It prints one JSON line, and `null`
# when the package or its mock server cannot be imported.
TOTALS_QUERY = """\
import json as _totals_json
try:
    from ratelimit_toolkit.mock import process_totals as _process_totals
except ImportError:
    print(_totals_json.dumps(None))
else:
    print(_totals_json.dumps(_process_totals()))
"""

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

messages.register(
    {
        "notebooks.ok": {
            "en": "{name}: {seconds:.1f} s, {requests} requests sent, {refused} 429s seen",
            "ko": "{name}: {seconds:.1f}초, 요청 {requests}건 전송, 429 응답 {refused}건",
        },
        "notebooks.failed": {
            "en": "{name}: FAILED after {seconds:.1f} s, {kind} in cell {cell} of {cells}",
            "ko": "{name}: {seconds:.1f}초 뒤 실패, 셀 {cell}/{cells}에서 {kind}",
        },
        "notebooks.kind.error": {"en": "error", "ko": "오류"},
        "notebooks.kind.timeout": {"en": "timeout", "ko": "시간 초과"},
        "notebooks.kind.dead_kernel": {"en": "kernel died", "ko": "커널 종료"},
        "notebooks.cell_source": {"en": "--- source of cell {cell} ---", "ko": "--- 셀 {cell}의 소스 ---"},
        "notebooks.cell_error": {"en": "--- error ---", "ko": "--- 오류 ---"},
        "notebooks.unknown": {"en": "unknown", "ko": "알 수 없음"},
        "notebooks.wrote": {"en": "  wrote {path}", "ko": "  {path} 저장"},
        "notebooks.check_ok": {"en": "{name}: matches its source, execution counts 1..{count}", "ko": "{name}: 소스와 일치, 실행 번호 1..{count}"},
        "notebooks.check_failed": {"en": "{name}: {problem}", "ko": "{name}: {problem}"},
        "notebooks.bad_path": {"en": "{path}: {problem}", "ko": "{path}: {problem}"},
    }
)

FailureKind = Literal["error", "timeout", "dead_kernel"]


class NotebookPathError(ValueError):
    """A PATH that is not a notebook source or built notebook, or has no source."""


@dataclass(frozen=True)
class CellFailure:
    """The cell that stopped a run.

    Attributes:
        cell_number: 1-based position among all cells, markdown included.
        cell_count: number of cells in the notebook.
        source: the cell's source.
        kind: `error`, `timeout` or `dead_kernel`.
        error: the exception name and value, or the timeout message.
        traceback: the kernel's traceback without terminal colours; empty for timeouts.
    """

    cell_number: int
    cell_count: int
    source: str
    kind: FailureKind
    error: str
    traceback: str = ""


@dataclass
class RunResult:
    """The outcome of executing one notebook.

    Attributes:
        name: the notebook's name without extension, such as `01_rate_limits_and_429`.
        seconds: wall-clock seconds from kernel start to shutdown.
        requests: requests the kernel's mock servers received, or None when unknown.
        refused_429: 429 responses the kernel's mock servers sent, or None when unknown.
        failure: the failing cell, or None when every cell succeeded.
        notebook: the executed notebook, outputs included.
        written: where `--write` saved the notebook, if it did.
    """

    name: str
    seconds: float
    requests: int | None
    refused_429: int | None
    failure: CellFailure | None
    notebook: NotebookNode
    written: Path | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.failure is None


def resolve_source(path: Path) -> Path:
    """Return the jupytext source for a source or built-notebook PATH.

    Raises:
        NotebookPathError: the suffix is neither `.py` nor `.ipynb`, or the source does not exist.
    """
    if path.suffix == ".py":
        source = path
    elif path.suffix == ".ipynb":
        source = path.parent / SOURCE_DIR_NAME / f"{path.stem}.py"
    else:
        raise NotebookPathError(f"{path}: expected notebooks/src/NN_name.py or notebooks/NN_name.ipynb")
    if not source.is_file():
        raise NotebookPathError(f"{path}: source {source} not found")
    return source


def built_path(source: Path) -> Path:
    """Return where the built notebook of `source` lives: `notebooks/src/X.py` -> `notebooks/X.ipynb`."""
    return source.parent.parent / f"{source.stem}.ipynb"


def build_notebook(source: Path) -> NotebookNode:
    """Convert a percent-format source to a validated notebook with the `python3` kernel.

    Cell ids are numbered from the cell position, so rebuilding an unchanged
    source gives the same file.

    Raises:
        nbformat.ValidationError: the converted notebook is not valid nbformat 4.
    """
    notebook = jupytext.read(source, fmt="py:percent")
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:03d}"
    nbformat.validate(notebook)
    return notebook


def kernel_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Copy the environment without API keys, real-API switches or a matplotlib backend."""
    source = os.environ if environ is None else environ
    environment = {
        name: value
        for name, value in source.items()
        if name not in REMOVED_VARIABLES and not name.startswith("OPENAI_")
    }
    # The debugger in ipykernel warns about frozen modules on every start otherwise.
    environment["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return environment


def execute_notebook(
    notebook: NotebookNode,
    *,
    name: str,
    cwd: Path,
    timeout_seconds: float = DEFAULT_CELL_TIMEOUT_SECONDS,
) -> RunResult:
    """Execute every cell in a fresh kernel, stopping at the first failing cell.

    `notebook` is changed in place: outputs and execution counts are filled in.
    """
    client = NotebookClient(
        notebook,
        timeout=timeout_seconds,
        kernel_name=KERNEL_NAME,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    return asyncio.run(_execute(client, notebook, name, cwd))


async def _execute(client: NotebookClient, notebook: NotebookNode, name: str, cwd: Path) -> RunResult:
    started = time.monotonic()
    failure: CellFailure | None = None
    totals: dict[str, int] | None = None
    client.reset_execution_trackers()

    # The kernel's own stderr (start-up notices, crashes) goes to a file that
    # is shown only when the kernel dies; cell output arrives over ZeroMQ.
    with tempfile.TemporaryFile() as kernel_stderr:
        async with client.async_setup_kernel(env=kernel_environment(), cwd=str(cwd), stdin=subprocess.DEVNULL, stderr=kernel_stderr):
            await _store_language_info(client, notebook)
            failure = await _execute_cells(client, notebook)
            if failure is None or failure.kind == "error":
                totals = await _read_totals(client)
        if failure is not None and failure.kind == "dead_kernel":
            failure = dataclasses.replace(failure, traceback=_tail(kernel_stderr))

    seconds = time.monotonic() - started
    requests = totals["requests"] if totals else None
    refused = totals["refused_429"] if totals else None
    return RunResult(name, seconds, requests, refused, failure, notebook)


def _kernel_client(client: NotebookClient) -> Any:
    if client.kc is None:
        raise RuntimeError("the notebook client has no kernel client; use it inside async_setup_kernel()")
    return client.kc


async def _store_language_info(client: NotebookClient, notebook: NotebookNode) -> None:
    reply = await client.async_wait_for_reply(await _maybe_await(_kernel_client(client).kernel_info()))
    if reply is not None and "language_info" in reply["content"]:
        notebook.metadata["language_info"] = reply["content"]["language_info"]


async def _execute_cells(client: NotebookClient, notebook: NotebookNode) -> CellFailure | None:
    cell_count = len(notebook.cells)
    for index, cell in enumerate(notebook.cells):
        try:
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        except CellExecutionError as error:
            traceback = _error_traceback(cell) or error.traceback
            return CellFailure(index + 1, cell_count, cell.source, "error", f"{error.ename}: {error.evalue}", _ANSI_ESCAPE.sub("", traceback))
        except CellTimeoutError as error:
            return CellFailure(index + 1, cell_count, cell.source, "timeout", _first_line(str(error)))
        except DeadKernelError as error:
            return CellFailure(index + 1, cell_count, cell.source, "dead_kernel", str(error))
    return None


def _error_traceback(cell: NotebookNode) -> str:
    """Return the traceback of the cell's error output, or "" when it has none."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return "\n".join(output.get("traceback", []))
    return ""


def _tail(stream: IO[bytes], max_lines: int = 30) -> str:
    stream.seek(0)
    lines = stream.read().decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-max_lines:])


async def _read_totals(client: NotebookClient) -> dict[str, int] | None:
    """Run `TOTALS_QUERY` in the notebook's kernel without storing it in history."""
    kernel = _kernel_client(client)
    printed: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    try:
        await _maybe_await(
            kernel.execute_interactive(
                TOTALS_QUERY, store_history=False, output_hook=collect, timeout=TOTALS_TIMEOUT_SECONDS
            )
        )
    except TimeoutError:
        logger.warning("reading the mock server totals timed out after %ss", TOTALS_TIMEOUT_SECONDS)
        return None
    return _parse_totals("".join(printed))


def _parse_totals(text: str) -> dict[str, int] | None:
    lines = text.strip().splitlines()
    if not lines:
        return None
    try:
        totals = json.loads(lines[-1])
    except json.JSONDecodeError:
        logger.warning("unexpected totals output: %r", text)
        return None
    return totals if isinstance(totals, dict) else None


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def run_notebook(
    path: Path,
    *,
    write: bool = False,
    output: Path | None = None,
    timeout_seconds: float = DEFAULT_CELL_TIMEOUT_SECONDS,
) -> RunResult:
    """Build and execute the notebook for `path`, and save it when asked.

    Args:
        path: a source (`notebooks/src/X.py`) or built notebook (`notebooks/X.ipynb`).
        write: save the executed notebook next to the sources' folder, as
            `notebooks/X.ipynb`, when every cell succeeded.
        output: save the executed notebook here instead, regardless of
            `write`, when every cell succeeded. Tests use it to leave the committed file alone.
        timeout_seconds: per-cell timeout.

    Raises:
        NotebookPathError: `path` is not a notebook or has no source.
    """
    source = resolve_source(path)
    notebook = build_notebook(source)
    result = execute_notebook(notebook, name=source.stem, cwd=source.parent.parent, timeout_seconds=timeout_seconds)

    destination = output or (built_path(source) if write else None)
    if result.ok and destination is not None:
        nbformat.validate(result.notebook)
        nbformat.write(result.notebook, destination)
        result.written = destination
    return result


def check_notebook(path: Path) -> list[str]:
    """List how the committed notebook for `path` differs from a clean build of its source.

    Checks that the built notebook exists and is valid, that its cells have the
    source's types and text in order, and that its code cells ran in order from
    a clean kernel (execution counts 1 to n). An empty list means it is in step.

    Raises:
        NotebookPathError: `path` is not a notebook or has no source.
    """
    source = resolve_source(path)
    committed_path = built_path(source)
    if not committed_path.is_file():
        return [f"{committed_path} not found; build it with --write"]

    committed = nbformat.read(committed_path, as_version=4)
    problems = _validation_problems(committed)
    expected = [(cell.cell_type, cell.source) for cell in build_notebook(source).cells]
    actual = [(cell.cell_type, cell.source) for cell in committed.cells]
    if actual != expected:
        problems.append(_describe_drift(expected, actual))
    problems += execution_count_problems(committed)
    return problems


def _validation_problems(notebook: NotebookNode) -> list[str]:
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        return [f"invalid notebook: {error.message}"]
    return []


def _describe_drift(expected: Sequence[tuple[str, str]], actual: Sequence[tuple[str, str]]) -> str:
    for index, (want, have) in enumerate(zip(expected, actual)):
        if want != have:
            return f"cell {index + 1} differs from the source; rebuild with --write"
    return f"has {len(actual)} cells but the source has {len(expected)}; rebuild with --write"


def execution_count_problems(notebook: NotebookNode) -> list[str]:
    """List problems with the code cells' execution counts, which must be 1, 2, ..., n."""
    counts = [cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code"]
    expected = list(range(1, len(counts) + 1))
    if counts == expected:
        return []
    return [f"execution counts are {counts}, expected {expected}; rerun with --write from a clean kernel"]


def format_result(result: RunResult, lang: str | None = None) -> str:
    """Describe a run in one line, or, for a failure, the line plus the cell's source and error."""
    unknown = messages.t("notebooks.unknown", lang)
    requests = unknown if result.requests is None else result.requests
    refused = unknown if result.refused_429 is None else result.refused_429
    failure = result.failure
    if failure is None:
        return messages.t("notebooks.ok", lang, name=result.name, seconds=result.seconds, requests=requests, refused=refused)

    kind = messages.t(f"notebooks.kind.{failure.kind}", lang)
    lines = [
        messages.t("notebooks.failed", lang, name=result.name, seconds=result.seconds, kind=kind, cell=failure.cell_number, cells=failure.cell_count),
        messages.t("notebooks.cell_source", lang, cell=failure.cell_number),
        failure.source,
        messages.t("notebooks.cell_error", lang),
        failure.error,
    ]
    if failure.traceback:
        lines.append(failure.traceback)
    return "\n".join(lines)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Build, execute and check the lesson notebooks.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebooks/src/NN_name.py or notebooks/NN_name.ipynb")
    parser.add_argument("--write", action="store_true", help="save each executed notebook as notebooks/NN_name.ipynb when it succeeds")
    parser.add_argument("--timeout", type=float, default=DEFAULT_CELL_TIMEOUT_SECONDS, help="per-cell timeout in seconds (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="execute nothing; check that committed notebooks match their sources and ran in order")
    arguments = parser.parse_args(argv)
    if arguments.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {arguments.timeout}")
    if arguments.check and arguments.write:
        parser.error("--check and --write cannot be combined")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    failed = False
    for path in arguments.paths:
        try:
            failed |= _check_one(path) if arguments.check else _run_one(path, arguments)
        except NotebookPathError as error:
            print(messages.t("notebooks.bad_path", path=path, problem=error), file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _run_one(path: Path, arguments: argparse.Namespace) -> bool:
    """Run one notebook and print its report. Return True when it failed."""
    result = run_notebook(path, write=arguments.write, timeout_seconds=arguments.timeout)
    print(format_result(result), file=sys.stdout if result.ok else sys.stderr, flush=True)
    if result.written is not None:
        print(messages.t("notebooks.wrote", path=_relative(result.written)), flush=True)
    return not result.ok


def _check_one(path: Path) -> bool:
    """Check one committed notebook and print the outcome. Return True when it drifted."""
    source = resolve_source(path)
    problems = check_notebook(path)
    for problem in problems:
        print(messages.t("notebooks.check_failed", name=source.stem, problem=problem), file=sys.stderr)
    if not problems:
        code_cells = sum(1 for cell in build_notebook(source).cells if cell.cell_type == "code")
        print(messages.t("notebooks.check_ok", name=source.stem, count=code_cells))
    return bool(problems)


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


if __name__ == "__main__":
    sys.exit(main())
