"""429s and `x-ratelimit-*` headers seen through the real `openai` client over loopback."""

from __future__ import annotations

import re
from collections.abc import Callable

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.durations import parse_duration
from ratelimit_toolkit.mock import MockServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say something short."}]
RATE_LIMIT_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


class FakeClock:
    """A monotonic clock that moves only when a test sets `now`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ClientFactory = Callable[..., openai.OpenAI]
ServerFactory = Callable[..., MockServer]


def request_limited(client: openai.OpenAI) -> openai.RateLimitError:
    """Send until the server refuses, then return the error."""
    for _ in range(200):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
        except openai.RateLimitError as error:
            return error
    raise AssertionError("no 429 within 200 requests")


def test_requests_429_code(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=3, burst_seconds=60)))
    assert error.code == "rate_limit_exceeded"


def test_requests_429_type(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=3, burst_seconds=60)))
    assert error.type == "requests"


def test_requests_429_status(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=3, burst_seconds=60)))
    assert error.status_code == 429


def test_requests_429_message(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=3, burst_seconds=60)))
    pattern = (
        r"^Rate limit reached for gpt-4o-mini in organization org-mock on requests per min \(RPM\): "
        r"Limit 3, Used 3, Requested 1\. Please try again in \S+\. "
        r"Visit https://platform\.openai\.com/account/rate-limits to learn more\.$"
    )
    assert re.match(pattern, error.body["message"])  # type: ignore[index]


def test_requests_429_try_again_is_real(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    # At 3 RPM one request refills in 20 s; a little of that passed before the refusal.
    error = request_limited(make_client(mock_server(rpm=3, burst_seconds=60)))
    wait_text = re.search(r"try again in (\S+)\.", error.message).group(1)  # type: ignore[union-attr]
    assert 19.0 < parse_duration(wait_text) <= 20.0  # type: ignore[operator]


def test_requests_429_after_burst_count(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=5, burst_seconds=60)
    request_limited(make_client(server))
    assert server.stats()["totals"]["admitted"] == 5


def test_tokens_429_type(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1000, tpm=100, burst_seconds=60)
    error = request_limited(make_client(server))
    assert error.type == "tokens"


def test_tokens_429_message(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1000, tpm=100, burst_seconds=60)
    error = request_limited(make_client(server))
    assert "on tokens per min (TPM): Limit 100, Used " in error.message


def test_tokens_429_requested_is_charge(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1000, tpm=100, burst_seconds=60)
    error = request_limited(make_client(server))
    charged = server.records()[0].tokens
    assert f"Requested {charged}." in error.message


def test_too_large_message(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(tpm=50))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
    assert caught.value.message.startswith("Error code: 429 - Request too large for gpt-4o-mini in organization org-mock")


def test_too_large_is_tokens_type(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(tpm=50))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
    assert caught.value.type == "tokens"


def test_too_large_never_retry_after(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(tpm=50, retry_after_headers=True))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
    assert "retry-after" not in caught.value.response.headers


def test_oversize_admitted_when_full(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    # The token bucket's capacity is 100 (6,000 TPM over one second); the charge is above that.
    client = make_client(mock_server(tpm=6000, burst_seconds=1))
    response = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=150)
    assert response.headers["x-ratelimit-remaining-tokens"] == "0"


def test_oversize_then_refused(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(rpm=6000, tpm=6000, burst_seconds=1))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=150)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=1)
    assert caught.value.type == "tokens"


def send_many(client: openai.OpenAI, count: int) -> list[int]:
    """Send `count` requests and return their statuses."""
    statuses = []
    for _ in range(count):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
            statuses.append(200)
        except openai.RateLimitError:
            statuses.append(429)
    return statuses


def test_one_second_burst_admits_one(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=60, burst_seconds=1, clock=FakeClock())
    assert send_many(make_client(server), 5).count(200) == 1


def test_one_second_burst_refills(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    clock = FakeClock()
    server = mock_server(rpm=60, burst_seconds=1, clock=clock)
    send_many(make_client(server), 5)
    clock.now += 1.0
    assert send_many(make_client(server), 5).count(200) == 1


def test_refused_not_charged_by_default(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    clock = FakeClock()
    server = mock_server(rpm=600, burst_seconds=1, clock=clock)  # capacity 10, refills 10 per second
    send_many(make_client(server), 30)
    clock.now += 0.1
    assert send_many(make_client(server), 1) == [200]


def test_charge_refused_counts_429s(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    clock = FakeClock()
    server = mock_server(rpm=600, burst_seconds=1, charge_refused=True, clock=clock)
    send_many(make_client(server), 30)
    clock.now += 0.1
    # The 20 refusals put the bucket 20 requests in debt, so 0.1 s of refill is not enough.
    assert send_many(make_client(server), 1) == [429]


def test_charge_refused_debt_repaid(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    clock = FakeClock()
    server = mock_server(rpm=600, burst_seconds=1, charge_refused=True, clock=clock)
    send_many(make_client(server), 30)
    clock.now += 2.1
    assert send_many(make_client(server), 1) == [200]


def test_headers_on_success(session_mock_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(session_mock_server)
    response = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    missing = [name for name in RATE_LIMIT_HEADERS if name not in response.headers]
    assert missing == []


@pytest.mark.parametrize("name", ["x-request-id", "openai-organization", "openai-processing-ms"])
def test_headers_openai_extras(session_mock_server: MockServer, make_client: ClientFactory, name: str) -> None:
    client = make_client(session_mock_server)
    response = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert response.headers.get(name)


def test_headers_on_429(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=2)))
    missing = [name for name in RATE_LIMIT_HEADERS if name not in error.response.headers]
    assert missing == []


def test_headers_limit_values(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(rpm=500, tpm=200_000))
    headers = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES).headers
    assert (headers["x-ratelimit-limit-requests"], headers["x-ratelimit-limit-tokens"]) == ("500", "200000")


def test_headers_remaining_after_one(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(rpm=500, tpm=200_000))
    headers = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES).headers
    assert headers["x-ratelimit-remaining-requests"] == "499"


def test_headers_remaining_tokens_charge(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=500, tpm=200_000)
    headers = make_client(server).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES).headers
    charged = server.records()[0].tokens
    assert int(headers["x-ratelimit-remaining-tokens"]) == 200_000 - charged


@pytest.mark.parametrize("name", ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"])
def test_headers_reset_format(mock_server: ServerFactory, make_client: ClientFactory, name: str) -> None:
    client = make_client(mock_server(rpm=500, tpm=200_000))
    headers = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES).headers
    assert DURATION.match(headers[name])


def test_headers_reset_requests_value(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    # One request of 10 RPM refills in 6 s, OpenAI's "6s" format.
    client = make_client(mock_server(rpm=10))
    headers = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES).headers
    assert 5.9 <= parse_duration(headers["x-ratelimit-reset-requests"]) <= 6.0  # type: ignore[operator]


def test_retry_after_off_by_default(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=2)))
    assert "retry-after" not in error.response.headers


def test_retry_after_seconds_rounded_up(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=2, retry_after_headers=True)))
    assert error.response.headers["retry-after"] == "30"


def test_retry_after_ms(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    error = request_limited(make_client(mock_server(rpm=2, retry_after_headers=True)))
    assert 29_000 < int(error.response.headers["retry-after-ms"]) <= 30_000


async def test_async_client_429(mock_server: ServerFactory) -> None:
    server = mock_server(rpm=1)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0) as client:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "rate_limit_exceeded"


async def test_async_client_429_headers(mock_server: ServerFactory) -> None:
    server = mock_server(rpm=1)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0) as client:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.response.headers["x-ratelimit-remaining-requests"] == "0"
