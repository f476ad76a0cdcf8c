"""The three retry strategies on plain and `async` functions, with injected time.

Every test runs against tenacity, backoff and the hand-written loop, each on a
sync and an async function. Time is a fake clock that moves only when a
strategy sleeps, so waits are exact and the tests take no real time.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
import tenacity

from ratelimit_toolkit import retry
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry import RetryPolicy

try:  # openai 3.x builds its errors on httpx2; 1.x and 2.x on httpx.
    import httpx2 as openai_http
except ImportError:  # pragma: no cover - depends on the installed openai
    openai_http = httpx  # type: ignore[no-redef]

STRATEGIES = ["tenacity", "backoff", "handwritten"]
MODES = ["sync", "async"]
API_KEY = "sk-mock-secret-key-0123456789"


class FakeTime:
    """A clock, a sleep and an async sleep that share one fake `now`."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(float(seconds))
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def decorator(strategy: str, policy: RetryPolicy, fake: FakeTime, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Build one strategy's decorator for `policy`, on fake time and a seeded random source."""
    timing: dict[str, Any] = {"sleep": fake.sleep, "async_sleep": fake.async_sleep, "clock": fake.clock}
    timing.setdefault("rng", random.Random(42))
    timing.update(options)
    if strategy == "tenacity":
        return retry.retry_with_tenacity(policy=policy, **timing)
    if strategy == "backoff":
        return retry.retry_with_backoff(policy=policy, **timing)
    return retry.retry_with_exponential_backoff(
        initial_delay=policy.initial_wait,
        exponential_base=policy.multiplier,
        jitter=policy.jitter == "full",
        max_retries=policy.max_attempts - 1,
        max_delay=policy.max_wait,
        max_total_seconds=policy.max_total_seconds,
        honor_server_wait=policy.honor_server_wait,
        **timing,
    )


def status_error(status: int, body: dict[str, Any] | str | None = None, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    """Build the exception the `openai` client raises for an error response, without a server."""
    request = openai_http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    if isinstance(body, dict):
        response = openai_http.Response(status, json={"error": body}, headers=headers, request=request)
    else:
        response = openai_http.Response(status, text=body or "", headers=headers, request=request)
    classes: dict[int, type[openai.APIStatusError]] = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        429: openai.RateLimitError,
    }
    error_class = classes.get(status, openai.InternalServerError)
    return error_class(f"Error code: {status}", response=response, body=body)


def rate_limited(headers: dict[str, str] | None = None) -> openai.RateLimitError:
    body = {"message": "Rate limit reached on requests per min (RPM).", "type": "requests", "code": "rate_limit_exceeded"}
    return status_error(429, body, headers)  # type: ignore[return-value]


def quota_exhausted() -> openai.RateLimitError:
    body = {"message": "You exceeded your current quota.", "type": "insufficient_quota", "code": "insufficient_quota"}
    return status_error(429, body)  # type: ignore[return-value]


def bad_request() -> openai.BadRequestError:
    body = {"message": "Invalid value for 'messages'.", "type": "invalid_request_error", "code": None}
    return status_error(400, body)  # type: ignore[return-value]


def html_503() -> openai.InternalServerError:
    return status_error(503, f"<html><body>503 Service Unavailable for key {API_KEY}</body>" + " " * 500 + "</html>")  # type: ignore[return-value]


Outcome = Callable[[], BaseException] | str


class Scripted:
    """A function that fails or returns as scripted; the last outcome repeats."""

    def __init__(self, outcomes: list[Outcome], mode: str) -> None:
        self.outcomes = outcomes
        self.calls = 0
        self.target = self._async_target if mode == "async" else self._sync_target

    def _step(self) -> str:
        self.calls += 1
        outcome = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        if isinstance(outcome, str):
            return outcome
        raise outcome()

    def _sync_target(self) -> str:
        return self._step()

    async def _async_target(self) -> str:
        return self._step()


async def invoke(decorated: Callable[[], Any], mode: str) -> Any:
    return await decorated() if mode == "async" else decorated()


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


async def test_success_after_three_429s(strategy: str, mode: str, fake: FakeTime) -> None:
    script = Scripted([rate_limited, rate_limited, rate_limited, "ok"], mode)
    decorated = decorator(strategy, RetryPolicy(max_attempts=5), fake)(script.target)

    assert await invoke(decorated, mode) == "ok"
    assert script.calls == 4
    assert len(fake.sleeps) == 3
    assert decorated.last_run.attempts == 4
    assert decorated.last_run.succeeded is True


@pytest.mark.parametrize(
    ("make_error", "error_class"),
    [(quota_exhausted, openai.RateLimitError), (bad_request, openai.BadRequestError)],
    ids=["insufficient-quota", "400"],
)
async def test_unfixable_error_not_retried(
    strategy: str, mode: str, fake: FakeTime, make_error: Callable[[], BaseException], error_class: type[BaseException]
) -> None:
    script = Scripted([make_error, "ok"], mode)
    decorated = decorator(strategy, RetryPolicy(max_attempts=5), fake)(script.target)

    with pytest.raises(error_class) as caught:
        await invoke(decorated, mode)
    assert script.calls == 1
    assert fake.sleeps == []
    assert not isinstance(caught.value, tenacity.RetryError)
    assert decorated.last_run.stop_reason == "not_retryable"


async def test_quota_code_readable(strategy: str, mode: str, fake: FakeTime) -> None:
    decorated = decorator(strategy, RetryPolicy(max_attempts=5), fake)(Scripted([quota_exhausted], mode).target)
    with pytest.raises(openai.RateLimitError) as caught:
        await invoke(decorated, mode)
    assert caught.value.code == "insufficient_quota"


async def test_three_failures_raise_original(strategy: str, mode: str, fake: FakeTime) -> None:
    recorder = Recorder(clock=fake.clock)
    script = Scripted([rate_limited], mode)
    decorated = decorator(strategy, RetryPolicy(max_attempts=3), fake, recorder=recorder)(script.target)

    with pytest.raises(openai.RateLimitError):
        await invoke(decorated, mode)
    assert script.calls == 3
    assert decorated.last_run.attempts == 3
    assert decorated.last_run.retries == 2
    assert decorated.last_run.sleeps == 2
    assert decorated.last_run.stop_reason == "max_attempts"
    assert recorder.summary().attempts == 3
    assert recorder.summary().retries == 2
    assert len(recorder.waits()) == 2


async def test_wait_capped_at_max_wait(strategy: str, mode: str, fake: FakeTime) -> None:
    script = Scripted([lambda: rate_limited({"retry-after": "100"})], mode)
    decorated = decorator(strategy, RetryPolicy(initial_wait=1, max_wait=2, max_attempts=4), fake)(script.target)

    with pytest.raises(openai.RateLimitError):
        await invoke(decorated, mode)
    assert fake.sleeps == [2.0, 2.0, 2.0]


async def test_backoff_capped_without_hint(strategy: str, mode: str, fake: FakeTime) -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=3, max_wait=5, jitter=None, max_attempts=6)
    decorated = decorator(strategy, policy, fake)(Scripted([ConnectionResetError], mode).target)

    with pytest.raises(ConnectionResetError):
        await invoke(decorated, mode)
    assert fake.sleeps == [1.0, 3.0, 5.0, 5.0, 5.0]


