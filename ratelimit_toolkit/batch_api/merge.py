"""Join a finished batch's output and error files back into the processor's output records.

Every line the batch ran gets the record `process` would write for it:
a `response` for a 2xx answer, an `error` (kind, status, code, message and a
one-attempt history) for any other status. The line number and `metadata` come
from the input file, matched by `custom_id`. Lines the batch never ran
(`batch_expired`, `batch_cancelled`, or missing from both files) get no
record, so a rerun submits them again.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ratelimit_toolkit.batch_api.convert import custom_id_for
from ratelimit_toolkit.batch_api.state import Part
from ratelimit_toolkit.errors import classify_response
from ratelimit_toolkit.processor.inputs import InputLine, iter_input
from ratelimit_toolkit.processor.records import ResultWriter, error_record, success_record
from ratelimit_toolkit.processor.resume import LineSet

logger = logging.getLogger(__name__)

#: Error codes of requests a batch never ran; their lines stay unanswered.
NOT_RUN_CODES = frozenset({"batch_expired", "batch_cancelled"})

#: Record kind for an input line a failed batch named in its validation errors.
VALIDATION_KIND = "batch_failed"

#: Record kinds for per-request `error` codes other than those not run.
_ERROR_KINDS = {"request_timeout": "timeout"}


@dataclass
class MergeCounts:
    """Counts of the records that merging wrote, and of the lines it left unanswered.

    Attributes:
        succeeded: lines recorded with a response.
        failed: lines recorded with an error, by error kind.
        not_run: lines left unanswered, by reason (`batch_expired`, `batch_cancelled`, `missing`).
        prompt_tokens: `usage.prompt_tokens` summed over the responses.
        completion_tokens: `usage.completion_tokens` summed over the responses.
    """

    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    not_run: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: MergeCounts) -> None:
        self.succeeded += other.succeeded
        self.failed.update(other.failed)
        self.not_run.update(other.not_run)
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


def load_results(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """Read output and error files into one map from `custom_id` to its result line.

    The whole part's results are held in memory, at most one part (50,000 requests by default) at a time.
    """
    results: dict[str, dict[str, Any]] = {}
    for path in paths:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                entry = _parse_result(raw)
                if entry is None:
                    logger.warning("skipped line %d of %s: not a batch result line", number, path.name)
                    continue
                results[entry["custom_id"]] = entry
    return results


def merge_part(input_path: Path, part: Part, results: dict[str, dict[str, Any]], writer: ResultWriter,
               answered: LineSet, custom_id_field: str | None) -> MergeCounts:
    """Append a record for every line of `part` that has a result and no record yet."""
    counts = MergeCounts()
    for item in iter_input(input_path, skip=lambda line: line in answered or not part.holds(line)):
        entry = results.get(custom_id_for(item, custom_id_field))
        if entry is None:
            counts.not_run["missing"] += 1
            continue
        record = record_for(item, entry, counts)
        if record is not None:
            writer.write(record)
            answered.add(item.line)
    if counts.not_run["missing"]:
        logger.warning("part %d: %d lines have no result in the batch's output or error file; they stay unanswered",
                       part.index, counts.not_run["missing"])
    return counts


def record_for(item: InputLine, entry: dict[str, Any], counts: MergeCounts) -> dict[str, Any] | None:
    """Build the processor record of one result line, or None when the request never ran."""
    response = entry.get("response")
    if isinstance(response, dict):
        return _response_record(item, response, counts)

    error = entry.get("error") if isinstance(entry.get("error"), dict) else {}
    code = error.get("code")
    if code in NOT_RUN_CODES:
        counts.not_run[code] += 1
        return None
    kind = _ERROR_KINDS.get(code, "other")
    message = str(error.get("message") or "the batch reported an error without a message")
    counts.failed[kind] += 1
    summary = {"status": None, "kind": kind, "code": code, "message": message[:200]}
    return error_record(item.line, item.metadata, 1, kind=kind, code=code, message=message, history=[summary])


def merge_validation_errors(input_path: Path, part: Part, errors: list[dict[str, Any]], writer: ResultWriter,
                            answered: LineSet) -> MergeCounts:
    """Record the input lines a failed batch's validation errors name; the part's other lines stay unanswered."""
    by_line: dict[int, dict[str, Any]] = {}
    for error in errors:
        position = error.get("line")
        input_line = part.input_line_at(position) if isinstance(position, int) and position >= 1 else None
        if input_line is not None:
            by_line.setdefault(input_line, error)

    counts = MergeCounts()
    for item in iter_input(input_path, skip=lambda line: line in answered or line not in by_line):
        error = by_line[item.line]
        message = str(error.get("message") or "the batch failed validation on this line")
        writer.write(error_record(item.line, item.metadata, 0, kind=VALIDATION_KIND, code=error.get("code"),
                                  message=message))
        answered.add(item.line)
        counts.failed[VALIDATION_KIND] += 1
    return counts


def _response_record(item: InputLine, response: dict[str, Any], counts: MergeCounts) -> dict[str, Any]:
    status = response.get("status_code")
    body = response.get("body")
    if isinstance(status, int) and 200 <= status < 300:
        counts.succeeded += 1
        usage = body.get("usage") if isinstance(body, dict) else None
        if isinstance(usage, dict):
            counts.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            counts.completion_tokens += int(usage.get("completion_tokens") or 0)
        return success_record(item.line, item.metadata, 1, body)

    failure = classify_response(status if isinstance(status, int) else 0, None, body)
    counts.failed[failure.kind] += 1
    return error_record(item.line, item.metadata, 1, kind=failure.kind, status=failure.status, code=failure.code,
                        message=failure.message, history=[failure.summary()])


def _parse_result(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        entry = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("custom_id"), str):
        return None
    return entry
