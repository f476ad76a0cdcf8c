"""The mock server's settings, validated once and replaced whole on change."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ratelimit_toolkit.mock.batches.limits import (
    COMPLETION_WINDOW_SECONDS,
    DEFAULT_ENQUEUED_TOKEN_LIMIT,
    MAX_FILE_BYTES,
    MAX_REQUESTS_PER_FILE,
    check_batch_settings,
)
from ratelimit_toolkit.mock.buckets import check_burst_seconds, check_limit
from ratelimit_toolkit.mock.scope_settings import (
    DEFAULT_MAX_SCOPES,
    LimitScope,
    check_scope_settings,
    normalize_organizations,
    normalize_scope_limits,
)

AnswerLanguage = Literal["auto", "en", "ko"]

#: Largest request body the mock server reads, in bytes. It is this mock's own
#: choice, generous for prompts and embedding batches, not a figure OpenAI publishes.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class MockSettings:
    """Everything that shapes the mock server's responses; all of it can change at runtime.

    Attributes:
        rpm: requests per minute.
        tpm: tokens per minute, charged at admission as prompt tokens plus the
            output cap times `n`, per prompt.
        burst_seconds: seconds of budget that may be spent at once, in (0, 60];
            each bucket holds `limit * burst_seconds / 60`.
        charge_refused: when True, every rate-limit 429 takes one request from
            the request bucket, as OpenAI counts refused requests against the
            per-minute limit. When False (the default), refusals cost nothing,
            so a client that hammers the server still gets through at the limit.
        retry_after_headers: when True, rate-limit 429s carry `retry-after`
            (whole seconds, rounded up) and `retry-after-ms`. OpenAI sends them
            only sometimes, so the default is False.
        quota_exhausted: answer every authenticated request with 429 `insufficient_quota`.
        failure_rate: probability (0 to 1) of answering with one of
            `failure_statuses` and an HTML body, before any other check.
        failure_statuses: the HTTP statuses injected failures use, stored as a tuple.
        slow_rate: probability (0 to 1) of delaying an admitted answer by `slow_seconds`.
        slow_seconds: the extra delay of a slow answer, in seconds.
        drop_rate: probability (0 to 1) of closing the connection without any response.
        seed: seed for the random faults; None draws one from the system.
        api_keys: accepted API keys, stored as a frozenset; None accepts any non-empty key.
        language: answer language, `en`, `ko`, or `auto` (Korean when the prompt
            contains Hangul).
        shuffle_choices: return completions choices in an order shuffled
            deterministically from the request body, so clients must match by `index`.
        base_latency_seconds: delay of every admitted answer, in seconds.
        per_token_latency_seconds: extra delay per generated token, in seconds.
            Tests and benchmarks keep both at 0; 0.02 and 0.0005 make notebook
            timings look like a fast hosted model.
        max_body_bytes: larger request bodies get 413.
        organization: the organisation id in headers and error messages, and
            the organisation of every key that `organizations` does not list
            and that sends no `OpenAI-Organization` header.
        limit_scope: who shares one pair of buckets. "server" (the default):
            every request. "key": each API key gets its own buckets.
            "organization": each organisation gets its own, shared by its keys.
            Buckets are created on a scope's first request, with `rpm`, `tpm`
            and `burst_seconds` unless `scope_limits` says otherwise.
        organizations: organisation id to the API keys it owns, stored as a
            read-only mapping of frozensets; a key may belong to one
            organisation only. A listed key that sends an `OpenAI-Organization`
            header naming another organisation gets 401 `mismatched_organization`.
            None lists no keys, so each request's organisation comes from its
            header or `organization`.
        scope_limits: `(rpm, tpm)` for single scopes, by organisation id under
            "organization" and by API key under "key"; stored read-only.
            Not allowed with "server".
        max_scopes: scopes kept at once (see `DEFAULT_MAX_SCOPES`); a new
            scope beyond it drops the least recently used one.
        batch_validating_seconds: seconds a batch stays `validating`.
        batch_seconds_per_request: seconds of wall time each batch request
            takes while `in_progress`; 0 runs them all at once. The mock
            compresses hours into seconds, so notebooks do not wait.
        batch_finalizing_seconds: seconds a batch stays `finalizing` (or `cancelling`).
        batch_completion_window_seconds: seconds a batch may stay `in_progress`
            before it expires; the default is OpenAI's 24 hours.
        batch_expire_after_requests: expire every batch after it ran this many
            requests (a test mode); None turns it off.
        batch_failure_rate: probability (0 to 1) that a batch request fails with
            500 and goes to the error file; seeded per `custom_id` by `seed`.
        batch_failing_custom_ids: a regular expression; batch requests whose
            `custom_id` it matches (`re.search`) fail with 500.
        batch_max_requests: requests one batch file may hold (OpenAI: 50,000).
        batch_max_file_bytes: bytes one batch file may hold (OpenAI: 200 MB).
        batch_enqueued_token_limit: prompt tokens that unfinished batches of one
            model may hold; a batch over it fails with `token_limit_exceeded`.
            It is separate from `rpm` and `tpm`, which batches never use.
    """

    rpm: int = 60
    tpm: int = 150_000
    burst_seconds: float = 60.0
    charge_refused: bool = False
    retry_after_headers: bool = False
    quota_exhausted: bool = False
    failure_rate: float = 0.0
    failure_statuses: Sequence[int] = (500, 502, 503)
    slow_rate: float = 0.0
    slow_seconds: float = 5.0
    drop_rate: float = 0.0
    seed: int | None = None
    api_keys: Collection[str] | None = None
    language: AnswerLanguage = "auto"
    shuffle_choices: bool = True
    base_latency_seconds: float = 0.0
    per_token_latency_seconds: float = 0.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    organization: str = "org-mock"
    limit_scope: LimitScope = "server"
    organizations: Mapping[str, Collection[str]] | None = None
    scope_limits: Mapping[str, tuple[int, int]] | None = None
    max_scopes: int = DEFAULT_MAX_SCOPES
    batch_validating_seconds: float = 0.05
    batch_seconds_per_request: float = 0.001
    batch_finalizing_seconds: float = 0.05
    batch_completion_window_seconds: float = COMPLETION_WINDOW_SECONDS
    batch_expire_after_requests: int | None = None
    batch_failure_rate: float = 0.0
    batch_failing_custom_ids: str | None = None
    batch_max_requests: int = MAX_REQUESTS_PER_FILE
    batch_max_file_bytes: int = MAX_FILE_BYTES
    batch_enqueued_token_limit: int = DEFAULT_ENQUEUED_TOKEN_LIMIT

    def __post_init__(self) -> None:
        # Accept any collection for the two collection fields, stored immutable.
        if self.api_keys is not None:
            object.__setattr__(self, "api_keys", _to_key_set(self.api_keys))
        if not isinstance(self.failure_statuses, tuple) and isinstance(self.failure_statuses, Iterable):
            object.__setattr__(self, "failure_statuses", tuple(self.failure_statuses))
        if self.organizations is not None:
            object.__setattr__(self, "organizations", normalize_organizations(self.organizations))
        if self.scope_limits is not None:
            object.__setattr__(self, "scope_limits", normalize_scope_limits(self.scope_limits))

        check_limit("rpm", self.rpm)
        check_limit("tpm", self.tpm)
        check_burst_seconds(self.burst_seconds)
        for name in ("failure_rate", "slow_rate", "drop_rate"):
            _check_probability(name, getattr(self, name))
        for name in ("slow_seconds", "base_latency_seconds", "per_token_latency_seconds"):
            _check_seconds(name, getattr(self, name))
        _check_statuses(self.failure_statuses)
        _check_language(self.language)
        _check_max_body_bytes(self.max_body_bytes)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if not isinstance(self.organization, str) or not self.organization:
            raise ValueError(f"organization must be a non-empty string, got {self.organization!r}")
        check_scope_settings(self.limit_scope, self.scope_limits, self.max_scopes)
        check_batch_settings(self)

    def replace(self, **changes: Any) -> MockSettings:
        """Return a copy with `changes` applied and validated.

        Raises:
            TypeError: a name is not a setting.
            ValueError: a value is out of range.
        """
        unknown = sorted(set(changes) - {field.name for field in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"unknown mock server setting(s): {', '.join(unknown)}; valid: {', '.join(setting_names())}")
        return dataclasses.replace(self, **changes)

    @property
    def limits(self) -> tuple[int, int, float]:
        """The settings the rate-limit buckets are built from."""
        return (self.rpm, self.tpm, self.burst_seconds)

    @property
    def scoping(self) -> tuple[object, ...]:
        """The settings that decide which requests share buckets, and with which limits."""
        return (*self.limits, self.limit_scope, self.organizations, self.scope_limits, self.max_scopes, self.organization)


def setting_names() -> list[str]:
    """List the names `MockSettings` accepts."""
    return [field.name for field in dataclasses.fields(MockSettings)]


def _to_key_set(api_keys: Iterable[str] | str) -> frozenset[str]:
    if isinstance(api_keys, str):
        raise ValueError("api_keys must be a collection of keys, not one string; wrap it: api_keys={'sk-...'}")
    keys = frozenset(api_keys)
    if not keys or not all(isinstance(key, str) and key for key in keys):
        raise ValueError("api_keys must contain non-empty strings; pass None to accept any key")
    return keys


def _check_probability(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


def _check_statuses(statuses: object) -> None:
    valid = isinstance(statuses, tuple) and statuses and all(
        isinstance(status, int) and 400 <= status <= 599 for status in statuses
    )
    if not valid:
        raise ValueError(f"failure_statuses must be a non-empty list of HTTP error statuses (400-599), got {statuses!r}")


def _check_language(language: object) -> None:
    if language not in ("auto", "en", "ko"):
        raise ValueError(f"language must be 'auto', 'en' or 'ko', got {language!r}")


def _check_max_body_bytes(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_body_bytes must be a positive integer number of bytes, got {value!r}")
