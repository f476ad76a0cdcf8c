"""RateLimiter and TokenBucket: rates, fairness, oversize requests, headers, threads, drift."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import openai
import pytest

from ratelimit_toolkit.limiter.bucket import DEFAULT_MARGIN_SECONDS
from ratelimit_toolkit.limiter import (
    AcquireTimeoutError,
    RateLimiter,
    RequestTooLargeError,
    TokenBucket,
    delay_for,
    paced,
    read_rate_limit_headers,
)


class FakeClock:
    """A clock that moves only when a (fake) sleep moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def fake_limiter(
    clock: FakeClock, rpm: float | None, tpm: float | None, *, margin_seconds: float = 0.0, **kwargs: object
) -> RateLimiter:
    """A limiter on `clock`, without the admission margin unless asked, so times are exact."""
    return RateLimiter(  # type: ignore[misc]
        rpm, tpm, margin_seconds=margin_seconds, clock=clock, sleep=clock.sleep,
        async_sleep=clock.async_sleep, **kwargs,  # type: ignore[arg-type]
    )


def headers(rpm: int, tpm: int, *, remaining_requests: int, remaining_tokens: int,
            reset_requests: str, reset_tokens: str) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(rpm),
        "x-ratelimit-limit-tokens": str(tpm),
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-remaining-tokens": str(remaining_tokens),
        "x-ratelimit-reset-requests": reset_requests,
        "x-ratelimit-reset-tokens": reset_tokens,
    }


def admit_until_refused(limiter: RateLimiter, tokens: float = 1) -> int:
    count = 0
    while limiter.try_acquire(tokens):
        count += 1
    return count


# --- TokenBucket -------------------------------------------------------------


def test_bucket_capacity_follows_burst() -> None:
    assert TokenBucket(600, burst_seconds=1).capacity == pytest.approx(10)
    assert TokenBucket(600, burst_seconds=60).capacity == pytest.approx(600)


def test_bucket_refills_continuously() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, burst_seconds=1, clock=clock)
    bucket.charge(10)
    clock.now = 0.25

    assert bucket.level() == pytest.approx(2.5)


def test_bucket_repr_shows_state() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, burst_seconds=1, clock=clock, count_waiters=lambda: 3)
    bucket.charge(0.5)
    text = repr(bucket)

    assert "level=0.500" in text
    assert "capacity=1.000" in text
    assert "waiters=3" in text
    assert "full_in=0.500s" in text


def test_bucket_oversize_leaves_debt() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000, burst_seconds=1, margin_seconds=0, clock=clock, unit="tokens")

    assert bucket.try_acquire(600)
    assert bucket.level() == pytest.approx(1000 / 60 - 600)
    assert bucket.seconds_until(1) == pytest.approx((600 - 1000 / 60 + 1) / (1000 / 60))


def test_bucket_oversize_waits_for_full() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000, burst_seconds=1, margin_seconds=0, clock=clock, unit="tokens")
    bucket.charge(1)

    assert not bucket.try_acquire(500)
    assert bucket.seconds_until(500) == pytest.approx(1 / (1000 / 60))


def test_bucket_margin_delays_schedule() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, burst_seconds=1, margin_seconds=0.1, clock=clock)
    bucket.charge(1)

    assert bucket.seconds_until(1) == pytest.approx(1.1)


def test_bucket_margin_after_full() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, burst_seconds=2, margin_seconds=0.1, clock=clock)
    bucket.charge(2)
    clock.now = 2.05

    # Full since t = 2.0, so the level needed was there only 0.05 s ago.
    assert bucket.seconds_until(2) == pytest.approx(0.05)
    assert bucket.seconds_until(1.9) == 0.0


def test_bucket_margin_holds_first_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, burst_seconds=1, margin_seconds=0.05, clock=clock)
    admitted_at_once = 0
    while bucket.try_acquire(1):
        admitted_at_once += 1

    # 10 fit the burst; the last half request's worth (0.05 s x 10 a second) waits.
    assert admitted_at_once == 9
    assert bucket.seconds_until(1) == pytest.approx(0.05)


def test_bucket_margin_keeps_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, burst_seconds=1, margin_seconds=0.1, clock=clock)
    admitted = 0
    while clock.now < 60:
        if bucket.try_acquire(1):
            admitted += 1
        else:
            clock.now += bucket.seconds_until(1)

    # The first burst loses one second's margin (1 request); the rate is 10 a second.
    assert admitted == pytest.approx(609, abs=1)


def test_bucket_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="per minute"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="burst_seconds"):
        TokenBucket(60, burst_seconds=61)
    with pytest.raises(ValueError, match="burst_seconds"):
        TokenBucket(60, burst_seconds=0)


