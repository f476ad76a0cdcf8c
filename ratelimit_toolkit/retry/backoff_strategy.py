"""`retry_with_backoff`: the retry policy built on `backoff.on_exception`."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar, overload

import backoff

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

STRATEGY = "backoff"


def _no_library_sleep() -> Generator[float, Any, None]:
    """Yield 0 seconds forever: a backoff wait generator that leaves the sleeping to `on_backoff`.

    backoff sleeps with `time.sleep` or `asyncio.sleep` and takes no other
    sleep function or clock, so it would make injected time impossible. The
    `on_backoff` handler sleeps the real wait with the injected sleep instead,
    and backoff's own sleep becomes `sleep(0)`.
    """
    yield 0.0  # backoff primes the generator with send(None) and discards this value
    while True:
        yield 0.0


def _backoff_arguments(run: RetryRun) -> dict[str, Any]:
    """Build the `backoff.on_exception` arguments shared by the sync and async paths.

    `giveup` gets the policy's wait (server hint plus jittered backoff,
    capped) from `run.decide()`. It gives up when the error is not retryable
    or the wait would pass `max_total_seconds`. Otherwise the run keeps the
    wait in `planned_wait` for `on_backoff`. backoff's own `jitter` stays off
    because it would apply to the whole wait and could cut the server's hint.
    """
    return {
        "wait_gen": _no_library_sleep,
        "exception": run.errors,
        "max_tries": run.policy.max_attempts,
        "giveup": lambda error: run.decide() is None,
        "jitter": None,
        "logger": None,
        "raise_on_giveup": True,
    }


def _sync_loop(sleep: Sleep) -> SyncLoop:
    def loop(run: RetryRun, target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        def on_backoff(details: dict[str, Any]) -> None:
            wait_seconds = run.commit_planned_retry()
            sleep(wait_seconds)

        @backoff.on_exception(on_backoff=on_backoff, **_backoff_arguments(run))
        def attempt() -> Any:
            return run.call(target, args, kwargs)

        return attempt()

    return loop


def _async_loop(async_sleep: AsyncSleep) -> AsyncLoop:
    async def loop(run: RetryRun, target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        async def on_backoff(details: dict[str, Any]) -> None:
            wait_seconds = run.commit_planned_retry()
            await async_sleep(wait_seconds)

        @backoff.on_exception(on_backoff=on_backoff, **_backoff_arguments(run))
        async def attempt() -> Any:
            return await run.acall(target, args, kwargs)

        return await attempt()

    return loop


@overload
def retry_with_backoff(
    func: Callable[P, R],
    /,
    *,
    policy: RetryPolicy | None = None,
    recorder: Recorder | None = None,
    sleep: Sleep = time.sleep,
    async_sleep: AsyncSleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
    tokens: TokenCharge = None,
) -> RetryingFunction[P, R]: ...


@overload
def retry_with_backoff(
    func: None = None,
    /,
    *,
    policy: RetryPolicy | None = None,
    recorder: Recorder | None = None,
    sleep: Sleep = time.sleep,
    async_sleep: AsyncSleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
    tokens: TokenCharge = None,
) -> Callable[[Callable[P, R]], RetryingFunction[P, R]]: ...


def retry_with_backoff(
    func: Callable[P, R] | None = None,
    /,
    *,
    policy: RetryPolicy | None = None,
    recorder: Recorder | None = None,
    sleep: Sleep = time.sleep,
    async_sleep: AsyncSleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
    tokens: TokenCharge = None,
) -> RetryingFunction[P, R] | Callable[[Callable[P, R]], RetryingFunction[P, R]]:
    """Retry a plain or `async` function with `backoff.on_exception`, following `policy`.

    backoff runs the loop, counts attempts against `max_tries` and calls a
    `giveup` predicate after each failure. The predicate gives up at once on
    errors that retrying cannot fix (see `errors.classify`) and when the next
    wait would pass `max_total_seconds`. The wait is the policy's: the
    server's hint plus seeded full jitter, capped at `max_wait`. When backoff
    gives up it re-raises the original exception, such as `openai.RateLimitError`.

    Use it around calls made by a client with `max_retries=0` (see
    `make_client`). The `openai` client retries twice by default, so 3
    attempts here would otherwise send up to 3 x 3 = 9 requests.

    Args:
        func: the function to wrap; omit it to get a decorator.
        policy: waits and limits; None uses `RetryPolicy()`.
        recorder: receives one `Attempt` per attempt, with the wait chosen.
        sleep: sleeps between attempts of a plain function.
        async_sleep: awaited between attempts of an `async` function; never
            `time.sleep`, so other tasks keep running.
        clock: monotonic seconds for `max_total_seconds`. backoff's own
            `max_time` reads the wall clock and shortens the last wait instead
            of skipping a retry that would start too late, so it is not used.
        rng: the random source for jitter; seed it for repeatable waits.
        limiter: a `Limiter` (`RateLimiter`, `RedisRateLimiter` or an object
            with the same methods) to wait in before each attempt. Response
            headers reachable from errors and raw results go to its `observe`
            (see `ratelimit_toolkit.retry.admission`). None throttles nothing.
        tokens: the token charge of each call for `limiter`: an integer, a
            function called with the call's own arguments, or None to
            estimate `openai` `create` calls and charge other calls 0 tokens.
    """
    settings = RunSettings(
        policy=policy or RetryPolicy(),
        strategy=STRATEGY,
        recorder=recorder,
        clock=clock,
        rng=rng or random.Random(),
        limiter=check_admission_options(limiter, tokens),
        tokens=tokens,
    )

    def decorate(function: Callable[P, R]) -> RetryingFunction[P, R]:
        return wrap(function, settings, _sync_loop(sleep), _async_loop(async_sleep))

    return decorate if func is None else decorate(func)
