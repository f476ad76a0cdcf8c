"""One retry policy offered three ways: tenacity, backoff, and a hand-written loop.

All three wrap plain and `async` functions and keep the wrapped signature.
They give up at once on errors that retrying cannot fix, and honour the
server's suggested wait up to `max_wait`. Each records every attempt in a
`Recorder` and exposes the last call's counts as `decorated.last_run`. Use
them with a client from `make_client()` (`max_retries=0`) so that only one
layer retries. Given `limiter=` (a `RateLimiter`, a `RedisRateLimiter` or an
object with the same methods), each attempt first waits for the limiter,
and the response headers go back to it (see `admission`).
"""

from __future__ import annotations

from ratelimit_toolkit.retry.backoff_strategy import retry_with_backoff
from ratelimit_toolkit.retry.client import make_async_client, make_client
from ratelimit_toolkit.retry.handwritten import retry_with_exponential_backoff
from ratelimit_toolkit.retry.policy import RetryPolicy
from ratelimit_toolkit.retry.run import RetryStatistics
from ratelimit_toolkit.retry.simultaneous import (
    SimultaneousResult,
    await_simultaneously,
    call_simultaneously,
    peak_retries,
    summary_row,
)
from ratelimit_toolkit.retry.tenacity_strategy import retry_with_tenacity, tenacity_wait
from ratelimit_toolkit.retry.wrapping import RetryingFunction

__all__ = [
    "RetryPolicy",
    "RetryStatistics",
    "RetryingFunction",
    "SimultaneousResult",
    "await_simultaneously",
    "call_simultaneously",
    "make_async_client",
    "make_client",
    "peak_retries",
    "retry_with_backoff",
    "retry_with_exponential_backoff",
    "retry_with_tenacity",
    "summary_row",
    "tenacity_wait",
]