# --- Refill drift --------------------------------------------------------------
# These tests poll with try_acquire at fixed steps and switch the admission
# margin off (fake_limiter's default), because they test the refill arithmetic.
# The margin's own cost under coarse polling is pinned further down.


def test_drift_one_ms_steps() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 3500, 90_000)
    admitted = 0
    for step in range(120_000):
        clock.now = step * 0.001
        count = admit_until_refused(limiter)
        if clock.now >= 60:
            admitted += count

    assert abs(admitted - 3500) <= 35


def test_drift_one_rpm_slow_steps() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 1, None)
    admitted = 0
    for step in range(6000):
        clock.now = step * 0.1
        admitted += admit_until_refused(limiter)

    assert 10 <= admitted <= 11


@pytest.mark.parametrize(
    ("step_seconds", "duration_seconds"),
    [(0.0001, 20.0), (0.001, 120.0), (0.017, 120.0), (1.0, 600.0)],
)
def test_drift_long_run_rate(step_seconds: float, duration_seconds: float) -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 3500, 90_000)
    half = duration_seconds / 2
    admitted = 0
    for step in range(round(duration_seconds / step_seconds)):
        clock.now = step * step_seconds
        count = admit_until_refused(limiter)
        if clock.now >= half:
            admitted += count

    per_minute = admitted / half * 60
    assert per_minute == pytest.approx(3500, rel=0.01)


def test_margin_cost_when_polling_each_second() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 3500, None, margin_seconds=DEFAULT_MARGIN_SECONDS)
    admitted = 0
    for step in range(600):
        clock.now = float(step)
        count = admit_until_refused(limiter)
        if step >= 300:
            admitted += count

    # Each poll finds the bucket full for less than the margin, so the last
    # margin's worth of refill waits for the next poll, which finds the bucket
    # full again: polling once a second loses the margin's share of each second.
    # A blocking acquire() waits out the margin instead and loses nothing.
    expected = 3500 * (1 - DEFAULT_MARGIN_SECONDS)
    assert admitted / 300 * 60 == pytest.approx(expected, rel=0.01)


# --- Rate accuracy -------------------------------------------------------------


def test_rate_600_rpm_over_minute() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 600, None, margin_seconds=DEFAULT_MARGIN_SECONDS)
    admitted = 0
    while True:
        limiter.acquire()
        if clock.now > 60:
            break
        admitted += 1

    # One second's burst (10) plus 60 seconds of refill (600), the last at t = 60.
    assert admitted == pytest.approx(611, rel=0.01)


def test_rate_tokens_bind() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 6000, 6000)
    for _ in range(20):
        limiter.acquire(300)

    # 100 tokens a second with 100 to spend at once: each 300-token request
    # waits for a full bucket and leaves 200 of debt, so one goes every 3 s.
    assert clock.now == pytest.approx(19 * 3.0)


async def test_rate_async_fake_clock() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 120, None)
    await asyncio.gather(*(limiter.acquire_async() for _ in range(30)))

    # Two at once, then one every half second.
    assert clock.now == pytest.approx(14.0)


def test_rate_real_time_threads() -> None:
    limiter = RateLimiter(1200, None)
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [limiter.acquire() for _ in range(10)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    elapsed = time.monotonic() - started

    # 20 at once, then 20 more at 20 a second.
    assert elapsed >= 0.95
    assert elapsed < 2.0


async def test_rate_real_time_async() -> None:
    limiter = RateLimiter(1200, None)
    started = time.monotonic()
    waits = await asyncio.gather(*(limiter.acquire_async() for _ in range(40)))
    elapsed = time.monotonic() - started

    assert elapsed >= 0.95
    assert elapsed < 2.0
    assert max(waits) >= 0.95


def test_disabled_limits_admit_everything() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, None, None)
    for _ in range(1000):
        limiter.acquire(1_000_000)

    assert clock.sleeps == []
    assert limiter.stats.admitted == 1000


def test_disabled_token_limit_ignores_tokens() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, None)

    assert limiter.try_acquire(10_000_000)


# --- Fairness ----------------------------------------------------------------


async def test_fifo_large_before_small() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 10_000, 600)
    limiter.acquire(10)
    order: list[str] = []

    async def take(name: str, tokens: int) -> None:
        await limiter.acquire_async(tokens)
        order.append(name)

    tasks = [asyncio.create_task(take("large", 8))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(take(f"small{i}", 1)) for i in range(5)]
    await asyncio.gather(*tasks)

    assert order[0] == "large"
    assert order[1:] == [f"small{i}" for i in range(5)]


