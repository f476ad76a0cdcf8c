"""The asyncio engine: a feeder reads input lines into a bounded queue, workers send them.

The main loop is three named steps: `_feed` reads the next line and queues it,
`_work` takes one line at a time, and `_process` throttles, sends, retries and
records it. Exactly `concurrency` worker tasks exist; all of them, and the
feeder, are kept and awaited. The queue contains at most `concurrency` lines, so
memory stays flat however long the input is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ratelimit_toolkit import errors
from ratelimit_toolkit.errors import Failure
from ratelimit_toolkit.limiter import RequestTooLargeError
from ratelimit_toolkit.processor.endpoints import EndpointTarget
from ratelimit_toolkit.processor.inputs import InputLine, iter_input
from ratelimit_toolkit.processor.progress import ProgressBar
from ratelimit_toolkit.processor.records import ResultWriter, error_record, success_record
from ratelimit_toolkit.processor.resume import LineSet
from ratelimit_toolkit.processor.summary import ProcessSummary
from ratelimit_toolkit.processor.throttle import Throttle
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry.policy import RetryPolicy
from ratelimit_toolkit.tokens import TokenEstimateError, estimate_request

logger = logging.getLogger(__name__)

AsyncSleep = Callable[[float], Awaitable[Any]]

#: Caught errors of one kind logged one by one before the log only counts them.
LOGGED_ERRORS_PER_KIND = 20


@dataclass
class JobParts:
    """Everything one run needs, built and owned by `api.process_file`."""

    input_path: Path
    target: EndpointTarget
    session: aiohttp.ClientSession
    throttle: Throttle
    policy: RetryPolicy
    writer: ResultWriter
    progress: ProgressBar
    summary: ProcessSummary
    answered: LineSet
    concurrency: int
    max_lines: int | None = None
    recorder: Recorder | None = None
    rng: random.Random = field(default_factory=random.Random)
    sleep: AsyncSleep = asyncio.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass
class _Reply:
    """The outcome of one HTTP call: a JSON body, or a failure."""

    body: Any = None
    failure: Failure | None = None
    charged: bool = False
    status: int | None = None


class Job:
    """One run over one input file."""

    def __init__(self, parts: JobParts) -> None:
        self.parts = parts
        self._fatal = asyncio.Event()
        self._logged_errors: dict[str, int] = {}

    async def run(self) -> None:
        """Process every unanswered line, or stop early on a quota or key error or `max_lines`."""
        queue: asyncio.Queue[InputLine | None] = asyncio.Queue(maxsize=self.parts.concurrency)
        workers = [asyncio.create_task(self._work(queue)) for _ in range(self.parts.concurrency)]
        tasks = [asyncio.create_task(self._feed(queue, len(workers))), *workers]
        everything: asyncio.Future[Any] = asyncio.gather(*tasks)
        fatal: asyncio.Future[Any] = asyncio.create_task(self._fatal.wait())
        try:
            # A quota or key error ends the job at once: requests in flight and
            # retry waits are cancelled, and their lines stay unanswered.
            await asyncio.wait({everything, fatal}, return_when=asyncio.FIRST_COMPLETED)
            if everything.done():
                everything.result()
        finally:
            for task in [*tasks, fatal]:
                task.cancel()
            await asyncio.gather(*tasks, fatal, return_exceptions=True)
            everything.cancel()
            await asyncio.gather(everything, return_exceptions=True)

    async def _feed(self, queue: asyncio.Queue[InputLine | None], workers: int) -> None:
        """Queue unanswered lines in input order, then one end marker per worker."""
        queued = 0
        for item in iter_input(self.parts.input_path, skip=self.parts.answered.__contains__):
            if self.parts.max_lines is not None and queued >= self.parts.max_lines:
                self._stop_after_max_lines(queued)
                break
            await queue.put(item)
            queued += 1
        for _ in range(workers):
            await queue.put(None)

    async def _work(self, queue: asyncio.Queue[InputLine | None]) -> None:
        while (item := await queue.get()) is not None:
            await self._process(item)

    async def _process(self, item: InputLine) -> None:
        """Throttle, send, retry and record one line."""
        prepared = self._prepare(item)
        if prepared is None:
            return
        charge, data = prepared

        history: list[dict[str, Any]] = []
        first_started = self.parts.clock()
        for number in range(1, self.parts.policy.max_attempts + 1):
            if not await self._admit(item, charge, number, history):
                return

            started = self._now()
            reply = await self._send(data)
            self._count_attempt(reply, charge)
            if reply.failure is None:
                self._record_attempt(item, number, started, "ok", reply.status, None, charge)
                self._finish(success_record(item.line, item.metadata, number, reply.body))
                return

            history.append(reply.failure.summary())
            wait_seconds = self._after_failure(item, number, started, charge, reply.failure, history, first_started)
            if wait_seconds is None:
                return
            await self.parts.sleep(wait_seconds)

    def _prepare(self, item: InputLine) -> tuple[int, bytes] | None:
        """Return the line's token charge and encoded body, or record why it cannot be sent."""
        if item.body is None:
            self._finish_unsent(item, "invalid_json", item.problem or "invalid line")
            return None
        try:
            charge = estimate_request(self.parts.target.endpoint, item.body).total
        except TokenEstimateError as error:
            self._finish_unsent(item, "invalid_request", str(error))
            return None
        return charge, json.dumps(item.body, ensure_ascii=False).encode("utf-8")

    async def _admit(self, item: InputLine, charge: int, number: int, history: list[dict[str, Any]]) -> bool:
        """Wait for the limiter; record the line as too large (and return False) when it never fits."""
        try:
            await self.parts.throttle.admit(charge)
        except RequestTooLargeError as error:
            self._finish_unsent(item, "too_large", str(error), attempts=number - 1, history=history)
            return False
        return True

    def _after_failure(
        self,
        item: InputLine,
        number: int,
        started: float,
        charge: int,
        failure: Failure,
        history: list[dict[str, Any]],
        first_started: float,
    ) -> float | None:
        """Record a failed attempt; return the wait before a retry, or None when the line is done."""
        wait_seconds = self._retry_wait(failure, number, first_started)
        self._record_attempt(item, number, started, failure.kind, failure.status, failure, charge, wait_seconds)
        if _stops_the_job(failure):
            self._stop_fatal(failure, item)
            return None
        if wait_seconds is None:
            self._finish_failed(item, failure, number, history)
            return None

        logger.info("line %d: attempt %d failed (%s, status %s); retrying in %.2fs",
                    item.line, number, failure.kind, failure.status, wait_seconds)
        self.parts.summary.retries += 1
        return wait_seconds

    async def _send(self, data: bytes) -> _Reply:
        """POST one request body and classify the response."""
        try:
            async with self.parts.session.post(self.parts.target.url, data=data) as response:
                raw = await response.read()
                status = response.status
                headers = response.headers
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return _Reply(failure=errors.classify(error))

        self.parts.throttle.observe(headers)
        if status >= 300:
            failure = errors.classify_response(status, headers, raw)
            return _Reply(failure=failure, charged=failure.kind != "rate_limited")
        try:
            return _Reply(body=json.loads(raw), charged=True, status=status)
        except ValueError:
            preview = errors.redact(raw[:200].decode("utf-8", errors="replace"))
            failure = Failure(False, "other", status, None, f"the response body is not valid JSON: {preview!r}")
            return _Reply(failure=failure, charged=True)

    def _retry_wait(self, failure: Failure, number: int, first_started: float) -> float | None:
        """Return the wait before the next attempt, or None when the line should fail now."""
        policy = self.parts.policy
        if not failure.retryable or number >= policy.max_attempts:
            return None
        wait_seconds = policy.wait_seconds(number, failure.suggested_wait_seconds, self.parts.rng)
        if policy.max_total_seconds is not None:
            if self.parts.clock() + wait_seconds - first_started > policy.max_total_seconds:
                return None
        return wait_seconds

    def _count_attempt(self, reply: _Reply, charge: int) -> None:
        summary = self.parts.summary
        summary.attempts += 1
        rate_limited = reply.failure is not None and reply.failure.kind == "rate_limited"
        if rate_limited:
            summary.rate_limited += 1
        if reply.charged:
            summary.charged_tokens += charge
        self.parts.progress.attempt_done(charge if reply.charged else 0, rate_limited)

    def _record_attempt(
        self,
        item: InputLine,
        number: int,
        started: float,
        outcome: str,
        status: int | None,
        failure: Failure | None,
        charge: int,
        wait_seconds: float | None = None,
    ) -> None:
        recorder = self.parts.recorder
        if recorder is None:
            return
        recorder.record(
            request_id=str(item.line),
            number=number,
            started=started,
            ended=recorder.now(),
            outcome=outcome,
            status=status,
            code=None if failure is None else failure.code,
            wait_seconds=wait_seconds,
            tokens=charge,
            strategy="processor",
        )

    def _now(self) -> float:
        return self.parts.recorder.now() if self.parts.recorder is not None else 0.0

    def _finish(self, record: dict[str, Any]) -> None:
        self.parts.writer.write(record)
        self.parts.progress.line_done()
        if "response" in record:
            self.parts.summary.succeeded += 1
        else:
            self.parts.summary.failed[record["error"]["kind"]] += 1

    def _finish_unsent(
        self,
        item: InputLine,
        kind: str,
        message: str,
        *,
        attempts: int = 0,
        history: list[dict[str, Any]] | None = None,
    ) -> None:
        self._log_error(kind, "line %d not sent (%s): %s", item.line, kind, message)
        code = "request_too_large" if kind == "too_large" else kind
        record = error_record(item.line, item.metadata, attempts, kind=kind, code=code, message=message,
                              history=history or [])
        self._finish(record)

    def _finish_failed(self, item: InputLine, failure: Failure, attempts: int, history: list[dict[str, Any]]) -> None:
        self._log_error(failure.kind, "line %d failed after %d attempts (%s, status %s): %.200s",
                        item.line, attempts, failure.kind, failure.status, failure.message)
        record = error_record(item.line, item.metadata, attempts, kind=failure.kind, status=failure.status,
                              code=failure.code, message=failure.message, history=history)
        self._finish(record)

    def _log_error(self, kind: str, template: str, *args: object) -> None:
        """Log a caught error at WARNING; past `LOGGED_ERRORS_PER_KIND` of one kind, only count them."""
        seen = self._logged_errors.get(kind, 0) + 1
        self._logged_errors[kind] = seen
        if seen <= LOGGED_ERRORS_PER_KIND:
            logger.warning(template, *args)
        if seen == LOGGED_ERRORS_PER_KIND:
            logger.warning("further %s errors are counted in the summary but not logged one by one", kind)

    def _stop_fatal(self, failure: Failure, item: InputLine) -> None:
        summary = self.parts.summary
        if summary.stop_reason not in ("quota", "auth"):
            summary.stop_reason = "quota" if failure.kind == "quota" else "auth"
            summary.stop_code = failure.code
            summary.stop_status = failure.status
            logger.error("stopping the job at line %d: %s (status %s, code %s)",
                         item.line, failure.kind, failure.status, failure.code)
        self._fatal.set()

    def _stop_after_max_lines(self, queued: int) -> None:
        summary = self.parts.summary
        if summary.stop_reason is None:
            summary.stop_reason = "max_lines"
            summary.lines_queued = queued
        logger.info("max_lines=%d reached; not reading further input lines", queued)


def _stops_the_job(failure: Failure) -> bool:
    """Quota and key errors fail every line alike, so they stop the job instead of one line."""
    return failure.kind == "quota" or failure.status == 401
