"""`RedisRateLimiter`: one request and token budget shared by many processes through Redis."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from ratelimit_toolkit.limiter import (
    LEARNING_REQUESTS_PER_MINUTE,
    AcquireTimeoutError,
    LimiterStats,
    RateLimiter,
    RequestTooLargeError,
    read_rate_limit_headers,
)
from ratelimit_toolkit.limiter.bucket import (
    DEFAULT_MARGIN_SECONDS,
    check_burst_seconds,
    check_margin_seconds,
    check_per_minute,
)
from ratelimit_toolkit.redis_limiter import scripts
from ratelimit_toolkit.redis_limiter.clients import ScriptRunner
from ratelimit_toolkit.redis_limiter.connection import (
    DEFAULT_COMMAND_TIMEOUT_SECONDS,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    RedisFallbackWarning,
    SharedLimiterUnavailableError,
    fallback_message,
)
from ratelimit_toolkit.redis_limiter.keys import DEFAULT_KEY_PREFIX, limit_key
from ratelimit_toolkit.redis_limiter.scripts import Decision, parse_decision

logger = logging.getLogger(__name__)

#: The URL used when neither `redis_url` nor a client is given.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

KINDS = ("requests", "tokens")

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[Any]]


class RedisRateLimiter:
    """Requests-per-minute and tokens-per-minute buckets kept in Redis for many processes.

    Use it when several processes or machines spend one organisation's limits.
    Inside one process, `RateLimiter` does the same job without a server. Both
    have the same methods, arguments and errors: `acquire(tokens)` blocks,
    `await acquire_async(tokens)` serves asyncio, `try_acquire(tokens)` never
    waits, `refund(tokens)` gives back what a request did not use, and
    `observe(headers)` follows a response's `x-ratelimit-*` headers.

    Each admission is one atomic Lua script on the Redis server, which checks
    and charges both buckets together, timed by the server's clock (`TIME`),
    so the clients' clocks may disagree. Each bucket holds `limit *
    burst_seconds / 60` and refills continuously. A request larger than the
    token bucket but within the per-minute limit is admitted when the bucket
    is full and leaves it in debt. A request that must wait is charged at once
    and told how long to sleep, which books its place. Callers are therefore
    served in the order their scripts reach Redis, so a large request is never
    starved by small ones, and a waiting caller makes no further Redis calls.
    A caller interrupted while it waits gives its booking back. A process
    killed while it waits cannot, so its turn passes unused: the limit holds,
    and throughput drops by that turn.

    The key is `limit_key(key_prefix, organization=, project=, model=)`, so
    different organisations, projects or models never share a budget. It
    expires once both buckets are full again and a minute has passed.

    Example::

        limiter = RedisRateLimiter(1_200, 120_000, redis_url="redis://127.0.0.1:6379/0",
                                   organization="org-a", model="gpt-4o-mini")
        limiter.acquire(estimate_request("chat/completions", body).total)

    A limiter built from `redis_url` can be pickled, so `multiprocessing`
    workers can receive it; clients are opened again in each process.

    Args:
        requests_per_minute: the RPM limit, or None for no request limit.
        tokens_per_minute: the TPM limit, or None for no token limit.
        redis_url: where Redis is (`redis://[:password@]host:port/db`); the
            default is `DEFAULT_REDIS_URL` unless a client is given.
        client: a `redis.Redis` to use instead of one built from `redis_url`.
        async_client: a `redis.asyncio.Redis` for `acquire_async`, used only
            from the event loop it belongs to.
        key_prefix: the first part of the Redis key.
        organization: the organisation whose limits these are.
        project: the project whose limits these are.
        model: the model these limits apply to.
        burst_seconds: seconds of budget that may be spent at once, in (0, 60].
        margin_seconds: how far admission runs behind the exact refill, as for
            `RateLimiter`, so requests that reach the server a little sooner
            than the ones before them still find its bucket refilled.
        fallback_to_local: when Redis is unavailable, warn once and limit this
            process alone with a local `RateLimiter` from then on, instead of
            raising `SharedLimiterUnavailableError`.
        learn_limits: when True, `observe` also switches on a limit that is None.
        initial_requests_per_minute: a cautious RPM to enforce while
            `requests_per_minute` is None and no response has reported it.
        initial_tokens_per_minute: the same for tokens.
        connect_timeout_seconds: seconds to wait for a connection to Redis.
        command_timeout_seconds: seconds to wait for Redis to answer.
        clock: monotonic seconds for the local fallback; shared decisions use
            only the Redis server's clock.
        sleep: blocks a thread for a number of seconds.
        async_sleep: waits a number of seconds in a coroutine.
        lang: language of error messages (`en` or `ko`); None reads the environment.

    Raises:
        ValueError: a limit or `burst_seconds` is out of range, an initial limit
            is given together with the real one, or a key part is empty.
    """

    def __init__(
        self,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        *,
        redis_url: str | None = None,
        client: Any = None,
        async_client: Any = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        organization: str | None = None,
        project: str | None = None,
        model: str | None = None,
        burst_seconds: float = 1.0,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        fallback_to_local: bool = False,
        learn_limits: bool = False,
        initial_requests_per_minute: float | None = None,
        initial_tokens_per_minute: float | None = None,
        connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        command_timeout_seconds: float = DEFAULT_COMMAND_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
        lang: str | None = None,
    ) -> None:
        check_burst_seconds(burst_seconds)
        check_margin_seconds(margin_seconds)
        self.burst_seconds = float(burst_seconds)
        self.margin_seconds = float(margin_seconds)
        self._limits = {
            "requests": _initial_limit("requests", requests_per_minute, initial_requests_per_minute),
            "tokens": _initial_limit("tokens", tokens_per_minute, initial_tokens_per_minute),
        }
        self.learn_limits = learn_limits
        #: Limits that responses reported, by kind; empty until `observe` reads one.
        self.learned: dict[str, float] = {}
        self.stats = LimiterStats()
        self.fallback_to_local = fallback_to_local
        self.lang = lang
        self.key = limit_key(key_prefix, organization=organization, project=project, model=model)
        self.clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep

        if redis_url is None and client is None and async_client is None:
            redis_url = DEFAULT_REDIS_URL
        self._runner = ScriptRunner(
            self.key,
            redis_url=redis_url,
            client=client,
            async_client=async_client,
            connect_timeout_seconds=connect_timeout_seconds,
            command_timeout_seconds=command_timeout_seconds,
            lang=lang,
        )
        self._lock = threading.Lock()
        self._waiting = 0
        self._local: RateLimiter | None = None

    @classmethod
    def learning(
        cls,
        *,
        initial_requests_per_minute: float = LEARNING_REQUESTS_PER_MINUTE,
        initial_tokens_per_minute: float | None = None,
        **options: Any,
    ) -> RedisRateLimiter:
        """Make a shared limiter that starts cautiously and takes its limits from response headers.

        The same as `RateLimiter.learning`: until a response reports the
        limits, at most `initial_requests_per_minute` requests are admitted
        and tokens are not limited unless `initial_tokens_per_minute` is given.
        Each process learns from the headers it passes to `observe`.

        Args:
            initial_requests_per_minute: the cautious RPM before the first report.
            initial_tokens_per_minute: the cautious TPM before the first report.
            **options: any keyword argument of `RedisRateLimiter`, such as `redis_url`.
        """
        return cls(
            None,
            None,
            learn_limits=True,
            initial_requests_per_minute=initial_requests_per_minute,
            initial_tokens_per_minute=initial_tokens_per_minute,
            **options,
        )

    @property
    def requests_per_minute(self) -> float | None:
        """The RPM limit in force, or None when requests are not limited."""
        return self._limits["requests"]

    @property
    def tokens_per_minute(self) -> float | None:
        """The TPM limit in force, or None when tokens are not limited."""
        return self._limits["tokens"]

    @property
    def url(self) -> str:
        """Where Redis is, with any password replaced by `***`."""
        return self._runner.url

    @property
    def waiters(self) -> int:
        """How many callers in this process are waiting for their booked turn."""
        return self._waiting

    @property
    def is_local(self) -> bool:
        """True after a fallback to a local limiter, when this process no longer shares the limit."""
        return self._local is not None

    def try_acquire(self, tokens: float = 1) -> bool:
        """Admit a request of `tokens` tokens if both shared buckets allow it now, without waiting.

        Raises:
            RequestTooLargeError: `tokens` exceeds the per-minute token limit.
            SharedLimiterUnavailableError: Redis is unavailable and
                `fallback_to_local` is False.
        """
        tokens = self._check_request(tokens)
        local = self._local
        if local is not None:
            return local.try_acquire(tokens)

        decision = self._decide_or_fall_back(tokens, 0.0)
        if decision is None:
            return self._require_local().try_acquire(tokens)
        if decision.granted:
            self._note_admitted(tokens, 0.0)
        return decision.granted

    def acquire(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        """Block the calling thread until a request of `tokens` tokens is admitted.

        Args:
            tokens: the request's estimated tokens (prompt plus output cap times `n`).
            timeout: the longest wait in seconds; None waits as long as the limits need.

        Returns:
            The seconds spent waiting.

        Raises:
            RequestTooLargeError: `tokens` exceeds the per-minute token limit.
            AcquireTimeoutError: the wait would exceed `timeout`. It is raised
                at once, and nothing is charged.
            SharedLimiterUnavailableError: Redis is unavailable and
                `fallback_to_local` is False.
        """
        tokens = self._check_request(tokens, timeout)
        local = self._local
        if local is not None:
            return local.acquire(tokens, timeout=timeout)

        decision = self._decide_or_fall_back(tokens, timeout)
        if decision is None:
            return self._require_local().acquire(tokens, timeout=timeout)
        self._raise_if_not_granted(decision, tokens, timeout)
        if decision.wait_seconds > 0.0:
            self._wait_for_turn(decision.wait_seconds, tokens)
        return self._note_admitted(tokens, decision.wait_seconds)

    async def acquire_async(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        """Wait, without blocking the event loop, until a request of `tokens` tokens is admitted.

        The awaitable counterpart of `acquire`, with the same arguments, result
        and errors. Cancelling the task while it waits gives its booking back.
        """
        tokens = self._check_request(tokens, timeout)
        local = self._local
        if local is not None:
            return await local.acquire_async(tokens, timeout=timeout)

        decision = await self._decide_or_fall_back_async(tokens, timeout)
        if decision is None:
            return await self._require_local().acquire_async(tokens, timeout=timeout)
        self._raise_if_not_granted(decision, tokens, timeout)
        if decision.wait_seconds > 0.0:
            await self._wait_for_turn_async(decision.wait_seconds, tokens)
        return self._note_admitted(tokens, decision.wait_seconds)

    def decide(self, tokens: float = 1, *, max_wait_seconds: float | None = None) -> Decision:
        """Run the admission script once and return its decision, without waiting or falling back.

        A granted decision with a positive `wait_seconds` is a booking: send
        the request only after that wait, or give it back with
        `refund(tokens, requests=1)`.

        Raises:
            RequestTooLargeError: `tokens` exceeds the per-minute token limit.
            SharedLimiterUnavailableError: Redis is unavailable.
        """
        tokens = self._check_request(tokens, max_wait_seconds)
        return parse_decision(self._runner.run(scripts.ADMIT, self._admit_arguments(tokens, max_wait_seconds)))

    def refund(self, tokens: float, *, requests: int = 0) -> None:
        """Give back tokens (and requests) charged at admission but not used.

        Call it when a response's `usage.total_tokens` is below the estimate
        that was charged. Levels never rise above capacity. As with
        `RateLimiter.refund`, it helps only if the server also charges actual
        usage. The mock server keeps charging the estimate, so there `observe`
        and 429s pull a limiter that refunds back to the server's count.
        """
        amount = _check_amount("tokens", tokens)
        requests = int(_check_amount("requests", requests))
        if amount == 0 and requests == 0:
            return
        local = self._local
        if local is not None:
            local.refund(amount)
            return
        self._runner.run(scripts.REFUND, [*self._limit_arguments(), requests, amount])
        self.stats.refunded_tokens += amount

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the limits and the shared levels from one response's `x-ratelimit-*` headers.

        Pass the headers of every response, 429s included, as for `RateLimiter.observe`:

        - `x-ratelimit-limit-*` replaces this process's limit when it differs
          (a limit that is None only when `learn_limits` is True). Other
          processes learn it from their own responses.
        - `x-ratelimit-reset-*` (or, without it, `x-ratelimit-remaining-*`)
          lowers a shared level when the server has counted more than the
          largest deficit of the shared bucket in the last minute. So usage
          outside this limiter is counted, and stale headers cost nothing.
          It never raises a level.

        Missing or invalid headers are ignored.

        NOTE: as with `RateLimiter.observe`, a small steady usage outside this
        limiter stays below the last minute's peak and is not seen here; the
        server's 429s are then the only signal.

        Raises:
            SharedLimiterUnavailableError: Redis is unavailable and
                `fallback_to_local` is False.
        """
        reported = read_rate_limit_headers(headers)
        for kind in KINDS:
            self._adopt_limit(kind, reported[kind].limit_per_minute)
        local = self._local
        if local is not None:
            local.observe(headers)
            return

        deficits = [self._server_deficit(kind, reported[kind]) for kind in KINDS]
        if all(deficit == "" for deficit in deficits):
            return
        result = self._runner.run(scripts.LOWER, [*self._limit_arguments(), *deficits])
        if float(result[2]) > 0 or float(result[3]) > 0:
            logger.debug("shared limit %s lowered by %s requests and %s tokens from headers", self.key, result[2], result[3])

    def levels(self) -> tuple[float, float]:
        """Return the shared request and token levels now, as the Redis server computes them."""
        result = self._runner.run(scripts.PEEK, self._limit_arguments())
        return float(result[0]), float(result[1])

    def ping(self) -> None:
        """Check that Redis responds to PING, so a wrong URL fails before any work starts.

        Raises:
            SharedLimiterUnavailableError: Redis is unavailable.
        """
        self._runner.ping()

    def reset(self) -> None:
        """Delete the shared state, so both buckets are full again for every process."""
        self._runner.delete()

    def close(self) -> None:
        """Close the synchronous client this limiter created; a client passed in stays open."""
        self._runner.close()

    async def aclose(self) -> None:
        """Close the asyncio client this limiter created for the running event loop."""
        await self._runner.aclose()

    def __enter__(self) -> RedisRateLimiter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> RedisRateLimiter:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        state["_local"] = None
        state["_waiting"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = "local fallback" if self._local is not None else self.url
        return (
            f"RedisRateLimiter(key={self.key!r}, requests_per_minute={self.requests_per_minute}, "
            f"tokens_per_minute={self.tokens_per_minute}, burst_seconds={self.burst_seconds:g}, "
            f"waiters={self._waiting}, redis={where!r})"
        )

    def _check_request(self, tokens: float, timeout: float | None = None) -> float:
        amount = _check_amount("tokens", tokens)
        if timeout is not None:
            _check_amount("timeout", timeout)
        limit = self._limits["tokens"]
        if limit is not None and amount > limit * (1 + 1e-9):
            raise RequestTooLargeError(amount, limit, "tokens")
        return amount

    def _limit_arguments(self) -> list[Any]:
        return [self._limits["requests"] or 0, self._limits["tokens"] or 0, self.burst_seconds]

    def _admit_arguments(self, tokens: float, max_wait_seconds: float | None) -> list[Any]:
        max_wait = -1 if max_wait_seconds is None else math.floor(max_wait_seconds * 1e6)
        return [*self._limit_arguments(), tokens, max_wait, self.margin_seconds * 1e6]

    def _decide_or_fall_back(self, tokens: float, max_wait_seconds: float | None) -> Decision | None:
        """Run the admission script; None means Redis failed and this call switched to the fallback."""
        try:
            return parse_decision(self._runner.run(scripts.ADMIT, self._admit_arguments(tokens, max_wait_seconds)))
        except SharedLimiterUnavailableError as error:
            self._fall_back_or_raise(error)
            return None

    async def _decide_or_fall_back_async(self, tokens: float, max_wait_seconds: float | None) -> Decision | None:
        arguments = self._admit_arguments(tokens, max_wait_seconds)
        try:
            return parse_decision(await self._runner.run_async(scripts.ADMIT, arguments))
        except SharedLimiterUnavailableError as error:
            self._fall_back_or_raise(error)
            return None

    def _raise_if_not_granted(self, decision: Decision, tokens: float, timeout: float | None) -> None:
        if decision.granted:
            return
        self.stats.timeouts += 1
        reason = f"the shared limit {self.key} would make it wait {decision.wait_seconds:.3f}s"
        raise AcquireTimeoutError(tokens, timeout or 0.0, reason)

    def _wait_for_turn(self, wait_seconds: float, tokens: float) -> None:
        self._count_waiter(+1)
        try:
            self._sleep(wait_seconds)
        except BaseException:
            # KeyboardInterrupt, or an error from an injected sleep: the booked
            # turn will never be used, so give its budget back to the others.
            self._refund_booking(tokens)
            raise
        finally:
            self._count_waiter(-1)

    async def _wait_for_turn_async(self, wait_seconds: float, tokens: float) -> None:
        self._count_waiter(+1)
        try:
            await self._async_sleep(wait_seconds)
        except BaseException:
            await self._refund_booking_async(tokens)
            raise
        finally:
            self._count_waiter(-1)

    def _count_waiter(self, change: int) -> None:
        with self._lock:
            self._waiting += change

    def _refund_booking(self, tokens: float) -> None:
        try:
            self._runner.run(scripts.REFUND, [*self._limit_arguments(), 1, tokens])
        except SharedLimiterUnavailableError as error:
            logger.warning("failed to refund an unused booking on %s: %s", self.key, error)

    async def _refund_booking_async(self, tokens: float) -> None:
        try:
            await self._runner.run_async(scripts.REFUND, [*self._limit_arguments(), 1, tokens])
        except SharedLimiterUnavailableError as error:
            logger.warning("failed to refund an unused booking on %s: %s", self.key, error)

    def _note_admitted(self, tokens: float, wait_seconds: float) -> float:
        with self._lock:
            self.stats.admitted += 1
            self.stats.tokens += tokens
            if wait_seconds > 0.0:
                self.stats.delayed += 1
                self.stats.wait_seconds += wait_seconds
        return wait_seconds

    def _fall_back_or_raise(self, error: SharedLimiterUnavailableError) -> None:
        if not self.fallback_to_local:
            raise error
        with self._lock:
            if self._local is not None:
                return
            self._local = RateLimiter(
                self._limits["requests"],
                self._limits["tokens"],
                burst_seconds=self.burst_seconds,
                margin_seconds=self.margin_seconds,
                learn_limits=self.learn_limits,
                clock=self.clock,
                sleep=self._sleep,
                async_sleep=self._async_sleep,
            )
        text = fallback_message(self.url, error.__cause__ or error, self.lang)
        # Users see the warning. Services that collect logs get this line, and
        # logging.captureWarnings can route the warning there as well.
        logger.info("shared limit %s: %s", self.key, text)
        warnings.warn(text, RedisFallbackWarning, stacklevel=4)

    def _require_local(self) -> RateLimiter:
        if self._local is None:  # unreachable: _fall_back_or_raise either sets it or raises
            raise RuntimeError("the local fallback limiter is missing")
        return self._local

    def _adopt_limit(self, kind: str, limit: float | None) -> None:
        if limit is None or limit < 1:
            return
        current = self._limits[kind]
        if current is None and not self.learn_limits:
            return
        self.learned[kind] = limit
        if current != limit:
            self._limits[kind] = limit
            logger.info("shared limit %s now enforces %g %s per minute, as the server reported", self.key, limit, kind)

    def _server_deficit(self, kind: str, reported: Any) -> str:
        limit = self._limits[kind]
        if limit is None:
            return ""
        deficit = reported.deficit(limit)
        return "" if deficit is None else repr(float(deficit))


def _initial_limit(kind: str, per_minute: float | None, initial: float | None) -> float | None:
    if per_minute is not None and initial is not None:
        raise ValueError(
            f"give either {kind}_per_minute or initial_{kind}_per_minute, not both: "
            f"the initial value is a cautious start for a {kind} limit that is not known yet"
        )
    chosen = per_minute if per_minute is not None else initial
    if chosen is None:
        return None
    check_per_minute(chosen, kind)
    return float(chosen)


def _check_amount(name: str, value: object) -> float:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value < 0:  # type: ignore[arg-type,operator]
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]
