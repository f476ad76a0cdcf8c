"""The retry strategies against the real mock server and the real `openai` client, over loopback.

Sleeps are injected (recorded, not slept) so the tests stay fast; every
request still goes through the `openai` client to the server and back.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
import tenacity

from ratelimit_toolkit import retry
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry import RetryPolicy

STRATEGIES = ["tenacity", "backoff", "handwritten"]
API_KEY = "sk-mock-test-key-0123456789"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say something short."}]
#: Limits the tests never reach, so only scripted responses fail.
UNLIMITED = {"rpm": 10_000_000, "tpm": 1_000_000_000}


def error_body(message: str, error_type: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


QUOTA = error_body(
    "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota"
)
CREDIT = error_body("Your credit balance is exhausted.", "insufficient_quota", "credit_balance_exhausted")
CONTEXT = error_body(
    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
    "invalid_request_error",
    "context_length_exceeded",
)
BAD_KEY = error_body("Incorrect API key provided: sk-mo****6789.", "invalid_request_error", "invalid_api_key")
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
HTML_503 = "<html><head><title>503 Service Unavailable</title></head><body>" + "<p>busy</p>" * 100 + "</body></html>"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(**UNLIMITED) as running:
        yield running


@pytest.fixture
def fresh(server: MockServer) -> MockServer:
    """The module's server with an empty script and empty statistics."""
    server.clear_responses()
    server.reset_stats()
    return server


@pytest.fixture
def client(server: MockServer) -> Iterator[openai.OpenAI]:
    with retry.make_client(base_url=server.base_url, api_key=API_KEY) as made:
        yield made


def requests_received(server: MockServer) -> int:
    return sum(1 for record in server.records() if record.endpoint == "chat/completions")


def decorate(
    strategy: str, sleeps: list[float], *, max_attempts: int = 5, max_wait: float = 0.05, **options: Any
) -> Callable[[Callable[..., Any]], Any]:
    """One strategy's decorator allowing `max_attempts`, recording its sleeps instead of sleeping."""
    policy = RetryPolicy(initial_wait=0.01, max_wait=max_wait, max_attempts=max_attempts)
    timing: dict[str, Any] = {"sleep": sleeps.append, "async_sleep": _async_append(sleeps), "rng": random.Random(5)}
    timing.update(options)
    if strategy == "tenacity":
        return retry.retry_with_tenacity(policy=policy, **timing)
    if strategy == "backoff":
        return retry.retry_with_backoff(policy=policy, **timing)
    return retry.retry_with_exponential_backoff(
        initial_delay=policy.initial_wait, max_delay=max_wait, max_retries=max_attempts - 1, **timing
    )


def _async_append(sleeps: list[float]) -> Callable[[float], Any]:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    return record