def test_fifo_threads_real_time() -> None:
    limiter = RateLimiter(60_000, 1200)
    limiter.acquire(20)
    order: list[int] = []
    lock = threading.Lock()

    def take(index: int, tokens: int) -> None:
        limiter.acquire(tokens)
        with lock:
            order.append(index)

    threads = []
    for index, tokens in enumerate([15, 1, 1, 1]):
        thread = threading.Thread(target=take, args=(index, tokens))
        thread.start()
        threads.append(thread)
        _wait_for(lambda: limiter.waiters == index + 1)
    for thread in threads:
        thread.join(timeout=10)

    assert order == [0, 1, 2, 3]


def test_try_acquire_respects_queue() -> None:
    limiter = RateLimiter(600, None, burst_seconds=0.1)
    limiter.acquire()
    thread = threading.Thread(target=limiter.acquire)
    thread.start()
    _wait_for(lambda: limiter.waiters == 1)
    jumped = limiter.try_acquire()
    thread.join(timeout=5)

    assert jumped is False


# --- Oversize and timeouts -----------------------------------------------------


def test_oversize_raises_at_once() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, 1000)
    with pytest.raises(RequestTooLargeError) as caught:
        limiter.acquire(1001)

    assert "1001 tokens" in str(caught.value)
    assert "1000 tokens per minute" in str(caught.value)
    assert clock.sleeps == []


def test_oversize_is_value_error() -> None:
    limiter = RateLimiter(60, 1000)
    with pytest.raises(ValueError):
        limiter.try_acquire(5000)


def test_over_burst_admitted_with_debt() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 600, 6000)
    waited_large = limiter.acquire(6000)
    limiter.acquire(1)

    assert waited_large == 0.0
    # The 6000-token request left 100 - 6000 tokens; refill at 100 a second repays it.
    assert clock.now == pytest.approx(59.01)


def test_timeout_raises_without_waiting() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, None)
    limiter.acquire()
    with pytest.raises(AcquireTimeoutError, match="within 0.5s"):
        limiter.acquire(timeout=0.5)

    assert clock.sleeps == []
    assert limiter.waiters == 0
    assert isinstance(AcquireTimeoutError(1, 1, "x"), TimeoutError)


def test_timeout_behind_other_waiter() -> None:
    limiter = RateLimiter(120, None)
    limiter.acquire(), limiter.acquire()
    head = threading.Thread(target=limiter.acquire)
    head.start()
    _wait_for(lambda: limiter.waiters == 1)
    started = time.monotonic()
    with pytest.raises(AcquireTimeoutError, match="ahead"):
        limiter.acquire(timeout=0.1)
    elapsed = time.monotonic() - started
    head.join(timeout=5)

    assert 0.09 <= elapsed < 0.45
    assert limiter.waiters == 0


async def test_cancelled_waiter_leaves_queue() -> None:
    limiter = RateLimiter(120, None)
    limiter.acquire(), limiter.acquire()
    first = asyncio.create_task(limiter.acquire_async())
    second = asyncio.create_task(limiter.acquire_async())
    await asyncio.sleep(0.05)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    started = time.monotonic()
    await second

    assert time.monotonic() - started < 0.6
    assert limiter.waiters == 0


def test_abandoned_head_dropped() -> None:
    limiter = RateLimiter(600, None, burst_seconds=0.1, margin_seconds=0)
    limiter.acquire()
    loop = asyncio.new_event_loop()
    task = loop.create_task(limiter.acquire_async())
    loop.run_until_complete(asyncio.sleep(0.02))
    queued = limiter.waiters
    loop.close()
    started = time.monotonic()
    limiter.acquire()
    elapsed = time.monotonic() - started
    # The abandoned task can no longer run; finish its coroutine and keep
    # asyncio from reporting the pending task when it is collected.
    task.get_coro().close()
    task._log_destroy_pending = False  # type: ignore[attr-defined]

    assert queued == 1
    assert elapsed < 1.0
    assert limiter.waiters == 0


def test_acquire_rejects_bad_tokens() -> None:
    limiter = RateLimiter(60, 1000)
    for bad in (-1, float("nan"), float("inf"), "3", True):
        with pytest.raises(ValueError, match="tokens must be"):
            limiter.acquire(bad)  # type: ignore[arg-type]


def test_initial_with_limit_rejected() -> None:
    with pytest.raises(ValueError, match="either requests_per_minute"):
        RateLimiter(60, None, initial_requests_per_minute=10)


# --- Headers -------------------------------------------------------------------


