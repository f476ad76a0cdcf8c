"""Classify a failed API call: retry it or give up, and how long the server asks us to wait.

`classify(error)` reads an exception from the `openai` client (or from httpx,
aiohttp or the standard library). `classify_response(status, headers, body)`
reads a raw HTTP response. Both return a frozen `Failure`:

- retried: 429 `rate_limit_exceeded`, 408, 409, 500, 502, 503, 504 (and the
  other 5xx statuses except 501 and 505), connection errors and timeouts;
- given up at once: 429 `insufficient_quota` and the other billing codes in
  `QUOTA_CODES`, 429 "Request too large" (the request alone exceeds a
  per-minute limit, so no wait can admit it), context-length errors, and 400,
  401, 403, 404, 422 and the other 4xx statuses.

The server's suggested wait comes from the first valid source among
`retry-after-ms`, `retry-after` (seconds or an HTTP date), the message's
"Please try again in 1.5s", and `x-ratelimit-reset-requests` /
`x-ratelimit-reset-tokens`. The last two count only for 429 answers. A
missing, zero, negative, non-finite or unparsable value, or one above
`MAX_SUGGESTED_WAIT_SECONDS`, is skipped, so the caller falls back to its
computed backoff.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Literal

from ratelimit_toolkit._compat import openai
from ratelimit_toolkit.durations import format_duration, parse_duration

__all__ = [
    "Failure",
    "FailureKind",
    "MAX_SUGGESTED_WAIT_SECONDS",
    "QUOTA_CODES",
    "SUMMARY_TEXT_CHARS",
    "classify",
    "classify_response",
    "format_duration",
    "is_retryable",
    "parse_duration",
    "redact",
    "suggested_wait_seconds",
    "summarize",
]

#: Reason an attempt failed: the failure values of `recording.OUTCOMES`.
FailureKind = Literal["rate_limited", "quota", "server_error", "connection_error", "timeout", "client_error", "other"]

#: Error codes (or types) that mean the account may not spend more: no credit
#: left, a spend or usage limit reached, or billing not set up. OpenAI sends
#: them with type `insufficient_quota` and status 429. Only someone changing
#: the account fixes them, so they are never retried.
QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded",
        "billing_hard_limit_reached",
        "billing_not_active",
    }
)

#: Suggested waits above this are read as garbage, not as advice. A day is far
#: beyond any per-minute reset, and a retry policy caps real waits much lower.
MAX_SUGGESTED_WAIT_SECONDS = 24 * 3600.0

#: Characters of message text kept in a `Failure.summary()`.
SUMMARY_TEXT_CHARS = 200

#: Characters of message text kept in `Failure.message`; HTML error pages can be long.
_MESSAGE_CHARS = 2000

# 501 Not Implemented and 505 HTTP Version Not Supported do not change on a retry.
_PERMANENT_SERVER_STATUSES = frozenset({501, 505})

_QUOTA_PHRASES = ("exceeded your current quota", "insufficient_quota", "credit balance", "billing hard limit")
_TOO_LARGE_PHRASES = ("request too large", "must be reduced")
_CONTEXT_PHRASES = ("context_length_exceeded", "maximum context length", "context window")

_TRY_AGAIN = re.compile(r"try again in\s+([0-9.]+[0-9.hmsuµn]*)", re.IGNORECASE)
_RETRY_AFTER_SECONDS = re.compile(r"retry after\s+([0-9.]+)\s*seconds?", re.IGNORECASE)
_LIMIT_AND_REQUESTED = re.compile(r"limit:?\s*(\d+)[^.]*?requested:?\s*(\d+)", re.IGNORECASE)
_SECRET = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6,}|Bearer\s+[^\s\"',]+)")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Failure:
    """Classification of one failed attempt: what went wrong, and whether another attempt can help.

    Attributes:
        retryable: True when waiting and trying again can succeed.
        kind: one of the failure values of `recording.OUTCOMES`.
        status: the HTTP status, or None when no response arrived.
        code: the error code from the body (`rate_limit_exceeded`, ...), if any.
        message: the error text with whitespace collapsed and API keys masked,
            at most 2,000 characters.
        suggested_wait_seconds: the wait the server asked for, or None.
    """

    retryable: bool
    kind: FailureKind
    status: int | None
    code: str | None
    message: str
    suggested_wait_seconds: float | None = None

    def summary(self) -> dict[str, Any]:
        """Return a short JSON-safe record: status, kind, code and the first 200 characters of text."""
        return {
            "status": self.status,
            "kind": self.kind,
            "code": self.code,
            "message": self.message[:SUMMARY_TEXT_CHARS],
        }


def classify(error: BaseException, *, now: Callable[[], float] = time.time) -> Failure:
    """Classify an exception raised by an API call.

    Args:
        error: an `openai` exception, an httpx or aiohttp error, a builtin
            `ConnectionError` / `TimeoutError`, or anything else (which is
            kind `other` and not retried).
        now: wall-clock seconds, used only to turn a `retry-after` date into a wait.
    """
    if isinstance(error, openai.APIStatusError):
        body = error.body if error.body is not None else error.message
        return classify_response(error.status_code, error.response.headers, body, now=now)
    if isinstance(error, openai.APITimeoutError) or isinstance(error, _timeout_types()):
        return Failure(True, "timeout", None, None, _exception_text(error))
    if isinstance(error, openai.APIConnectionError) or isinstance(error, _connection_types()):
        return Failure(True, "connection_error", None, None, _exception_text(error))

    response = _third_party_response(error)
    if response is not None:
        status, headers, body = response
        return classify_response(status, headers, body, now=now)
    return Failure(False, "other", None, None, _exception_text(error))


def classify_response(
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    body: object = None,
    *,
    now: Callable[[], float] = time.time,
) -> Failure:
    """Classify a raw HTTP error response.

    Args:
        status: the HTTP status code.
        headers: the response headers, in any letter case.
        body: the decoded JSON body (with or without the outer `error` key),
            its text or bytes, or None.
        now: wall-clock seconds, used only to turn a `retry-after` date into a wait.
    """
    code, error_type, message = _error_fields(body)
    kind, retryable = _decide(status, code, error_type, message)
    limit_type = _limit_type(error_type, message)
    wait_seconds = suggested_wait_seconds(headers, message, status=status, limit_type=limit_type, now=now)
    return Failure(retryable, kind, status, code, _clean(message), wait_seconds)


def is_retryable(error: BaseException) -> bool:
    """Return True when `classify(error)` finds that another attempt can succeed."""
    return classify(error).retryable


def summarize(error: BaseException) -> dict[str, Any]:
    """Return `classify(error).summary()`: a short JSON-safe record without the API key."""
    return classify(error).summary()


def suggested_wait_seconds(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    message: str = "",
    *,
    status: int | None = 429,
    limit_type: str | None = None,
    now: Callable[[], float] = time.time,
) -> float | None:
    """Read the wait the server suggests, in seconds, or None when it gives no valid one.

    Sources, first valid one wins: `retry-after-ms`, `retry-after` (seconds
    or an HTTP date), then only for status 429 (or an unknown status) the
    message's "try again in ..." and the `x-ratelimit-reset-*` headers.

    Args:
        headers: the response headers, in any letter case.
        message: the error message.
        status: the HTTP status; the rate-limit sources are skipped for others,
            because a reset header on a 503 is unrelated to the outage.
        limit_type: `requests` or `tokens` when known, to pick the matching
            reset header; otherwise the exhausted limit (remaining 0) is used,
            or the later reset when that is unknown too.
        now: wall-clock seconds, for `retry-after` dates.
    """
    lowered = _lower_headers(headers)
    readers: list[Callable[[], float | None]] = [
        lambda: _read_milliseconds(lowered.get("retry-after-ms")),
        lambda: _read_retry_after(lowered.get("retry-after"), now),
    ]
    if status in (429, None):
        readers.append(lambda: _read_message_hint(message))
        readers.append(lambda: _read_reset_headers(lowered, limit_type))

    for read in readers:
        seconds = read()
        if seconds is not None:
            return seconds
    return None


def redact(text: str) -> str:
    """Mask API keys (`sk-...`, bearer tokens and the `OPENAI_API_KEY` value) in `text`."""
    key = os.environ.get("OPENAI_API_KEY", "")
    if len(key) >= 8:
        text = text.replace(key, "***")
    return _SECRET.sub(lambda match: match.group(0)[:3] + "***", text)


# --- deciding -----------------------------------------------------------------


def _decide(status: int, code: str | None, error_type: str | None, message: str) -> tuple[FailureKind, bool]:
    text = message.lower()
    if _is_quota(code, error_type, text):
        return "quota", False
    if code == "context_length_exceeded" or any(phrase in text for phrase in _CONTEXT_PHRASES):
        return "client_error", False

    if status == 429:
        if _is_too_large(text):
            return "client_error", False
        return "rate_limited", True
    if status == 408:
        return "timeout", True
    if status == 409:
        # The openai client retries 409 Conflict by default too; it is neither a limit nor an outage.
        return "other", True
    if status >= 500:
        return "server_error", status not in _PERMANENT_SERVER_STATUSES
    if status >= 400:
        return "client_error", False
    return "other", False


def _is_quota(code: str | None, error_type: str | None, text: str) -> bool:
    if code in QUOTA_CODES or error_type in QUOTA_CODES:
        return True
    # Rate-limit messages for new accounts mention billing too, so an explicit
    # rate-limit code wins over the wording.
    if code == "rate_limit_exceeded":
        return False
    return any(phrase in text for phrase in _QUOTA_PHRASES)


def _is_too_large(text: str) -> bool:
    if any(phrase in text for phrase in _TOO_LARGE_PHRASES):
        return True
    match = _LIMIT_AND_REQUESTED.search(text)
    return match is not None and int(match.group(2)) > int(match.group(1))


def _limit_type(error_type: str | None, message: str) -> str | None:
    if error_type in ("requests", "tokens"):
        return error_type
    text = message.lower()
    if "requests per min" in text or "(rpm)" in text:
        return "requests"
    if "tokens per min" in text or "(tpm)" in text:
        return "tokens"
    return None


# --- reading bodies and exceptions ----------------------------------------------


def _error_fields(body: object) -> tuple[str | None, str | None, str]:
    """Return (code, type, message) from a JSON body, its text or bytes."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None, None, body

    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            return _text_or_none(inner.get("code")), _text_or_none(inner.get("type")), str(inner.get("message") or "")
        return None, None, str(inner)
    return None, None, "" if body is None else str(body)


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _exception_text(error: BaseException) -> str:
    """Name the exception and its cause, as `APIConnectionError: Connection error. (ReadError: ...)`."""
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__ or error.__context__
    if cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return _clean(text)


