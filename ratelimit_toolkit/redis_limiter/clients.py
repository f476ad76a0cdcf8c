"""`ScriptRunner`: runs the limit scripts through a synchronous and per-loop asyncio clients."""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import redis
import redis.asyncio

from ratelimit_toolkit import messages
from ratelimit_toolkit.redis_limiter.connection import (
    connection_options,
    describe_client,
    redact_url,
    unavailable_error,
)

# Failures that mean Redis cannot be reached or used at all, as opposed to a
# bug in a script. redis.AuthenticationError and redis.BusyLoadingError are
# subclasses of redis.ConnectionError.
_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, OSError)


class ScriptRunner:
    """Runs Lua scripts on one key, through clients it creates or is given.

    A client built from `redis_url` is created on first use: one synchronous
    client (thread-safe, with its own connection pool) and one `redis.asyncio`
    client per event loop, because asyncio connections belong to the loop
    that opened them. Call `aclose()` in each loop before it ends, or
    redis-py reports the loop's connections as unclosed.

    Args:
        key: the Redis key every script receives as `KEYS[1]`.
        redis_url: where Redis is; None when clients are given.
        client: a `redis.Redis` to use instead of one built from `redis_url`.
        async_client: a `redis.asyncio.Redis` to use instead of per-loop clients.
        connect_timeout_seconds: seconds to wait for a connection.
        command_timeout_seconds: seconds to wait for a reply.
        lang: language of error messages; None reads the environment.
    """

    def __init__(
        self,
        key: str,
        *,
        redis_url: str | None,
        client: Any,
        async_client: Any,
        connect_timeout_seconds: float,
        command_timeout_seconds: float,
        lang: str | None,
    ) -> None:
        self.key = key
        self.lang = lang
        self._redis_url = redis_url
        self._options = connection_options(connect_timeout_seconds, command_timeout_seconds)
        self._client: _Connection | None = None
        self._given: _Connection | None = None if client is None else _Connection(client)
        self._given_async: _Connection | None = None if async_client is None else _Connection(async_client)
        self._loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Connection] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Where Redis is, with any password replaced by `***`."""
        if self._redis_url is not None:
            return redact_url(self._redis_url)
        given = self._given or self._given_async
        return describe_client(given.client if given is not None else None)

    @property
    def shareable(self) -> bool:
        """True when the runner can be rebuilt in another process (it has a URL, not client objects)."""
        return self._given is None and self._given_async is None

    def run(self, source: str, arguments: list[Any]) -> Any:
        """Run the script `source` with `arguments` through the synchronous client.

        Raises:
            SharedLimiterUnavailableError: Redis cannot be reached or refused the connection.
            TypeError: there is no URL and no synchronous client.
        """
        connection = self._sync_connection()
        try:
            return connection.script(source)(keys=[self.key], args=arguments)
        except _UNAVAILABLE as error:
            raise unavailable_error(self.url, error, self.lang) from error

    async def run_async(self, source: str, arguments: list[Any]) -> Any:
        """Run the script `source` with `arguments` through the running loop's asyncio client.

        Raises:
            SharedLimiterUnavailableError: Redis cannot be reached or refused the connection.
            TypeError: there is no URL and no asyncio client.
        """
        connection = self._async_connection()
        try:
            return await connection.script(source)(keys=[self.key], args=arguments)
        except _UNAVAILABLE as error:
            raise unavailable_error(self.url, error, self.lang) from error

    def ping(self) -> None:
        """Raise `SharedLimiterUnavailableError` unless Redis responds to PING."""
        try:
            self._sync_connection().client.ping()
        except _UNAVAILABLE as error:
            raise unavailable_error(self.url, error, self.lang) from error

    def delete(self) -> None:
        """Delete the key."""
        try:
            self._sync_connection().client.delete(self.key)
        except _UNAVAILABLE as error:
            raise unavailable_error(self.url, error, self.lang) from error

    def close(self) -> None:
        """Close the synchronous client this runner created; a client passed in stays open."""
        with self._lock:
            connection, self._client = self._client, None
        if connection is not None:
            connection.client.close()

    async def aclose(self) -> None:
        """Close the asyncio client this runner created for the running loop."""
        connection = self._loop_clients.pop(asyncio.get_running_loop(), None)
        if connection is None:
            return
        # redis-py 5.0.0 names it close(); 5.0.1 added aclose() and deprecated close().
        close = getattr(connection.client, "aclose", None) or connection.client.close
        await close()

    def _sync_connection(self) -> _Connection:
        if self._given is not None:
            return self._given
        if self._redis_url is None:
            raise TypeError(messages.t("redis.no_sync_client", self.lang))
        with self._lock:
            if self._client is None:
                self._client = _Connection(redis.Redis.from_url(self._redis_url, **self._options))
            return self._client

    def _async_connection(self) -> _Connection:
        if self._given_async is not None:
            return self._given_async
        if self._redis_url is None:
            raise TypeError(messages.t("redis.no_async_client", self.lang))
        loop = asyncio.get_running_loop()
        connection = self._loop_clients.get(loop)
        if connection is None:
            connection = _Connection(redis.asyncio.Redis.from_url(self._redis_url, **self._options))
            self._loop_clients[loop] = connection
        return connection

    def __getstate__(self) -> dict[str, Any]:
        if not self.shareable:
            raise TypeError(
                "a RedisRateLimiter built with client= or async_client= cannot be sent to another "
                "process; build it with redis_url= instead"
            )
        state = dict(self.__dict__)
        state["_client"] = None
        del state["_loop_clients"], state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._loop_clients = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()


class _Connection:
    """A client and the scripts registered on it.

    redis-py's `Script` sends EVALSHA and, when Redis replies NOSCRIPT (after
    a restart or SCRIPT FLUSH), loads the source and tries once more, so each
    script is registered once per client and never loaded by hand.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scripts: dict[str, Any] = {}

    def script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self.client.register_script(source)
            self._scripts[source] = script
        return script