def test_headers_parse_table() -> None:
    parsed = read_rate_limit_headers(
        {"X-RateLimit-Limit-Requests": "60", "x-ratelimit-remaining-requests": "59",
         "x-ratelimit-reset-requests": "1s", "x-ratelimit-limit-tokens": "nan",
         "x-ratelimit-remaining-tokens": "-5", "x-ratelimit-reset-tokens": "soon"}
    )

    assert parsed["requests"].limit_per_minute == 60
    assert parsed["requests"].remaining == 59
    assert parsed["requests"].reset_seconds == 1.0
    assert parsed["tokens"].limit_per_minute is None
    assert parsed["tokens"].remaining is None
    assert parsed["tokens"].reset_seconds is None


def test_observe_adopts_limits() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 600, 1_500_000)
    limiter.observe(headers(60, 150_000, remaining_requests=1, remaining_tokens=2500,
                            reset_requests="0s", reset_tokens="0s"))

    assert limiter.requests_per_minute == 60
    assert limiter.tokens_per_minute == 150_000
    assert limiter.learned == {"requests": 60, "tokens": 150_000}


def test_observe_lowers_level_from_reset() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, 150_000, burst_seconds=60)
    limiter.observe(headers(60, 150_000, remaining_requests=30, remaining_tokens=150_000,
                            reset_requests="30s", reset_tokens="0s"))

    # The server's bucket is 30 requests short of full, this one was full.
    assert limiter.buckets["requests"].level() == pytest.approx(30)


def test_observe_never_raises_level() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, None, burst_seconds=60)
    for _ in range(50):
        limiter.acquire()
    limiter.observe(headers(60, 150_000, remaining_requests=60, remaining_tokens=150_000,
                            reset_requests="0s", reset_tokens="0s"))

    assert limiter.buckets["requests"].level() == pytest.approx(10)


def test_observe_ignores_late_report() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, None)
    limiter.acquire()
    clock.now = 0.7
    # The server reported its bucket empty when it admitted the request; the
    # response arrives 0.7 s later, after 0.7 of a request has refilled.
    limiter.observe(headers(60, 150_000, remaining_requests=0, remaining_tokens=150_000,
                            reset_requests="1s", reset_tokens="0s"))

    assert limiter.buckets["requests"].level() == pytest.approx(0.7)


def test_observe_ignores_garbage() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, 1000)
    limiter.observe({"x-ratelimit-limit-requests": "lots", "x-ratelimit-reset-tokens": "-1s",
                     "x-ratelimit-limit-tokens": "0"})

    assert limiter.requests_per_minute == 60
    assert limiter.tokens_per_minute == 1000


def test_observe_keeps_disabled_limit() -> None:
    limiter = RateLimiter(60, None)
    limiter.observe(headers(60, 150_000, remaining_requests=59, remaining_tokens=149_000,
                            reset_requests="1s", reset_tokens="24ms"))

    assert limiter.tokens_per_minute is None


def test_learning_starts_cautious() -> None:
    limiter = RateLimiter.learning()

    assert limiter.requests_per_minute == 60
    assert limiter.tokens_per_minute is None
    assert limiter.learned == {}


def test_learning_adopts_both_limits() -> None:
    limiter = RateLimiter.learning()
    limiter.observe(headers(3000, 250_000, remaining_requests=2999, remaining_tokens=249_000,
                            reset_requests="20ms", reset_tokens="240ms"))

    assert limiter.requests_per_minute == 3000
    assert limiter.tokens_per_minute == 250_000


def test_learning_starts_from_server_level() -> None:
    clock = FakeClock()
    limiter = RateLimiter.learning(margin_seconds=0.0, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep)
    limiter.acquire()
    # The server admitted that request with 19 of its 20-request burst left (1,200 RPM, burst 1 s).
    limiter.observe(headers(1200, 120_000, remaining_requests=19, remaining_tokens=119_000,
                            reset_requests="50ms", reset_tokens="500ms"))

    admitted_at_once = 0
    while limiter.try_acquire():
        admitted_at_once += 1

    assert admitted_at_once == 18
    assert clock.sleeps == []


def test_learning_start_never_exceeds_server_level() -> None:
    clock = FakeClock()
    limiter = RateLimiter.learning(margin_seconds=0.0, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep)
    limiter.acquire()
    limiter.observe(headers(1200, 120_000, remaining_requests=0, remaining_tokens=119_000,
                            reset_requests="1s", reset_tokens="500ms"))

    assert limiter.try_acquire() is False


