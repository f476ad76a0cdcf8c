"""Connecting to Redis: client options, redacted URLs, and errors that name the fix."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ratelimit_toolkit import messages
from ratelimit_toolkit.redis_limiter.server import INSTALL_HINT

#: Seconds to wait for a TCP connection to Redis before giving up.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 2.0
#: Seconds to wait for the reply to one Redis command.
DEFAULT_COMMAND_TIMEOUT_SECONDS = 5.0

_SECRET_QUERY_NAMES = frozenset({"password"})

messages.register(
    {
        "redis.unavailable": {
            "en": (
                "Redis at {url} is unavailable ({error}). Start redis-server ({install}), "
                "check redis_url, or pass fallback_to_local=True to limit each process on its own."
            ),
            "ko": (
                "{url}의 Redis에 연결할 수 없습니다 ({error}). redis-server를 시작하거나 "
                "({install}), redis_url을 확인하거나, 프로세스마다 따로 제한하려면 "
                "fallback_to_local=True를 넘기세요."
            ),
        },
        "redis.fallback": {
            "en": (
                "Redis at {url} is unavailable ({error}); this process now limits itself with a "
                "local RateLimiter, so processes no longer share one limit and together may exceed it."
            ),
            "ko": (
                "{url}의 Redis에 연결할 수 없어 ({error}) 이 프로세스는 이제 로컬 RateLimiter로 "
                "스스로 제한합니다. 프로세스들이 한도를 공유하지 않으므로 합치면 한도를 넘을 수 있습니다."
            ),
        },
        "redis.no_async_client": {
            "en": (
                "acquire_async() needs a redis.asyncio client; pass redis_url=... or "
                "async_client=redis.asyncio.Redis(...) to RedisRateLimiter."
            ),
            "ko": (
                "acquire_async()에는 redis.asyncio 클라이언트가 필요합니다. RedisRateLimiter에 "
                "redis_url=... 또는 async_client=redis.asyncio.Redis(...)를 넘기세요."
            ),
        },
        "redis.no_sync_client": {
            "en": (
                "acquire() needs a synchronous redis client; pass redis_url=... or "
                "client=redis.Redis(...) to RedisRateLimiter."
            ),
            "ko": (
                "acquire()에는 동기 redis 클라이언트가 필요합니다. RedisRateLimiter에 "
                "redis_url=... 또는 client=redis.Redis(...)를 넘기세요."
            ),
        },
    }
)


class SharedLimiterUnavailableError(ConnectionError):
    """Redis could not be reached or failed, so the shared limit cannot be checked.

    Attributes:
        url: the Redis URL with any password replaced by `***`.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class RedisFallbackWarning(UserWarning):
    """A `RedisRateLimiter` lost Redis and now limits only its own process."""


def redact_url(url: str) -> str:
    """Return `url` with its password (in the user part or the query) replaced by `***`.

    >>> redact_url("redis://user:secret@127.0.0.1:6379/0?password=other")
    'redis://user:***@127.0.0.1:6379/0?password=%2A%2A%2A'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        credentials, _, address = netloc.rpartition("@")
        user = credentials.partition(":")[0]
        netloc = f"{user}:***@{address}"

    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = parts.query
    if any(name.lower() in _SECRET_QUERY_NAMES for name, _ in pairs):
        query = urlencode([(name, "***" if name.lower() in _SECRET_QUERY_NAMES else value) for name, value in pairs])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def describe_client(client: Any) -> str:
    """Return a password-free `redis://host:port/db` description of a redis-py client."""
    try:
        settings = client.connection_pool.connection_kwargs
    except AttributeError:
        return repr(type(client).__name__)
    if "path" in settings:
        return f"unix://{settings['path']}?db={settings.get('db', 0)}"
    return f"redis://{settings.get('host', '?')}:{settings.get('port', '?')}/{settings.get('db', 0)}"


def unavailable_error(url: str, error: BaseException, lang: str | None = None) -> SharedLimiterUnavailableError:
    """Build the error raised when Redis at `url` (already redacted) fails with `error`."""
    text = messages.t("redis.unavailable", lang, url=url, error=_describe_error(error), install=INSTALL_HINT)
    return SharedLimiterUnavailableError(text, url)


def fallback_message(url: str, error: BaseException, lang: str | None = None) -> str:
    """Return the one warning a limiter gives when it falls back to a local limiter."""
    return messages.t("redis.fallback", lang, url=url, error=_describe_error(error))


def connection_options(connect_timeout_seconds: float, command_timeout_seconds: float) -> dict[str, Any]:
    """Return the keyword arguments every client this package creates gets."""
    return {
        "socket_connect_timeout": connect_timeout_seconds,
        "socket_timeout": command_timeout_seconds,
        "health_check_interval": 30,
    }


def _describe_error(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
