"""The retry decorators with `limiter=`: admission before each attempt, headers fed back.

Runs the real `openai` client against the mock server over loopback, with a
`RateLimiter` and, when `redis-server` is installed, a `RedisRateLimiter`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import openai
import pytest
from redis_fixtures import redis_server, redis_url  # noqa: F401  (fixtures are found by name)

from ratelimit_toolkit import retry
from ratelimit_toolkit.limiter import Limiter, RateLimiter, RequestTooLargeError
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry import RetryPolicy
from ratelimit_toolkit.retry.admission import charge_for, headers_of_error, headers_of_result
from ratelimit_toolkit.tokens import estimate_request

STRATEGIES = ["tenacity", "backoff", "handwritten"]
API_KEY = "sk-mock-test-key-0123456789"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say something short."}]
UNLIMITED = {"rpm": 10_000_000, "tpm": 1_000_000_000}

# 600 requests per minute with a one-second burst: 10 at once, then 10 a second.
# 16 calls started together exceed the burst by 6, so without a limiter the
# server refuses some of them, and with one it refuses none.
TIGHT_RPM = 600
CALLS = 16
# The limiter admits requests this long after the exact refill, because the
# first calls open new connections and start threads, and so reach the server
# later than the calls after them. The default 0.05 s is too short for that
# spread on a loaded machine with two cores.
MARGIN_SECONDS = 0.25


class RecordingLimiter:
    """A `RateLimiter` that records the decorators' calls to it."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None) -> None:
        self.inner = RateLimiter(requests_per_minute, tokens_per_minute)
        self.acquired: list[float] = []
        self.acquired_async: list[float] = []
        self.observed: list[Mapping[str, str]] = []

    @property
    def requests_per_minute(self) -> float | None:
        return self.inner.requests_per_minute

    @property
    def tokens_per_minute(self) -> float | None:
        return self.inner.tokens_per_minute

    def try_acquire(self, tokens: float = 1) -> bool:
        return self.inner.try_acquire(tokens)

    def acquire(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        self.acquired.append(tokens)
        return self.inner.acquire(tokens, timeout=timeout)

    async def acquire_async(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        self.acquired_async.append(tokens)
        return await self.inner.acquire_async(tokens, timeout=timeout)

    def refund(self, tokens: float) -> None:
        self.inner.refund(tokens)

    def observe(self, headers: Mapping[str, str]) -> None:
        self.observed.append(headers)
        self.inner.observe(headers)


def decorator(strategy: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """One strategy's decorator with fast retries (at most 3 attempts, waits under 50 ms)."""
    options.setdefault("rng", random.Random(7))
    policy = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_attempts=3)
    if strategy == "tenacity":
        return retry.retry_with_tenacity(policy=policy, **options)
    if strategy == "backoff":
        return retry.retry_with_backoff(policy=policy, **options)
    return retry.retry_with_exponential_backoff(initial_delay=0.01, max_delay=0.05, max_retries=2, **options)


def rate_limited_count(server: MockServer) -> int:
    return int(server.stats()["totals"]["refused_429"]["total"])


def admitted_count(server: MockServer) -> int:
    return int(server.stats()["totals"]["admitted"])


@pytest.fixture(scope="module")
def unlimited_server() -> Iterator[MockServer]:
    with MockServer(**UNLIMITED) as running:
        yield running


@pytest.fixture
def fresh(unlimited_server: MockServer) -> MockServer:
    unlimited_server.clear_responses()
    unlimited_server.reset_stats()
    return unlimited_server


@pytest.fixture
def tight_server(mock_server: Callable[..., MockServer]) -> MockServer:
    return mock_server(rpm=TIGHT_RPM, tpm=UNLIMITED["tpm"], burst_seconds=1)


@pytest.fixture
def client(fresh: MockServer) -> Iterator[openai.OpenAI]:
    with retry.make_client(base_url=fresh.base_url, api_key=API_KEY) as made:
        yield made


# -- the charge ---------------------------------------------------------------


def test_charge_fixed_integer() -> None:
    assert charge_for(120, (), {"model": MODEL, "messages": MESSAGES}) == 120.0


def test_charge_callable_gets_call_arguments() -> None:
    seen: list[tuple[Any, ...]] = []

    def tokens(*args: Any, **kwargs: Any) -> int:
        seen.append((args, kwargs))
        return 42

    assert charge_for(tokens, ("a",), {"b": 2}) == 42.0
    assert seen == [(("a",), {"b": 2})]


def test_charge_default_estimates_chat_call() -> None:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 30}
    assert charge_for(None, (), body) == estimate_request("chat/completions", body).total


def test_charge_default_estimates_completions_call() -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi", "max_tokens": 5}
    assert charge_for(None, (), body) == estimate_request("completions", body).total


def test_charge_default_other_call_is_zero() -> None:
    assert charge_for(None, ("What is a token bucket?",), {}) == 0.0


def test_charge_default_invalid_body_is_zero() -> None:
    assert charge_for(None, (), {"model": MODEL, "messages": ["not an object"]}) == 0.0


def test_tokens_without_limiter_rejected() -> None:
    with pytest.raises(TypeError, match="limiter"):
        retry.retry_with_tenacity(tokens=10)


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_invalid_tokens_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="tokens"):
        retry.retry_with_backoff(limiter=RateLimiter(60, None), tokens=bad)  # type: ignore[arg-type]