def test_initial_limit_implies_learning() -> None:
    limiter = RateLimiter(None, None, initial_requests_per_minute=30)
    limiter.observe(headers(3000, 250_000, remaining_requests=2999, remaining_tokens=249_000,
                            reset_requests="20ms", reset_tokens="240ms"))

    assert limiter.learn_limits is True
    assert limiter.requests_per_minute == 3000
    assert limiter.tokens_per_minute == 250_000


def test_learning_wakes_waiting_head() -> None:
    limiter = RateLimiter.learning()
    limiter.acquire()
    admitted = threading.Event()
    thread = threading.Thread(target=lambda: (limiter.acquire(), admitted.set()))
    started = time.monotonic()
    thread.start()
    _wait_for(lambda: limiter.waiters == 1)
    limiter.observe(headers(6000, 1_000_000, remaining_requests=5999, remaining_tokens=999_000,
                            reset_requests="10ms", reset_tokens="60ms"))
    thread.join(timeout=5)

    assert admitted.is_set()
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("factor", [10.0, 0.1])
def test_observe_converges_on_mock(mock_server: Callable[..., object], factor: float) -> None:
    server = mock_server(rpm=600, tpm=600_000, burst_seconds=1)
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0)  # type: ignore[attr-defined]
    limiter = RateLimiter(600 * factor, 600_000 * factor)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    refused = 0
    for _ in range(20):
        limiter.acquire(40)
        try:
            response = client.chat.completions.with_raw_response.create(**body)  # type: ignore[call-overload]
        except openai.RateLimitError as error:
            refused += 1
            limiter.observe(error.response.headers)
            continue
        limiter.observe(response.headers)
    client.close()

    assert limiter.requests_per_minute == 600
    assert limiter.tokens_per_minute == 600_000
    assert refused <= 1


# --- Refund ------------------------------------------------------------------


def test_refund_raises_token_level() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, 6000)
    limiter.acquire(100)
    limiter.refund(60)

    assert limiter.buckets["tokens"].level() == pytest.approx(60)
    assert limiter.stats.refunded_tokens == 60


def test_refund_capped_at_capacity() -> None:
    clock = FakeClock()
    limiter = fake_limiter(clock, 60, 6000)
    limiter.refund(500)

    assert limiter.buckets["tokens"].level() == pytest.approx(100)


# --- Threads and coroutines together ------------------------------------------


def test_threads_never_exceed_budget() -> None:
    rate = 1000.0
    limiter = RateLimiter(rate * 60, None)
    capacity = limiter.buckets["requests"].capacity
    stamps: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()

    def work() -> None:
        for _ in range(100):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(stamps) == 1600
    overruns = [
        count for count, stamp in enumerate(sorted(stamps), start=1)
        if count > capacity + (stamp - started) * rate + 1
    ]
    assert overruns == []
    assert stamps[-1] - started >= (1600 - capacity) / rate * 0.98


async def test_threads_and_tasks_share_queue() -> None:
    limiter = RateLimiter(6000, None)
    drained = admit_until_refused(limiter)
    thread_done = threading.Event()

    def in_thread() -> None:
        for _ in range(10):
            limiter.acquire()
        thread_done.set()

    thread = threading.Thread(target=in_thread)
    started = time.monotonic()
    thread.start()
    await asyncio.gather(*(limiter.acquire_async() for _ in range(10)))
    await asyncio.to_thread(thread.join, 10)
    elapsed = time.monotonic() - started

    # 20 admissions at 100 a second from an empty bucket.
    assert thread_done.is_set()
    assert elapsed >= 0.18
    assert elapsed < 0.8
    assert limiter.stats.admitted == drained + 20


# --- Pacing ------------------------------------------------------------------


def test_delay_for_is_sixty_over_rpm() -> None:
    assert delay_for(120) == 0.5
    with pytest.raises(ValueError, match="requests_per_minute"):
        delay_for(0)


def test_paced_spaces_starts() -> None:
    clock = FakeClock()
    starts: list[float] = []

    @paced(60, clock=clock, sleep=clock.sleep)
    def call(number: int) -> int:
        starts.append(clock.now)
        clock.now += 0.25
        return number

    results = [call(number) for number in range(4)]

    assert results == [0, 1, 2, 3]
    assert starts == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert call.__name__ == "call"


async def test_paced_async_spaces_starts() -> None:
    clock = FakeClock()
    starts: list[float] = []

    @paced(120, clock=clock, async_sleep=clock.async_sleep)
    async def call() -> None:
        starts.append(clock.now)

    for _ in range(3):
        await call()

    assert starts == pytest.approx([0.0, 0.5, 1.0])


def _wait_for(condition: Callable[[], bool], timeout_seconds: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)
