"""`retry_with_tenacity`: the retry policy built from tenacity's waits, stops and predicates."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ratelimit_toolkit.errors import classify
from ratelimit_toolkit.limiter import Limiter
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry.admission import TokenCharge, check_admission_options
from ratelimit_toolkit.retry.policy import RetryPolicy
from ratelimit_toolkit.retry.run import RetryRun
from ratelimit_toolkit.retry.wrapping import AsyncSleep, Clock, P, RetryingFunction, RunSettings, Sleep, wrap

R = TypeVar("R")

STRATEGY = "tenacity"


class wait_server_hint(wait_base):  # noqa: N801 - named like tenacity's own waits
    """Wait the server's suggested seconds for the last exception, or 0 when it suggested none."""

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome is not None else None
        if error is None:
            return 0.0
        return classify(error).suggested_wait_seconds or 0.0


class wait_seeded_random_exponential(tenacity.wait_exponential):  # noqa: N801
    """`wait_random_exponential` drawing from a given `random.Random`, so a seed makes waits repeatable.

    tenacity's own `wait_random_exponential` draws from the `random` module,
    which a caller cannot seed without affecting everything else.
    """

    def __init__(self, rng: random.Random, *, multiplier: float, max: float, exp_base: float) -> None:  # noqa: A002
        super().__init__(multiplier=multiplier, max=max, exp_base=exp_base)
        self.rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return self.rng.uniform(0.0, super().__call__(retry_state))


class wait_capped(wait_base):  # noqa: N801
    """Cut another wait at `max_wait` seconds; tenacity's sum of waits has no cap of its own."""

    def __init__(self, inner: wait_base, max_wait: float) -> None:
        self.inner = inner
        self.max_wait = max_wait

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return min(self.max_wait, self.inner(retry_state))


class stop_before_budget(stop_base):  # noqa: N801
    """Stop when the upcoming sleep would end past the run's `max_total_seconds`.

    tenacity's `stop_after_delay` reads `time.monotonic` and ignores the
    upcoming sleep. This stop reads the run's injectable clock and counts the
    sleep, like tenacity's `stop_before_delay`.
    """

    def __init__(self, run: RetryRun) -> None:
        self.run = run

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if self.run.exceeds_budget(retry_state.upcoming_sleep):
            self.run.stop_reason = "max_total_seconds"
            return True
        return False


def tenacity_wait(policy: RetryPolicy, rng: random.Random) -> wait_base:
    """Compose the policy's wait from tenacity pieces: server hint + (jittered) exponential, capped."""
    backoff: wait_base
    if policy.jitter == "full":
        backoff = wait_seeded_random_exponential(
            rng, multiplier=policy.initial_wait, max=policy.max_wait, exp_base=policy.multiplier
        )
    else:
        backoff = tenacity.wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait, exp_base=policy.multiplier)

    if not policy.honor_server_wait:
        return backoff
    return wait_capped(wait_server_hint() + backoff, policy.max_wait)


def _retrying_arguments(run: RetryRun) -> dict[str, Any]:
    """Build the tenacity arguments for one call: everything except `sleep`."""
    stop = tenacity.stop_after_attempt(run.policy.max_attempts)
    if run.policy.max_total_seconds is not None:
        stop = stop | stop_before_budget(run)
    return {
        "wait": tenacity_wait(run.policy, run.rng),
        "stop": stop,
        "retry": tenacity.retry_if_exception(run.is_retryable),
        "before_sleep": lambda state: run.commit_retry(state.upcoming_sleep),
        "reraise": True,
    }


@overload
def retry_with_tenacity(
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
def retry_with_tenacity(
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


def retry_with_tenacity(
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
    """Retry a plain or `async` function with tenacity, following `policy`.

    Each call builds a `tenacity.Retrying` (or `AsyncRetrying`) from
    `stop_after_attempt`, a deadline stop, `retry_if_exception` with the
    `errors` classifier, and a wait composed of the server's hint plus
    `wait_exponential` (seeded random for full jitter), capped at `max_wait`.
    `reraise=True` makes the caller catch the original exception, such as
    `openai.RateLimitError`, and never `tenacity.RetryError`.

    Use it around calls made by a client with `max_retries=0` (see
    `make_client`). The `openai` client retries twice by default, so 3
    attempts here would otherwise send up to 3 x 3 = 9 requests, each layer
    with its own waits.

    Args:
        func: the function to wrap; omit it to get a decorator.
        policy: waits and limits; None uses `RetryPolicy()`.
        recorder: receives one `Attempt` per attempt, with the wait chosen.
        sleep: sleeps between attempts of a plain function.
        async_sleep: awaited between attempts of an `async` function; never
            `time.sleep`, so other tasks keep running.
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

        @retry_with_tenacity(policy=RetryPolicy(initial_wait=0.5, max_attempts=5))
        def ask(prompt: str) -> str: ...
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

    def sync_loop(run: RetryRun, target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        retrying = tenacity.Retrying(sleep=sleep, **_retrying_arguments(run))
        return retrying(run.call, target, args, kwargs)

    async def async_loop(run: RetryRun, target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        retrying = tenacity.AsyncRetrying(sleep=async_sleep, **_retrying_arguments(run))
        return await retrying(run.acall, target, args, kwargs)

    def decorate(function: Callable[P, R]) -> RetryingFunction[P, R]:
        return wrap(function, settings, sync_loop, async_loop)

    return decorate if func is None else decorate(func)
