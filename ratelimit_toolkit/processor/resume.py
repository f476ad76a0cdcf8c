"""Find which input lines already have a record in an existing output file.

The processor appends one complete record per `write` call and flushes it, so
after a crash or `kill -9` every line of the output but possibly the last is
whole. A last line without its newline is torn: `scan_output` cuts it off, and
its input line counts as unanswered, so the next run redoes it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# The writer puts `line` first, so most records can be indexed without parsing
# the whole response body.
_LINE_PREFIX = re.compile(rb'^\{"line": ?(\d+),')


class LineSet:
    """A set of non-negative line numbers stored as a bitmap (one bit per line).

    A million lines take 125 kB, where a Python `set` of ints takes tens of MB.
    """

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, line: int) -> bool:
        """Add `line`; return False when it was already present."""
        if line < 0:
            raise ValueError(f"line numbers are 0-based and non-negative, got {line}")
        index, bit = divmod(line, 8)
        if index >= len(self._bits):
            self._bits.extend(bytes(index + 1 - len(self._bits)))
        if self._bits[index] & (1 << bit):
            return False
        self._bits[index] |= 1 << bit
        self._count += 1
        return True

    def __contains__(self, line: object) -> bool:
        if not isinstance(line, int) or line < 0:
            return False
        index, bit = divmod(line, 8)
        return index < len(self._bits) and bool(self._bits[index] & (1 << bit))

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"LineSet(count={self._count})"


@dataclass
class ResumeIndex:
    """Contents of an existing output file, as far as resuming needs them.

    Attributes:
        answered: input lines that already have a record.
        torn_bytes: bytes of a torn last line that `scan_output` removed.
        unreadable_lines: whole output lines that are not processor records; they
            are left in place and their input lines (if any) are redone.
        duplicate_lines: records for an input line that already had one.
    """

    answered: LineSet = field(default_factory=LineSet)
    torn_bytes: int = 0
    unreadable_lines: int = 0
    duplicate_lines: int = 0


def scan_output(path: str | Path, *, repair: bool = True) -> ResumeIndex:
    """Index the records in `path` and, when `repair` is true, cut off a torn last line.

    A missing file is an empty index. The file is read line by line, so memory
    stays flat however large it is.
    """
    index = ResumeIndex()
    output = Path(path)
    if not output.exists():
        return index

    whole_bytes = 0
    with open(output, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                index.torn_bytes = len(raw)
                break
            whole_bytes += len(raw)
            _index_record(raw, index)

    if index.torn_bytes and repair:
        _truncate(output, whole_bytes, index.torn_bytes)
    _log_findings(output, index)
    return index


def record_line_number(raw: bytes) -> int | None:
    """Read the input line number of one output line, or None if it is not a record."""
    match = _LINE_PREFIX.match(raw)
    if match:
        return int(match.group(1))

    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    line = record.get("line") if isinstance(record, dict) else None
    if isinstance(line, bool) or not isinstance(line, int) or line < 0:
        return None
    if ("response" in record) == ("error" in record):
        return None
    return line


def _index_record(raw: bytes, index: ResumeIndex) -> None:
    line = record_line_number(raw)
    if line is None:
        if raw.strip():
            index.unreadable_lines += 1
        return
    if not index.answered.add(line):
        index.duplicate_lines += 1


def _truncate(path: Path, size_bytes: int, torn_bytes: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size_bytes)
    logger.warning(
        "output %s ended with a torn record (%d bytes, from an interrupted run); removed it, "
        "so its input line is processed again",
        path,
        torn_bytes,
    )


def _log_findings(path: Path, index: ResumeIndex) -> None:
    if index.unreadable_lines:
        logger.warning("output %s has %d lines that are not processor records; they are ignored",
                       path, index.unreadable_lines)
    if index.duplicate_lines:
        logger.warning("output %s has %d duplicate records; readers keep the first record per line",
                       path, index.duplicate_lines)
    if len(index.answered):
        logger.info("output %s already has records for %d input lines; resuming", path, len(index.answered))