async def test_total_time_stops_retries(strategy: str, mode: str, fake: FakeTime) -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=2, jitter=None, max_attempts=10, max_total_seconds=5)
    script = Scripted([ConnectionResetError], mode)
    decorated = decorator(strategy, policy, fake)(script.target)

    with pytest.raises(ConnectionResetError):
        await invoke(decorated, mode)
    # Waits 1 and 2 end at 3 s; the next wait of 4 s would end at 7 s, past 5 s.
    assert fake.sleeps == [1.0, 2.0]
    assert script.calls == 3
    assert decorated.last_run.stop_reason == "max_total_seconds"


async def test_suggested_wait_honoured(strategy: str, mode: str, fake: FakeTime) -> None:
    script = Scripted([lambda: rate_limited({"retry-after-ms": "1500"}), "ok"], mode)
    policy = RetryPolicy(initial_wait=0.1, jitter=None, max_attempts=3)
    decorated = decorator(strategy, policy, fake)(script.target)

    await invoke(decorated, mode)
    assert fake.sleeps == [pytest.approx(1.6)]


async def test_suggested_wait_floor_with_jitter(strategy: str, mode: str, fake: FakeTime) -> None:
    script = Scripted([lambda: rate_limited({"retry-after": "2"})], mode)
    decorated = decorator(strategy, RetryPolicy(initial_wait=1, max_wait=30, max_attempts=6), fake)(script.target)

    with pytest.raises(openai.RateLimitError):
        await invoke(decorated, mode)
    for retry_number, wait in enumerate(fake.sleeps, start=1):
        assert 2.0 <= wait <= 2.0 + 2 ** (retry_number - 1)


