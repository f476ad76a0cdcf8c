"""Bookkeeping shared by the three strategies: one `RetryRun` per decorated call.

A strategy (tenacity, backoff or the hand-written loop) decides when to call
and when to sleep. The run classifies each failure, records every attempt in
a `recording.Recorder`, logs each retry sleep at INFO and each give-up at
WARNING, and produces the `RetryStatistics` that the decorated function
exposes as `last_run` (see `wrapping`). With a limiter, the run also waits
for admission before each attempt and feeds response headers back to it
(see `admission`).
"""

from __future__ import annotations

import inspect
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

from ratelimit_toolkit.errors import Failure, classify
from ratelimit_toolkit.limiter import Limiter
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry.admission import headers_of_error, headers_of_result
from ratelimit_toolkit.retry.policy import RetryPolicy

logger = logging.getLogger(__name__)

R = TypeVar("R")

Clock = Callable[[], float]
StopReason = Literal["not_retryable", "max_attempts", "max_total_seconds"]


@dataclass(frozen=True)
class RetryStatistics:
    """Counts and failure summaries of one decorated call, read from the decorated function's `last_run`.

    Attributes:
        strategy: `tenacity`, `backoff` or `handwritten`.
        request_id: the id the attempts were recorded under.
        attempts: calls made, the first one included.
        retries: attempts after the first.
        sleeps: waits slept between attempts (one per retry).
        total_wait_seconds: the sum of those waits.
        elapsed_seconds: from the first attempt's start to the end, on the run's clock.
        succeeded: True when the last attempt returned.
        stop_reason: why the run gave up, or None when it succeeded.
        failures: `Failure.summary()` of each failed attempt, in order.
    """

    strategy: str
    request_id: str
    attempts: int
    retries: int
    sleeps: int
    total_wait_seconds: float
    elapsed_seconds: float
    succeeded: bool
    stop_reason: StopReason | None
    failures: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as plain JSON-safe values."""
        record = asdict(self)
        record["failures"] = [dict(summary) for summary in self.failures]
        return record

    def to_json(self) -> str:
        """Return `to_dict()` as a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


