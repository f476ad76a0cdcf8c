"""`retry_with_exponential_backoff`: the retry loop written out by hand, with the cookbook's call form.

The OpenAI Cookbook's version of this decorator (`initial_delay`,
`exponential_base`, `jitter`, `max_retries`, `errors`) has faults that this
one fixes. The cookbook version raises a bare `Exception` after the last try,
and its first sleep is already 2-4 s. Nothing caps its delay, and its jitter
multiplies the delay upward. It retries every `RateLimitError`, an exhausted
quota too, and ignores the server's suggested wait.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

from ratelimit_toolkit.limiter import Limiter
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry.admission import TokenCharge, check_admission_options
from ratelimit_toolkit.retry.policy import RetryPolicy
from ratelimit_toolkit.retry.run import RetryRun
from ratelimit_toolkit.retry.wrapping import (
    AsyncLoop,
    AsyncSleep,
    Clock,
    P,
    RetryingFunction,
    RunSettings,
    Sleep,
    SyncLoop,
    wrap,
)

R = TypeVar("R")

STRATEGY = "handwritten"


def retry_loop(run: RetryRun, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], sleep: Sleep) -> Any:
    """Call `func` until it returns, sleeping between attempts; the whole algorithm of this strategy.

    `run.decide()` classifies the failure and returns the policy's wait, or
    None when the error cannot be fixed by waiting, the attempts are used up,
    or the wait would pass the time budget.
    """
    while True:
        try:
            return run.call(func, args, kwargs)
        except run.errors:
            wait_seconds = run.decide()
            if wait_seconds is None:
                raise  # the original error, unchanged; the wrapper records the give-up
            run.commit_retry(wait_seconds)
            sleep(wait_seconds)


async def async_retry_loop(
    run: RetryRun, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], async_sleep: AsyncSleep
) -> Any:
    """Await `func` until it returns; `retry_loop` for coroutine functions, sleeping with `async_sleep`."""
    while True:
        try:
            return await run.acall(func, args, kwargs)
        except run.errors:
            wait_seconds = run.decide()
            if wait_seconds is None:
                raise
            run.commit_retry(wait_seconds)
            await async_sleep(wait_seconds)


def _exception_types(errors: object) -> tuple[type[BaseException], ...]:
    """Accept one exception class or a tuple of them, as `except` does."""
    types = (errors,) if isinstance(errors, type) else errors
    if not isinstance(types, tuple) or not types or not all(
        isinstance(item, type) and issubclass(item, BaseException) for item in types
    ):
        raise ValueError(f"errors must be an exception class or a tuple of them, got {errors!r}")
    return types


@overload
def retry_with_exponential_backoff(
    func: Callable[P, R],
    /,
    *,
    initial_delay: float = 1,
    exponential_base: float = 2,
    jitter: bool = True,
    max_retries: int = 10,
    max_delay: float = 60,
    errors: tuple[type[BaseException], ...] = (Exception,),
    honor_server_wait: bool = True,
    max_total_seconds: float | None = None,
    recorder: Recorder | None = None,
    sleep: Sleep = time.sleep,
    async_sleep: AsyncSleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
    tokens: TokenCharge = None,
) -> RetryingFunction[P, R]: ...


@overload
def retry_with_exponential_backoff(
    func: None = None,
    /,
    *,
    initial_delay: float = 1,
    exponential_base: float = 2,
    jitter: bool = True,
    max_retries: int = 10,
    max_delay: float = 60,
    errors: tuple[type[BaseException], ...] = (Exception,),
    honor_server_wait: bool = True,
    max_total_seconds: float | None = None,
    recorder: Recorder | None = None,
    sleep: Sleep = time.sleep,
    async_sleep: AsyncSleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
    tokens: TokenCharge = None,
) -> Callable[[Callable[P, R]], RetryingFunction[P, R]]: ...


def retry_with_exponential_backoff(
    func: Callable[P, R] | None = None,
    /,
    *,
    initial_delay: float = 1,
    exponential_base: float = 2,
    jitter: bool = True,
    max_retries: int = 10,
    max_delay: float = 60,
    errors: tuple[type[BaseException], ...] = (Exception,),
    honor_server_wait: bool = True,
    max_total_seconds: float | None = None,
    recorder: Recorder | None = None,
    sleep: Sleep = time.sleep,
    async_sleep: AsyncSleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
    tokens: TokenCharge = None,
) -> RetryingFunction[P, R] | Callable[[Callable[P, R]], RetryingFunction[P, R]]:
    """Retry a plain or `async` function with random exponential backoff, written as a plain loop.

    The parameters map onto `RetryPolicy`: `initial_delay` is `initial_wait`,
    `exponential_base` is `multiplier` and `max_delay` is `max_wait`.
    `jitter=True` picks full jitter, which draws each wait from [0, backoff]
    so that it never passes the cap. `max_retries` counts retries, so at most
    `max_retries + 1` attempts are made. After the last attempt, or at once
    for an error that retrying cannot fix (an exhausted quota, "Request too
    large", 400, 401, 403, 404, 422), the original exception is raised again,
    such as `openai.RateLimitError`, with its own cause intact.

    Use it around calls made by a client with `max_retries=0` (see
    `make_client`). The `openai` client retries twice by default, so
    `max_retries=2` here would otherwise send up to 3 x 3 = 9 requests.

    Args:
        func: the function to wrap; omit it to get a decorator.
        initial_delay: seconds of backoff before the first retry.
        exponential_base: growth factor per retry.
        jitter: draw each wait uniformly from [0, backoff].
        max_retries: retries after the first attempt.
        max_delay: the cap on any single wait, in seconds, server hints included.
        errors: exception types to consider retrying at all; others are raised
            at once. Within them, `errors.classify` still decides.
        honor_server_wait: add the server's suggested wait to the backoff.
        max_total_seconds: skip a retry whose wait would end later than this
            after the first attempt started.
        recorder: receives one `Attempt` per attempt, with the wait chosen.
        sleep: sleeps between attempts of a plain function.
        async_sleep: awaited between attempts of an `async` function.
        clock: monotonic seconds for `max_total_seconds`.
        rng: the random source for jitter; seed it for repeatable waits.
        limiter: a `Limiter` (`RateLimiter`, `RedisRateLimiter` or an object
            with the same methods) to wait in before each attempt. Response
            headers reachable from errors and raw results go to its `observe`
            (see `ratelimit_toolkit.retry.admission`). None throttles nothing.
        tokens: the token charge of each call for `limiter`: an integer, a
            function called with the call's own arguments, or None to
            estimate `openai` `create` calls and charge other calls 0 tokens.

    Example::

        @retry_with_exponential_backoff
        def completion_with_backoff(**kwargs):
            return client.chat.completions.create(**kwargs)
    """
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0 (0 means a single attempt), got {max_retries!r}")
    error_types = _exception_types(errors)
    policy = RetryPolicy(
        initial_wait=initial_delay,
        multiplier=exponential_base,
        max_wait=max_delay,
        jitter="full" if jitter else None,
        max_attempts=max_retries + 1,
        max_total_seconds=max_total_seconds,
        honor_server_wait=honor_server_wait,
    )
    settings = RunSettings(
        policy=policy,
        strategy=STRATEGY,
        recorder=recorder,
        clock=clock,
        rng=rng or random.Random(),
        errors=error_types,
        limiter=check_admission_options(limiter, tokens),
        tokens=tokens,
    )

    sync_loop: SyncLoop = functools.partial(retry_loop, sleep=sleep)
    async_loop: AsyncLoop = functools.partial(async_retry_loop, async_sleep=async_sleep)

    def decorate(function: Callable[P, R]) -> RetryingFunction[P, R]:
        return wrap(function, settings, sync_loop, async_loop)

    return decorate if func is None else decorate(func)
