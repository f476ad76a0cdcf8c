"""The code each worker process of the shared-limit experiment runs (see `workload`).

Everything here runs inside a process started with the `spawn` method, so it
takes only picklable arguments and imports what it needs itself. Events are
stamped with the wall clock (`time.time()`), because the parent compares
times across processes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ratelimit_toolkit.limiter.protocol import Limiter
from ratelimit_toolkit.recording import Attempt

LimiterFactory = Callable[[], Limiter]

#: Placeholder key for the mock server, which accepts any non-empty key.
MOCK_API_KEY = "sk-mock-shared-limits"

#: Seconds a worker waits after a 429 when the server suggests no wait.
DEFAULT_RETRY_SECONDS = 0.1

#: Seconds a worker waits for the others to be ready before it gives up.
READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class WorkerPlan:
    """The job of one worker process.

    Attributes:
        index: the worker's number, used in request ids and prompts.
        base_url: the API's `/v1` address (the mock server's `base_url`).
        model: the model name sent.
        requests: requests to complete; each is retried after a 429.
        limiter_factory: builds the worker's limiter; None sends unthrottled.
        observe_headers: pass every response's headers to `limiter.observe`.
        max_tokens: the output cap of each request.
        max_attempts: attempts per request before the worker gives it up.
        max_seconds: the worker stops sending after this many seconds.
        api_key: the key sent to the server.
        seed: seeds the retry jitter, so runs are repeatable.
    """

    index: int
    base_url: str
    model: str
    requests: int
    limiter_factory: LimiterFactory | None
    observe_headers: bool = True
    max_tokens: int = 16
    max_attempts: int = 30
    max_seconds: float = 120.0
    api_key: str = MOCK_API_KEY
    seed: int = 0


@dataclass
class WorkerReport:
    """The record of one worker process; times are wall-clock seconds (`time.time()`).

    Attributes:
        index: the worker's number.
        attempts: every HTTP call, with `started` and `ended` in wall-clock seconds.
        acquire_seconds: how long each `acquire` call took, waits included.
        given_up: requests that were still refused after `max_attempts` calls.
        error: why the worker stopped early, or None.
    """

    index: int
    attempts: list[Attempt] = field(default_factory=list)
    acquire_seconds: list[float] = field(default_factory=list)
    given_up: int = 0
    error: str | None = None


def worker_main(plan: WorkerPlan, barrier: Any, results: Any) -> None:
    """Entry point of a worker process: set up, wait for the start, send, report."""
    report = WorkerReport(index=plan.index)
    try:
        client, limiter = _set_up(plan)
    except Exception as error:  # reported to the parent, which names the worker
        barrier.abort()
        report.error = f"set-up failed: {type(error).__name__}: {error}"
        results.put(report)
        return

    try:
        barrier.wait(timeout=READY_TIMEOUT_SECONDS)
        _send_all(plan, client, limiter, report)
    except Exception as error:  # reported to the parent, which names the worker
        report.error = f"{type(error).__name__}: {error}"
    finally:
        client.close()
        if hasattr(limiter, "close"):
            limiter.close()
    results.put(report)


def _set_up(plan: WorkerPlan) -> tuple[Any, Any]:
    import openai

    from ratelimit_toolkit import tokens

    client = openai.OpenAI(base_url=plan.base_url, api_key=plan.api_key, max_retries=0, timeout=30.0)
    limiter = plan.limiter_factory() if plan.limiter_factory is not None else None

    # Pay the one-off costs before the common start: loading the tokenizer's
    # encoding and openai's lazily imported chat resources take about a second.
    tokens.estimate_request("chat/completions", _request_body(plan, 0))
    client.chat.completions.with_raw_response  # noqa: B018  (the attribute access imports the resource)
    return client, limiter


def _send_all(plan: WorkerPlan, client: Any, limiter: Any, report: WorkerReport) -> None:
    from ratelimit_toolkit import tokens

    jitter = random.Random(plan.seed * 1_000 + plan.index)
    deadline = time.monotonic() + plan.max_seconds
    for number in range(plan.requests):
        body = _request_body(plan, number)
        charge = tokens.estimate_request("chat/completions", body).total
        for attempt in range(1, plan.max_attempts + 1):
            if time.monotonic() > deadline:
                report.error = f"stopped after {plan.max_seconds:g}s with requests left"
                return
            wait_seconds = _attempt(plan, client, limiter, body, charge, f"{plan.index}-{number}", attempt, report)
            if wait_seconds is None:
                break
            time.sleep(wait_seconds + jitter.uniform(0.0, 0.05))
        else:
            report.given_up += 1


def _request_body(plan: WorkerPlan, number: int) -> dict[str, Any]:
    prompt = f"Worker {plan.index}, request {number}: answer in one word."
    return {"model": plan.model, "messages": [{"role": "user", "content": prompt}], "max_tokens": plan.max_tokens}


def _attempt(
    plan: WorkerPlan,
    client: Any,
    limiter: Any,
    body: dict[str, Any],
    charge: int,
    request_id: str,
    number: int,
    report: WorkerReport,
) -> float | None:
    """Make one call; return None when it succeeded, else the seconds to wait before the next."""
    import openai

    from ratelimit_toolkit import errors

    if limiter is not None:
        started_acquire = time.perf_counter()
        limiter.acquire(charge)
        report.acquire_seconds.append(time.perf_counter() - started_acquire)

    started = time.time()
    try:
        response = client.chat.completions.with_raw_response.create(**body)
    except openai.RateLimitError as error:
        wait_seconds = errors.suggested_wait_seconds(error.response.headers, error.message) or DEFAULT_RETRY_SECONDS
        _observe(plan, limiter, error.response.headers)
        report.attempts.append(
            Attempt(request_id, number, started, time.time(), "rate_limited", 429, error.code, wait_seconds, charge, "shared")
        )
        return wait_seconds

    _observe(plan, limiter, response.headers)
    report.attempts.append(Attempt(request_id, number, started, time.time(), "ok", 200, None, None, charge, "shared"))
    return None


def _observe(plan: WorkerPlan, limiter: Any, headers: Any) -> None:
    if limiter is not None and plan.observe_headers:
        limiter.observe(headers)


def time_acquires_main(limiter_factory: LimiterFactory, calls: int) -> list[float]:
    limiter = limiter_factory()
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        limiter.acquire(1)
        durations.append(time.perf_counter() - started)
    if hasattr(limiter, "close"):
        limiter.close()
    return durations
