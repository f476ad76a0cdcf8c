"""The simplest pacing: a fixed delay of 60 / RPM between the starts of calls.

It is the first technique the OpenAI Cookbook shows for rate limits, kept so
the notebooks can compare it with `RateLimiter`. It ignores tokens and bursts,
so it suits only a job whose requests are all small. Use `RateLimiter` otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from ratelimit_toolkit.limiter.bucket import Clock

P = ParamSpec("P")
R = TypeVar("R")


def delay_for(requests_per_minute: float) -> float:
    """Return the seconds between requests that keep under `requests_per_minute`: 60 / RPM."""
    is_number = isinstance(requests_per_minute, (int, float)) and not isinstance(requests_per_minute, bool)
    if not is_number or not 0 < requests_per_minute < float("inf"):
        raise ValueError(f"requests_per_minute must be a finite number > 0, got {requests_per_minute!r}")
    return 60.0 / requests_per_minute


class _Schedule:
    """The next free start time, shared by every call of one paced function."""

    def __init__(self, delay_seconds: float, clock: Clock) -> None:
        self.delay_seconds = delay_seconds
        self.clock = clock
        self.next_start: float | None = None
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Book the next start slot and return the seconds until it."""
        with self.lock:
            now = self.clock()
            start = now if self.next_start is None else max(now, self.next_start)
            self.next_start = start + self.delay_seconds
            return start - now


def paced(
    requests_per_minute: float,
    *,
    clock: Clock = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    async_sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Space the starts of calls to the decorated function `delay_for(requests_per_minute)` apart.

    The first call starts at once. Each later call waits until one delay after
    the previous start, so a call that itself takes longer than the delay adds
    no extra wait. The spacing applies across threads and tasks that share the
    decorated function, in the order they reach it. It works on plain and
    `async` functions, and coroutines wait with `async_sleep` without blocking the loop.

    Example::

        @paced(requests_per_minute=60)
        def ask(prompt: str) -> str: ...
    """
    delay_seconds = delay_for(requests_per_minute)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        schedule = _Schedule(delay_seconds, clock)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def paced_coroutine(*args: P.args, **kwargs: P.kwargs) -> Any:
                wait_seconds = schedule.reserve()
                if wait_seconds > 0:
                    await async_sleep(wait_seconds)
                return await func(*args, **kwargs)  # type: ignore[misc]

            return cast(Callable[P, R], paced_coroutine)

        @functools.wraps(func)
        def paced_function(*args: P.args, **kwargs: P.kwargs) -> R:
            wait_seconds = schedule.reserve()
            if wait_seconds > 0:
                sleep(wait_seconds)
            return func(*args, **kwargs)

        return paced_function

    return decorate
