"""`Limiter`: the interface every rate limiter in this package offers.

`RateLimiter` (one process) and `ratelimit_toolkit.redis_limiter.RedisRateLimiter`
(many processes, through Redis) both satisfy it, so the processor and the retry
helpers can take either one, or a user's own object with these methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class Limiter(Protocol):
    """Admits requests within a requests-per-minute and a tokens-per-minute limit.

    `isinstance(obj, Limiter)` checks only that the methods exist, not their
    signatures or behaviour.
    """

    @property
    def requests_per_minute(self) -> float | None:
        """The RPM limit in force, or None when requests are not limited."""
        ...

    @property
    def tokens_per_minute(self) -> float | None:
        """The TPM limit in force, or None when tokens are not limited."""
        ...

    def try_acquire(self, tokens: float = 1) -> bool:
        """Admit a request of `tokens` tokens if it fits now; never wait."""
        ...

    def acquire(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        """Block until admitted and return the seconds waited.

        Raises `RequestTooLargeError` (a `ValueError`) for more tokens than the
        per-minute limit, and `AcquireTimeoutError` (a `TimeoutError`) when the
        wait would exceed `timeout`.
        """
        ...

    async def acquire_async(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        """Wait without blocking the event loop until admitted; same rules as `acquire`."""
        ...

    def refund(self, tokens: float) -> None:
        """Give back tokens charged at admission but not used."""
        ...

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct limits and levels from one response's `x-ratelimit-*` headers."""
        ...


#: The members `check_limiter` looks for, in the order its error lists them.
LIMITER_MEMBERS = (
    "requests_per_minute",
    "tokens_per_minute",
    "try_acquire",
    "acquire",
    "acquire_async",
    "refund",
    "observe",
)


def check_limiter(limiter: object, name: str = "limiter") -> Limiter:
    """Return `limiter` unchanged when it has every `Limiter` member.

    Like `isinstance(limiter, Limiter)`, this checks only that the members
    exist, not their signatures.

    Raises:
        TypeError: a member is missing; the message names the missing ones.
    """
    missing = [member for member in LIMITER_MEMBERS if not hasattr(limiter, member)]
    if missing:
        raise TypeError(
            f"{name} must be a RateLimiter, a RedisRateLimiter or an object with the same methods; "
            f"{type(limiter).__name__} has no {', '.join(missing)}"
        )
    return limiter  # type: ignore[return-value]
