"""Response bodies: deterministic text, language, choices and their index, usage, embeddings."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.mock.answers import contains_hangul
from ratelimit_toolkit.tokens import count_text_tokens

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell me about the weather."}]
KOREAN_MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "오늘 날씨에 대해 알려 주세요."}]


ClientFactory = Callable[..., openai.OpenAI]
ServerFactory = Callable[..., MockServer]


@pytest.fixture
def client(session_mock_server: MockServer, make_client: ClientFactory) -> openai.OpenAI:
    return make_client(session_mock_server)


def chat_text(client: openai.OpenAI, **options: object) -> str:
    options.setdefault("messages", MESSAGES)
    completion = client.chat.completions.create(model="gpt-4o-mini", **options)  # type: ignore[call-overload]
    return completion.choices[0].message.content or ""


def test_same_body_same_text(client: openai.OpenAI) -> None:
    assert chat_text(client) == chat_text(client)


def test_key_order_same_text(session_mock_server: MockServer) -> None:
    url = f"{session_mock_server.base_url}/chat/completions"
    headers = {"Authorization": "Bearer sk-mock", "Content-Type": "application/json"}
    first = httpx.post(url, headers=headers, content=b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a"}]}')
    second = httpx.post(url, headers=headers, content=b'{"messages": [{"content": "a", "role": "user"}], "model": "gpt-4o-mini"}')
    assert first.json()["choices"] == second.json()["choices"]


def test_different_body_different_text(client: openai.OpenAI) -> None:
    other = [{"role": "user", "content": "Tell me about the sea."}]
    assert chat_text(client) != chat_text(client, messages=other)


def test_same_text_across_servers(mock_server: ServerFactory, client: openai.OpenAI, make_client: ClientFactory) -> None:
    other = make_client(mock_server())
    assert chat_text(client) == chat_text(other)


def test_english_prompt_english_answer(client: openai.OpenAI) -> None:
    assert not contains_hangul(chat_text(client))


def test_korean_prompt_korean_answer(client: openai.OpenAI) -> None:
    assert contains_hangul(chat_text(client, messages=KOREAN_MESSAGES))


def test_language_setting_forces_korean(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(language="ko"))
    assert contains_hangul(chat_text(client))


def test_answer_is_sentences(client: openai.OpenAI) -> None:
    assert chat_text(client).endswith(".")


def test_max_tokens_caps_answer(client: openai.OpenAI) -> None:
    text = chat_text(client, max_tokens=5)
    assert count_text_tokens(text, "gpt-4o-mini") <= 5


def test_max_tokens_finish_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=3)
    assert completion.choices[0].finish_reason == "length"


def test_uncapped_finish_stop(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].finish_reason == "stop"


def test_max_completion_tokens_caps(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=4, max_tokens=100)
    assert completion.usage.completion_tokens <= 4  # type: ignore[union-attr]


def test_usage_counts_answer(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=KOREAN_MESSAGES)
    expected = count_text_tokens(completion.choices[0].message.content or "", "gpt-4o-mini")
    assert completion.usage.completion_tokens == expected  # type: ignore[union-attr]


def test_usage_total_adds_up(client: openai.OpenAI) -> None:
    usage = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens  # type: ignore[union-attr]


def test_chat_n_choices(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=3)
    assert [choice.index for choice in completion.choices] == [0, 1, 2]


def test_chat_n_choices_differ(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=3)
    assert len({choice.message.content for choice in completion.choices}) == 3


def test_chat_response_shape(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert (completion.object, completion.model, completion.choices[0].message.role) == (
        "chat.completion",
        "gpt-4o-mini",
        "assistant",
    )


def test_completions_string_prompt(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time")
    assert completion.choices[0].text


def test_completions_default_cap_16(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time")
    assert completion.usage.completion_tokens <= 16  # type: ignore[union-attr]


def test_completions_one_choice_per_prompt_and_n(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["a", "b", "c"], n=2, max_tokens=5)
    assert sorted(choice.index for choice in completion.choices) == [0, 1, 2, 3, 4, 5]


def test_completions_choices_shuffled(client: openai.OpenAI) -> None:
    prompts = [f"Prompt number {number}" for number in range(10)]
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompts, max_tokens=5)
    assert [choice.index for choice in completion.choices] != list(range(10))


def test_completions_shuffle_deterministic(client: openai.OpenAI) -> None:
    prompts = [f"Prompt number {number}" for number in range(10)]
    first = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompts, max_tokens=5)
    second = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompts, max_tokens=5)
    assert [choice.index for choice in first.choices] == [choice.index for choice in second.choices]


def test_completions_shuffle_off(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    client = make_client(mock_server(shuffle_choices=False))
    prompts = [f"Prompt number {number}" for number in range(10)]
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompts, max_tokens=5)
    assert [choice.index for choice in completion.choices] == list(range(10))


def test_completions_index_matches_prompt(client: openai.OpenAI) -> None:
    # Choice p * n + k answers prompt p: the Korean prompt's choices are the Korean ones.
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["hello", "안녕하세요"], n=2, max_tokens=8)
    korean_indexes = sorted(choice.index for choice in completion.choices if contains_hangul(choice.text))
    assert korean_indexes == [2, 3]


def test_completions_token_array_prompt(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=[[1, 2, 3], [4, 5]], max_tokens=5)
    assert completion.usage.prompt_tokens == 5  # type: ignore[union-attr]


def test_embeddings_float_vectors(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="float")
    assert [len(item.embedding) for item in response.data] == [8, 8]


def test_embeddings_base64_default(session_mock_server: MockServer, make_client: ClientFactory) -> None:
    # Without an explicit encoding_format the openai client requests base64 and decodes it.
    client = make_client(session_mock_server)
    decoded = client.embeddings.create(model="text-embedding-3-small", input="a").data[0].embedding
    floats = client.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float").data[0].embedding
    assert decoded == pytest.approx(floats, abs=1e-6)


def test_embeddings_base64_is_float32(session_mock_server: MockServer) -> None:
    body = {"model": "text-embedding-3-small", "input": "a", "encoding_format": "base64"}
    response = httpx.post(
        f"{session_mock_server.base_url}/embeddings", json=body, headers={"Authorization": "Bearer sk-mock"}, timeout=10
    )
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    assert len(struct.unpack(f"<{len(raw) // 4}f", raw)) == 8


def test_embeddings_unit_length(client: openai.OpenAI) -> None:
    vector = client.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float").data[0].embedding
    assert sum(value * value for value in vector) == pytest.approx(1.0, abs=1e-4)


def test_embeddings_same_text_same_vector(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="text-embedding-3-small", input=["same", "other", "same"], encoding_format="float")
    assert response.data[0].embedding == response.data[2].embedding


def test_embeddings_dimensions(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="text-embedding-3-small", input="a", dimensions=32, encoding_format="float")
    assert len(response.data[0].embedding) == 32


def test_embeddings_index(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"])
    assert [item.index for item in response.data] == [0, 1, 2]


def test_embeddings_usage(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="text-embedding-3-small", input=["hello world", "hi"])
    expected = count_text_tokens("hello world", "text-embedding-3-small") + count_text_tokens("hi", "text-embedding-3-small")
    assert response.usage.prompt_tokens == expected


def test_embeddings_token_arrays(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="text-embedding-3-small", input=[[1, 2], [3, 4, 5]])
    assert response.usage.prompt_tokens == 5


def test_models_list(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "gpt-4o-mini" in ids
