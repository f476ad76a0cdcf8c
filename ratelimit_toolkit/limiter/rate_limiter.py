"""`RateLimiter`: request and token buckets with one first-come, first-served queue."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ratelimit_toolkit.limiter.bucket import (
    DEFAULT_MARGIN_SECONDS,
    Clock,
    TokenBucket,
    check_burst_seconds,
    check_margin_seconds,
    check_per_minute,
)
from ratelimit_toolkit.limiter.headers import KINDS, ServerLimit, read_rate_limit_headers

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[Any]]

# How often a waiter behind the head wakes to check that the head is still
# alive. It matters only after a head was abandoned, so it can be long.
_ABANDONED_HEAD_CHECK_SECONDS = 60.0

#: Requests per minute that `RateLimiter.learning` allows before the first
#: response has reported the real limit: one request a second. An account
#: whose limit is lower gets a few 429s until that first response arrives, so
#: pass a smaller `initial_requests_per_minute` for it.
LEARNING_REQUESTS_PER_MINUTE = 60.0


class AcquireTimeoutError(TimeoutError):
    """`acquire` or `acquire_async` could not admit the request within its timeout.

    Attributes:
        tokens: the tokens the caller asked for.
        timeout_seconds: the timeout it gave.
    """

    def __init__(self, tokens: float, timeout_seconds: float, reason: str) -> None:
        self.tokens = tokens
        self.timeout_seconds = timeout_seconds
        super().__init__(
            f"rate limiter could not admit a request of {tokens:g} tokens within "
            f"{timeout_seconds:g}s: {reason}. Raise the timeout, or lower the request's tokens."
        )


@dataclass
class LimiterStats:
    """Running totals of one limiter.

    Attributes:
        admitted: requests admitted.
        tokens: tokens charged for them (before refunds).
        delayed: admissions that had to wait.
        wait_seconds: time spent waiting, summed over admissions.
        refunded_tokens: tokens given back with `refund`.
        timeouts: acquires that gave up with `AcquireTimeoutError`.
    """

    admitted: int = 0
    tokens: float = 0.0
    delayed: int = 0
    wait_seconds: float = 0.0
    refunded_tokens: float = 0.0
    timeouts: int = 0


class _ThreadWaiter:
    """A blocked thread, woken through an event."""

    __slots__ = ("tokens", "event")

    def __init__(self, tokens: float) -> None:
        self.tokens = tokens
        self.event = threading.Event()

    def arm(self) -> None:
        self.event.clear()

    def wake(self) -> None:
        self.event.set()


class _TaskWaiter:
    """A waiting coroutine, woken through a future on its own event loop."""

    __slots__ = ("tokens", "loop", "future")

    def __init__(self, tokens: float, loop: asyncio.AbstractEventLoop) -> None:
        self.tokens = tokens
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def arm(self) -> None:
        self.future = self.loop.create_future()

    def wake(self) -> None:
        # Thread-safe, because the waker may be a thread or another loop.
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # the waiter's loop is closed, so no task awaits the future
            pass


_Waiter = _ThreadWaiter | _TaskWaiter


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class RateLimiter:
    """Admit requests within a requests-per-minute and a tokens-per-minute limit.

    Two continuous-refill `TokenBucket`s, one per limit, each holding
    `burst_seconds` worth of its limit. A request takes 1 from the request
    bucket and its estimated tokens (see `ratelimit_toolkit.tokens`) from the
    token bucket, and it is admitted only when both allow it at once.

    Waiters are served first come, first served, from one queue shared by
    threads (`acquire`) and coroutines (`acquire_async`), even on several event
    loops at once. Only the waiter at the head of the queue computes when both
    buckets will admit it and waits until that moment. So a large request is
    never starved by a stream of small ones, and no waiter polls. A request larger
    than the per-minute token limit raises `RequestTooLargeError` at once.

    Use this class for one process. Processes that share one API key need a
    shared limiter instead (see `ratelimit_toolkit.redis_limiter`), or the
    server's 429s will do the sharing for them.

    Example::

        limiter = RateLimiter(requests_per_minute=500, tokens_per_minute=200_000)
        limiter.acquire(estimate_request("chat/completions", body).total)
        response = client.chat.completions.with_raw_response.create(**body)
        limiter.observe(response.headers)

    Args:
        requests_per_minute: the RPM limit, or None for no request limit.
        tokens_per_minute: the TPM limit, or None for no token limit.
        burst_seconds: seconds of budget that may be spent at once, in (0, 60].
            The default of 1 spends at most one second's worth at once, which
            stays safe when a server enforces its per-minute limits over
            periods as short as a second. 60 allows a whole minute's budget at once.
        margin_seconds: how far admission runs behind the exact refill, so
            that requests whose network delay varies by up to this much still
            reach the server after its bucket has refilled (see `TokenBucket`).
            It shifts the schedule once and does not lower the long-run rate.
        learn_limits: when True, `observe` also switches on a limit that is None,
            as soon as a response reports it. None (the default) means True
            when an initial limit is given and False otherwise.
        initial_requests_per_minute: a cautious RPM to enforce while
            `requests_per_minute` is None and no response has reported the limit.
        initial_tokens_per_minute: the same for tokens.
        clock: monotonic time in seconds.
        sleep: blocks a thread for a number of seconds. The default does not
            call `time.sleep` but waits on an event with a timeout, so that
            `observe`, `refund` and departing waiters can wake the head of the
            queue early. An injected sleep (for tests) is called as it is.
        async_sleep: the same for coroutines. The default waits on a future
            with a timer instead of calling `asyncio.sleep`.

    Raises:
        ValueError: a limit below 1 or not finite, `burst_seconds` outside
            (0, 60], or an initial limit given together with the real one.
    """

    def __init__(
        self,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        *,
        burst_seconds: float = 1.0,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        learn_limits: bool | None = None,
        initial_requests_per_minute: float | None = None,
        initial_tokens_per_minute: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        check_burst_seconds(burst_seconds)
        check_margin_seconds(margin_seconds)
        self.burst_seconds = float(burst_seconds)
        self.margin_seconds = float(margin_seconds)
        if learn_limits is None:
            learn_limits = initial_requests_per_minute is not None or initial_tokens_per_minute is not None
        self.learn_limits = learn_limits
        self.clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._sleep_on_event = sleep is time.sleep
        self._sleep_on_future = async_sleep is asyncio.sleep
        self._lock = threading.Lock()
        self._queue: deque[_Waiter] = deque()
        self.stats = LimiterStats()
        #: Limits a response has reported, by kind. It is empty until `observe` reads one.
        self.learned: dict[str, float] = {}
        self._guessed: set[str] = set()

        self._requests = self._make_bucket("requests", requests_per_minute, initial_requests_per_minute)
        self._tokens = self._make_bucket("tokens", tokens_per_minute, initial_tokens_per_minute)

    @classmethod
    def learning(
        cls,
        *,
        initial_requests_per_minute: float = LEARNING_REQUESTS_PER_MINUTE,
        initial_tokens_per_minute: float | None = None,
        burst_seconds: float = 1.0,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
    ) -> RateLimiter:
        """Make a limiter that starts cautiously and takes its limits from response headers.

        Until a response reports the limits, at most `initial_requests_per_minute`
        requests are admitted and tokens are not limited (unless
        `initial_tokens_per_minute` is given). Pass every response's headers to
        `observe`, 429s included: the first `x-ratelimit-limit-*` headers set
        both limits, and a waiter already queued is woken to use them.
        """
        return cls(
            None,
            None,
            burst_seconds=burst_seconds,
            margin_seconds=margin_seconds,
            learn_limits=True,
            initial_requests_per_minute=initial_requests_per_minute,
            initial_tokens_per_minute=initial_tokens_per_minute,
            clock=clock,
            sleep=sleep,
            async_sleep=async_sleep,
        )

    @property
    def requests_per_minute(self) -> float | None:
        """The RPM limit in force, or None when requests are not limited."""
        return None if self._requests is None else self._requests.per_minute

    @property
    def tokens_per_minute(self) -> float | None:
        """The TPM limit in force, or None when tokens are not limited."""
        return None if self._tokens is None else self._tokens.per_minute

    @property
    def buckets(self) -> dict[str, TokenBucket]:
        """The buckets in force, by kind (`requests`, `tokens`)."""
        found = {"requests": self._requests, "tokens": self._tokens}
        return {kind: bucket for kind, bucket in found.items() if bucket is not None}

    @property
    def waiters(self) -> int:
        """How many callers are waiting to be admitted."""
        return len(self._queue)

    def try_acquire(self, tokens: float = 1) -> bool:
        """Admit a request of `tokens` tokens if it fits now, without waiting.

        Returns False when the buckets are short or other callers are already
        waiting, because taking their place would break first come, first served.

        Raises:
            RequestTooLargeError: `tokens` exceeds the per-minute token limit.
        """
        tokens = _check_tokens(tokens)
        with self._lock:
            return self._admit_if_idle(tokens, self.clock())

    def acquire(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        """Block the calling thread until a request of `tokens` tokens is admitted.

        Args:
            tokens: the request's estimated tokens (prompt plus output cap times `n`).
            timeout: the maximum wait in seconds, or None to wait as long as the limits need.

        Returns:
            The seconds spent waiting.

        Raises:
            RequestTooLargeError: `tokens` exceeds the per-minute token limit.
            AcquireTimeoutError: it could not be admitted within `timeout`. It is
                raised as soon as the computed wait exceeds the time left.
        """
        tokens = _check_tokens(tokens)
        deadline = None if timeout is None else self._deadline(timeout)
        with self._lock:
            started = self.clock()
            if self._admit_if_idle(tokens, started):
                return 0.0
            waiter = _ThreadWaiter(tokens)
            self._queue.append(waiter)

        try:
            while True:
                delay = self._next_round(waiter, deadline, timeout)
                if delay == 0.0:
                    return self._note_wait(started)
                self._wait_thread(waiter, delay, deadline)
        except BaseException:
            self._leave(waiter)
            raise

    async def acquire_async(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        """Wait, without blocking the event loop, until a request of `tokens` tokens is admitted.

        The awaitable counterpart of `acquire`, with the same arguments, result
        and errors. Cancelling the task removes it from the queue.
        """
        tokens = _check_tokens(tokens)
        deadline = None if timeout is None else self._deadline(timeout)
        with self._lock:
            started = self.clock()
            if self._admit_if_idle(tokens, started):
                return 0.0
            waiter = _TaskWaiter(tokens, asyncio.get_running_loop())
            self._queue.append(waiter)

        try:
            while True:
                delay = self._next_round(waiter, deadline, timeout)
                if delay == 0.0:
                    return self._note_wait(started)
                await self._wait_task(waiter, delay, deadline)
        except BaseException:
            self._leave(waiter)
            raise

    def refund(self, tokens: float) -> None:
        """Give back tokens charged at admission but not used.

        Call it when a response's `usage.total_tokens` is below the estimate
        that was charged. Whether it helps depends on the server: if the server
        keeps charging the estimate, as the mock server does, refunds let this
        limiter run ahead of the server and `observe` or 429s pull it back.
        """
        amount = _check_tokens(tokens)
        with self._lock:
            if self._tokens is None or amount == 0:
                return
            self._tokens.refund(amount, self.clock())
            self.stats.refunded_tokens += amount
            self._wake_head()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the limits and levels from one response's `x-ratelimit-*` headers.

        Pass the headers of every response, 429s included (with the `openai`
        client: `client.chat.completions.with_raw_response.create(...)`, or
        `error.response.headers` of an `openai.APIStatusError`).

        - `x-ratelimit-limit-*` replaces a limit that differs, so a limiter
          started with wrong limits converges on the server's after one response.
          A limit that is None is switched on only when `learn_limits` is True.
        - `x-ratelimit-reset-*` (or, without it, `x-ratelimit-remaining-*`)
          lowers a bucket's level when the server has counted more than this
          limiter has (see `TokenBucket.correct_from_server`). It raises a level
          only once: when a limit that started as a guess is first learned, the
          level starts from the server's (see `TokenBucket.start_from_server`).

        Missing or invalid headers are ignored.
        """
        reported = read_rate_limit_headers(headers)
        with self._lock:
            now = self.clock()
            for kind in KINDS:
                self._apply_server_limit(kind, reported[kind], now)
            self._wake_head()

    def _make_bucket(self, kind: str, per_minute: float | None, initial: float | None) -> TokenBucket | None:
        if per_minute is not None and initial is not None:
            raise ValueError(
                f"give either {kind}_per_minute or initial_{kind}_per_minute, not both: "
                f"the initial value is a cautious start for a {kind} limit that is not known yet"
            )
        if per_minute is None and initial is None:
            return None
        if per_minute is None:
            self._guessed.add(kind)
        return self._new_bucket(kind, per_minute if per_minute is not None else initial)

    def _new_bucket(self, kind: str, per_minute: float | None) -> TokenBucket:
        check_per_minute(per_minute, kind)
        return TokenBucket(
            per_minute,  # type: ignore[arg-type]
            burst_seconds=self.burst_seconds,
            margin_seconds=self.margin_seconds,
            clock=self.clock,
            unit=kind,
            count_waiters=self._queue.__len__,
        )

    def _apply_server_limit(self, kind: str, reported: ServerLimit, now: float) -> None:
        bucket = self._requests if kind == "requests" else self._tokens
        limit = reported.limit_per_minute
        if limit is not None and limit >= 1:
            bucket = self._adopt_limit(kind, bucket, reported, now)
        if bucket is None:
            return

        deficit = reported.deficit(bucket.per_minute)
        if deficit is not None:
            lowered = bucket.correct_from_server(deficit, now)
            if lowered:
                logger.debug("server counted %.3g more %s than this limiter, so the level was lowered", lowered, kind)

    def _adopt_limit(self, kind: str, bucket: TokenBucket | None, reported: ServerLimit, now: float) -> TokenBucket | None:
        if bucket is None and not self.learn_limits:
            return None
        limit = float(reported.limit_per_minute)  # type: ignore[arg-type]
        previous = self.learned.get(kind)
        self.learned[kind] = limit
        was_guessed = kind in self._guessed
        self._guessed.discard(kind)
        if bucket is None:
            bucket = self._new_bucket(kind, limit)
            self._set_bucket(kind, bucket)
        elif bucket.per_minute != limit:
            bucket.set_limit(limit, now)
            if was_guessed:
                self._start_from_server(kind, bucket, reported, now)
        if previous != limit:
            logger.info("rate limiter now enforces %g %s per minute, as the server reported", limit, kind)
        return bucket

    def _start_from_server(self, kind: str, bucket: TokenBucket, reported: ServerLimit, now: float) -> None:
        """Fill a bucket that started from a guess up to the level the server reported.

        Everything this limiter charged so far counts as not yet seen by the
        server. That includes the request these headers answer, which the server
        did count, so the start errs on the slow side by one request.
        """
        deficit = reported.deficit(bucket.per_minute)
        if deficit is None:
            return
        charged = float(self.stats.admitted) if kind == "requests" else self.stats.tokens
        bucket.start_from_server(deficit, charged, now)

    def _set_bucket(self, kind: str, bucket: TokenBucket) -> None:
        if kind == "requests":
            self._requests = bucket
        else:
            self._tokens = bucket

    def _check_fits(self, tokens: float) -> None:
        if self._tokens is not None:
            self._tokens.check_fits(tokens)

    def _admit_if_idle(self, tokens: float, now: float) -> bool:
        """Charge and return True when the queue is empty and both buckets allow `tokens` now.

        Raises `RequestTooLargeError` first, whether or not others wait.
        """
        self._check_fits(tokens)
        if self._queue or self._seconds_until_admitted(tokens, now) > 0.0:
            return False
        self._charge(tokens, now)
        return True

    def _seconds_until_admitted(self, tokens: float, now: float) -> float:
        # Callers have checked that `tokens` fits, and one request always fits.
        delay = 0.0
        if self._requests is not None:
            delay = self._requests.wait_seconds(1.0, now)
        if self._tokens is not None:
            token_delay = self._tokens.wait_seconds(tokens, now)
            delay = token_delay if token_delay > delay else delay
        return delay

    def _charge(self, tokens: float, now: float) -> None:
        # Both buckets were refilled to `now` by _seconds_until_admitted.
        if self._requests is not None:
            self._requests.take(1.0, now)
        if self._tokens is not None:
            self._tokens.take(tokens, now)
        stats = self.stats
        stats.admitted += 1
        stats.tokens += tokens

    def _next_round(self, waiter: _Waiter, deadline: float | None, timeout: float | None) -> float | None:
        """Admit `waiter` (0.0), or return how long it should wait: seconds, or None until woken.

        Raises `AcquireTimeoutError` when the deadline has passed, or when the
        head of the queue needs longer than the time left.
        """
        with self._lock:
            waiter.arm()
            now = self.clock()
            delay = self._head_delay(waiter, now)
            if delay == 0.0:
                self._charge(waiter.tokens, now)
                self._queue.popleft()
                self._wake_head()
                return 0.0
            if deadline is not None:
                self._check_deadline(waiter, now, delay, deadline, timeout)
            return delay

    def _head_delay(self, waiter: _Waiter, now: float) -> float | None:
        self._drop_abandoned_head()
        if self._queue[0] is not waiter:
            return None
        # The limits may have shrunk since the waiter joined.
        self._check_fits(waiter.tokens)
        return self._seconds_until_admitted(waiter.tokens, now)

    def _check_deadline(
        self, waiter: _Waiter, now: float, delay: float | None, deadline: float, timeout: float | None
    ) -> None:
        if now >= deadline:
            reason = f"{self._queue.index(waiter)} callers were still ahead of it"
        elif delay is not None and now + delay > deadline:
            reason = f"the limits admit it only in {delay:.3f}s"
        else:
            return
        self.stats.timeouts += 1
        raise AcquireTimeoutError(waiter.tokens, timeout or 0.0, reason)

    def _wait_thread(self, waiter: _ThreadWaiter, delay: float | None, deadline: float | None) -> None:
        if delay is not None and not self._sleep_on_event:
            self._sleep(delay)
            return
        waiter.event.wait(self._wait_seconds(delay, deadline))

    async def _wait_task(self, waiter: _TaskWaiter, delay: float | None, deadline: float | None) -> None:
        if delay is not None and not self._sleep_on_future:
            await self._async_sleep(delay)
            return
        timer = waiter.loop.call_later(self._wait_seconds(delay, deadline), _resolve, waiter.future)
        try:
            await waiter.future
        finally:
            timer.cancel()

    def _wait_seconds(self, delay: float | None, deadline: float | None) -> float:
        # A waiter behind the head still wakes up now and then, in case the
        # head was abandoned on an event loop that closed (see _drop_abandoned_head).
        seconds = _ABANDONED_HEAD_CHECK_SECONDS if delay is None else delay
        if deadline is None:
            return seconds
        return min(seconds, max(0.0, deadline - self.clock()))

    def _leave(self, waiter: _Waiter) -> None:
        """Take a waiter that gave up (timeout, cancellation, error) out of the queue."""
        with self._lock:
            try:
                self._queue.remove(waiter)
            except ValueError:  # already admitted and removed
                return
            self._wake_head()

    def _wake_head(self) -> None:
        self._drop_abandoned_head()
        if self._queue:
            self._queue[0].wake()

    def _drop_abandoned_head(self) -> None:
        """Remove waiting coroutines whose event loop has closed from the head of the queue.

        A loop closed without cancelling its tasks leaves their waiters queued
        forever, and the head would block everyone behind it.
        """
        queue = self._queue
        while queue and isinstance(queue[0], _TaskWaiter) and queue[0].loop.is_closed():
            logger.warning("dropped a waiter whose event loop closed while it waited for %g tokens", queue[0].tokens)
            queue.popleft()

    def _note_wait(self, started: float) -> float:
        waited = max(0.0, self.clock() - started)
        with self._lock:
            self.stats.delayed += 1
            self.stats.wait_seconds += waited
        return waited

    def _deadline(self, timeout: float | None) -> float | None:
        if timeout is None:
            return None
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")
        return self.clock() + timeout

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"RateLimiter(requests={self._requests!r}, tokens={self._tokens!r}, "
                f"burst_seconds={self.burst_seconds:g}, waiters={len(self._queue)})"
            )


def _check_tokens(tokens: object) -> float:
    if type(tokens) is int and tokens >= 0:  # the common case, checked cheaply
        return float(tokens)
    is_number = isinstance(tokens, (int, float)) and not isinstance(tokens, bool)
    if not is_number or not math.isfinite(tokens) or tokens < 0:  # type: ignore[arg-type,operator]
        raise ValueError(f"tokens must be a finite number >= 0, got {tokens!r}")
    return float(tokens)  # type: ignore[arg-type]
