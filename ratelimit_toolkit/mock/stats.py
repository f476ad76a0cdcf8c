"""Request statistics: per-server totals, a per-second timeline, and process-wide totals."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

#: Request records a server keeps for `records()`; totals and the timeline count every request.
MAX_RECORDS = 100_000

_process_lock = threading.Lock()
_process_totals: Counter[str] = Counter()


def process_totals() -> dict[str, int]:
    """Sum every mock server started in this process: requests seen and 429s sent.

    `reset_stats()` on a server does not change these totals.
    """
    with _process_lock:
        return {"requests": _process_totals["requests"], "refused_429": _process_totals["refused_429"]}


def _add_to_process_totals(status: int | None) -> None:
    with _process_lock:
        _process_totals["requests"] += 1
        if status == 429:
            _process_totals["refused_429"] += 1


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered (or dropped).

    Attributes:
        seconds: arrival time, in seconds since the server started or its stats were reset.
        endpoint: the path without `/v1/`, such as `chat/completions`.
        status: the HTTP status, or None for a dropped connection.
        admitted: True when the rate limits admitted and charged the request.
        tokens: tokens charged at admission (0 unless admitted).
        error_type: the error body's `type`, if any.
        error_code: the error body's `code`, if any.
        key: the masked API key, such as `sk-m****-key`, or None without one.
    """

    seconds: float
    endpoint: str
    status: int | None
    admitted: bool = False
    tokens: int = 0
    error_type: str | None = None
    error_code: str | None = None
    key: str | None = None


@dataclass
class _Second:
    admitted: int = 0
    refused: int = 0
    tokens: int = 0
    errors: int = 0


class StatsRecorder:
    """Thread-safe request statistics of one server.

    The server thread records; any thread may read. `snapshot()` is what
    `GET /v1/stats` returns.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_records: int = MAX_RECORDS) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._max_records = max_records
        self._start(clock())

    def _start(self, now: float) -> None:
        self._started = now
        self._records: deque[RequestRecord] = deque(maxlen=self._max_records)
        self._seconds: dict[int, _Second] = {}
        self._totals: Counter[str] = Counter()
        self._refused_by_type: Counter[str] = Counter()
        self._refused_by_code: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()

    def elapsed_seconds(self) -> float:
        """Return the seconds since the server started or its stats were reset."""
        return self._clock() - self._started

    def record(self, record: RequestRecord) -> None:
        """Add one request to the totals, the timeline and the record list."""
        _add_to_process_totals(record.status)
        with self._lock:
            self._records.append(record)
            second = self._seconds.setdefault(max(0, int(record.seconds)), _Second())
            self._count(record, second)

    def _count(self, record: RequestRecord, second: _Second) -> None:
        self._totals["requests"] += 1
        if record.status is None or record.status >= 400:
            self._errors["dropped" if record.status is None else str(record.status)] += 1
        if record.admitted:
            self._totals["admitted"] += 1
            self._totals["tokens_charged"] += record.tokens
            second.admitted += 1
            second.tokens += record.tokens
        elif record.status == 429:
            second.refused += 1
            self._refused_by_type[record.error_type or "unknown"] += 1
            self._refused_by_code[record.error_code or "unknown"] += 1
        elif record.status is None or record.status >= 400:
            second.errors += 1

    def snapshot(self, *, include_records: bool = False) -> dict[str, Any]:
        """Return the totals and the per-second timeline as JSON-ready data.

        The timeline has one entry per second from 0 to the last second with a
        request, gaps included, so it plots directly. Each entry counts the
        requests that arrived in that second: `admitted`, `refused` (429s of any
        type), `tokens` charged at admission, and `errors` (other 4xx and 5xx
        responses and dropped connections). `totals.errors_by_status` counts
        every status from 400 up, 429 included, and `dropped` connections.
        """
        with self._lock:
            data: dict[str, Any] = {
                "elapsed_seconds": round(self.elapsed_seconds(), 6),
                "totals": self._totals_dict(),
                "timeline": self._timeline(),
            }
            if include_records:
                data["records"] = [asdict(record) for record in self._records]
        return data

    def records(self) -> list[RequestRecord]:
        """Return the kept request records, oldest first (at most `MAX_RECORDS`)."""
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        """Forget every request and restart the timeline at second 0."""
        with self._lock:
            self._start(self._clock())

    def _totals_dict(self) -> dict[str, Any]:
        refused = sum(self._refused_by_type.values())
        return {
            "requests": self._totals["requests"],
            "admitted": self._totals["admitted"],
            "tokens_charged": self._totals["tokens_charged"],
            "refused_429": {
                "total": refused,
                "by_type": dict(self._refused_by_type),
                "by_code": dict(self._refused_by_code),
            },
            "errors_by_status": dict(self._errors),
        }

    def _timeline(self) -> list[dict[str, int]]:
        if not self._seconds:
            return []
        timeline = []
        for index in range(max(self._seconds) + 1):
            second = self._seconds.get(index, _Second())
            timeline.append({"second": index, **asdict(second)})
        return timeline
