"""`process_file`: the public entry points of the parallel request processor."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from ratelimit_toolkit import __version__
from ratelimit_toolkit.limiter import Limiter
from ratelimit_toolkit.limiter.bucket import check_burst_seconds
from ratelimit_toolkit.processor.endpoints import EndpointTarget, parse_endpoint_url
from ratelimit_toolkit.processor.engine import Job, JobParts
from ratelimit_toolkit.processor.inputs import count_input_lines
from ratelimit_toolkit.processor.progress import ProgressBar
from ratelimit_toolkit.processor.records import ResultWriter
from ratelimit_toolkit.processor.resume import scan_output
from ratelimit_toolkit.processor.summary import ProcessSummary
from ratelimit_toolkit.processor.throttle import Throttle, open_throttle
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry.policy import RetryPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP calls per line before its error is recorded. Generous, because a batch
#: job would rather wait than lose a line; a limiter keeps 429s rare anyway.
DEFAULT_MAX_ATTEMPTS = 8

#: Requests in flight at most. At the limit, requests_per_minute * latency / 60
#: requests are in flight: 50 covers 1,000 RPM at 3 s per response.
DEFAULT_CONCURRENCY = 50

#: Timeout of one HTTP call, in seconds. Long responses from large models take a while.
DEFAULT_TIMEOUT_SECONDS = 120.0

#: Timeout for opening a connection, in seconds (capped by the call's timeout).
CONNECT_TIMEOUT_SECONDS = 10.0


class MissingApiKeyError(ValueError):
    """No API key was passed and `OPENAI_API_KEY` is not set."""


async def process_file(
    input_path: str | Path,
    output_path: str | Path,
    url: str,
    *,
    api_key: str | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    burst_seconds: float = 1.0,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    max_lines: int | None = None,
    progress: bool = True,
    lang: str | None = None,
    recorder: Recorder | None = None,
    retry_policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
    redis_url: str | None = None,
) -> ProcessSummary:
    """Send every unanswered line of a JSONL file to `url` and append one record per line.

    Each input line is one request body (a JSON object); its optional
    `metadata` field is not sent and is copied into the line's record. Records
    are appended to `output_path` as requests finish (see
    `ratelimit_toolkit.processor.records` for their shape); `read_results`
    returns them in input order. Rerunning with the same output skips lines
    that already have a record, so an interrupted or killed run resumes.

    Requests are throttled by a limiter that learns from every response's
    `x-ratelimit-*` headers: a `RateLimiter` for this process alone, a
    `RedisRateLimiter` when `redis_url` is given, or the `limiter` passed in.
    Failed calls are retried when
    `errors.classify` marks them retryable, after the policy's backoff plus
    the server's suggested wait. A quota error (`insufficient_quota`) or a
    rejected key (401) stops the job within seconds; the lines not answered
    yet stay unanswered for a later resume.

    In Jupyter, `await process_file(...)` directly in a cell;
    `process_file_sync` works there too.

    Args:
        input_path: the JSONL input, read as a stream.
        output_path: the JSONL output, appended to (created when missing).
        url: the full endpoint URL (OpenAI, Azure OpenAI, a proxy or the mock server).
        api_key: the API key; None reads `OPENAI_API_KEY` (then
            `AZURE_OPENAI_API_KEY` for Azure URLs). It is sent only in the
            auth header, and removed from records if a server echoes it.
        requests_per_minute: the RPM limit to keep to; None learns it from the
            response headers, starting at one request a second. A given limit
            is a ceiling: the headers can lower it but not raise it.
        tokens_per_minute: the same for tokens.
        burst_seconds: seconds of budget spent at once, in (0, 60]; 1 is safe
            against a server that enforces per-minute limits per second.
        max_attempts: HTTP calls per line before its error is recorded; ignored
            when `retry_policy` is given.
        concurrency: requests in flight at most.
        timeout_seconds: timeout of one HTTP call.
        max_lines: answer at most this many lines in this run, then stop.
        progress: show a tqdm progress bar on stderr.
        lang: `en` or `ko` for the progress bar; None reads the environment.
            `ProcessSummary.format` takes its own `lang`.
        recorder: receives one `Attempt` per HTTP call, for plots.
        retry_policy: the backoff policy; default `RetryPolicy(max_attempts=max_attempts)`.
        rng: the random source for jitter.
        limiter: a `Limiter` to use as it is, such as a `RateLimiter` or a
            `RedisRateLimiter` shared with other code. It receives every
            response's headers through `observe`. It cannot be combined with
            `requests_per_minute`, `tokens_per_minute` or `redis_url`, and
            `burst_seconds` does not apply to it. A `RedisRateLimiter` has its
            asyncio client for this event loop closed at the end and opens a
            new one on its next use; its synchronous client stays open.
        redis_url: share the limits with every process that uses the same
            Redis (`redis://[:password@]host:port/db`) and the same limits,
            through a `RedisRateLimiter` under its default key. Redis must
            respond to PING before any line is read. Jobs for different
            organisations or models need separate Redis databases, or a
            `limiter=RedisRateLimiter(..., organization=..., model=...)` each.

    Returns:
        The run's summary; `summary.complete` tells whether every line now has a record.

    Raises:
        MissingApiKeyError: no key was given or found in the environment.
        ValueError: an argument is out of range, or `url` has an unknown shape.
        FileNotFoundError: `input_path` does not exist.
        OutputLockedError: another process is writing `output_path`.
        TypeError: `limiter` lacks a `Limiter` method.
        SharedLimiterUnavailableError: Redis at `redis_url` does not respond,
            before the job starts or while it runs (a `ConnectionError`).
        ImportError: `redis_url` is given and the `redis` package is missing.
    """
    _check_options(concurrency, max_attempts, timeout_seconds, max_lines, burst_seconds)
    target = parse_endpoint_url(url)
    key = _resolve_api_key(api_key, target)
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"input file {input_path} not found; pass a JSONL file with one request per line")

    policy = retry_policy or RetryPolicy(max_attempts=max_attempts)
    throttle = await open_throttle(requests_per_minute, tokens_per_minute, burst_seconds,
                                   limiter=limiter, redis_url=redis_url)
    try:
        with ResultWriter(output_path, secrets=[key]) as writer:
            # Scanned under the writer's lock, so a torn last line is never another run's record in progress.
            index = scan_output(output_path)
            summary = ProcessSummary(input_lines=count_input_lines(input_path), answered_before=len(index.answered))
            logger.info("processing %s -> %s at %s: %d lines, %d with records already, concurrency %d",
                        input_path, output_path, target.display_url, summary.input_lines, summary.answered_before,
                        concurrency)

            started = time.monotonic()
            bar = ProgressBar(summary.input_lines, summary.answered_before, enabled=progress, lang=lang)
            try:
                async with _open_session(target, key, concurrency, timeout_seconds) as session:
                    parts = JobParts(input_path, target, session, throttle, policy, writer, bar, summary,
                                     index.answered, concurrency, max_lines, recorder, rng or random.Random())
                    await Job(parts).run()
            except asyncio.CancelledError:
                summary.stop_reason = "cancelled"
                raise
            finally:
                bar.close()
                _finish_summary(summary, throttle, started)
    finally:
        await throttle.aclose()
    return summary


def process_file_sync(*args: Any, **kwargs: Any) -> ProcessSummary:
    """Run `process_file` from synchronous code, also inside Jupyter's running event loop.

    Takes the same arguments as `process_file`. Without a running loop it uses
    `asyncio.run`. With one (a Jupyter cell, an async framework) it runs the
    job on a new loop in a separate thread and blocks until the job ends.
    Interrupting the kernel cancels the job. From async code, prefer
    `await process_file(...)`.
    """
    return run_coroutine_sync(process_file(*args, **kwargs))


#: Short alias of `process_file_sync`.
run = process_file_sync


def run_coroutine_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion from synchronous code, whether or not a loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    return _run_in_thread(coroutine)


def _run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on a fresh event loop in a helper thread; Ctrl-C here cancels it there."""
    outcome: dict[str, Any] = {}
    started = threading.Event()
    finished = threading.Event()

    async def main() -> T:
        outcome["loop"] = asyncio.get_running_loop()
        outcome["task"] = asyncio.current_task()
        started.set()
        return await coroutine

    def target() -> None:
        try:
            outcome["result"] = asyncio.run(main())
        except BaseException as error:  # handed to the calling thread below
            outcome["error"] = error
        finally:
            started.set()
            finished.set()

    thread = threading.Thread(target=target, name="ratelimit-toolkit-processor", daemon=True)
    thread.start()
    try:
        # Short waits on an Event, so Ctrl-C (KeyboardInterrupt) reaches this thread promptly.
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        started.wait()
        if "task" in outcome:
            outcome["loop"].call_soon_threadsafe(outcome["task"].cancel)
        finished.wait()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]


