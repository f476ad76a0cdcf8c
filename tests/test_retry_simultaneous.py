"""`retry.simultaneous`: many calls started together, and the table row that summarises them."""

from __future__ import annotations

import threading

import pytest

from ratelimit_toolkit import retry
from ratelimit_toolkit.recording import Recorder


def test_threads_all_called() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        with lock:
            seen.append(index)

    result = retry.call_simultaneously(call, 8)
    assert sorted(seen) == list(range(8))
    assert result.succeeded == 8


def test_threads_start_together() -> None:
    arrived = threading.Barrier(6, timeout=5)
    # Each call waits for all the others; this finishes only if all six run at once.
    result = retry.call_simultaneously(lambda index: arrived.wait(), 6)
    assert result.failed == 0


def test_thread_errors_summarised() -> None:
    def call(index: int) -> None:
        if index % 2:
            raise ConnectionResetError("reset by peer")

    result = retry.call_simultaneously(call, 4)
    assert result.failed == 2
    assert [error["kind"] for error in result.errors] == ["connection_error", "connection_error"]


def test_threads_timeout_raises() -> None:
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match="still running"):
            retry.call_simultaneously(lambda index: release.wait(5), 2, timeout_seconds=0.1)
    finally:
        release.set()


async def test_coroutines_all_awaited() -> None:
    async def call(index: int) -> int:
        if index == 3:
            raise TimeoutError("slow")
        return index

    result = await retry.await_simultaneously(call, 5)
    assert result.succeeded == 4
    assert result.errors[0]["kind"] == "timeout"


@pytest.mark.parametrize("count", [0, -1, 2.5, True])
def test_count_must_be_positive(count: object) -> None:
    with pytest.raises(ValueError, match="count"):
        retry.call_simultaneously(lambda index: None, count)  # type: ignore[arg-type]


def test_peak_counts_close_retries() -> None:
    recorder = Recorder()
    for index, started in enumerate([0.0, 0.01, 0.02, 1.0, 2.0]):
        recorder.record(request_id=f"r{index}", number=2, started=started, ended=started, outcome="ok")
    assert retry.peak_retries(recorder, 0.25) == 3


def test_peak_skips_first_attempts() -> None:
    recorder = Recorder()
    for index in range(5):
        recorder.record(request_id=f"r{index}", number=1, started=0.0, ended=0.0, outcome="ok")
    assert retry.peak_retries(recorder, 0.25) == 0


def test_peak_of_nothing_is_zero() -> None:
    assert retry.peak_retries(Recorder(), 0.25) == 0


def test_summary_row_columns() -> None:
    recorder = Recorder()
    recorder.record(request_id="a", number=1, started=0, ended=0.1, outcome="rate_limited", status=429, wait_seconds=0.5)
    recorder.record(request_id="a", number=2, started=0.6, ended=0.7, outcome="ok", status=200)
    result = retry.SimultaneousResult(calls=1, succeeded=1, failed=0, wall_seconds=0.7)

    row = retry.summary_row("tenacity", recorder, result)
    assert row == {
        "run": "tenacity",
        "requests": 1,
        "succeeded": 1,
        "gave_up": 0,
        "attempts": 2,
        "429s": 1,
        "peak_retries_per_250ms": 1,
        "total_wait_s": 0.5,
        "wall_s": 0.7,
    }