def _clean(text: str) -> str:
    return redact(_WHITESPACE.sub(" ", text).strip())[:_MESSAGE_CHARS]


def _loaded_classes(names: Iterable[tuple[str, str]]) -> tuple[type[BaseException], ...]:
    """Collect exception classes from modules that are already imported.

    An exception of a library's class can only exist once that library is
    imported, so checking `sys.modules` costs no imports and needs no extras.
    """
    found: list[type[BaseException]] = []
    for module_name, class_name in names:
        module = sys.modules.get(module_name)
        candidate = getattr(module, class_name, None)
        if isinstance(candidate, type) and issubclass(candidate, BaseException):
            found.append(candidate)
    return tuple(found)


def _timeout_types() -> tuple[type[BaseException], ...]:
    third_party = _loaded_classes(
        [("httpx", "TimeoutException"), ("httpx2", "TimeoutException"), ("aiohttp", "ServerTimeoutError")]
    )
    return (TimeoutError, asyncio.TimeoutError, *third_party)


def _connection_types() -> tuple[type[BaseException], ...]:
    third_party = _loaded_classes(
        [
            ("httpx", "NetworkError"),
            ("httpx", "RemoteProtocolError"),
            ("httpx2", "NetworkError"),
            ("httpx2", "RemoteProtocolError"),
            ("aiohttp", "ClientConnectionError"),
            # A body cut off mid-way: the connection broke, so the request may succeed on retry.
            ("aiohttp", "ClientPayloadError"),
        ]
    )
    return (ConnectionError, *third_party)


