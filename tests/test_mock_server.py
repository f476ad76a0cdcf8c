"""`MockServer` life cycle and settings: start, stop, threads, sockets, runtime changes."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.mock import MockServer, MockSettings

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there."}]
ClientFactory = Callable[..., openai.OpenAI]
ServerFactory = Callable[..., MockServer]


def server_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "ratelimit-toolkit-mock-server"]


def port_accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_base_url_format() -> None:
    with MockServer() as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", server.base_url)


def test_binds_loopback_by_default() -> None:
    assert MockServer().host == "127.0.0.1"


def test_base_url_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        MockServer().base_url


def test_start_twice_raises() -> None:
    with MockServer() as server:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()


def test_stop_twice_is_harmless() -> None:
    server = MockServer().start()
    server.stop()
    server.stop()
    assert not server.running


def test_stop_ends_thread() -> None:
    before = len(server_threads())
    with MockServer():
        pass
    assert len(server_threads()) == before


def test_stop_closes_port() -> None:
    with MockServer() as server:
        port = server.port
    assert not port_accepts(port)


def test_restart_after_stop(make_client: ClientFactory) -> None:
    server = MockServer().start()
    server.stop()
    server.start()
    try:
        assert make_client(server).models.list().data
    finally:
        server.stop()


def test_busy_port_raises_oserror() -> None:
    with MockServer() as first:
        with pytest.raises(OSError):
            MockServer(port=first.port).start()


def test_stop_quick_with_slow_request() -> None:
    server = MockServer(slow_rate=1.0, slow_seconds=30.0).start()
    url = f"{server.base_url}/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}

    def slow_request() -> None:
        try:
            httpx.post(url, json=body, headers={"Authorization": "Bearer sk-mock"}, timeout=5)
        except httpx.HTTPError:
            pass

    caller = threading.Thread(target=slow_request)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    caller.join()
    assert time.monotonic() - started < 3.0


async def test_sync_start_inside_running_loop(make_client: ClientFactory) -> None:
    # Jupyter runs cells inside an event loop; the server must not need that loop.
    with MockServer() as server:
        assert make_client(server).models.list().data


async def test_async_with_answers() -> None:
    async with MockServer() as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0) as client:
            completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content


async def test_concurrent_async_requests() -> None:
    async with MockServer(rpm=1000) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0) as client:
            calls = [client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES) for _ in range(20)]
            completions = await asyncio.gather(*calls)
    assert len(completions) == 20


def test_latency_delays_answer(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(base_latency_seconds=0.3))
    started = time.monotonic()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    assert time.monotonic() - started >= 0.3


def test_latency_grows_with_tokens(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(per_token_latency_seconds=0.002))
    response = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    tokens = response.parse().usage.completion_tokens  # type: ignore[union-attr]
    assert int(response.headers["openai-processing-ms"]) >= tokens * 2


def test_configure_changes_limit_header(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=60)
    server.configure(rpm=7)
    response = make_client(server).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert response.headers["x-ratelimit-limit-requests"] == "7"


def test_configure_refills_buckets(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1)
    client = make_client(server)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    server.configure(rpm=2)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices


def test_configure_returns_settings(mock_server: ServerFactory) -> None:
    assert mock_server().configure(tpm=1234).tpm == 1234


def test_configure_unknown_name(mock_server: ServerFactory) -> None:
    with pytest.raises(TypeError, match="rpm_limit"):
        mock_server().configure(rpm_limit=5)


def test_configure_bad_value_keeps_settings(mock_server: ServerFactory) -> None:
    server = mock_server(rpm=60)
    with pytest.raises(ValueError):
        server.configure(rpm=5, failure_rate=2.0)
    assert server.settings.rpm == 60


def test_constructor_unknown_name() -> None:
    with pytest.raises(TypeError, match="burst"):
        MockServer(burst=1)


def test_constructor_takes_settings_object() -> None:
    server = MockServer(MockSettings(rpm=5), tpm=99)
    assert (server.settings.rpm, server.settings.tpm) == (5, 99)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rpm", 0),
        ("tpm", 2.5),
        ("burst_seconds", 0),
        ("burst_seconds", 120),
        ("failure_rate", -0.1),
        ("drop_rate", 1.5),
        ("slow_seconds", -1),
        ("base_latency_seconds", float("inf")),
        ("failure_statuses", [200]),
        ("failure_statuses", []),
        ("language", "fr"),
        ("max_body_bytes", 0),
        ("seed", "abc"),
        ("api_keys", "sk-one-key"),
        ("api_keys", [""]),
        ("organization", ""),
    ],
)
def test_settings_reject_bad_value(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        MockSettings(**{name: value})  # type: ignore[arg-type]


def test_settings_keys_become_frozenset() -> None:
    assert MockSettings(api_keys=["a", "b"]).api_keys == frozenset({"a", "b"})


def test_repr_shows_limits() -> None:
    assert "rpm=20" in repr(MockServer(rpm=20))
