"""The decorator shell shared by the three strategies: a fresh `RetryRun` per call, `last_run`, `functools.wraps`."""

from __future__ import annotations

import functools
import inspect
import itertools
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from ratelimit_toolkit.limiter import Limiter
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry.admission import TokenCharge, charge_for
from ratelimit_toolkit.retry.policy import RetryPolicy
from ratelimit_toolkit.retry.run import Clock, RetryRun, RetryStatistics

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


class RetryingFunction(Protocol[P, R_co]):
    """A function wrapped by one of the retry decorators.

    `last_run` is the `RetryStatistics` of the call that finished last, or
    None before the first call. With concurrent calls (threads or tasks) it is
    whichever finished last; pass a `Recorder` for per-call numbers.
    """

    last_run: RetryStatistics | None
    policy: RetryPolicy
    __wrapped__: Callable[P, R_co]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...


def is_async_callable(func: Callable[..., Any]) -> bool:
    """Return True for a coroutine function, also behind decorators and bound methods.

    The `openai` client's `AsyncOpenAI().chat.completions.create` is a bound
    method whose decorator hides the `async def` from `inspect.iscoroutinefunction`.
    """
    candidates = (func, inspect.unwrap(func), getattr(func, "__call__", None))
    return any(inspect.iscoroutinefunction(candidate) for candidate in candidates if candidate is not None)


SyncLoop = Callable[[RetryRun, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]
AsyncLoop = Callable[[RetryRun, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class RunSettings:
    """Settings that every run of one decorated function shares."""

    policy: RetryPolicy
    strategy: str
    recorder: Recorder | None
    clock: Clock
    rng: random.Random
    errors: tuple[type[BaseException], ...] = (Exception,)
    limiter: Limiter | None = None
    tokens: TokenCharge = None


def wrap(func: Callable[P, R], settings: RunSettings, sync_loop: SyncLoop, async_loop: AsyncLoop) -> RetryingFunction[P, R]:
    """Wrap `func` so each call runs `sync_loop` (or `async_loop` for a coroutine function) in a fresh `RetryRun`."""
    numbers = itertools.count(1)
    name = getattr(func, "__qualname__", type(func).__name__)

    def new_run(args: tuple[Any, ...], kwargs: dict[str, Any]) -> RetryRun:
        # The charge is computed only with a limiter, so without one a call does no extra work.
        tokens = 0.0 if settings.limiter is None else charge_for(settings.tokens, args, kwargs)
        return RetryRun(
            policy=settings.policy,
            strategy=settings.strategy,
            request_id=f"{name}#{next(numbers)}",
            recorder=settings.recorder,
            clock=settings.clock,
            rng=settings.rng,
            errors=settings.errors,
            limiter=settings.limiter,
            tokens=tokens,
        )

    if is_async_callable(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            run = new_run(args, kwargs)
            try:
                return await async_loop(run, func, args, kwargs)
            except BaseException:
                run.commit_give_up()
                raise
            finally:
                async_wrapper.last_run = run.statistics()  # type: ignore[attr-defined]

        wrapper: Any = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            run = new_run(args, kwargs)
            try:
                return sync_loop(run, func, args, kwargs)
            except BaseException:
                run.commit_give_up()
                raise
            finally:
                sync_wrapper.last_run = run.statistics()  # type: ignore[attr-defined]

        wrapper = sync_wrapper

    wrapper.last_run = None
    wrapper.policy = settings.policy
    return cast("RetryingFunction[P, R]", wrapper)