def _third_party_response(error: BaseException) -> tuple[int, Any, object] | None:
    """Return (status, headers, body) from an httpx `HTTPStatusError` or aiohttp `ClientResponseError`."""
    httpx_errors = _loaded_classes([("httpx", "HTTPStatusError"), ("httpx2", "HTTPStatusError")])
    if httpx_errors and isinstance(error, httpx_errors):
        response = error.response  # type: ignore[attr-defined]
        try:
            body: object = response.text
        except Exception:  # noqa: BLE001 - a streamed body that was never read has no text
            body = None
        return response.status_code, response.headers, body

    aiohttp_errors = _loaded_classes([("aiohttp", "ClientResponseError")])
    if aiohttp_errors and isinstance(error, aiohttp_errors):
        return error.status, error.headers, error.message  # type: ignore[attr-defined]
    return None


# --- reading waits ----------------------------------------------------------------


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lowered: dict[str, str] = {}
    for name, value in pairs:
        if isinstance(name, str) and isinstance(value, str):
            lowered[name.lower()] = value
    return lowered


def _valid_wait(seconds: float | None) -> float | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    if seconds <= 0 or seconds > MAX_SUGGESTED_WAIT_SECONDS:
        return None
    return seconds


def _read_milliseconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return _valid_wait(float(text) / 1000.0)
    except ValueError:
        return None


def _read_retry_after(text: str | None, now: Callable[[], float]) -> float | None:
    """Read `retry-after` as seconds or as an HTTP date such as `Wed, 21 Oct 2026 07:28:00 GMT`."""
    if text is None:
        return None
    try:
        return _valid_wait(float(text))
    except ValueError:
        pass

    try:
        moment = email.utils.parsedate_to_datetime(text)
        if moment.tzinfo is None:  # the `-0000` zone means UTC of unknown origin
            moment = moment.replace(tzinfo=timezone.utc)
        return _valid_wait(moment.timestamp() - now())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def _read_message_hint(message: str) -> float | None:
    match = _TRY_AGAIN.search(message)
    if match is not None:
        return _valid_wait(parse_duration(match.group(1).rstrip(".")))
    match = _RETRY_AFTER_SECONDS.search(message)
    if match is not None:
        return _valid_wait(parse_duration(match.group(1).rstrip(".")))
    return None


def _read_reset_headers(lowered: Mapping[str, str], limit_type: str | None) -> float | None:
    resets = {
        name: _valid_wait(parse_duration(lowered.get(f"x-ratelimit-reset-{name}")))
        for name in ("requests", "tokens")
    }
    if limit_type in resets and resets[limit_type] is not None:
        return resets[limit_type]

    exhausted = [name for name in resets if lowered.get(f"x-ratelimit-remaining-{name}", "").strip() == "0"]
    if len(exhausted) == 1:
        return resets[exhausted[0]]
    known = [seconds for seconds in resets.values() if seconds is not None]
    # When both or neither limit is known to be exhausted, the later reset is
    # the one that admits the next request.
    return max(known) if known else None
