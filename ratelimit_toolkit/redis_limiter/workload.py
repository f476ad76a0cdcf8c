"""Several worker processes calling one API, each through a limiter: the shared-limit experiment.

Notebook 08 and `benchmarks/shared.py` run the same job twice: once with a
local `RateLimiter` in every process (each process believes it has the whole
limit), and once with one `RedisRateLimiter` that all processes share. Every
worker sends chat requests with the `openai` client (`max_retries=0`), waits
in its limiter before each call, passes every response's headers to
`observe`, and retries a 429 after the wait the server suggests.

Workers are started with the `spawn` method, so they work the same from a
script, from pytest and from a Jupyter kernel, and they take a limiter
*factory* (a picklable callable such as `local_limiter(...)`), because a
limiter's locks and connections cannot cross a process boundary.

Times cross process boundaries, so workers stamp events with the wall clock
(`time.time()`); results give them as seconds since the common start.
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import queue
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ratelimit_toolkit.limiter import RateLimiter
from ratelimit_toolkit.recording import Attempt
from ratelimit_toolkit.redis_limiter.limiter import RedisRateLimiter
from ratelimit_toolkit.redis_limiter.worker import (
    MOCK_API_KEY,
    READY_TIMEOUT_SECONDS,
    LimiterFactory,
    WorkerPlan,
    WorkerReport,
    time_acquires_main,
    worker_main,
)

__all__ = [
    "MOCK_API_KEY",
    "LimiterFactory",
    "RunResult",
    "WorkerPlan",
    "WorkerReport",
    "local_limiter",
    "make_plans",
    "median",
    "percentile",
    "run_workers",
    "shared_limiter",
    "shortest_seconds",
    "time_acquires",
]

logger = logging.getLogger(__name__)

def local_limiter(requests_per_minute: float, tokens_per_minute: float | None, *, burst_seconds: float = 1.0) -> LimiterFactory:
    """Return a factory of a process-local `RateLimiter` with these limits."""
    return functools.partial(RateLimiter, requests_per_minute, tokens_per_minute, burst_seconds=burst_seconds)


def shared_limiter(
    redis_url: str,
    requests_per_minute: float,
    tokens_per_minute: float | None,
    *,
    burst_seconds: float = 1.0,
    **options: Any,
) -> LimiterFactory:
    """Return a factory of a `RedisRateLimiter` on `redis_url`; `options` go to its constructor."""
    return functools.partial(
        RedisRateLimiter,
        requests_per_minute,
        tokens_per_minute,
        redis_url=redis_url,
        burst_seconds=burst_seconds,
        **options,
    )


@dataclass
class RunResult:
    """One run of several workers against one server.

    Attributes:
        label: the run's name in tables and plots.
        processes: how many worker processes ran.
        requests_per_minute: the server's request limit.
        burst_seconds: the server's burst.
        attempts: every HTTP call, with times in seconds since the common start.
        acquire_seconds: the duration of every `acquire` call, from all workers.
        elapsed_seconds: from the common start to the last response.
        given_up: requests given up after `max_attempts` refusals.
        timeline: the mock server's per-second timeline for the run, if read.
        errors: workers that stopped early, and why.
    """

    label: str
    processes: int
    requests_per_minute: float
    burst_seconds: float
    attempts: list[Attempt]
    acquire_seconds: list[float]
    elapsed_seconds: float
    given_up: int = 0
    timeline: list[dict[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        """Requests that got a successful response."""
        return sum(1 for attempt in self.attempts if attempt.outcome == "ok")

    @property
    def calls(self) -> int:
        """HTTP calls made, refused ones included."""
        return len(self.attempts)

    @property
    def refused(self) -> int:
        """Calls refused with 429."""
        return sum(1 for attempt in self.attempts if attempt.outcome == "rate_limited")

    @property
    def refused_share(self) -> float:
        """The share of calls refused with 429, from 0 to 1."""
        return self.refused / self.calls if self.calls else 0.0

    @property
    def shortest_seconds(self) -> float:
        """The shortest time the completed requests can take at the limit: a full burst, then the refill rate."""
        return shortest_seconds(self.completed, self.requests_per_minute, self.burst_seconds)

    @property
    def efficiency(self) -> float:
        """`shortest_seconds / elapsed_seconds`: 1.0 means the job ran exactly at the limit."""
        return self.shortest_seconds / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def row(self) -> dict[str, Any]:
        """Return the run's figures as one table row."""
        return {
            "run": self.label,
            "processes": self.processes,
            "completed": self.completed,
            "given up": self.given_up,
            "calls": self.calls,
            "429s": self.refused,
            "429 share": f"{self.refused_share:.1%}",
            "elapsed (s)": round(self.elapsed_seconds, 1),
            "shortest (s)": round(self.shortest_seconds, 1),
            "efficiency": round(self.efficiency, 2),
        }


