"""Statistics: `GET /v1/stats`, the Python accessors, the timeline and process totals."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.mock import MockServer, process_totals

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there."}]
ClientFactory = Callable[..., openai.OpenAI]
ServerFactory = Callable[..., MockServer]


class FakeClock:
    """A monotonic clock that moves only when a test sets `now`."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def send(client: openai.OpenAI, count: int) -> None:
    for _ in range(count):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
        except openai.APIStatusError:
            pass


@pytest.fixture
def busy_server(mock_server: ServerFactory, make_client: ClientFactory) -> MockServer:
    """A server that admitted 2 requests and refused 3 with 429, all in second 0."""
    server = mock_server(rpm=2, clock=FakeClock())
    send(make_client(server), 5)
    return server


def test_stats_counts_requests(busy_server: MockServer) -> None:
    assert busy_server.stats()["totals"]["requests"] == 5


def test_stats_counts_admitted(busy_server: MockServer) -> None:
    assert busy_server.stats()["totals"]["admitted"] == 2


def test_stats_refused_by_type(busy_server: MockServer) -> None:
    assert busy_server.stats()["totals"]["refused_429"]["by_type"] == {"requests": 3}


def test_stats_refused_by_code(busy_server: MockServer) -> None:
    assert busy_server.stats()["totals"]["refused_429"]["by_code"] == {"rate_limit_exceeded": 3}


def test_stats_errors_by_status(busy_server: MockServer) -> None:
    assert busy_server.stats()["totals"]["errors_by_status"] == {"429": 3}


def test_stats_tokens_charged(busy_server: MockServer) -> None:
    charged = sum(record.tokens for record in busy_server.records())
    assert busy_server.stats()["totals"]["tokens_charged"] == charged


def test_stats_timeline_second_zero(busy_server: MockServer) -> None:
    entry = busy_server.timeline()[0]
    assert (entry["second"], entry["admitted"], entry["refused"]) == (0, 2, 3)


def test_stats_endpoint_matches_accessor(busy_server: MockServer) -> None:
    served = httpx.get(f"{busy_server.base_url}/stats", timeout=10).json()
    assert served["totals"] == busy_server.stats()["totals"]


def test_stats_endpoint_needs_no_key(busy_server: MockServer) -> None:
    assert httpx.get(f"{busy_server.base_url}/stats", timeout=10).status_code == 200


def test_stats_endpoint_not_counted(busy_server: MockServer) -> None:
    httpx.get(f"{busy_server.base_url}/stats", timeout=10)
    assert busy_server.stats()["totals"]["requests"] == 5


def test_stats_endpoint_records_on_request(busy_server: MockServer) -> None:
    served = httpx.get(f"{busy_server.base_url}/stats?records=true", timeout=10).json()
    assert [record["status"] for record in served["records"]] == [200, 200, 429, 429, 429]


def test_stats_records_masked_key(busy_server: MockServer) -> None:
    assert busy_server.records()[0].key == "sk-m****-key"


def test_stats_records_endpoint(busy_server: MockServer) -> None:
    assert busy_server.records()[0].endpoint == "chat/completions"


def test_stats_timeline_fills_gaps(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    clock = FakeClock()
    server = mock_server(clock=clock)
    client = make_client(server)
    send(client, 1)
    clock.now += 3.5
    send(client, 2)
    assert [entry["admitted"] for entry in server.timeline()] == [1, 0, 0, 2]


def test_stats_timeline_counts_errors(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(script=[502, 200])
    send(make_client(server), 2)
    entry = server.timeline()[0]
    assert (entry["admitted"], entry["errors"]) == (1, 1)


def test_stats_reset(busy_server: MockServer) -> None:
    busy_server.reset_stats()
    assert busy_server.stats()["totals"]["requests"] == 0


def test_stats_reset_empties_timeline(busy_server: MockServer) -> None:
    busy_server.reset_stats()
    assert busy_server.timeline() == []


def test_process_totals_grow(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    before = process_totals()
    send(make_client(mock_server(rpm=1)), 3)
    after = process_totals()
    assert (after["requests"] - before["requests"], after["refused_429"] - before["refused_429"]) == (3, 2)


def test_process_totals_survive_reset(busy_server: MockServer) -> None:
    before = process_totals()
    busy_server.reset_stats()
    assert process_totals() == before