def test_incomplete_limiter_names_missing_methods() -> None:
    class OnlyAcquire:
        def acquire(self, tokens: float = 1) -> float:
            return 0.0

    with pytest.raises(TypeError) as raised:
        retry.retry_with_exponential_backoff(limiter=OnlyAcquire())  # type: ignore[arg-type]
    assert "acquire_async" in str(raised.value)
    assert "observe" in str(raised.value)


def test_headers_of_plain_objects_are_none() -> None:
    assert headers_of_result("text") is None
    assert headers_of_error(ValueError("no response")) is None


# -- acquire and observe, per attempt ------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_limiter_acquires_before_each_attempt(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    fresh.enqueue_responses([429, 200])
    limiter = RecordingLimiter(10_000, 1_000_000)
    create = decorator(strategy, limiter=limiter, tokens=25, sleep=lambda _: None)(client.chat.completions.create)

    create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert limiter.acquired == [25.0, 25.0]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_limiter_observes_error_and_raw_success(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    fresh.enqueue_responses([429, 200])
    limiter = RecordingLimiter(10_000, 1_000_000)
    raw_create = client.chat.completions.with_raw_response.create
    create = decorator(strategy, limiter=limiter, sleep=lambda _: None)(raw_create)

    raw = create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert raw.parse().choices
    assert len(limiter.observed) == 2
    assert all("x-ratelimit-limit-requests" in headers for headers in limiter.observed)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_parsed_success_observes_nothing(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    limiter = RecordingLimiter(10_000, 1_000_000)
    create = decorator(strategy, limiter=limiter)(client.chat.completions.create)

    create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert limiter.observed == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_default_charge_estimates_openai_call(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    limiter = RecordingLimiter(10_000, 1_000_000)
    create = decorator(strategy, limiter=limiter)(client.chat.completions.create)
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 7}

    create(**body)
    assert limiter.acquired == [estimate_request("chat/completions", body).total]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_limiter_learns_limit_from_headers(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    limiter = RateLimiter.learning()
    create = decorator(strategy, limiter=limiter)(client.chat.completions.with_raw_response.create)

    create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert limiter.requests_per_minute == UNLIMITED["rpm"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_too_large_request_not_sent(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    create = decorator(strategy, limiter=RateLimiter(600, 100), tokens=1_000)(client.chat.completions.create)

    with pytest.raises(RequestTooLargeError):
        create(model=MODEL, messages=MESSAGES)
    assert fresh.stats()["totals"]["requests"] == 0
    assert create.last_run.attempts == 0
    assert create.last_run.stop_reason == "not_retryable"


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_async_limiter_acquires_each_attempt(fresh: MockServer, strategy: str) -> None:
    fresh.enqueue_responses([429, 200])
    limiter = RecordingLimiter(10_000, 1_000_000)

    async def no_sleep(seconds: float) -> None:
        pass

    async with retry.make_async_client(base_url=fresh.base_url, api_key=API_KEY) as client:
        create = decorator(strategy, limiter=limiter, tokens=9, async_sleep=no_sleep)(client.chat.completions.create)
        await create(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert limiter.acquired_async == [9.0, 9.0]
    assert limiter.acquired == []
    assert len(limiter.observed) == 1


# -- many calls at once against a tight limit ---------------------------------


def run_threads(server: MockServer, strategy: str, limiter: Limiter) -> retry.SimultaneousResult:
    """Send `CALLS` retried calls from as many threads at once, through `limiter`."""
    with retry.make_client(base_url=server.base_url, api_key=API_KEY) as client:
        create = decorator(strategy, limiter=limiter)(client.chat.completions.create)
        return retry.call_simultaneously(
            lambda index: create(model=MODEL, messages=[{"role": "user", "content": f"call {index}"}], max_tokens=5),
            CALLS,
            timeout_seconds=60,
        )


async def run_tasks(server: MockServer, strategy: str, limiter: Limiter) -> retry.SimultaneousResult:
    """Send `CALLS` retried calls as concurrent tasks, through `limiter`."""
    async with retry.make_async_client(base_url=server.base_url, api_key=API_KEY) as client:
        create = decorator(strategy, limiter=limiter)(client.chat.completions.create)
        return await retry.await_simultaneously(
            lambda index: create(model=MODEL, messages=[{"role": "user", "content": f"call {index}"}], max_tokens=5),
            CALLS,
        )


def test_tight_limit_refuses_without_limiter(tight_server: MockServer) -> None:
    # The control for the tests below: the same calls without a limiter meet 429s.
    with retry.make_client(base_url=tight_server.base_url, api_key=API_KEY) as client:
        create = retry.retry_with_tenacity(policy=RetryPolicy(max_attempts=1))(client.chat.completions.create)
        retry.call_simultaneously(lambda index: create(model=MODEL, messages=MESSAGES, max_tokens=5), CALLS)
    assert rate_limited_count(tight_server) > 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_threads_share_rate_limiter(tight_server: MockServer, strategy: str) -> None:
    result = run_threads(tight_server, strategy, RateLimiter(TIGHT_RPM, None, margin_seconds=MARGIN_SECONDS))
    assert result.succeeded == CALLS
    assert rate_limited_count(tight_server) == 0
    assert admitted_count(tight_server) == CALLS


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_tasks_share_rate_limiter(tight_server: MockServer, strategy: str) -> None:
    result = await run_tasks(tight_server, strategy, RateLimiter(TIGHT_RPM, None, margin_seconds=MARGIN_SECONDS))
    assert result.succeeded == CALLS
    assert rate_limited_count(tight_server) == 0


@pytest.mark.redis
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_threads_share_redis_limiter(tight_server: MockServer, redis_url: str, strategy: str) -> None:
    from ratelimit_toolkit.redis_limiter import RedisRateLimiter

    with RedisRateLimiter(TIGHT_RPM, None, redis_url=redis_url, margin_seconds=MARGIN_SECONDS) as limiter:
        result = run_threads(tight_server, strategy, limiter)
    assert result.succeeded == CALLS
    assert rate_limited_count(tight_server) == 0


@pytest.mark.redis
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_tasks_share_redis_limiter(tight_server: MockServer, redis_url: str, strategy: str) -> None:
    from ratelimit_toolkit.redis_limiter import RedisRateLimiter

    async with RedisRateLimiter(TIGHT_RPM, None, redis_url=redis_url, margin_seconds=MARGIN_SECONDS) as limiter:
        result = await run_tasks(tight_server, strategy, limiter)
    assert result.succeeded == CALLS
    assert rate_limited_count(tight_server) == 0


@pytest.mark.redis
def test_two_limiters_share_redis_budget(tight_server: MockServer, redis_url: str) -> None:
    # Two limiter objects on one key stand for two processes: half the calls go through each.
    from ratelimit_toolkit.redis_limiter import RedisRateLimiter

    first = RedisRateLimiter(TIGHT_RPM, None, redis_url=redis_url, margin_seconds=MARGIN_SECONDS)
    second = RedisRateLimiter(TIGHT_RPM, None, redis_url=redis_url, margin_seconds=MARGIN_SECONDS)
    with retry.make_client(base_url=tight_server.base_url, api_key=API_KEY) as client:
        through_first = decorator("handwritten", limiter=first)(client.chat.completions.create)
        through_second = decorator("tenacity", limiter=second)(client.chat.completions.create)
        calls = [through_first, through_second]
        started = time.monotonic()
        retry.call_simultaneously(lambda index: calls[index % 2](model=MODEL, messages=MESSAGES, max_tokens=5), CALLS)
        elapsed = time.monotonic() - started
    first.close()
    second.close()
    assert rate_limited_count(tight_server) == 0
    # 10 calls from the full bucket, the other 6 at 10 a second.
    assert elapsed >= (CALLS - 10) / 10 - 0.1
