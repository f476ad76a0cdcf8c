"""Tests for `RedisRateLimiter`, against a real redis-server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import openai
import pytest
import redis
from redis_fixtures import (  # noqa: F401  (fixtures are found by name)
    acquire_times,
    closed_redis_url,
    hammer_try_acquire,
    redis_client,
    redis_server,
    redis_url,
)

from ratelimit_toolkit.limiter import AcquireTimeoutError, RateLimiter, RequestTooLargeError
from ratelimit_toolkit.limiter.protocol import Limiter
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.recording import Attempt
from ratelimit_toolkit.redis_limiter import (
    LocalRedisServer,
    RedisFallbackWarning,
    RedisRateLimiter,
    RedisServerNotFoundError,
    SharedLimiterUnavailableError,
    limit_key,
    redact_url,
)
from ratelimit_toolkit.redis_limiter.workload import RunResult, percentile, shortest_seconds

# 600 requests and 6,000 tokens per minute with a one-second burst: buckets of
# 10 requests and 100 tokens, refilled at 10 requests and 100 tokens a second.
RPM = 600
TPM = 6_000
REQUEST_CAPACITY = 10
TOKEN_CAPACITY = 100


class RecordedSleep:
    """A sleep that records the seconds asked for and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_limiter(url: str, **options: Any) -> RedisRateLimiter:
    """Build a limiter at `RPM` and `TPM`; without a margin, so bucket sums are exact."""
    options.setdefault("burst_seconds", 1.0)
    options.setdefault("margin_seconds", 0.0)
    return RedisRateLimiter(options.pop("rpm", RPM), options.pop("tpm", TPM), redis_url=url, **options)


LimiterFactory = Callable[..., RedisRateLimiter]


@pytest.fixture
def new_limiter(redis_url: str) -> Iterator[LimiterFactory]:
    """Build limiters on the session server (options as for `make_limiter`); each is closed after the test."""
    limiters: list[RedisRateLimiter] = []

    def make(**options: Any) -> RedisRateLimiter:
        limiter = make_limiter(redis_url, **options)
        limiters.append(limiter)
        return limiter

    yield make
    for limiter in limiters:
        limiter.close()


@pytest.fixture
async def new_async_limiter(redis_url: str) -> AsyncIterator[LimiterFactory]:
    """Like `new_limiter`, but closes each limiter's asyncio client in the test's event loop."""
    limiters: list[RedisRateLimiter] = []

    def make(**options: Any) -> RedisRateLimiter:
        limiter = make_limiter(redis_url, **options)
        limiters.append(limiter)
        return limiter

    yield make
    for limiter in limiters:
        await limiter.aclose()
        limiter.close()


def server_seconds(client: redis.Redis) -> float:
    seconds, microseconds = client.time()
    return seconds + microseconds / 1e6


# -- names and URLs (no server needed) ----------------------------------------


def test_redact_url_hides_password() -> None:
    redacted = redact_url("redis://user:hunter2@10.0.0.5:6379/0")
    assert "hunter2" not in redacted
    assert redacted == "redis://user:***@10.0.0.5:6379/0"


def test_redact_url_hides_query_password() -> None:
    redacted = redact_url("redis://127.0.0.1:6379/0?password=hunter2&db=1")
    assert "hunter2" not in redacted
    assert "db=1" in redacted


def test_redact_url_keeps_plain_url() -> None:
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_limit_key_separates_names() -> None:
    assert limit_key(organization="a:b", model="c") != limit_key(organization="a", project="b", model="c")


def test_limit_key_unset_differs_from_star() -> None:
    assert limit_key(model="*") != limit_key()


def test_limit_key_rejects_empty_name() -> None:
    with pytest.raises(ValueError, match="organization"):
        limit_key(organization="")


def test_limiter_rejects_invalid_limits() -> None:
    with pytest.raises(ValueError, match="requests per minute"):
        RedisRateLimiter(0, TPM)
    with pytest.raises(ValueError, match="burst_seconds"):
        RedisRateLimiter(RPM, TPM, burst_seconds=61)


def test_both_limiters_satisfy_protocol() -> None:
    assert isinstance(RedisRateLimiter(RPM, TPM), Limiter)
    assert isinstance(RateLimiter(RPM, TPM), Limiter)


