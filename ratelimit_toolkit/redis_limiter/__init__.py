"""One rate limit shared by many processes or machines, kept in Redis.

- `RedisRateLimiter`: the same interface as `ratelimit_toolkit.limiter.RateLimiter`
  (`acquire`, `acquire_async`, `try_acquire`, `refund`, `observe`), with its
  buckets in Redis and every admission decided by one atomic Lua script.
- `LocalRedisServer`: a throwaway `redis-server` on 127.0.0.1 for tests,
  notebooks and benchmarks; `start_if_installed()` starts one or prints how to
  install it.
- `workload`: worker processes that share (or do not share) one limit, for
  notebook 08 and `benchmarks/shared.py`.
- `limit_key`: the key naming, one key per organisation, project and model.

Needs the `redis` package (`pip install 'ratelimit-toolkit[redis]'`) and a
Redis server (version 5 or later, for `TIME` in scripts that write).
"""

from __future__ import annotations

try:
    import redis as _redis  # noqa: F401  (checked here so the error names the fix)
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ratelimit_toolkit.redis_limiter needs the 'redis' package; "
        "install it with: pip install 'ratelimit-toolkit[redis]'"
    ) from error

from ratelimit_toolkit.redis_limiter.connection import (
    RedisFallbackWarning,
    SharedLimiterUnavailableError,
    redact_url,
)
from ratelimit_toolkit.redis_limiter.keys import DEFAULT_KEY_PREFIX, limit_key
from ratelimit_toolkit.redis_limiter.limiter import DEFAULT_REDIS_URL, RedisRateLimiter
from ratelimit_toolkit.redis_limiter.scripts import Decision
from ratelimit_toolkit.redis_limiter.server import (
    INSTALL_HINT,
    LocalRedisServer,
    RedisServerNotFoundError,
    find_redis_server,
    start_if_installed,
)

__all__ = [
    "DEFAULT_KEY_PREFIX",
    "DEFAULT_REDIS_URL",
    "INSTALL_HINT",
    "Decision",
    "LocalRedisServer",
    "RedisFallbackWarning",
    "RedisRateLimiter",
    "RedisServerNotFoundError",
    "SharedLimiterUnavailableError",
    "find_redis_server",
    "limit_key",
    "redact_url",
    "start_if_installed",
]
