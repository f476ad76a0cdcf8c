"""Build the processor's limiter, feed it response headers, and close it.

Limits the user gives are ceilings: the server's `x-ratelimit-limit-*` headers
may lower them (the user guessed too high) but never raise them, so a user can
keep a job to part of an account's limit. Limits the user leaves out are
learned from the headers, starting at `LEARNING_REQUESTS_PER_MINUTE`.

The limiter is a `RateLimiter` for this process alone, a `RedisRateLimiter`
when a Redis URL is given (so processes with the same limits and the same
Redis share one budget), or any `Limiter` the caller passes in.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections.abc import Mapping
from typing import Any

from ratelimit_toolkit.limiter import (
    LEARNING_REQUESTS_PER_MINUTE,
    Limiter,
    RateLimiter,
    check_limiter,
    read_rate_limit_headers,
)

logger = logging.getLogger(__name__)


class Throttle:
    """A `Limiter` plus the user's ceilings on the limits it may learn.

    Args:
        limiter: the limiter; `make_throttle` and `open_throttle` build one from the options.
        ceilings: by kind (`requests`, `tokens`), a limit the server's headers may
            lower but not raise; kinds left out follow the headers freely.
        learning: True when the limiter starts without limits, so a server that
            sends no `x-ratelimit-limit-*` headers gets one warning.
        owned: True when the processor built the limiter, so `aclose` also
            closes its synchronous Redis client.
    """

    def __init__(
        self,
        limiter: Limiter,
        ceilings: Mapping[str, float] | None = None,
        *,
        learning: bool = False,
        owned: bool = True,
    ) -> None:
        self.limiter = limiter
        self.ceilings = dict(ceilings or {})
        self.learning = learning
        self.owned = owned
        self._warned_no_headers = False

    @property
    def learned(self) -> bool:
        """True when some limit in force came from the headers rather than from the user."""
        return any(kind not in self.ceilings for kind in _learned_limits(self.limiter))

    async def admit(self, tokens: float) -> None:
        """Wait until a request of `tokens` tokens may be sent.

        Raises:
            RequestTooLargeError: `tokens` exceeds the tokens-per-minute limit.
            SharedLimiterUnavailableError: a Redis limiter lost its server.
        """
        await self.limiter.acquire_async(tokens)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Pass one response's headers to the limiter, without limits above the ceilings.

        NOTE: `RedisRateLimiter.observe` is synchronous, so it blocks the event
        loop for one Redis round trip when the headers show that the server
        counted more than the shared buckets did.
        """
        reported = read_rate_limit_headers(headers)
        if not self.ceilings:
            self._warn_if_nothing_to_learn(reported)
            self.limiter.observe(headers)
            return

        filtered_headers = {
            name: value for name, value in headers.items() if not _is_raised_limit(name, reported, self.ceilings)
        }
        self.limiter.observe(filtered_headers)

    async def aclose(self) -> None:
        """Close the Redis connections that the processor's event loop opened.

        A `RedisRateLimiter` keeps one asyncio client per event loop, and that
        client must be closed before its loop ends. The processor may run on a
        loop of its own (`process_file_sync`), so `aclose` is called even for a
        limiter passed in, which opens a new client on its next use. The
        synchronous client is closed only when the processor built the
        limiter. Other limiters are left alone.
        """
        if not _is_redis_limiter(self.limiter):
            return
        limiter: Any = self.limiter
        await limiter.aclose()
        if self.owned:
            limiter.close()

    def _warn_if_nothing_to_learn(self, reported: Mapping[str, object]) -> None:
        if not self.learning or self._warned_no_headers or _learned_limits(self.limiter):
            return
        if all(getattr(limit, "limit_per_minute", None) is None for limit in reported.values()):
            self._warned_no_headers = True
            logger.warning(
                "the server sent no x-ratelimit-limit-* headers, so no limits can be learned; "
                "the job runs at %g requests per minute until it does. Pass --rpm and --tpm "
                "(requests_per_minute=, tokens_per_minute=) to go faster",
                LEARNING_REQUESTS_PER_MINUTE,
            )


