"""Shared fixtures: mock servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from ratelimit_toolkit.mock import MockServer

#: Limits high enough that no test reaches them.
UNLIMITED_RPM = 10_000_000
UNLIMITED_TPM = 1_000_000_000


@pytest.fixture
def mock_server() -> Iterator[Callable[..., MockServer]]:
    """Start mock servers with the given settings; each one stops after the test.

    Call it with any `MockServer` keyword: `server = mock_server(rpm=60, burst_seconds=1)`.
    """
    servers: list[MockServer] = []

    def start(**settings: Any) -> MockServer:
        server = MockServer(**settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def session_mock_server() -> Iterator[MockServer]:
    """One server per test session with limits no test reaches.

    Tests that use it must not change its settings or script; use `mock_server`
    for a server of their own. Its statistics collect every test's requests.
    """
    with MockServer(rpm=UNLIMITED_RPM, tpm=UNLIMITED_TPM) as server:
        yield server


@pytest.fixture
def make_client() -> Iterator[Callable[..., openai.OpenAI]]:
    """Create `openai.OpenAI` clients for a mock server; each one is closed after the test.

    Defaults: `api_key="sk-mock-test-key"` and `max_retries=0`, so every
    error reaches the test. Call it as `make_client(server, timeout=0.2)`.
    """
    clients: list[openai.OpenAI] = []

    def create(server: MockServer, **options: Any) -> openai.OpenAI:
        options.setdefault("api_key", "sk-mock-test-key")
        options.setdefault("max_retries", 0)
        client = openai.OpenAI(base_url=server.base_url, **options)
        clients.append(client)
        return client

    yield create
    for client in clients:
        client.close()