UNFIXABLE = [
    pytest.param({"status": 429, "body": QUOTA}, openai.RateLimitError, "insufficient_quota", id="insufficient-quota"),
    pytest.param({"status": 429, "body": CREDIT}, openai.RateLimitError, "credit_balance_exhausted", id="credit-balance"),
    pytest.param({"status": 400, "body": CONTEXT}, openai.BadRequestError, "context_length_exceeded", id="context-length"),
    pytest.param({"status": 401, "body": BAD_KEY}, openai.AuthenticationError, "invalid_api_key", id="invalid-api-key"),
]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("answer", "error_class", "code"), UNFIXABLE)
def test_unfixable_one_request(
    fresh: MockServer, client: openai.OpenAI, strategy: str, answer: dict[str, Any], error_class: type[Exception], code: str
) -> None:
    fresh.enqueue_responses([answer] * 5)
    sleeps: list[float] = []
    create = decorate(strategy, sleeps)(client.chat.completions.create)

    with pytest.raises(error_class) as caught:
        create(model=MODEL, messages=MESSAGES)
    assert not isinstance(caught.value, tenacity.RetryError)
    assert caught.value.code == code
    assert requests_received(fresh) == 1
    assert sleeps == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_html_502s_then_success(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    html = {"content-type": "text/html"}
    fresh.enqueue_responses([{"status": 502, "body": HTML_502, "headers": html}] * 2 + [200])
    recorder = Recorder()
    create = decorate(strategy, [], recorder=recorder)(client.chat.completions.create)

    completion = create(model=MODEL, messages=MESSAGES)
    assert completion.choices[0].message.content
    assert requests_received(fresh) == 3
    assert [a.status for a in recorder.attempts()][:2] == [502, 502]
    assert [a.outcome for a in recorder.attempts()] == ["server_error", "server_error", "ok"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_html_503_and_reset_record(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    fresh.enqueue_responses([{"status": 503, "body": HTML_503}, "drop"] * 2 + [{"status": 503, "body": HTML_503}])
    create = decorate(strategy, [])(client.chat.completions.create)

    with pytest.raises(openai.InternalServerError):
        create(model=MODEL, messages=MESSAGES)
    text = create.last_run.to_json()
    record = json.loads(text)
    assert len(record["failures"]) == 5
    assert [f["status"] for f in record["failures"]] == [503, None, 503, None, 503]
    assert [f["kind"] for f in record["failures"]] == ["server_error", "connection_error"] * 2 + ["server_error"]
    assert all(len(f["message"]) <= 200 for f in record["failures"])
    assert API_KEY not in text
    assert requests_received(fresh) == 5


def test_tenacity_owns_retries(fresh: MockServer, client: openai.OpenAI) -> None:
    fresh.enqueue_responses([{"status": 429, "headers": {"retry-after-ms": "1"}}] * 20)
    create = retry.retry_with_tenacity(policy=RetryPolicy(initial_wait=0.01, max_attempts=3))(client.chat.completions.create)

    with pytest.raises(openai.RateLimitError):
        create(model=MODEL, messages=MESSAGES)
    assert requests_received(fresh) == 3


def test_client_retries_multiply(fresh: MockServer) -> None:
    # What make_client prevents: the openai client's default 2 retries inside our 3 attempts.
    fresh.enqueue_responses([{"status": 429, "headers": {"retry-after-ms": "1"}}] * 20)
    with openai.OpenAI(base_url=fresh.base_url, api_key=API_KEY, max_retries=2) as layered:
        create = retry.retry_with_tenacity(policy=RetryPolicy(initial_wait=0.01, max_attempts=3))(layered.chat.completions.create)
        with pytest.raises(openai.RateLimitError):
            create(model=MODEL, messages=MESSAGES)
    assert requests_received(fresh) == 9


def test_tenacity_401_one_request(fresh: MockServer, client: openai.OpenAI) -> None:
    fresh.enqueue_responses([{"status": 401, "body": BAD_KEY}] * 5)
    create = retry.retry_with_tenacity(policy=RetryPolicy(initial_wait=0.01, max_attempts=3))(client.chat.completions.create)

    with pytest.raises(openai.AuthenticationError):
        create(model=MODEL, messages=MESSAGES)
    assert requests_received(fresh) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_async_client_429s_then_success(fresh: MockServer, strategy: str) -> None:
    fresh.enqueue_responses([429, 429, 200])
    recorder = Recorder()
    async with retry.make_async_client(base_url=fresh.base_url, api_key=API_KEY) as async_client:
        create = decorate(strategy, [], recorder=recorder)(async_client.chat.completions.create)
        completion = await create(model=MODEL, messages=MESSAGES)
    assert completion.choices[0].message.content
    assert [a.outcome for a in recorder.attempts()] == ["rate_limited", "rate_limited", "ok"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_retry_after_ms_honoured(fresh: MockServer, client: openai.OpenAI, strategy: str) -> None:
    fresh.enqueue_responses([{"status": 429, "headers": {"retry-after-ms": "150"}}] * 2 + [200])
    sleeps: list[float] = []
    decorate(strategy, sleeps, max_wait=1.0)(client.chat.completions.create)(model=MODEL, messages=MESSAGES)
    assert len(sleeps) == 2
    assert min(sleeps) >= 0.15


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_real_limit_all_succeed(mock_server: Callable[..., MockServer], strategy: str) -> None:
    server = mock_server(rpm=600, burst_seconds=1, retry_after_headers=True)
    recorder = Recorder()
    with retry.make_client(base_url=server.base_url, api_key=API_KEY) as made:
        create = decorate(strategy, [], max_attempts=20, max_wait=1.0, recorder=recorder, sleep=time.sleep)(
            made.chat.completions.create
        )
        for _ in range(15):
            create(model=MODEL, messages=MESSAGES, max_tokens=5)
    summary = recorder.summary()
    assert summary.succeeded == 15
    assert summary.rate_limited > 0  # the bucket's capacity is 10 requests, so some of the 15 were refused
