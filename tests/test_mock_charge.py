"""The admission charge: prompt tokens plus the output cap times `n`, for every prompt."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.tokens import DEFAULT_OUTPUT_TOKENS, count_text_tokens

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Count my tokens, please."}]
INSTRUCT = "gpt-3.5-turbo-instruct"


@pytest.fixture
def server(mock_server: Callable[..., MockServer]) -> MockServer:
    # A clock that never moves: no refill, so the remaining tokens show exactly what was charged.
    return mock_server(rpm=100_000, tpm=10_000_000, clock=lambda: 0.0)


@pytest.fixture
def client(server: MockServer, make_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return make_client(server)


def last_charge(server: MockServer) -> int:
    return server.records()[-1].tokens


def test_chat_charge_prompt_plus_cap(server: MockServer, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)
    assert last_charge(server) == completion.usage.prompt_tokens + 50  # type: ignore[union-attr]


def test_chat_charge_times_n(server: MockServer, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50, n=3)
    assert last_charge(server) == completion.usage.prompt_tokens + 150  # type: ignore[union-attr]


def test_chat_charge_max_completion_tokens(server: MockServer, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=20)
    assert last_charge(server) == completion.usage.prompt_tokens + 20  # type: ignore[union-attr]


def test_chat_charge_completion_cap_wins(server: MockServer, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=20, max_tokens=500)
    assert last_charge(server) == completion.usage.prompt_tokens + 20  # type: ignore[union-attr]


def test_chat_charge_default_cap(server: MockServer, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    expected = completion.usage.prompt_tokens + DEFAULT_OUTPUT_TOKENS["chat/completions"]  # type: ignore[union-attr]
    assert last_charge(server) == expected


def test_chat_charge_ignores_answer_length(server: MockServer, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=1000)
    assert last_charge(server) != completion.usage.total_tokens  # type: ignore[union-attr]


def test_completions_charge_per_prompt(server: MockServer, client: openai.OpenAI) -> None:
    prompts = ["The first prompt", "두 번째 프롬프트", "three"]
    client.completions.create(model=INSTRUCT, prompt=prompts, max_tokens=10, n=2)
    expected = sum(count_text_tokens(prompt, INSTRUCT) for prompt in prompts) + 3 * 10 * 2
    assert last_charge(server) == expected


def test_completions_charge_default_cap(server: MockServer, client: openai.OpenAI) -> None:
    client.completions.create(model=INSTRUCT, prompt=["a", "b"])
    expected = 2 * count_text_tokens("a", INSTRUCT) + 2 * DEFAULT_OUTPUT_TOKENS["completions"]
    assert last_charge(server) == expected


def test_completions_charge_token_arrays(server: MockServer, client: openai.OpenAI) -> None:
    client.completions.create(model=INSTRUCT, prompt=[[1, 2, 3], [4]], max_tokens=5)
    assert last_charge(server) == 4 + 2 * 5


def test_embeddings_charge_inputs_only(server: MockServer, client: openai.OpenAI) -> None:
    inputs = ["embed this", "and that"]
    client.embeddings.create(model="text-embedding-3-small", input=inputs)
    assert last_charge(server) == sum(count_text_tokens(text, "text-embedding-3-small") for text in inputs)


def test_charge_matches_remaining_header(server: MockServer, client: openai.OpenAI) -> None:
    response = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)
    assert int(response.headers["x-ratelimit-remaining-tokens"]) == 10_000_000 - last_charge(server)
