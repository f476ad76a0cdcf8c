"""401, 400, 413, 404 and quota errors through the real `openai` client and raw HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.mock import MockServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there."}]
SECRET_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz123456"


ClientFactory = Callable[..., openai.OpenAI]
ServerFactory = Callable[..., MockServer]


def post(server: MockServer, path: str, **options: object) -> httpx.Response:
    headers = {"Authorization": "Bearer sk-mock-test-key", **options.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.post(f"{server.base_url}/{path}", headers=headers, timeout=10, **options)  # type: ignore[arg-type]


def test_missing_key_status(session_mock_server: MockServer) -> None:
    response = httpx.post(f"{session_mock_server.base_url}/chat/completions", json={}, timeout=10)
    assert response.status_code == 401


def test_missing_key_body(session_mock_server: MockServer) -> None:
    response = httpx.post(f"{session_mock_server.base_url}/chat/completions", json={}, timeout=10)
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


def test_missing_key_message(session_mock_server: MockServer) -> None:
    response = httpx.post(f"{session_mock_server.base_url}/chat/completions", json={}, timeout=10)
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")


def test_missing_key_has_headers(session_mock_server: MockServer) -> None:
    response = httpx.post(f"{session_mock_server.base_url}/chat/completions", json={}, timeout=10)
    assert "x-ratelimit-remaining-requests" in response.headers


def test_wrong_key_raises_authentication(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(api_keys={"sk-the-right-key-0000"}), api_key=SECRET_KEY)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"


def test_wrong_key_masked_in_message(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(api_keys={"sk-the-right-key-0000"}), api_key=SECRET_KEY)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "Incorrect API key provided: sk-p****3456." in caught.value.message


def test_wrong_key_never_echoed(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(api_keys={"sk-the-right-key-0000"}), api_key=SECRET_KEY)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert SECRET_KEY not in caught.value.response.text


def test_wrong_key_not_in_stats(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(api_keys={"sk-the-right-key-0000"})
    with pytest.raises(openai.AuthenticationError):
        make_client(server, api_key=SECRET_KEY).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert server.records()[0].key == "sk-p****3456"


def test_accepted_key_answers(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(api_keys={SECRET_KEY}), api_key=SECRET_KEY)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content


def test_azure_api_key_header(session_mock_server: MockServer) -> None:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    response = httpx.post(
        f"{session_mock_server.base_url}/chat/completions", json=body, headers={"api-key": "azure-key-123"}, timeout=10
    )
    assert response.status_code == 200


def test_malformed_json_400(session_mock_server: MockServer) -> None:
    response = post(session_mock_server, "chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_malformed_json_type(session_mock_server: MockServer) -> None:
    response = post(session_mock_server, "chat/completions", content=b"{not json")
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_non_object_json_400(session_mock_server: MockServer) -> None:
    response = post(session_mock_server, "chat/completions", json=[1, 2])
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("chat/completions", {"messages": MESSAGES}, "model"),
        ("chat/completions", {"model": "gpt-4o-mini"}, "messages"),
        ("completions", {"model": "gpt-3.5-turbo-instruct"}, "prompt"),
        ("embeddings", {"model": "text-embedding-3-small"}, "input"),
    ],
)
def test_missing_field_names_param(session_mock_server: MockServer, path: str, body: dict[str, object], param: str) -> None:
    response = post(session_mock_server, path, json=body)
    assert response.json()["error"]["param"] == param


def test_missing_field_through_client(session_mock_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(session_mock_server)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert caught.value.param == "messages"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-4o-mini", "messages": "hello"}, "messages"),
        ({"model": "gpt-4o-mini", "messages": ["hello"]}, "messages[0]"),
        ({"model": "gpt-4o-mini", "messages": MESSAGES, "n": 0}, "n"),
        ({"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": -1}, "max_tokens"),
        ({"model": 7, "messages": MESSAGES}, "model"),
        ({"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}, "stream"),
    ],
)
def test_invalid_field_names_param(session_mock_server: MockServer, body: dict[str, object], param: str) -> None:
    response = post(session_mock_server, "chat/completions", json=body)
    assert response.json()["error"]["param"] == param


def test_too_many_choices_400(session_mock_server: MockServer) -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": ["a"] * 100, "n": 100, "max_tokens": 1}
    response = post(session_mock_server, "completions", json=body)
    assert response.json()["error"]["param"] == "n"


def test_invalid_field_is_400(session_mock_server: MockServer) -> None:
    response = post(session_mock_server, "chat/completions", json={"model": "gpt-4o-mini", "messages": "hello"})
    assert response.status_code == 400


def test_oversized_body_413(mock_server: ServerFactory) -> None:
    server = mock_server(max_body_bytes=1000)
    response = post(server, "completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "x" * 2000})
    assert response.status_code == 413


def test_oversized_body_message(mock_server: ServerFactory) -> None:
    server = mock_server(max_body_bytes=1000)
    response = post(server, "completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "x" * 2000})
    assert "limit of 1000 bytes" in response.json()["error"]["message"]


def test_oversized_body_through_client(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(max_body_bytes=1000))
    with pytest.raises(openai.APIStatusError) as caught:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x" * 2000)
    assert caught.value.status_code == 413


def test_chunked_oversized_body_413(mock_server: ServerFactory) -> None:
    server = mock_server(max_body_bytes=1000)

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "m", "prompt": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = post(server, "completions", content=chunks())
    assert response.status_code == 413


def test_unknown_path_404(session_mock_server: MockServer) -> None:
    response = post(session_mock_server, "chat/nothing", json={})
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/chat/nothing)"


def test_wrong_method_404(session_mock_server: MockServer) -> None:
    response = httpx.get(f"{session_mock_server.base_url}/chat/completions", timeout=10)
    assert response.status_code == 404


def test_quota_exhausted_code(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(quota_exhausted=True))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "insufficient_quota"


def test_quota_exhausted_type(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(quota_exhausted=True))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.type == "insufficient_quota"


def test_quota_exhausted_message(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(quota_exhausted=True))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "You exceeded your current quota, please check your plan and billing details." in caught.value.message


def test_quota_switched_at_runtime(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server()
    client = make_client(server)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    server.configure(quota_exhausted=True)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "insufficient_quota"


async def test_async_quota_exhausted(mock_server: ServerFactory) -> None:
    server = mock_server(quota_exhausted=True)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "insufficient_quota"


async def test_async_wrong_key(mock_server: ServerFactory) -> None:
    server = mock_server(api_keys={"sk-the-right-key-0000"})
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key=SECRET_KEY, max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"


async def test_async_bad_request_param(session_mock_server: MockServer) -> None:
    async with openai.AsyncOpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.embeddings.create(model="text-embedding-3-small", input="hi", dimensions=0)
    assert caught.value.param == "dimensions"