def test_oversize_request_names_both_numbers() -> None:
    limiter = RedisRateLimiter(RPM, TPM)
    with pytest.raises(RequestTooLargeError) as raised:
        limiter.acquire(TPM + 1)
    assert "6001" in str(raised.value)
    assert "6000" in str(raised.value)


def test_shortest_seconds_counts_burst() -> None:
    # 400 requests at 1,200 RPM: 20 from the full bucket, 380 at 20 a second.
    assert shortest_seconds(400, 1_200, 1.0) == pytest.approx(19.0)


def test_shortest_seconds_within_burst_is_zero() -> None:
    assert shortest_seconds(5, 1_200, 1.0) == 0.0


def test_percentile_nearest_rank() -> None:
    values = [float(value) for value in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.5) == 50.0


def test_run_result_counts_refusals() -> None:
    attempts = [
        Attempt("0-0", 1, 0.0, 0.1, "rate_limited", 429),
        Attempt("0-0", 2, 0.2, 0.3, "ok", 200),
        Attempt("0-1", 1, 0.3, 2.0, "ok", 200),
    ]
    result = RunResult("run", 1, 60, 1.0, attempts, [], elapsed_seconds=2.0)
    assert result.completed == 2
    assert result.refused == 1
    assert result.refused_share == pytest.approx(1 / 3)
    assert result.efficiency == pytest.approx(0.5)


def test_local_server_missing_binary_says_how_to_install() -> None:
    with pytest.raises(RedisServerNotFoundError, match="apt-get install redis-server"):
        LocalRedisServer("/nonexistent/redis-server").start()


# -- Redis unavailable --------------------------------------------------------


def test_unavailable_error_names_url_and_fix(closed_redis_url: str) -> None:
    limiter = make_limiter(closed_redis_url)
    with pytest.raises(SharedLimiterUnavailableError) as raised:
        limiter.acquire(1)
    message = str(raised.value)
    assert "hunter2" not in message
    assert "redis://:***@127.0.0.1" in message
    assert "fallback_to_local=True" in message
    assert "redis-server" in message


def test_unavailable_error_chains_cause(closed_redis_url: str) -> None:
    limiter = make_limiter(closed_redis_url)
    with pytest.raises(SharedLimiterUnavailableError) as raised:
        limiter.try_acquire(1)
    assert isinstance(raised.value.__cause__, redis.ConnectionError)


def test_ping_fails_fast_on_closed_port(closed_redis_url: str) -> None:
    with pytest.raises(SharedLimiterUnavailableError):
        make_limiter(closed_redis_url).ping()


