from __future__ import annotations

import json
import threading

from ratelimit_toolkit.recording import Recorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_recorder_times_from_origin() -> None:
    clock = FakeClock()
    recorder = Recorder(clock=clock)
    clock.now = 102.5
    assert recorder.now() == 2.5


def test_summary_counts_retries_and_waits() -> None:
    recorder = Recorder(clock=FakeClock())
    recorder.record(request_id="a", number=1, started=0, ended=0.1, outcome="rate_limited", status=429, wait_seconds=0.5)
    recorder.record(request_id="a", number=2, started=0.6, ended=0.7, outcome="ok", status=200)
    recorder.record(request_id="b", number=1, started=0, ended=0.1, outcome="quota", status=429)

    summary = recorder.summary()

    assert summary.requests == 2
    assert summary.attempts == 3
    assert summary.retries == 1
    assert summary.succeeded == 1
    assert summary.rate_limited == 1
    assert summary.total_wait_seconds == 0.5
    assert recorder.retries_per_request() == {"a": 1, "b": 0}


def test_by_request_sorts_attempts() -> None:
    recorder = Recorder(clock=FakeClock())
    recorder.record(request_id="a", number=2, started=1, ended=1, outcome="ok")
    recorder.record(request_id="a", number=1, started=0, ended=0, outcome="server_error")
    assert [a.number for a in recorder.by_request()["a"]] == [1, 2]


def test_rows_are_json_serialisable() -> None:
    recorder = Recorder(clock=FakeClock())
    recorder.record(request_id="x", number=1, started=0, ended=1, outcome="ok", status=200, tokens=12)
    assert json.loads(json.dumps(recorder.to_rows()))[0]["tokens"] == 12


def test_concurrent_adds_all_kept() -> None:
    recorder = Recorder()

    def add_many(worker: int) -> None:
        for number in range(500):
            recorder.record(request_id=f"{worker}-{number}", number=1, started=0, ended=0, outcome="ok")

    threads = [threading.Thread(target=add_many, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(recorder) == 4000
