"""Throttle requests before they are sent, so the server has no reason to refuse them.

- `RateLimiter`: request and token buckets for RPM and TPM, with `acquire`
  (threads) and `acquire_async` (asyncio), `observe(headers)` to follow the
  server's `x-ratelimit-*` headers, and `RateLimiter.learning()` to start
  without known limits.
- `Limiter`: the interface `RateLimiter` and `RedisRateLimiter` share, which
  the processor and the retry decorators accept; `check_limiter` checks an object against it.
- `TokenBucket`: the continuous-refill arithmetic behind it.
- `delay_for` and `paced`: the fixed delay of 60 / RPM between calls.
"""

from __future__ import annotations

from ratelimit_toolkit.limiter.bucket import RequestTooLargeError, TokenBucket
from ratelimit_toolkit.limiter.headers import ServerLimit, read_rate_limit_headers
from ratelimit_toolkit.limiter.pacing import delay_for, paced
from ratelimit_toolkit.limiter.protocol import Limiter, check_limiter
from ratelimit_toolkit.limiter.rate_limiter import (
    LEARNING_REQUESTS_PER_MINUTE,
    AcquireTimeoutError,
    LimiterStats,
    RateLimiter,
)

__all__ = [
    "LEARNING_REQUESTS_PER_MINUTE",
    "AcquireTimeoutError",
    "Limiter",
    "LimiterStats",
    "RateLimiter",
    "RequestTooLargeError",
    "ServerLimit",
    "TokenBucket",
    "check_limiter",
    "delay_for",
    "paced",
    "read_rate_limit_headers",
]
