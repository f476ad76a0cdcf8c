"""Read the input JSONL file one line at a time.

Each physical line of the input is one request and keeps its 0-based line
number, blank and broken lines included, so every output record can name its
input line. The file is never loaded whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Size of the blocks `count_input_lines` reads, in bytes.
_COUNT_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class InputLine:
    """One input line, parsed.

    Attributes:
        line: the 0-based line number in the input file.
        body: the request body without `metadata`, or None when the line is unusable.
        metadata: the line's `metadata` value, carried to the output unchanged.
        problem: why the line cannot be sent (None when it can).
    """

    line: int
    body: dict[str, Any] | None
    metadata: Any = None
    problem: str | None = None


def iter_input(path: str | Path, skip: Callable[[int], bool] = lambda line: False) -> Iterator[InputLine]:
    """Yield the lines of `path` in order, except those for which `skip(line)` is true.

    Skipped lines are not parsed, so resuming a long file costs little.
    The file handle stays open only while the iterator is consumed.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle):
            if skip(number):
                continue
            yield parse_input_line(number, raw)


def parse_input_line(number: int, raw: bytes) -> InputLine:
    """Parse one raw line into a request body and its metadata."""
    if not raw.strip():
        return InputLine(number, None, problem="the line is empty; expected one JSON object per line")

    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return InputLine(number, None, problem=f"the line is not valid JSON: {error}")
    if not isinstance(value, dict):
        return InputLine(number, None, problem=f"the line is JSON but not an object (got {type(value).__name__})")

    metadata = value.pop("metadata", None)
    return InputLine(number, value, metadata)


def count_input_lines(path: str | Path) -> int:
    """Count the lines of `path`, reading it in blocks with constant memory.

    A last line without a trailing newline counts as a line.
    """
    count = 0
    last_byte = b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(_COUNT_BLOCK_BYTES):
            count += block.count(b"\n")
            last_byte = block[-1:]
    return count if last_byte == b"\n" else count + 1