async def test_suggested_wait_ignored_when_off(strategy: str, mode: str, fake: FakeTime) -> None:
    script = Scripted([lambda: rate_limited({"retry-after": "30"}), "ok"], mode)
    policy = RetryPolicy(initial_wait=0.5, jitter=None, honor_server_wait=False)
    decorated = decorator(strategy, policy, fake)(script.target)

    await invoke(decorated, mode)
    assert fake.sleeps == [0.5]


async def test_jitter_within_bounds(strategy: str, mode: str, fake: FakeTime) -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=2, max_wait=5, max_attempts=8)
    decorated = decorator(strategy, policy, fake)(Scripted([ConnectionResetError], mode).target)

    with pytest.raises(ConnectionResetError):
        await invoke(decorated, mode)
    assert len(fake.sleeps) == 7
    for retry_number, wait in enumerate(fake.sleeps, start=1):
        assert 0.0 <= wait <= policy.backoff_seconds(retry_number)
    assert len(set(fake.sleeps)) == 7  # drawn, not fixed


async def test_jitter_repeatable_across_strategies(strategy: str, mode: str, fake: FakeTime) -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=2, max_wait=5, max_attempts=6)
    decorated = decorator(strategy, policy, fake, rng=random.Random(2024))(Scripted([ConnectionResetError], mode).target)

    with pytest.raises(ConnectionResetError):
        await invoke(decorated, mode)
    rng = random.Random(2024)
    expected = [policy.wait_seconds(n, None, rng) for n in range(1, 6)]
    assert fake.sleeps == pytest.approx(expected)


async def test_recording_complete(strategy: str, mode: str, fake: FakeTime) -> None:
    recorder = Recorder(clock=fake.clock)
    script = Scripted([rate_limited, html_503, "ok"], mode)
    decorated = decorator(strategy, RetryPolicy(max_attempts=5), fake, recorder=recorder)(script.target)

    await invoke(decorated, mode)
    attempts = recorder.attempts()
    assert [a.number for a in attempts] == [1, 2, 3]
    assert [a.outcome for a in attempts] == ["rate_limited", "server_error", "ok"]
    assert [a.status for a in attempts] == [429, 503, None]  # a plain return value has no HTTP status
    assert [a.wait_seconds for a in attempts[:2]] == fake.sleeps
    assert attempts[2].wait_seconds is None
    assert {a.strategy for a in attempts} == {strategy}
    assert len({a.request_id for a in attempts}) == 1