class RetryRun:
    """The state of one decorated call: its attempts, the pending failure and the counters.

    Not thread-safe; each call gets its own run.

    With a `limiter`, each attempt first waits for one request and `tokens`
    tokens. An error the limiter raises there (such as `RequestTooLargeError`)
    ends the run at once with `stop_reason` "not_retryable", and no attempt
    is counted for it.
    """

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        strategy: str,
        request_id: str,
        recorder: Recorder | None,
        clock: Clock,
        rng: random.Random,
        errors: tuple[type[BaseException], ...] = (Exception,),
        limiter: Limiter | None = None,
        tokens: float = 0.0,
    ) -> None:
        self.policy = policy
        self.strategy = strategy
        self.request_id = request_id
        self.recorder = recorder
        self.clock = clock
        self.rng = rng
        self.errors = errors
        self.limiter = limiter
        self.tokens = tokens
        self.started_at = clock()
        self.attempt_number = 0
        self.stop_reason: StopReason | None = None
        self.planned_wait: float | None = None
        self.failures: list[Failure] = []
        self.sleeps = 0
        self.total_wait_seconds = 0.0
        self._attempt_started = 0.0
        self._pending: tuple[Failure, float] | None = None
        self._succeeded = False

    # --- one attempt ------------------------------------------------------------

    def call(self, func: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        """Make one attempt; record a success, or keep the failure pending and re-raise it."""
        if self.limiter is not None:
            self._admit(self.limiter)
        self._begin_attempt()
        try:
            result = func(*args, **kwargs)
            _reject_coroutine(result, func)
        except BaseException as error:
            self._note_failure(error)
            raise
        self._note_success(result)
        return result

    async def acall(self, func: Callable[..., Awaitable[R]], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        """Make one attempt of a coroutine function; see `call`."""
        if self.limiter is not None:
            await self._admit_async(self.limiter)
        self._begin_attempt()
        try:
            result = await func(*args, **kwargs)
        except BaseException as error:
            self._note_failure(error)
            raise
        self._note_success(result)
        return result

    @property
    def pending_failure(self) -> Failure | None:
        """The failure of the last attempt, until it is committed as a retry or a give-up."""
        return self._pending[0] if self._pending else None

    def is_retryable(self, error: BaseException) -> bool:
        """Return True when the pending failure (the one `error` produced) may be retried."""
        failure = self.pending_failure
        return failure is not None and failure.retryable

    # --- deciding ---------------------------------------------------------------

    def decide(self) -> float | None:
        """Return the wait before the next attempt, or None when the run must give up.

        Keeps the wait in `planned_wait`, or sets `stop_reason` when it returns
        None. Draws jitter from the run's random source only when a retry is
        still possible.
        """
        self.planned_wait = self._plan()
        return self.planned_wait

    def _plan(self) -> float | None:
        failure = self.pending_failure
        if failure is None or not failure.retryable:
            self.stop_reason = "not_retryable"
            return None
        if self.attempt_number >= self.policy.max_attempts:
            self.stop_reason = "max_attempts"
            return None

        wait_seconds = self.policy.wait_seconds(self.attempt_number, failure.suggested_wait_seconds, self.rng)
        if self.exceeds_budget(wait_seconds):
            self.stop_reason = "max_total_seconds"
            return None
        return wait_seconds

    def exceeds_budget(self, wait_seconds: float) -> bool:
        """Return True when a retry after `wait_seconds` would start past `max_total_seconds`."""
        budget = self.policy.max_total_seconds
        return budget is not None and self.elapsed_seconds() + wait_seconds > budget

    def elapsed_seconds(self) -> float:
        """Return seconds since the run started, on its clock."""
        return self.clock() - self.started_at

    # --- committing -------------------------------------------------------------

    def commit_retry(self, wait_seconds: float) -> None:
        """Record the pending failure with the wait chosen, and log the coming sleep at INFO."""
        failure, ended = self._take_pending()
        self.sleeps += 1
        self.total_wait_seconds += wait_seconds
        self._record(failure, ended, wait_seconds)
        logger.info(
            "%s: request %s attempt %d/%d failed with %s; retrying in %.3f s%s",
            self.strategy,
            self.request_id,
            self.attempt_number,
            self.policy.max_attempts,
            _describe(failure),
            wait_seconds,
            _describe_hint(failure, self.policy),
        )

    def commit_planned_retry(self) -> float:
        """Commit the retry that `decide` planned and return its wait in seconds."""
        if self.planned_wait is None:
            raise RuntimeError("no retry is planned; call decide() after a failure first")
        wait_seconds = self.planned_wait
        self.planned_wait = None
        self.commit_retry(wait_seconds)
        return wait_seconds

    def commit_give_up(self) -> None:
        """Record the pending failure as the last attempt and log the give-up at WARNING."""
        if self._pending is None:
            return
        failure, ended = self._take_pending()
        self._record(failure, ended, None)
        if self.stop_reason is None:
            self.stop_reason = self._infer_stop_reason(failure)
        logger.warning(
            "%s: request %s gave up after %d attempt(s) (%s): %s",
            self.strategy,
            self.request_id,
            self.attempt_number,
            self.stop_reason,
            _describe(failure),
        )

    def statistics(self) -> RetryStatistics:
        """Return the counts so far."""
        return RetryStatistics(
            strategy=self.strategy,
            request_id=self.request_id,
            attempts=self.attempt_number,
            retries=max(0, self.attempt_number - 1),
            sleeps=self.sleeps,
            total_wait_seconds=self.total_wait_seconds,
            elapsed_seconds=self.elapsed_seconds(),
            succeeded=self._succeeded,
            stop_reason=None if self._succeeded else self.stop_reason,
            failures=tuple(failure.summary() for failure in self.failures),
        )

    # --- internals --------------------------------------------------------------

    def _admit(self, limiter: Limiter) -> None:
        try:
            limiter.acquire(self.tokens)
        except Exception as error:
            self._note_admission_error(error)
            raise

    async def _admit_async(self, limiter: Limiter) -> None:
        try:
            await limiter.acquire_async(self.tokens)
        except Exception as error:
            self._note_admission_error(error)
            raise

    def _note_admission_error(self, error: BaseException) -> None:
        self.stop_reason = "not_retryable"
        logger.warning(
            "%s: request %s not sent: the limiter raised %s: %s",
            self.strategy,
            self.request_id,
            type(error).__name__,
            error,
        )

    def _observe(self, headers: Mapping[str, str] | None) -> None:
        """Pass response headers to the limiter, logging instead of raising when its Redis is lost."""
        if self.limiter is None or headers is None:
            return
        try:
            self.limiter.observe(headers)
        except ConnectionError as error:
            # A RedisRateLimiter raises SharedLimiterUnavailableError (a
            # ConnectionError) here. The next acquire raises it again, so the
            # run only skips this correction.
            logger.warning("%s: request %s: the limiter failed to observe headers: %s",
                           self.strategy, self.request_id, error)

    def _begin_attempt(self) -> None:
        self.attempt_number += 1
        self._attempt_started = self._recorder_now()

    def _note_success(self, result: object) -> None:
        self._succeeded = True
        self._observe(headers_of_result(result))
        if self.recorder is not None:
            # A parsed openai response has no status; a raw response has `status_code`.
            status = getattr(result, "status_code", None)
            self.recorder.record(
                request_id=self.request_id,
                number=self.attempt_number,
                started=self._attempt_started,
                ended=self._recorder_now(),
                outcome="ok",
                status=status if isinstance(status, int) else None,
                strategy=self.strategy,
            )
        if self.attempt_number > 1:
            logger.debug("%s: request %s succeeded on attempt %d", self.strategy, self.request_id, self.attempt_number)

    def _note_failure(self, error: BaseException) -> None:
        self._observe(headers_of_error(error))
        failure = classify(error)
        if failure.retryable and not isinstance(error, self.errors):
            failure = Failure(False, failure.kind, failure.status, failure.code, failure.message, failure.suggested_wait_seconds)
        self.failures.append(failure)
        self._pending = (failure, self._recorder_now())

    def _take_pending(self) -> tuple[Failure, float]:
        if self._pending is None:
            raise RuntimeError("no failed attempt is pending; commit a retry or give-up only after a failure")
        pending = self._pending
        self._pending = None
        return pending

    def _record(self, failure: Failure, ended: float, wait_seconds: float | None) -> None:
        if self.recorder is None:
            return
        self.recorder.record(
            request_id=self.request_id,
            number=self.attempt_number,
            started=self._attempt_started,
            ended=ended,
            outcome=failure.kind,
            status=failure.status,
            code=failure.code,
            wait_seconds=wait_seconds,
            strategy=self.strategy,
        )

    def _infer_stop_reason(self, failure: Failure) -> StopReason:
        if not failure.retryable:
            return "not_retryable"
        if self.attempt_number >= self.policy.max_attempts:
            return "max_attempts"
        return "max_total_seconds"

    def _recorder_now(self) -> float:
        return self.recorder.now() if self.recorder is not None else 0.0


def _reject_coroutine(result: object, func: Callable[..., Any]) -> None:
    """Raise when a function wrapped as plain returned a coroutine, which the sync loop cannot retry."""
    if inspect.iscoroutine(result):
        result.close()
        name = getattr(func, "__qualname__", repr(func))
        raise TypeError(
            f"{name} returned a coroutine, so its errors would escape the retry loop; "
            "wrap an `async def` function (or pass the coroutine function itself, not a lambda around it)"
        )


def _describe(failure: Failure) -> str:
    status = "no response" if failure.status is None else str(failure.status)
    code = f" ({failure.code})" if failure.code else ""
    return f"{status} {failure.kind}{code}"


def _describe_hint(failure: Failure, policy: RetryPolicy) -> str:
    hint = failure.suggested_wait_seconds
    if hint is None or not policy.honor_server_wait:
        return ""
    return f" (server suggested {hint:.3f} s)"