def test_fallback_warns_once_and_limits(closed_redis_url: str) -> None:
    limiter = make_limiter(closed_redis_url, fallback_to_local=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        admitted = [limiter.try_acquire(1) for _ in range(REQUEST_CAPACITY + 5)]
    fallback_warnings = [w for w in caught if issubclass(w.category, RedisFallbackWarning)]
    assert len(fallback_warnings) == 1
    assert "hunter2" not in str(fallback_warnings[0].message)
    assert limiter.is_local
    assert sum(admitted) == REQUEST_CAPACITY


def test_fallback_warning_points_at_caller(closed_redis_url: str) -> None:
    limiter = make_limiter(closed_redis_url, fallback_to_local=True)
    with pytest.warns(RedisFallbackWarning) as caught:
        limiter.acquire(1)
    assert caught[0].filename == __file__


async def test_fallback_works_for_async(closed_redis_url: str) -> None:
    limiter = make_limiter(closed_redis_url, fallback_to_local=True)
    with pytest.warns(RedisFallbackWarning):
        waited = await limiter.acquire_async(1)
    assert waited == 0.0


@pytest.mark.redis
def test_fallback_when_server_stops() -> None:
    try:
        server = LocalRedisServer().start()
    except RedisServerNotFoundError as error:
        pytest.skip(str(error))
    limiter = make_limiter(server.url, fallback_to_local=True)
    try:
        assert limiter.try_acquire(1)
        server.stop()
        with pytest.warns(RedisFallbackWarning):
            assert limiter.try_acquire(1)
        assert limiter.is_local
    finally:
        server.stop()
        limiter.close()


# -- admission through Redis --------------------------------------------------


@pytest.mark.redis
def test_try_acquire_admits_burst_then_refuses(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    admitted = [limiter.try_acquire(1) for _ in range(REQUEST_CAPACITY + 3)]
    assert admitted[:REQUEST_CAPACITY] == [True] * REQUEST_CAPACITY
    assert admitted[REQUEST_CAPACITY:] == [False] * 3


@pytest.mark.redis
def test_margin_delays_refilled_request(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter(margin_seconds=0.1)
    assert limiter.try_acquire(TOKEN_CAPACITY)
    decision = limiter.decide(1, max_wait_seconds=0)
    # One token refills in 0.01 s; the margin adds 0.1 s.
    assert decision.wait_seconds == pytest.approx(0.11, abs=0.01)


@pytest.mark.redis
def test_margin_spares_long_full_bucket(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter(margin_seconds=0.1)
    assert limiter.decide(1).wait_seconds == 0.0


@pytest.mark.redis
def test_margin_after_bucket_refills(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter(margin_seconds=0.2)
    assert limiter.try_acquire(TOKEN_CAPACITY)
    time.sleep(1.05)
    # Full again for about 0.05 s, so the margin still holds back about 0.15 s of refill.
    assert not limiter.try_acquire(TOKEN_CAPACITY)
    assert limiter.try_acquire(TOKEN_CAPACITY - 20)


@pytest.mark.redis
def test_token_bucket_limits_with_requests(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    assert limiter.try_acquire(60)
    assert not limiter.try_acquire(60)
    assert limiter.try_acquire(40)


@pytest.mark.redis
def test_refused_try_acquire_charges_nothing(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    assert limiter.try_acquire(TOKEN_CAPACITY)
    before = limiter.levels()
    assert not limiter.try_acquire(50)
    after = limiter.levels()
    assert after[0] >= before[0]
    assert after[1] >= before[1]


@pytest.mark.redis
def test_request_above_burst_leaves_debt(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    decision = limiter.decide(3_000)
    assert decision.granted
    assert decision.wait_seconds == 0.0
    assert decision.token_level == pytest.approx(TOKEN_CAPACITY - 3_000, abs=1.0)


@pytest.mark.redis
def test_debt_delays_next_request(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    limiter.decide(3_000)
    following = limiter.decide(1, max_wait_seconds=0)
    assert not following.granted
    assert following.wait_seconds == pytest.approx(29.0, abs=0.1)


@pytest.mark.redis
def test_acquire_sleeps_booked_wait(new_limiter: LimiterFactory) -> None:
    sleep = RecordedSleep()
    limiter = new_limiter(sleep=sleep)
    limiter.acquire(TOKEN_CAPACITY)
    waited = limiter.acquire(50)
    assert sleep.calls == [waited]
    assert waited == pytest.approx(0.5, abs=0.05)


@pytest.mark.redis
def test_large_request_keeps_its_place(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    limiter.decide(TOKEN_CAPACITY)
    large = limiter.decide(TOKEN_CAPACITY)
    small = limiter.decide(1)
    assert large.granted
    assert small.wait_seconds > large.wait_seconds


@pytest.mark.redis
def test_small_requests_cannot_pass_booking(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    limiter.decide(TOKEN_CAPACITY)
    limiter.decide(TOKEN_CAPACITY)
    time.sleep(0.3)
    assert not limiter.try_acquire(1)


@pytest.mark.redis
def test_timeout_raises_at_once_and_charges_nothing(new_limiter: LimiterFactory) -> None:
    sleep = RecordedSleep()
    limiter = new_limiter(sleep=sleep)
    limiter.acquire(TOKEN_CAPACITY)
    with pytest.raises(AcquireTimeoutError, match="within 0.1s"):
        limiter.acquire(TOKEN_CAPACITY, timeout=0.1)
    assert sleep.calls == []
    assert limiter.levels()[0] > REQUEST_CAPACITY - 2


@pytest.mark.redis
def test_interrupted_wait_returns_booking(new_limiter: LimiterFactory) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    limiter = new_limiter(sleep=interrupted)
    limiter.acquire(TOKEN_CAPACITY)
    with pytest.raises(KeyboardInterrupt):
        limiter.acquire(TOKEN_CAPACITY)
    assert limiter.levels()[1] > -1.0


@pytest.mark.redis
def test_refund_returns_tokens(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    limiter.acquire(TOKEN_CAPACITY)
    limiter.refund(60)
    assert limiter.try_acquire(50)
    assert limiter.stats.refunded_tokens == 60


@pytest.mark.redis
def test_refund_never_exceeds_capacity(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    limiter.refund(1_000)
    assert limiter.levels()[1] == pytest.approx(TOKEN_CAPACITY)


@pytest.mark.redis
def test_disabled_token_limit_ignores_tokens(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter(tpm=None)
    assert limiter.try_acquire(1_000_000)
    assert limiter.try_acquire(1_000_000)


# -- keys ---------------------------------------------------------------------


@pytest.mark.redis
def test_organizations_do_not_share_budget(new_limiter: LimiterFactory) -> None:
    first = new_limiter(organization="org-a", model="gpt-4o-mini")
    second = new_limiter(organization="org-b", model="gpt-4o-mini")
    assert first.try_acquire(TOKEN_CAPACITY)
    assert second.try_acquire(TOKEN_CAPACITY)
    assert not first.try_acquire(1)


@pytest.mark.redis
def test_models_do_not_share_budget(new_limiter: LimiterFactory) -> None:
    first = new_limiter(organization="org-a", model="gpt-4o-mini")
    second = new_limiter(organization="org-a", model="gpt-4.1")
    assert first.try_acquire(TOKEN_CAPACITY)
    assert second.try_acquire(TOKEN_CAPACITY)


@pytest.mark.redis
def test_same_names_share_budget(new_limiter: LimiterFactory) -> None:
    first = new_limiter(organization="org-a", project="p", model="m")
    second = new_limiter(organization="org-a", project="p", model="m")
    assert first.try_acquire(TOKEN_CAPACITY)
    assert not second.try_acquire(1)


@pytest.mark.redis
def test_key_expires_when_idle(new_limiter: LimiterFactory, redis_client: redis.Redis) -> None:
    limiter = new_limiter()
    limiter.acquire(TOKEN_CAPACITY)
    ttl_milliseconds = redis_client.pttl(limiter.key)
    assert 0 < ttl_milliseconds <= 62_000


@pytest.mark.redis
def test_script_reloads_after_flush(new_limiter: LimiterFactory, redis_client: redis.Redis) -> None:
    limiter = new_limiter()
    assert limiter.try_acquire(1)
    redis_client.script_flush()
    assert limiter.try_acquire(1)


# -- clocks -------------------------------------------------------------------


@pytest.mark.redis
def test_skewed_client_clocks_do_not_matter(new_limiter: LimiterFactory, redis_client: redis.Redis) -> None:
    ahead = new_limiter(clock=lambda: time.monotonic() + 3_600)
    behind = new_limiter(clock=lambda: time.monotonic() - 3_600)
    started = server_seconds(redis_client)
    admitted = 0
    for _ in range(200):
        admitted += ahead.try_acquire(1) + behind.try_acquire(1)
    elapsed = server_seconds(redis_client) - started
    assert admitted <= REQUEST_CAPACITY + elapsed * RPM / 60 + 1e-6
    assert admitted >= REQUEST_CAPACITY


@pytest.mark.redis
def test_state_uses_server_time(new_limiter: LimiterFactory, redis_client: redis.Redis) -> None:
    limiter = new_limiter(clock=lambda: 42.0)
    limiter.acquire(1)
    stored = redis_client.hget(limiter.key, "ts")
    assert stored is not None
    stored_microseconds = int(stored)
    assert abs(stored_microseconds / 1e6 - server_seconds(redis_client)) < 5.0


# -- many processes -----------------------------------------------------------


@pytest.mark.redis
def test_processes_never_exceed_limit(redis_url: str, redis_client: redis.Redis) -> None:
    limits = {"rpm": RPM, "tpm": TPM * 100, "burst": 1.0}
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5
    started = server_seconds(redis_client)
    with context.Pool(6) as pool:
        counts = pool.starmap(hammer_try_acquire, [(redis_url, limits, 1, start_at, 1.0)] * 6)
    elapsed = server_seconds(redis_client) - started
    assert sum(counts) <= REQUEST_CAPACITY + elapsed * RPM / 60 + 1e-6
    assert sum(counts) >= REQUEST_CAPACITY + 1.0 * RPM / 60 * 0.8


@pytest.mark.redis
def test_processes_acquire_at_shared_pace(redis_url: str) -> None:
    limits = {"rpm": 1_200, "tpm": 1_000_000, "burst": 0.5}
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5
    with context.Pool(4) as pool:
        times = pool.starmap(acquire_times, [(redis_url, limits, 10, start_at)] * 4)
    admissions = sorted(moment for process_times in times for moment in process_times)
    # 40 admissions, 10 of them from the full bucket, the rest at 20 a second.
    assert admissions[-1] - admissions[0] >= (40 - 10) / 20 - 0.05


# -- asyncio ------------------------------------------------------------------


@pytest.mark.redis
async def test_async_acquire_waits_booked_time(new_async_limiter: LimiterFactory) -> None:
    sleep = RecordedSleep()
    limiter = new_async_limiter(async_sleep=sleep.async_sleep)
    await limiter.acquire_async(TOKEN_CAPACITY)
    waited = await limiter.acquire_async(50)
    assert sleep.calls == [waited]
    assert waited == pytest.approx(0.5, abs=0.05)


@pytest.mark.redis
async def test_async_tasks_share_limit(new_async_limiter: LimiterFactory) -> None:
    limiter = new_async_limiter(rpm=1_200, burst_seconds=0.25)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire_async(1) for _ in range(15)))
    # 5 from the full bucket, then 10 more at 20 a second.
    assert time.monotonic() - started >= 10 / 20 - 0.05


@pytest.mark.redis
async def test_cancelled_task_returns_booking(new_async_limiter: LimiterFactory) -> None:
    limiter = new_async_limiter()
    await limiter.acquire_async(TOKEN_CAPACITY)
    waiting = asyncio.create_task(limiter.acquire_async(TOKEN_CAPACITY))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (await asyncio.to_thread(limiter.levels))[1] > -1.0


@pytest.mark.redis
async def test_async_timeout_raises(new_async_limiter: LimiterFactory) -> None:
    limiter = new_async_limiter()
    await limiter.acquire_async(TOKEN_CAPACITY)
    with pytest.raises(AcquireTimeoutError):
        await limiter.acquire_async(TOKEN_CAPACITY, timeout=0.05)


# -- headers ------------------------------------------------------------------


@pytest.mark.redis
def test_observe_learns_reported_limit(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter(rpm=6_000)
    limiter.observe({"x-ratelimit-limit-requests": "600", "x-ratelimit-limit-tokens": "6000"})
    assert limiter.requests_per_minute == 600
    assert limiter.learned == {"requests": 600, "tokens": 6000}


@pytest.mark.redis
def test_learning_limiter_starts_cautiously(redis_url: str) -> None:
    limiter = RedisRateLimiter.learning(redis_url=redis_url, initial_requests_per_minute=60)
    assert limiter.requests_per_minute == 60
    assert limiter.tokens_per_minute is None
    limiter.observe({"x-ratelimit-limit-requests": "600", "x-ratelimit-limit-tokens": "6000"})
    assert limiter.tokens_per_minute == 6000
    limiter.close()


@pytest.mark.redis
def test_observe_ignores_stale_headers(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    for _ in range(5):
        limiter.acquire(1)
    time.sleep(0.3)
    # The server saw the same five requests; its report is older than the refill since.
    limiter.observe({"x-ratelimit-limit-requests": str(RPM), "x-ratelimit-reset-requests": "500ms"})
    assert limiter.levels()[0] > 7.5


@pytest.mark.redis
def test_observe_counts_outside_usage(new_limiter: LimiterFactory) -> None:
    # A whole-minute bucket, so the server's deficit stays visible for a while.
    with MockServer(rpm=60, tpm=1_000_000, burst_seconds=60) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0)
        for _ in range(29):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        limiter = new_limiter(rpm=60, tpm=1_000_000, burst_seconds=60)
        limiter.acquire(1)
        response = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
        client.close()
    limiter.observe(response.headers)
    assert limiter.levels()[0] == pytest.approx(30, abs=1.0)


# -- processes get their own clients ------------------------------------------


@pytest.mark.redis
def test_pickled_limiter_shares_state(new_limiter: LimiterFactory) -> None:
    limiter = new_limiter()
    assert limiter.try_acquire(TOKEN_CAPACITY)
    copy = pickle.loads(pickle.dumps(limiter))
    assert copy.key == limiter.key
    assert not copy.try_acquire(1)
    copy.close()


@pytest.mark.redis
def test_limiter_with_client_refuses_pickle(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(RPM, TPM, client=redis_client)
    with pytest.raises(TypeError, match="redis_url"):
        pickle.dumps(limiter)


@pytest.mark.redis
def test_given_client_stays_open(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(RPM, TPM, client=redis_client)
    assert limiter.try_acquire(1)
    limiter.close()
    assert redis_client.ping()