def make_throttle(
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    burst_seconds: float,
    *,
    redis_url: str | None = None,
) -> Throttle:
    """Build the throttle for the given limits; None means "learn it from the headers".

    With `redis_url`, the limiter is a `RedisRateLimiter` under the default key,
    so every process that uses the same Redis database and the same limits
    shares one budget. It is not checked here; `open_throttle` pings it.

    Raises:
        ImportError: `redis_url` is given and the `redis` package is missing.
    """
    ceilings = {
        kind: value
        for kind, value in (("requests", requests_per_minute), ("tokens", tokens_per_minute))
        if value is not None
    }
    if redis_url is None:
        limiter: Limiter = _local_limiter(requests_per_minute, tokens_per_minute, burst_seconds, len(ceilings))
    else:
        limiter = _shared_limiter(requests_per_minute, tokens_per_minute, burst_seconds, len(ceilings), redis_url)
    return Throttle(limiter, ceilings, learning=not ceilings)


async def open_throttle(
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    burst_seconds: float,
    *,
    limiter: object = None,
    redis_url: str | None = None,
) -> Throttle:
    """Build the throttle for `process_file`, and check that a Redis limiter can reach its server.

    A `limiter` passed in is used as it is, with no ceilings: its own
    `observe` decides what the headers change (a `RateLimiter` adopts the
    limits the server reports). It is not pinged, because it may have only an
    asyncio Redis client.

    Raises:
        ValueError: `limiter` is given together with limits or `redis_url`.
        TypeError: `limiter` lacks a `Limiter` method.
        SharedLimiterUnavailableError: Redis at `redis_url` does not respond to PING.
    """
    if limiter is not None:
        _check_no_other_limits(requests_per_minute, tokens_per_minute, redis_url)
        throttle = Throttle(check_limiter(limiter), owned=False)
    else:
        throttle = make_throttle(requests_per_minute, tokens_per_minute, burst_seconds, redis_url=redis_url)

    if not throttle.owned:
        return throttle
    try:
        await _ping(throttle.limiter)
    except BaseException:
        await throttle.aclose()
        raise
    return throttle


def _local_limiter(
    requests_per_minute: float | None, tokens_per_minute: float | None, burst_seconds: float, given_limits: int
) -> RateLimiter:
    if not given_limits:
        return RateLimiter.learning(burst_seconds=burst_seconds)
    return RateLimiter(
        requests_per_minute, tokens_per_minute, burst_seconds=burst_seconds, learn_limits=given_limits < 2
    )


def _shared_limiter(
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    burst_seconds: float,
    given_limits: int,
    redis_url: str,
) -> Limiter:
    # Imported here, so the processor works without the optional `redis` package.
    from ratelimit_toolkit.redis_limiter import RedisRateLimiter

    if not given_limits:
        return RedisRateLimiter.learning(redis_url=redis_url, burst_seconds=burst_seconds)
    return RedisRateLimiter(
        requests_per_minute,
        tokens_per_minute,
        redis_url=redis_url,
        burst_seconds=burst_seconds,
        learn_limits=given_limits < 2,
    )


def _check_no_other_limits(
    requests_per_minute: float | None, tokens_per_minute: float | None, redis_url: str | None
) -> None:
    other_options = [
        name
        for name, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
            ("redis_url", redis_url),
        )
        if value is not None
    ]
    if other_options:
        raise ValueError(
            f"limiter= cannot be combined with {', '.join(other_options)}, because the limiter passed in "
            "sets its own limits and storage. Pass either a limiter or the limits."
        )


async def _ping(limiter: Limiter) -> None:
    """Raise `SharedLimiterUnavailableError` when a Redis limiter's server does not respond to PING."""
    if not _is_redis_limiter(limiter):
        return
    shared: Any = limiter
    # The synchronous PING waits up to the connect timeout, so it runs off the event loop.
    await asyncio.to_thread(shared.ping)
    logger.info("rate limits are shared through Redis at %s under key %s", shared.url, shared.key)


def _is_redis_limiter(limiter: object) -> bool:
    # A RedisRateLimiter exists only once its module was imported, so a job
    # without Redis never imports the `redis` package for this check.
    module = sys.modules.get("ratelimit_toolkit.redis_limiter.limiter")
    return module is not None and isinstance(limiter, module.RedisRateLimiter)


def _learned_limits(limiter: Limiter) -> Mapping[str, float]:
    # `learned` is not part of the `Limiter` protocol, so a caller's own limiter may lack it.
    learned = getattr(limiter, "learned", None)
    return learned if isinstance(learned, Mapping) else {}


def _is_raised_limit(name: str, reported: Mapping[str, object], ceilings: Mapping[str, float]) -> bool:
    lowered = name.lower()
    for kind, ceiling in ceilings.items():
        if lowered != f"x-ratelimit-limit-{kind}":
            continue
        limit = getattr(reported[kind], "limit_per_minute", None)
        return limit is None or not math.isfinite(limit) or limit > ceiling
    return False