async def test_attempt_times_follow_sleeps(strategy: str, mode: str, fake: FakeTime) -> None:
    recorder = Recorder(clock=fake.clock)
    script = Scripted([ConnectionResetError, "ok"], mode)
    decorated = decorator(strategy, RetryPolicy(initial_wait=2, jitter=None), fake, recorder=recorder)(script.target)

    await invoke(decorated, mode)
    assert [a.started for a in recorder.attempts()] == [0.0, 2.0]


async def test_each_call_new_request_id(strategy: str, mode: str, fake: FakeTime) -> None:
    recorder = Recorder(clock=fake.clock)
    decorated = decorator(strategy, RetryPolicy(), fake, recorder=recorder)(Scripted(["ok"], mode).target)

    await invoke(decorated, mode)
    await invoke(decorated, mode)
    assert len(recorder.by_request()) == 2


async def test_failure_record_is_short_json(strategy: str, mode: str, fake: FakeTime) -> None:
    script = Scripted([html_503, ConnectionResetError], mode)
    decorated = decorator(strategy, RetryPolicy(max_attempts=4), fake)(script.target)

    with pytest.raises(ConnectionResetError):
        await invoke(decorated, mode)
    record = json.loads(decorated.last_run.to_json())
    assert len(record["failures"]) == 4
    assert [f["status"] for f in record["failures"]] == [503, None, None, None]
    assert all(len(f["message"]) <= 200 for f in record["failures"])
    assert API_KEY not in decorated.last_run.to_json()


