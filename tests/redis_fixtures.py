"""Fixtures for tests that need a real `redis-server` on 127.0.0.1.

Import the fixtures into a test module (`from redis_fixtures import redis_server,
redis_url`), or register this module as a plugin. Tests that use them are
skipped, with the reason, when `redis-server` is not installed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis

from ratelimit_toolkit.redis_limiter import INSTALL_HINT, LocalRedisServer, find_redis_server

#: Reason shown for every test skipped because the binary is missing.
SKIP_REASON = f"redis-server is not installed; {INSTALL_HINT}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedisServer]:
    """One throwaway redis-server for the session, on a free 127.0.0.1 port, in memory only."""
    if find_redis_server() is None:
        pytest.skip(SKIP_REASON)
    with LocalRedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: LocalRedisServer) -> str:
    """The session server's URL, with every key deleted before the test."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A synchronous client of the session server, closed after the test."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def closed_redis_url() -> str:
    """A `redis://` URL, with a password, of a 127.0.0.1 port where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://:hunter2-secret@127.0.0.1:{port}/0"


def hammer_try_acquire(redis_url: str, limits: dict[str, float], tokens: float, start_at: float, seconds: float) -> int:
    """Call `try_acquire` as fast as possible from `start_at` (wall clock) for `seconds`; return admissions.

    Runs in a worker process (spawn), so it takes only picklable arguments.
    """
    import time

    from ratelimit_toolkit.redis_limiter import RedisRateLimiter

    limiter = RedisRateLimiter(limits["rpm"], limits["tpm"], redis_url=redis_url, burst_seconds=limits["burst"])
    time.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + seconds
    admitted = 0
    while time.monotonic() < deadline:
        admitted += limiter.try_acquire(tokens)
    limiter.close()
    return admitted


def acquire_times(redis_url: str, limits: dict[str, float], count: int, start_at: float) -> list[float]:
    """Call the blocking `acquire` `count` times from `start_at`; return Redis server times of admission."""
    import time

    from ratelimit_toolkit.redis_limiter import RedisRateLimiter

    limiter = RedisRateLimiter(limits["rpm"], limits["tpm"], redis_url=redis_url, burst_seconds=limits["burst"])
    client = redis.Redis.from_url(redis_url)
    time.sleep(max(0.0, start_at - time.time()))
    admitted_at = []
    for _ in range(count):
        limiter.acquire(1)
        seconds, microseconds = client.time()
        admitted_at.append(seconds + microseconds / 1e6)
    client.close()
    limiter.close()
    return admitted_at
