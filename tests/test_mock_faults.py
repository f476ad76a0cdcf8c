"""Injected faults: HTML 5xx, dropped connections, slow responses and scripted responses."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.mock import MockServer, ScriptedResponse

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there."}]


ClientFactory = Callable[..., openai.OpenAI]
ServerFactory = Callable[..., MockServer]


def chat(client: openai.OpenAI) -> str:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    return completion.choices[0].message.content or ""


def raw_chat(server: MockServer) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    headers = {"Authorization": "Bearer sk-mock-test-key"}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, headers=headers, timeout=10)


def outcomes(client: openai.OpenAI, count: int) -> list[str]:
    """Send `count` requests and name what each got: a status or `dropped`."""
    seen = []
    for _ in range(count):
        try:
            chat(client)
            seen.append("200")
        except openai.APIStatusError as error:
            seen.append(str(error.status_code))
        except openai.APIConnectionError:
            seen.append("dropped")
    return seen


def test_failure_rate_one_is_5xx(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(failure_rate=1.0, seed=1)
    with pytest.raises(openai.InternalServerError) as caught:
        chat(make_client(server))
    assert caught.value.status_code in (500, 502, 503)


def test_failure_body_is_html(mock_server: ServerFactory) -> None:
    response = raw_chat(mock_server(failure_rate=1.0, seed=1))
    assert response.headers["content-type"].startswith("text/html")


def test_failure_body_names_status(mock_server: ServerFactory) -> None:
    response = raw_chat(mock_server(failure_rate=1.0, failure_statuses=[502], seed=1))
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_failure_has_ratelimit_headers(mock_server: ServerFactory) -> None:
    response = raw_chat(mock_server(failure_rate=1.0, seed=1))
    assert "x-ratelimit-limit-requests" in response.headers


def test_failure_not_charged(mock_server: ServerFactory) -> None:
    server = mock_server(rpm=100, failure_rate=1.0, seed=1)
    response = raw_chat(server)
    assert response.headers["x-ratelimit-remaining-requests"] == "100"


def test_failure_error_has_no_code(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        chat(make_client(mock_server(failure_rate=1.0, seed=1)))
    assert caught.value.code is None


def test_failure_rate_seeded_repeats(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    first = outcomes(make_client(mock_server(failure_rate=0.5, seed=7)), 12)
    second = outcomes(make_client(mock_server(failure_rate=0.5, seed=7)), 12)
    assert first == second


def test_failure_rate_mixes_outcomes(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    seen = outcomes(make_client(mock_server(failure_rate=0.5, seed=7)), 20)
    assert "200" in seen
    assert len(set(seen)) > 1


def test_failure_rate_reseeded_at_runtime(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(failure_rate=0.5, seed=3)
    first = outcomes(make_client(server), 10)
    server.configure(seed=3)
    assert outcomes(make_client(server), 10) == first


def test_drop_raises_connection_error(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    with pytest.raises(openai.APIConnectionError):
        chat(make_client(mock_server(drop_rate=1.0, seed=1)))


def test_drop_is_not_timeout(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    with pytest.raises(openai.APIConnectionError) as caught:
        chat(make_client(mock_server(drop_rate=1.0, seed=1)))
    assert not isinstance(caught.value, openai.APITimeoutError)


async def test_async_drop_connection_error(mock_server: ServerFactory) -> None:
    server = mock_server(drop_rate=1.0, seed=1)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_drop_recorded_in_stats(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(drop_rate=1.0, seed=1)
    with pytest.raises(openai.APIConnectionError):
        chat(make_client(server))
    assert server.stats()["totals"]["errors_by_status"] == {"dropped": 1}


def test_slow_answer_times_out(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(slow_rate=1.0, slow_seconds=2.0, seed=1), timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        chat(client)


async def test_async_slow_answer_times_out(mock_server: ServerFactory) -> None:
    server = mock_server(slow_rate=1.0, slow_seconds=2.0, seed=1)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0, timeout=0.2) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_slow_answer_arrives_eventually(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(slow_rate=1.0, slow_seconds=0.3, seed=1), timeout=5)
    assert chat(client)


def test_script_in_order(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(script=[502, 502, 200])
    assert outcomes(make_client(server), 4) == ["502", "502", "200", "200"]


def test_script_enqueued_later(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server()
    server.enqueue_responses([503, "drop", 429])
    assert outcomes(make_client(server), 4) == ["503", "dropped", "429", "200"]


def test_script_pending_count(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(script=[500, 500, 500])
    outcomes(make_client(server), 1)
    assert server.pending_responses() == 2


def test_script_cleared(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(script=[500, 500])
    server.clear_responses()
    assert outcomes(make_client(server), 1) == ["200"]


def test_script_replaces_random_faults(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(failure_rate=1.0, seed=1, script=[200])
    assert outcomes(make_client(server), 1) == ["200"]


def test_random_faults_resume_after_script(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(failure_rate=1.0, seed=1, script=[200])
    outcomes(make_client(server), 1)
    assert outcomes(make_client(server), 1) != ["200"]


def test_script_429_is_rate_limit_error(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(script=[429])
    with pytest.raises(openai.RateLimitError) as caught:
        chat(make_client(server))
    assert caught.value.code == "rate_limit_exceeded"


def test_script_429_names_model(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(script=[429])
    with pytest.raises(openai.RateLimitError) as caught:
        chat(make_client(server))
    assert "Rate limit reached for gpt-4o-mini" in caught.value.message


def test_script_429_retry_after(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=60, retry_after_headers=True, script=[429])
    with pytest.raises(openai.RateLimitError) as caught:
        chat(make_client(server))
    assert caught.value.response.headers["retry-after"] == "1"


def test_script_custom_body_and_headers(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    entry = {"status": 429, "body": {"error": {"message": "slow down", "type": "requests", "code": "x"}}, "headers": {"retry-after": "7"}}
    server = mock_server(script=[entry])
    with pytest.raises(openai.RateLimitError) as caught:
        chat(make_client(server))
    assert (caught.value.message, caught.value.response.headers["retry-after"]) == ("Error code: 429 - slow down", "7")


def test_script_text_body(mock_server: ServerFactory) -> None:
    server = mock_server(script=[ScriptedResponse(status=503, body="upstream unavailable")])
    response = raw_chat(server)
    assert (response.status_code, response.text) == (503, "upstream unavailable")


def test_script_delay_times_out(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(script=[{"status": 200, "delay_seconds": 2.0}])
    with pytest.raises(openai.APITimeoutError):
        chat(make_client(server, timeout=0.2))


@pytest.mark.parametrize("entry", [True, "boom", 42.0, {"colour": "red"}, 1000])
def test_script_rejects_bad_entry(mock_server: ServerFactory, entry: object) -> None:
    server = mock_server()
    with pytest.raises(ValueError):
        server.enqueue_responses([entry])  # type: ignore[list-item]