async def test_retry_sleep_logged_at_info(strategy: str, mode: str, fake: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    script = Scripted([lambda: rate_limited({"retry-after": "1"}), "ok"], mode)
    decorated = decorator(strategy, RetryPolicy(initial_wait=0.5, jitter=None), fake)(script.target)

    with caplog.at_level(logging.INFO, logger="ratelimit_toolkit"):
        await invoke(decorated, mode)
    retries = [r for r in caplog.records if r.levelno == logging.INFO and "retrying in" in r.getMessage()]
    assert len(retries) == 1
    assert decorated.last_run.request_id in retries[0].getMessage()
    assert "1.500 s" in retries[0].getMessage()
    assert "429 rate_limited" in retries[0].getMessage()


async def test_give_up_logged_at_warning(strategy: str, mode: str, fake: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    decorated = decorator(strategy, RetryPolicy(), fake)(Scripted([quota_exhausted], mode).target)

    with caplog.at_level(logging.WARNING, logger="ratelimit_toolkit"), pytest.raises(openai.RateLimitError):
        await invoke(decorated, mode)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "not_retryable" in warnings[0].getMessage()


async def test_user_error_not_retried(strategy: str, mode: str, fake: FakeTime) -> None:
    script = Scripted([lambda: KeyError("missing")], mode)
    decorated = decorator(strategy, RetryPolicy(), fake)(script.target)

    with pytest.raises(KeyError):
        await invoke(decorated, mode)
    assert script.calls == 1


def test_wraps_keeps_metadata(strategy: str, fake: FakeTime) -> None:
    def ask(prompt: str, *, temperature: float = 0.0) -> str:
        """Ask the model."""
        return prompt

    decorated = decorator(strategy, RetryPolicy(), fake)(ask)
    assert decorated.__name__ == "ask"
    assert decorated.__doc__ == "Ask the model."
    assert inspect.signature(decorated) == inspect.signature(ask)
    assert decorated.__wrapped__ is ask


def test_async_stays_coroutine_function(strategy: str, fake: FakeTime) -> None:
    async def ask() -> str:
        return "ok"

    assert inspect.iscoroutinefunction(decorator(strategy, RetryPolicy(), fake)(ask))


def test_last_run_none_before_call(strategy: str, fake: FakeTime) -> None:
    assert decorator(strategy, RetryPolicy(), fake)(lambda: "ok").last_run is None


def test_bare_decorator_forms() -> None:
    @retry.retry_with_tenacity
    def first() -> str:
        return "a"

    @retry.retry_with_backoff
    def second() -> str:
        return "b"

    @retry.retry_with_exponential_backoff
    def third() -> str:
        return "c"

    assert (first(), second(), third()) == ("a", "b", "c")


def test_handwritten_max_retries_counts_retries(fake: FakeTime) -> None:
    script = Scripted([ConnectionResetError], "sync")
    decorated = retry.retry_with_exponential_backoff(script.target, max_retries=2, sleep=fake.sleep, clock=fake.clock)
    with pytest.raises(ConnectionResetError):
        decorated()
    assert script.calls == 3


def test_handwritten_errors_filter(fake: FakeTime) -> None:
    script = Scripted([ConnectionResetError, "ok"], "sync")
    decorated = retry.retry_with_exponential_backoff(script.target, errors=(openai.RateLimitError,), sleep=fake.sleep)
    with pytest.raises(ConnectionResetError):
        decorated()
    assert script.calls == 1


def test_handwritten_rejects_bad_errors() -> None:
    with pytest.raises(ValueError, match="errors"):
        retry.retry_with_exponential_backoff(lambda: None, errors=("RateLimitError",))  # type: ignore[arg-type]


def test_handwritten_rejects_negative_retries() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        retry.retry_with_exponential_backoff(lambda: None, max_retries=-1)


def test_handwritten_first_wait_quick(fake: FakeTime) -> None:
    script = Scripted([ConnectionResetError, "ok"], "sync")
    retry.retry_with_exponential_backoff(script.target, sleep=fake.sleep, rng=random.Random(0))()
    assert fake.sleeps[0] <= 1.0  # the cookbook's first sleep was 2-4 s


def test_make_client_disables_client_retries() -> None:
    client = retry.make_client(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert client.max_retries == 0
    client.close()


def test_make_client_rejects_client_retries() -> None:
    with pytest.raises(ValueError, match="max_retries=2"):
        retry.make_client(api_key="sk-test", max_retries=2)


async def test_make_async_client_disables_retries() -> None:
    client = retry.make_async_client(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert client.max_retries == 0
    await client.close()


# --- async code must not block the event loop ------------------------------------------


def forbidden_sleep(seconds: float) -> None:
    raise AssertionError(f"time.sleep({seconds}) called from an async path")


async def test_async_path_never_time_sleep(strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", forbidden_sleep)
    script = Scripted([ConnectionResetError, "ok"], "async")
    policy = RetryPolicy(initial_wait=0.01, jitter=None)
    decorated = decorator(strategy, policy, FakeTime(), sleep=forbidden_sleep, async_sleep=asyncio.sleep)(script.target)

    assert await decorated() == "ok"


async def test_backoff_does_not_block_loop(strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", forbidden_sleep)
    script = Scripted([ConnectionResetError, "ok"], "async")
    policy = RetryPolicy(initial_wait=1.0, jitter=None, max_attempts=2)
    decorated = decorator(
        strategy, policy, FakeTime(), sleep=forbidden_sleep, async_sleep=asyncio.sleep, clock=time.monotonic
    )(script.target)

    async def ticker() -> tuple[float, float]:
        started = previous = time.monotonic()
        largest_gap = 0.0
        for _ in range(10):
            await asyncio.sleep(0.05)
            now = time.monotonic()
            largest_gap = max(largest_gap, now - previous)
            previous = now
        return now - started, largest_gap

    started = time.monotonic()
    result, (ticker_seconds, largest_gap) = await asyncio.gather(decorated(), ticker())
    assert result == "ok"
    assert time.monotonic() - started >= 0.95  # the 1 s backoff really happened
    assert ticker_seconds < 0.9  # about 0.5-0.6 s on an idle machine
    assert largest_gap < 0.2


def test_sync_path_rejects_coroutine(strategy: str, fake: FakeTime) -> None:
    async def ask() -> str:
        return "ok"

    decorated = decorator(strategy, RetryPolicy(), fake)(lambda: ask())
    with pytest.raises(TypeError, match="coroutine"):
        decorated()
