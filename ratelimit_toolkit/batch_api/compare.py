"""Compare two output files line by line: the same lines, metadata and answers, whichever path wrote them.

Ids, timestamps, `attempts` and error messages may differ between a `process`
run and a Batch API run; what must agree is each record's `line`, its
`metadata`, whether it has a `response` or an `error`, and then the answer
texts (chat or completion choices, in `index` order, or embedding vectors)
or the error's `status` and `code`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ratelimit_toolkit.processor.records import read_results


@dataclass(frozen=True)
class Mismatch:
    """One input line whose records disagree, and on what."""

    line: int
    field: str
    first: Any
    second: Any


@dataclass
class Comparison:
    """The result of `compare_results`.

    Attributes:
        compared: lines that have a record in both files.
        equal: compared lines whose records agree.
        only_first: lines with a record only in the first file.
        only_second: lines with a record only in the second file.
        mismatches: the first `keep` disagreements.
    """

    compared: int = 0
    equal: int = 0
    only_first: int = 0
    only_second: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """True when both files answer the same lines and every one agrees."""
        return self.equal == self.compared and self.only_first == 0 and self.only_second == 0


def compare_results(first_path: str | Path, second_path: str | Path, *, keep: int = 10) -> Comparison:
    """Compare two processor output files; both are read whole."""
    first = {record["line"]: record for record in read_results(first_path)}
    second = {record["line"]: record for record in read_results(second_path)}
    comparison = Comparison(only_first=len(first.keys() - second.keys()), only_second=len(second.keys() - first.keys()))
    for line in sorted(first.keys() & second.keys()):
        comparison.compared += 1
        difference = first_difference(first[line], second[line])
        if difference is None:
            comparison.equal += 1
        elif len(comparison.mismatches) < keep:
            comparison.mismatches.append(Mismatch(line, *difference))
    return comparison


def first_difference(first: dict[str, Any], second: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """Return (field, first value, second value) of the first disagreement, or None."""
    for name, value_of in (("metadata", _metadata), ("outcome", _outcome), ("answer", answer_key)):
        first_value, second_value = value_of(first), value_of(second)
        if first_value != second_value:
            return name, first_value, second_value
    return None


def answer_key(record: dict[str, Any]) -> Any:
    """Return what a record answered, without ids or timestamps."""
    if "error" in record:
        error = record["error"]
        return ("error", error.get("status"), error.get("code"))
    body = record.get("response")
    if not isinstance(body, dict):
        return ("response", body)
    if isinstance(body.get("choices"), list):
        return ("choices", [_choice_text(choice) for choice in sorted(body["choices"], key=lambda c: c.get("index", 0))])
    if isinstance(body.get("data"), list):
        return ("data", [item.get("embedding") for item in sorted(body["data"], key=lambda d: d.get("index", 0))])
    return ("response", {key: value for key, value in body.items() if key not in ("id", "created")})


def _metadata(record: dict[str, Any]) -> Any:
    return record.get("metadata")


def _outcome(record: dict[str, Any]) -> str:
    return "error" if "error" in record else "response"


def _choice_text(choice: dict[str, Any]) -> Any:
    message = choice.get("message")
    if isinstance(message, dict):
        return message.get("content")
    return choice.get("text")
