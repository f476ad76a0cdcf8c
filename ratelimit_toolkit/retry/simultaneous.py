"""Start many retried calls at the same instant, for lessons and benchmarks.

`call_simultaneously` releases `count` threads together through a barrier;
`await_simultaneously` does the same with coroutines on one event loop. Both
collect how many calls succeeded, a short summary of each final error and the
wall time, and `summary_row` turns that and a `Recorder` into one table row.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ratelimit_toolkit.errors import classify
from ratelimit_toolkit.recording import Recorder

#: Seconds a thread waits at the start barrier before the run is abandoned.
_BARRIER_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SimultaneousResult:
    """Outcome of calls started together.

    Attributes:
        calls: calls started.
        succeeded: calls that returned.
        failed: calls that raised after their retries (give-ups).
        wall_seconds: from the common start to the last call's end.
        errors: `Failure.summary()` of each final error.
    """

    calls: int
    succeeded: int
    failed: int
    wall_seconds: float
    errors: tuple[dict[str, Any], ...] = ()


def call_simultaneously(call: Callable[[int], Any], count: int, *, timeout_seconds: float = 600.0) -> SimultaneousResult:
    """Run `call(index)` for `count` indexes, each in its own thread, all released at once.

    Args:
        call: the retried call; it receives the index 0 to `count - 1`.
        count: how many threads, >= 1.
        timeout_seconds: how long to wait for every thread to finish.

    Raises:
        ValueError: `count` is below 1.
        TimeoutError: a thread was still running after `timeout_seconds`.
    """
    _check_count(count)
    barrier = threading.Barrier(count + 1, timeout=_BARRIER_TIMEOUT_SECONDS)
    outcomes: list[BaseException | None] = [None] * count
    finished = [False] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            call(index)
        except Exception as error:  # noqa: BLE001 - kept as this call's outcome
            outcomes[index] = error
        finished[index] = True

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    deadline = started + timeout_seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))

    if not all(finished):
        raise TimeoutError(f"{finished.count(False)} of {count} calls were still running after {timeout_seconds} s")
    return _result(outcomes, time.monotonic() - started)


async def await_simultaneously(call: Callable[[int], Awaitable[Any]], count: int) -> SimultaneousResult:
    """Await `call(index)` for `count` indexes as concurrent tasks on the running loop.

    Raises:
        ValueError: `count` is below 1.
    """
    _check_count(count)
    started = time.monotonic()
    results = await asyncio.gather(*(call(index) for index in range(count)), return_exceptions=True)
    outcomes = [result if isinstance(result, BaseException) else None for result in results]
    return _result(outcomes, time.monotonic() - started)


def summary_row(label: str, recorder: Recorder, result: SimultaneousResult) -> dict[str, Any]:
    """Summarise one simultaneous run as a table row.

    Columns: requests, succeeded, gave_up, attempts, 429s,
    `peak_retries_per_250ms` (the most retries started within any 0.25 s,
    high when clients retry in lockstep), the summed waits and the wall time,
    both in seconds.
    """
    summary = recorder.summary()
    return {
        "run": label,
        "requests": result.calls,
        "succeeded": result.succeeded,
        "gave_up": result.failed,
        "attempts": summary.attempts,
        "429s": summary.rate_limited,
        "peak_retries_per_250ms": peak_retries(recorder, 0.25),
        "total_wait_s": round(summary.total_wait_seconds, 2),
        "wall_s": round(result.wall_seconds, 2),
    }


def peak_retries(recorder: Recorder, window_seconds: float) -> int:
    """Return the most retries (attempts after the first) that started within any `window_seconds`.

    First attempts are left out: in a simultaneous run they all start together by design.
    """
    starts = sorted(attempt.started for attempt in recorder.attempts() if attempt.number > 1)
    peak = 0
    first = 0
    for last, start in enumerate(starts):
        while start - starts[first] >= window_seconds:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def _result(outcomes: list[BaseException | None], wall_seconds: float) -> SimultaneousResult:
    errors = tuple(classify(error).summary() for error in outcomes if error is not None)
    return SimultaneousResult(
        calls=len(outcomes),
        succeeded=len(outcomes) - len(errors),
        failed=len(errors),
        wall_seconds=wall_seconds,
        errors=errors,
    )


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an integer >= 1, got {count!r}")
