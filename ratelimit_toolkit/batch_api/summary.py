"""Counters for one batch job run and the summary printed at its end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from ratelimit_toolkit import messages
from ratelimit_toolkit.batch_api import texts  # noqa: F401  (registers the messages)
from ratelimit_toolkit.batch_api.merge import MergeCounts
from ratelimit_toolkit.processor.summary import LineCounts

#: Reason a run returned while batches were still running.
StopReason = Literal["max_wait", "no_wait", "cancelled", "interrupted"]


@dataclass(frozen=True)
class StatusEvent:
    """A batch seen in a new status.

    Attributes:
        seconds: seconds since the run started, on the run's clock.
        part: the part's index.
        batch_id: the batch.
        status: the status seen.
        completed: `request_counts.completed` at that moment.
        failed: `request_counts.failed` at that moment.
    """

    seconds: float
    part: int
    batch_id: str
    status: str
    completed: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Note:
    """Something in a run that needs the user's attention: a message key and its values.

    It is rendered when shown, so `format("ko")` and `format("en")` both work.
    """

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str | None = None) -> str:
        return messages.t(self.key, lang, **self.values)


@dataclass
class BatchSummary(LineCounts):
    """Counters of one run of a batch job.

    Attributes:
        input_lines: lines in the input file.
        answered_before: lines that had a record when the run started.
        merged: what this run wrote to the output, and which lines it left unanswered and why.
        unsent: lines recorded with an error without being sent (invalid JSON and the like).
        parts: parts of the job, from this run and earlier ones.
        parts_done: parts whose batch ended and whose results are merged.
        batches_created: batches created in this run.
        prompt_tokens_submitted: estimated prompt tokens of those batches, what
            the enqueued token limit counts while they run.
        batch_ids: the batch of each part, by part index.
        statuses: the last status seen per part.
        running: batches still running when the run returned.
        events: every status change seen, in order.
        elapsed_seconds: wall time of the run.
        stop_reason: why the run returned before every batch ended, or None.
        notes: what needs the user's attention, such as expired lines or a batch that failed validation.
    """

    input_lines: int = 0
    answered_before: int = 0
    merged: MergeCounts = field(default_factory=MergeCounts)
    unsent: Counter[str] = field(default_factory=Counter)
    parts: int = 0
    parts_done: int = 0
    batches_created: int = 0
    prompt_tokens_submitted: int = 0
    batch_ids: dict[int, str] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)
    running: int = 0
    events: list[StatusEvent] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    stop_reason: StopReason | None = None
    notes: list[Note] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return self.merged.succeeded

    @property
    def failed(self) -> Counter[str]:
        """Lines recorded with an error in this run, by kind, unsent lines included."""
        return self.merged.failed + self.unsent

    @property
    def exit_status(self) -> int:
        """0 when every line has a response or a recorded error, else 1 (as `process` does)."""
        return 0 if self.complete else 1

    def format(self, lang: str | None = None) -> str:
        """Render the summary as a few lines of text in English or Korean."""
        details = ", ".join(f"{kind} {count:,}" for kind, count in sorted(self.failed.items()))
        statuses = Counter(self.statuses.values())
        lines = [
            messages.t("batch.summary.title", lang),
            messages.t("batch.summary.lines", lang, total=self.input_lines, before=self.answered_before),
            messages.t("batch.summary.succeeded", lang, count=self.succeeded),
            messages.t("batch.summary.failed", lang, count=self.failed_total, details=f" ({details})" if details else ""),
            messages.t("batch.summary.unanswered", lang, count=self.unanswered),
            messages.t("batch.summary.batches", lang, parts=self.parts, done=self.parts_done,
                       created=self.batches_created,
                       statuses=", ".join(f"{status} {count}" for status, count in sorted(statuses.items())) or "-"),
            messages.t("batch.summary.tokens", lang, prompt=self.merged.prompt_tokens,
                       completion=self.merged.completion_tokens),
            messages.t("batch.summary.elapsed", lang, seconds=self.elapsed_seconds),
        ]
        return "\n".join(lines + [note.text(lang) for note in self.notes])

    def add_note(self, key: str, **values: Any) -> None:
        """Add a note with message `key` and its values."""
        self.notes.append(Note(key, values))