def shortest_seconds(requests: int, requests_per_minute: float, burst_seconds: float) -> float:
    """Return the least time `requests` can take at `requests_per_minute` with a burst of `burst_seconds`."""
    capacity = requests_per_minute * burst_seconds / 60.0
    return max(0.0, requests - capacity) / (requests_per_minute / 60.0)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the `fraction` quantile (0 to 1) of `values`, by the nearest-rank method; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """Return the median of `values`, or NaN when empty."""
    return statistics.median(values) if values else math.nan


def make_plans(
    base_url: str,
    model: str,
    *,
    processes: int,
    requests_per_process: int,
    limiter_factory: LimiterFactory | None,
    **options: Any,
) -> list[WorkerPlan]:
    """Return one `WorkerPlan` per process, all with the same job; `options` are `WorkerPlan` fields."""
    if processes < 1 or requests_per_process < 1:
        raise ValueError(
            f"processes and requests_per_process must be at least 1, got {processes} and {requests_per_process}"
        )
    return [
        WorkerPlan(index, base_url, model, requests_per_process, limiter_factory, **options)
        for index in range(processes)
    ]


def run_workers(
    plans: Sequence[WorkerPlan],
    *,
    label: str,
    requests_per_minute: float,
    burst_seconds: float,
    server: Any = None,
    timeout_seconds: float = 300.0,
) -> RunResult:
    """Run one worker process per plan, started together, and collect what they did.

    Workers start (spawn), build their clients and limiters, then wait on a
    barrier so that slow imports do not stagger the start. The run ends when
    every worker reports, or after `timeout_seconds` (then the missing
    workers are terminated and named in `errors`).

    Args:
        plans: one plan per worker.
        label: the run's name.
        requests_per_minute: the server's request limit, for efficiency.
        burst_seconds: the server's burst, for efficiency.
        server: a `MockServer` whose statistics are reset at the start and
            whose timeline is kept in the result; None skips both.
        timeout_seconds: the maximum time the run may take, start-up included.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(plans) + 1)
    results: Any = context.Queue()
    processes = [context.Process(target=worker_main, args=(plan, barrier, results), daemon=True) for plan in plans]
    for process in processes:
        process.start()

    origin = _start_together(barrier, server)
    reports, errors = _collect(results, len(plans), timeout_seconds)
    for process in processes:
        process.join(timeout=5.0)
        if process.is_alive():
            process.terminate()
            errors.append(f"worker pid {process.pid} did not exit and was terminated")
    timeline = server.timeline() if server is not None else []
    return _merge(label, reports, errors, origin, requests_per_minute, burst_seconds, timeline)


def time_acquires(
    limiter_factory: LimiterFactory,
    *,
    processes: int,
    calls: int,
    timeout_seconds: float = 120.0,
) -> list[float]:
    """Time `calls` uncontended `acquire(1)` calls in each of `processes` processes, in seconds.

    Give the factory limits far above what the calls need, so nothing waits
    and the durations are the limiter's own cost (for Redis, one round trip).
    """
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pending = pool.starmap_async(time_acquires_main, [(limiter_factory, calls)] * processes)
        durations = pending.get(timeout=timeout_seconds)
    return [seconds for worker in durations for seconds in worker]


def _start_together(barrier: Any, server: Any) -> float:
    """Wait until every worker is ready, then release them; return the common start time."""
    try:
        barrier.wait(timeout=READY_TIMEOUT_SECONDS)
    except threading.BrokenBarrierError:
        logger.warning("a worker failed to start; the others stop and report why")
    if server is not None:
        server.reset_stats()
    return time.time()


def _collect(results: Any, count: int, timeout_seconds: float) -> tuple[list[WorkerReport], list[str]]:
    reports: list[WorkerReport] = []
    errors: list[str] = []
    deadline = time.monotonic() + timeout_seconds
    while len(reports) < count:
        try:
            report = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            errors.append(f"{count - len(reports)} worker(s) did not report within {timeout_seconds:g}s")
            break
        reports.append(report)
        if report.error:
            errors.append(f"worker {report.index}: {report.error}")
    return reports, errors


def _merge(
    label: str,
    reports: list[WorkerReport],
    errors: list[str],
    origin: float,
    requests_per_minute: float,
    burst_seconds: float,
    timeline: list[dict[str, int]],
) -> RunResult:
    attempts = [
        _shifted(attempt, origin) for report in reports for attempt in report.attempts
    ]
    attempts.sort(key=lambda attempt: attempt.started)
    ended = max((attempt.ended for attempt in attempts), default=0.0)
    return RunResult(
        label=label,
        processes=len(reports),
        requests_per_minute=requests_per_minute,
        burst_seconds=burst_seconds,
        attempts=attempts,
        acquire_seconds=[seconds for report in reports for seconds in report.acquire_seconds],
        elapsed_seconds=ended,
        given_up=sum(report.given_up for report in reports),
        timeline=timeline,
        errors=errors,
    )


def _shifted(attempt: Attempt, origin: float) -> Attempt:
    fields = attempt.to_dict()
    fields["started"] = attempt.started - origin
    fields["ended"] = attempt.ended - origin
    return Attempt(**fields)
