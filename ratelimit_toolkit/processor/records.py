"""Output records: how they look, how they are appended, and how to read them back.

One output line is one JSON object for one input line::

    {"line": 0, "metadata": {"row_id": "a"}, "attempts": 1, "response": {...}}
    {"line": 3, "metadata": null, "attempts": 4,
     "error": {"kind": "server_error", "status": 503, "code": null,
               "message": "...", "history": [{...}, {...}, {...}, {...}]}}

`line` is the 0-based input line number, `metadata` is the input line's
`metadata` value (null when absent), `attempts` counts the HTTP calls made, and
exactly one of `response` (the API's response body) or `error` is present.
`error.history` contains one short summary per attempt. Lines that were never sent
(invalid JSON, a request that can never fit the token limit) have 0 attempts.

Records are appended in the order requests finish; `read_results` returns them
in input order.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ratelimit_toolkit.processor.resume import record_line_number

try:
    import fcntl
except ImportError:  # Windows has no fcntl; the output is then not locked.
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: Placeholder that replaces a secret (the API key) wherever it would appear in a record.
REDACTED = "***"


def success_record(line: int, metadata: Any, attempts: int, response: Any) -> dict[str, Any]:
    """Build the record of a line that got a response."""
    return {"line": line, "metadata": metadata, "attempts": attempts, "response": response}


def error_record(
    line: int,
    metadata: Any,
    attempts: int,
    *,
    kind: str,
    message: str,
    status: int | None = None,
    code: str | None = None,
    history: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Build the record of a line that failed for good.

    Args:
        kind: why it failed: a `recording.OUTCOMES` value for HTTP failures, or
            `invalid_json`, `invalid_request`, `too_large` for lines never sent.
        history: one JSON-safe summary per attempt, oldest first.
    """
    error = {"kind": kind, "status": status, "code": code, "message": message, "history": list(history)}
    return {"line": line, "metadata": metadata, "attempts": attempts, "error": error}


class OutputLockedError(RuntimeError):
    """Another process holds the lock on the output file."""


class ResultWriter:
    """Append records to the output file, one flushed line each.

    Each record is written with a single `write` and flushed at once, so a
    killed process leaves at most one torn last line, which `scan_output`
    removes on the next run. The file is locked (on systems with `fcntl`) so a
    second run cannot write into the same output at the same time.

    NOTE: records are flushed to the operating system, not `fsync`ed, so they
    survive a killed process but not a power cut.
    """

    def __init__(self, path: str | Path, *, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self._secrets = tuple(secret for secret in secrets if secret)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "ab")
        self._lock()

    def write(self, record: dict[str, Any]) -> None:
        """Append `record` as one line and flush it."""
        text = json.dumps(record, ensure_ascii=False)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        self._handle.write(text.encode("utf-8") + b"\n")
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _lock(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            raise OutputLockedError(
                f"output {self.path} is locked by another process that is writing it; "
                "wait for that run to finish or choose another output file"
            ) from None


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Read an output file and return its records in input-line order.

    A torn last line (from a killed run) and lines that are not records are
    skipped with a warning. When a line has more than one record, the first is
    kept. The whole file is loaded; stream it yourself for very large outputs.

    Raises:
        FileNotFoundError: `path` does not exist.
    """
    records: dict[int, dict[str, Any]] = {}
    skipped = 0
    with open(path, "rb") as handle:
        for raw in handle:
            record = _parse_record(raw)
            if record is None:
                skipped += int(bool(raw.strip()))
                continue
            records.setdefault(record["line"], record)

    if skipped:
        logger.warning("skipped %d lines of %s that are not whole records", skipped, os.fspath(path))
    return [records[line] for line in sorted(records)]


def _parse_record(raw: bytes) -> dict[str, Any] | None:
    if not raw.endswith(b"\n") or record_line_number(raw) is None:
        return None
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None
