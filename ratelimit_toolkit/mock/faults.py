"""Injected faults: scripted responses for tests and seeded random failures for lessons."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Union

from ratelimit_toolkit.mock.settings import MockSettings


@dataclass(frozen=True)
class ScriptedResponse:
    """One queued response for the next request.

    Attributes:
        status: the HTTP status. 200 without a `body` means "handle as usual",
            skipping only the random faults; 429 without a body gets OpenAI's
            rate-limit error; 5xx without a body gets an HTML error page.
        body: a dict (sent as JSON), a str (HTML if it starts with `<`, else
            plain text) or bytes; None for the default body of `status`.
        headers: extra response headers; they override the standard ones.
        drop: close the connection without any response.
        delay_seconds: wait this long before answering (or dropping).
    """

    status: int = 200
    body: dict[str, Any] | str | bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False
    delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise ValueError(f"a scripted status must be an HTTP status code (100-599), got {self.status!r}")
        if self.delay_seconds < 0:
            raise ValueError(f"delay_seconds must be >= 0, got {self.delay_seconds!r}")

    @property
    def is_normal_answer(self) -> bool:
        """True when the request should be handled as usual (status 200, no body, no drop)."""
        return self.status == 200 and self.body is None and not self.drop


ScriptEntry = Union[int, str, Mapping[str, Any], ScriptedResponse]


def to_scripted_response(entry: ScriptEntry) -> ScriptedResponse:
    """Convert a script entry: a status, `"drop"`, a dict of `ScriptedResponse` fields, or one itself.

    Raises:
        ValueError: the entry has none of those forms.
    """
    if isinstance(entry, ScriptedResponse):
        return entry
    if isinstance(entry, int) and not isinstance(entry, bool):
        return ScriptedResponse(status=entry)
    if entry == "drop":
        return ScriptedResponse(drop=True)
    if isinstance(entry, Mapping):
        try:
            return ScriptedResponse(**entry)
        except TypeError as error:
            raise ValueError(f"invalid scripted response {entry!r}: {error}") from error
    raise ValueError(
        f"invalid scripted response {entry!r}; use a status code, 'drop', "
        "a dict such as {'status': 502, 'body': '<html>...'} or a ScriptedResponse"
    )


@dataclass(frozen=True)
class FaultPlan:
    """The random faults drawn for one request."""

    drop: bool = False
    failure_status: int | None = None
    slow: bool = False


NO_FAULT = FaultPlan()


class FaultInjector:
    """The queue of scripted responses and the seeded random draws.

    A random draw is made only for a fault whose rate is above zero, so
    enabling one fault leaves the sequence of the others unchanged. Not
    thread-safe on its own; `MockState` holds a lock around it.
    """

    def __init__(self, seed: int | None, script: Iterable[ScriptEntry] = ()) -> None:
        self._rng = random.Random(seed)
        self._queue: deque[ScriptedResponse] = deque()
        self.enqueue(script)

    def reseed(self, seed: int | None) -> None:
        """Restart the random sequence from `seed`."""
        self._rng = random.Random(seed)

    def enqueue(self, entries: Iterable[ScriptEntry]) -> None:
        """Append scripted responses; each one is used for one request, in order."""
        converted = [to_scripted_response(entry) for entry in entries]
        self._queue.extend(converted)

    def clear(self) -> None:
        """Drop every scripted response not used yet."""
        self._queue.clear()

    def pending(self) -> int:
        """Return the number of scripted responses not used yet."""
        return len(self._queue)

    def next_scripted(self) -> ScriptedResponse | None:
        """Take the next scripted response, or None when the queue is empty."""
        return self._queue.popleft() if self._queue else None

    def draw(self, settings: MockSettings) -> FaultPlan:
        """Draw the random faults for one request."""
        if settings.drop_rate > 0 and self._rng.random() < settings.drop_rate:
            return FaultPlan(drop=True)
        if settings.failure_rate > 0 and self._rng.random() < settings.failure_rate:
            return FaultPlan(failure_status=self._rng.choice(settings.failure_statuses))
        if settings.slow_rate > 0 and self._rng.random() < settings.slow_rate:
            return FaultPlan(slow=True)
        return NO_FAULT


def html_error_page(status: int) -> str:
    """Return the HTML body of an injected server error, like a gateway's error page."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n"
        f"<body>\r\n<center><h1>{status} {phrase}</h1></center>\r\n"
        "<hr><center>ratelimit-toolkit mock server</center>\r\n</body>\r\n</html>\r\n"
    )