def _check_options(
    concurrency: int, max_attempts: int, timeout_seconds: float, max_lines: int | None, burst_seconds: float
) -> None:
    for name, value in (("concurrency", concurrency), ("max_attempts", max_attempts)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if max_lines is not None and (isinstance(max_lines, bool) or not isinstance(max_lines, int) or max_lines < 1):
        raise ValueError(f"max_lines must be an integer >= 1 or None, got {max_lines!r}")
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or not timeout_seconds > 0:
        raise ValueError(f"timeout_seconds must be a number of seconds > 0, got {timeout_seconds!r}")
    check_burst_seconds(burst_seconds)


def _resolve_api_key(api_key: str | None, target: EndpointTarget) -> str:
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key and target.auth_style == "azure":
        key = os.environ.get("AZURE_OPENAI_API_KEY")
    if not key:
        raise MissingApiKeyError("no API key: set OPENAI_API_KEY or pass api_key=")
    return key


def _open_session(target: EndpointTarget, key: str, concurrency: int, timeout_seconds: float) -> aiohttp.ClientSession:
    headers = {
        **target.auth_headers(key),
        "Content-Type": "application/json",
        "User-Agent": f"ratelimit-toolkit/{__version__}",
    }
    timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds))
    connector = aiohttp.TCPConnector(limit=concurrency)
    return aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector)


def _finish_summary(summary: ProcessSummary, throttle: Throttle, started: float) -> None:
    summary.elapsed_seconds = time.monotonic() - started
    summary.requests_per_minute_limit = throttle.limiter.requests_per_minute
    summary.tokens_per_minute_limit = throttle.limiter.tokens_per_minute
    summary.limits_learned = throttle.learned
    logger.info("processing stopped after %.1fs: %d succeeded, %d failed, %d unanswered, %d retries, %d 429s%s",
                summary.elapsed_seconds, summary.succeeded, summary.failed_total, summary.unanswered,
                summary.retries, summary.rate_limited,
                f" ({summary.stop_reason})" if summary.stop_reason else "")
