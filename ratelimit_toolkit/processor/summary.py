"""Counters for one processor run and the summary printed at its end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from ratelimit_toolkit import messages
from ratelimit_toolkit.processor import texts  # noqa: F401  (registers the messages)

#: Reason a run stopped before every line had a record.
StopReason = Literal["quota", "auth", "max_lines", "cancelled"]


class LineCounts:
    """Counts derived from `input_lines`, `answered_before`, `succeeded` and `failed`.

    Shared by the summaries of `process` and of the Batch API path, which
    record lines in the same output format.
    """

    input_lines: int
    answered_before: int
    succeeded: int
    failed: Counter[str]

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def answered(self) -> int:
        """Lines with a record, from this run or before it."""
        return self.answered_before + self.succeeded + self.failed_total

    @property
    def unanswered(self) -> int:
        return max(0, self.input_lines - self.answered)

    @property
    def complete(self) -> bool:
        """True when every input line has a response or a recorded error."""
        return self.unanswered == 0


@dataclass
class ProcessSummary(LineCounts):
    """Counters and outcome of one run.

    Attributes:
        input_lines: lines in the input file.
        answered_before: lines that already had a record when the run started.
        succeeded: lines answered with a response in this run.
        failed: lines recorded with an error in this run, by error kind.
        attempts: HTTP calls made.
        retries: HTTP calls made after a failed call for the same line.
        rate_limited: 429 `rate_limit_exceeded` responses received.
        charged_tokens: estimated tokens of the calls the server did not refuse
            with a 429, the figure a tokens-per-minute limit counts.
        elapsed_seconds: wall time of the run.
        requests_per_minute_limit: the request limit used at the end of the run,
            or None when it never became known.
        tokens_per_minute_limit: the same for tokens.
        limits_learned: True when the limits came from response headers.
        stop_reason: why the run stopped early, or None.
        stop_code: the error code behind a `quota` or `auth` stop.
        stop_status: the HTTP status behind a `quota` or `auth` stop.
        lines_queued: lines this run took from the input (for a `max_lines` stop).
    """

    input_lines: int = 0
    answered_before: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    charged_tokens: int = 0
    elapsed_seconds: float = 0.0
    requests_per_minute_limit: float | None = None
    tokens_per_minute_limit: float | None = None
    limits_learned: bool = False
    stop_reason: StopReason | None = None
    stop_code: str | None = None
    stop_status: int | None = None
    lines_queued: int = 0

    @property
    def requests_per_minute(self) -> float:
        """HTTP calls per minute over the run."""
        return _per_minute(self.attempts, self.elapsed_seconds)

    @property
    def tokens_per_minute(self) -> float:
        return _per_minute(self.charged_tokens, self.elapsed_seconds)

    @property
    def exit_status(self) -> int:
        """0 when every line has a response or a recorded error, else 1."""
        return 0 if self.complete else 1

    def stop_message(self, lang: str | None = None) -> str | None:
        """Explain why the run stopped early, in English or Korean; None when it did not."""
        if self.stop_reason is None:
            return None
        return messages.t(f"processor.stop.{self.stop_reason}", lang, code=self.stop_code,
                          status=self.stop_status, count=self.lines_queued)

    def format(self, lang: str | None = None) -> str:
        """Render the summary as a few lines of text in English or Korean."""
        return "\n".join(self._lines(lang))

    def _lines(self, lang: str | None) -> list[str]:
        lines = [
            messages.t("processor.summary.title", lang),
            messages.t("processor.summary.lines", lang, total=self.input_lines, before=self.answered_before),
            messages.t("processor.summary.succeeded", lang, count=self.succeeded),
            messages.t("processor.summary.failed", lang, count=self.failed_total, details=self._failed_details()),
            messages.t("processor.summary.unanswered", lang, count=self.unanswered),
            messages.t("processor.summary.retries", lang, retries=self.retries, rate_limited=self.rate_limited),
            messages.t("processor.summary.elapsed", lang, seconds=self.elapsed_seconds),
            messages.t("processor.summary.rpm", lang, achieved=self._rate_text(self.requests_per_minute),
                       limit=self._limit_text(self.requests_per_minute_limit, lang)),
            messages.t("processor.summary.tpm", lang, achieved=self._rate_text(self.tokens_per_minute),
                       limit=self._limit_text(self.tokens_per_minute_limit, lang)),
        ]
        stop_message = self.stop_message(lang)
        if stop_message:
            lines.append(stop_message)
        return lines

    def _rate_text(self, per_minute: float) -> str:
        # A per-minute figure extrapolated from a fraction of a second is noise.
        if self.elapsed_seconds < _MIN_SECONDS_FOR_RATES:
            return "-"
        return f"{per_minute:,.0f}"

    def _failed_details(self) -> str:
        if not self.failed:
            return ""
        return " (" + ", ".join(f"{kind} {count:,}" for kind, count in sorted(self.failed.items())) + ")"

    def _limit_text(self, value: float | None, lang: str | None) -> str:
        if value is None:
            return messages.t("processor.limit.unknown", lang)
        key = "processor.limit.learned" if self.limits_learned else "processor.limit.given"
        return messages.t(key, lang, value=round(value))


#: Runs shorter than this, in seconds, show no per-minute rates in their summary.
_MIN_SECONDS_FOR_RATES = 1.0


def _per_minute(count: float, elapsed_seconds: float) -> float:
    return count * 60.0 / elapsed_seconds if elapsed_seconds > 0 else 0.0
