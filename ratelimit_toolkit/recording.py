"""One timeline of attempts, shared by the retry strategies, the processor and the plots.

Every attempt at a request becomes one `Attempt`: when it started and ended
(seconds on the recorder's monotonic clock), what came back, and how long the
caller chose to wait before the next attempt. Summaries and plots read the
records; nothing in the package parses log lines.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

#: Outcome of one attempt. `ok` succeeded; the others name why it failed.
OUTCOMES = ("ok", "rate_limited", "quota", "server_error", "connection_error", "timeout", "client_error", "other")


@dataclass(frozen=True)
class Attempt:
    """One try at one request.

    Attributes:
        request_id: the caller's id for the request (a line number, a label).
        number: 1 for the first try, 2 for the first retry, and so on.
        started: seconds since the recorder started, on its monotonic clock.
        ended: seconds since the recorder started, when the response or error arrived.
        outcome: one of `OUTCOMES`.
        status: the HTTP status, or None when no response arrived.
        code: the error code from the body (`rate_limit_exceeded`, ...), if any.
        wait_seconds: the wait chosen before the next attempt; None when none follows.
        tokens: tokens charged or estimated for the attempt, if known.
        strategy: the name of whoever made the attempt (`tenacity`, `processor`, ...).
    """

    request_id: str
    number: int
    started: float
    ended: float
    outcome: str
    status: int | None = None
    code: str | None = None
    wait_seconds: float | None = None
    tokens: int | None = None
    strategy: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Summary:
    """Totals over a recorder's attempts."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    succeeded: int = 0
    rate_limited: int = 0
    total_wait_seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)


class Recorder:
    """A thread-safe, append-only list of attempts with a shared time origin."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.origin = clock()
        self._attempts: list[Attempt] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since this recorder started."""
        return self.clock() - self.origin

    def add(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def record(self, **fields: Any) -> Attempt:
        """Build an `Attempt` from keyword fields, store it and return it."""
        attempt = Attempt(**fields)
        self.add(attempt)
        return attempt

    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    def __iter__(self) -> Iterator[Attempt]:
        return iter(self.attempts())

    def __len__(self) -> int:
        with self._lock:
            return len(self._attempts)

    def clear(self) -> None:
        with self._lock:
            self._attempts.clear()
        self.origin = self.clock()

    def by_request(self) -> dict[str, list[Attempt]]:
        """Group attempts by request id, each list in attempt order."""
        groups: dict[str, list[Attempt]] = {}
        for attempt in self.attempts():
            groups.setdefault(attempt.request_id, []).append(attempt)
        for group in groups.values():
            group.sort(key=lambda item: item.number)
        return groups

    def retries_per_request(self) -> dict[str, int]:
        return {request_id: len(group) - 1 for request_id, group in self.by_request().items()}

    def waits(self) -> list[float]:
        """Return every wait chosen between attempts, in seconds."""
        return [a.wait_seconds for a in self.attempts() if a.wait_seconds is not None]

    def summary(self) -> Summary:
        attempts = self.attempts()
        groups = self.by_request()
        outcomes = Counter(attempt.outcome for attempt in attempts)
        return Summary(
            requests=len(groups),
            attempts=len(attempts),
            retries=len(attempts) - len(groups),
            succeeded=sum(1 for group in groups.values() if group[-1].outcome == "ok"),
            rate_limited=outcomes.get("rate_limited", 0),
            total_wait_seconds=sum(self.waits()),
            outcomes=dict(outcomes),
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """Return all attempts as plain dicts, for JSON output or a DataFrame."""
        return [attempt.to_dict() for attempt in self.attempts()]
