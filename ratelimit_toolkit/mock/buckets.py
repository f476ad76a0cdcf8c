"""Continuous-refill token buckets for the mock server's per-minute limits.

One `TokenBucket` enforces one per-minute limit (requests or tokens). Its
capacity is `limit * burst_seconds / 60` and it refills at `limit / 60` per
second, computed in floats from a monotonic clock. `RateLimits` pairs a request
bucket with a token bucket and admits a request only when both allow it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Clock = Callable[[], float]
LimitType = Literal["requests", "tokens"]

# Refill arithmetic in floats can land a hair below a whole number (for example
# 0.9999999999 instead of 1.0), so a level within this fraction of what is
# needed counts as enough.
_RELATIVE_TOLERANCE = 1e-9


class TokenBucket:
    """A bucket for one per-minute limit that refills continuously.

    The bucket starts full. A request of `amount` is admitted when the level
    is at least `amount`. An amount larger than the capacity but within the
    per-minute limit is admitted once the bucket is full, and it leaves the
    level negative (in debt) until refill repays it. An amount above the
    per-minute limit can never be admitted.

    The level never drops below `capacity - limit_per_minute`, so however many
    charges arrive, the bucket is full again at most one minute after they stop.

    The bucket is not thread-safe; `MockState` serialises access with a lock.

    Args:
        limit_per_minute: the limit, in requests or tokens per minute.
        burst_seconds: seconds of budget that may be spent at once, in (0, 60].
            60 lets a whole minute's budget go in one burst; 1 enforces the
            per-minute limit per second.
        clock: monotonic time in seconds; inject a fake one in tests.
    """

    def __init__(self, limit_per_minute: int, burst_seconds: float, *, clock: Clock = time.monotonic) -> None:
        check_limit("limit_per_minute", limit_per_minute)
        check_burst_seconds(burst_seconds)
        self.limit_per_minute = limit_per_minute
        self.burst_seconds = float(burst_seconds)
        self.capacity = limit_per_minute * self.burst_seconds / 60.0
        self.refill_per_second = limit_per_minute / 60.0
        self.min_level = self.capacity - limit_per_minute
        self._clock = clock
        self._level = self.capacity
        self._updated = clock()

    @property
    def level(self) -> float:
        """The current level after refill; negative while in debt."""
        self._refill()
        return self._level

    def can_ever_admit(self, amount: float) -> bool:
        """Tell whether `amount` fits the per-minute limit at all."""
        return amount <= self.limit_per_minute

    def wait_seconds(self, amount: float) -> float:
        """Return the seconds until `amount` can be admitted: 0.0 if now, `inf` if never."""
        if not self.can_ever_admit(amount):
            return math.inf

        needed = self._needed_level(amount)
        level = self.level
        if _is_enough(level, needed):
            return 0.0
        return (needed - level) / self.refill_per_second

    def try_acquire(self, amount: float) -> bool:
        """Take `amount` and return True if it can be admitted now; otherwise change nothing."""
        if self.wait_seconds(amount) > 0.0:
            return False
        self.charge(amount)
        return True

    def charge(self, amount: float) -> None:
        """Take `amount` unconditionally, down to the level floor."""
        self._refill()
        self._level = max(self._level - amount, self.min_level)

    def reset_seconds(self) -> float:
        """Return the seconds until the bucket is full again."""
        return max(0.0, (self.capacity - self.level) / self.refill_per_second)

    def remaining(self) -> int:
        """Return the whole units left now, never below zero."""
        return max(0, math.floor(self.level + _RELATIVE_TOLERANCE * max(1.0, self.capacity)))

    def used(self) -> int:
        """Return the per-minute usage implied by the level (`limit - level`), rounded up.

        It is the "Used" figure of OpenAI's rate-limit message: a request of
        `amount` fits when `used + amount <= limit`, the same test as `level >= amount`.
        """
        return max(0, math.ceil(self.limit_per_minute - self.level - _RELATIVE_TOLERANCE))

    def _needed_level(self, amount: float) -> float:
        # An oversize amount waits for a full bucket instead of a level it can never reach.
        return min(amount, self.capacity)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._level = min(self.capacity, self._level + elapsed * self.refill_per_second)
        self._updated = now

    def __repr__(self) -> str:
        return (
            f"TokenBucket(level={self.level:.3f}, capacity={self.capacity:.3f}, "
            f"limit_per_minute={self.limit_per_minute}, reset_seconds={self.reset_seconds():.3f})"
        )


@dataclass(frozen=True)
class Admission:
    """The outcome of one admission check.

    Attributes:
        admitted: True when both buckets allowed the request and were charged.
        limit_type: the bucket that refused it (`requests` or `tokens`), or None.
        wait_seconds: seconds until both buckets would admit the request; `inf` when
            the request is larger than the per-minute token limit.
        limit: the per-minute limit of the refusing bucket (0 when admitted).
        used: that bucket's "Used" figure at the refusal (0 when admitted).
        requested: the amount asked of that bucket (0 when admitted).
    """

    admitted: bool
    limit_type: LimitType | None = None
    wait_seconds: float = 0.0
    limit: int = 0
    used: int = 0
    requested: int = 0

    @property
    def too_large(self) -> bool:
        """True when no wait can ever admit the request."""
        return math.isinf(self.wait_seconds)


@dataclass(frozen=True)
class LimitSnapshot:
    """Values for the `x-ratelimit-*` headers at one moment."""

    limit_requests: int
    limit_tokens: int
    remaining_requests: int
    remaining_tokens: int
    reset_requests_seconds: float
    reset_tokens_seconds: float


class RateLimits:
    """A request bucket and a token bucket checked together.

    `admit(tokens)` admits a request only when both buckets allow it, and then
    charges both (one request, `tokens` tokens). A refused request charges
    nothing, unless the caller also calls `charge_refused()`.
    """

    def __init__(
        self,
        requests_per_minute: int,
        tokens_per_minute: int,
        burst_seconds: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.requests = TokenBucket(requests_per_minute, burst_seconds, clock=clock)
        self.tokens = TokenBucket(tokens_per_minute, burst_seconds, clock=clock)

    def admit(self, tokens: int) -> Admission:
        """Admit and charge a request of `tokens` tokens, or report which bucket refused it."""
        if not self.tokens.can_ever_admit(tokens):
            return self._refusal(self.tokens, "tokens", tokens, math.inf)

        request_wait = self.requests.wait_seconds(1)
        token_wait = self.tokens.wait_seconds(tokens)
        if request_wait == 0.0 and token_wait == 0.0:
            self.requests.charge(1)
            self.tokens.charge(tokens)
            return Admission(admitted=True)

        # Name the bucket that binds longest; the wait covers both buckets.
        wait = max(request_wait, token_wait)
        if request_wait >= token_wait:
            return self._refusal(self.requests, "requests", 1, wait)
        return self._refusal(self.tokens, "tokens", tokens, wait)

    def charge_refused(self) -> None:
        """Charge one request for a refused request, as OpenAI counts refusals."""
        self.requests.charge(1)

    def snapshot(self) -> LimitSnapshot:
        """Read the header values of both buckets now."""
        return LimitSnapshot(
            limit_requests=self.requests.limit_per_minute,
            limit_tokens=self.tokens.limit_per_minute,
            remaining_requests=self.requests.remaining(),
            remaining_tokens=self.tokens.remaining(),
            reset_requests_seconds=self.requests.reset_seconds(),
            reset_tokens_seconds=self.tokens.reset_seconds(),
        )

    @staticmethod
    def _refusal(bucket: TokenBucket, limit_type: LimitType, amount: int, wait_seconds: float) -> Admission:
        return Admission(
            admitted=False,
            limit_type=limit_type,
            wait_seconds=wait_seconds,
            limit=bucket.limit_per_minute,
            used=bucket.used(),
            requested=amount,
        )

    def __repr__(self) -> str:
        return f"RateLimits(requests={self.requests!r}, tokens={self.tokens!r})"


def _is_enough(level: float, needed: float) -> bool:
    return level >= needed - _RELATIVE_TOLERANCE * max(1.0, needed)


def check_limit(name: str, limit_per_minute: object) -> None:
    """Raise ValueError unless the per-minute limit called `name` is an integer >= 1."""
    if isinstance(limit_per_minute, bool) or not isinstance(limit_per_minute, int) or limit_per_minute < 1:
        raise ValueError(f"{name} must be an integer number per minute >= 1, got {limit_per_minute!r}")


def check_burst_seconds(burst_seconds: object) -> None:
    """Raise ValueError unless `burst_seconds` is a number in (0, 60]."""
    valid = isinstance(burst_seconds, (int, float)) and not isinstance(burst_seconds, bool)
    if not valid or not 0 < burst_seconds <= 60:  # type: ignore[operator]
        raise ValueError(
            f"burst_seconds must be a number of seconds in (0, 60], got {burst_seconds!r}; "
            "use 60 to allow a whole minute's budget at once or 1 to enforce the limit per second"
        )
