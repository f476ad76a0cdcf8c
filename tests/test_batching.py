"""Batching: answers matched by index, batch limits, and the helpers against the mock server."""

from __future__ import annotations

import itertools
import re
from typing import Any

import openai
import pytest

from ratelimit_toolkit.batching import (
    MAX_EMBEDDING_INPUTS,
    Batch,
    acomplete_prompts,
    aembed_inputs,
    complete_prompts,
    embed_inputs,
    match_choices,
    match_embeddings,
    plan_completion_batches,
    plan_embedding_batches,
    split_into_batches,
)
from ratelimit_toolkit.limiter import RateLimiter
from ratelimit_toolkit.tokens import count_text_tokens

HANGUL = re.compile("[\uac00-\ud7a3]")
COMPLETIONS_MODEL = "gpt-3.5-turbo-instruct"
EMBEDDINGS_MODEL = "text-embedding-3-small"


class FakeClock:
    """A limiter clock that moves only when the limiter sleeps, so waits take no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def choices_for(indices: list[int]) -> list[dict[str, Any]]:
    return [{"index": index, "text": f"t{index}"} for index in indices]


# --- Matching by index -----------------------------------------------------------


def test_match_shuffled_choices() -> None:
    answers = match_choices(choices_for([5, 0, 3, 1, 4, 2]), prompt_count=3, n=2)

    assert answers.answers == [["t0", "t1"], ["t2", "t3"], ["t4", "t5"]]
    assert answers.missing == []


def test_match_any_arrival_order() -> None:
    expected = [["t0", "t1"], ["t2", "t3"], ["t4", "t5"]]
    results = {
        str(match_choices(choices_for(list(order)), prompt_count=3, n=2).answers)
        for order in itertools.permutations(range(6))
    }

    assert results == {str(expected)}


def test_match_reports_missing_prompt() -> None:
    answers = match_choices(choices_for([3, 2]), prompt_count=2, n=2)

    assert answers.answers[1] == ["t2", "t3"]
    assert answers.answers[0] is None
    assert answers.missing == [0]
    assert answers.first_answers() == [None, "t2"]


def test_match_partial_prompt_missing() -> None:
    answers = match_choices(choices_for([0, 1, 3]), prompt_count=2, n=2)

    assert answers.answers == [["t0", "t1"], ["t3"]]
    assert answers.missing == [1]


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        (choices_for([0, 1, 2, 3, 4, 6]), "outside 0..5"),
        (choices_for([-1]), "outside 0..5"),
        (choices_for([1, 1]), "appears twice"),
        ([{"index": "0", "text": "t"}], "must be an integer"),
        ([{"text": "no index"}], "must be an integer"),
    ],
)
def test_match_rejects_bad_index(choices: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        match_choices(choices, prompt_count=3, n=2)


def test_match_reads_client_objects() -> None:
    choice = openai.types.CompletionChoice(index=0, text="hello", finish_reason="stop", logprobs=None)

    assert match_choices([choice], prompt_count=1).answers == [["hello"]]


def test_match_embeddings_by_index() -> None:
    data = [{"index": 2, "embedding": [0.2]}, {"index": 0, "embedding": [0.0]}]
    matched = match_embeddings(data, input_count=3)

    assert matched.vectors == [[0.0], None, [0.2]]
    assert matched.missing == [1]


# --- Batch limits ----------------------------------------------------------------


def test_split_respects_item_limit() -> None:
    batches = split_into_batches(list(range(7)), [1] * 7, max_items=3)

    assert [batch.items for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [batch.start for batch in batches] == [0, 3, 6]


def test_split_respects_token_budget() -> None:
    batches = split_into_batches(list("abcdef"), [40, 30, 30, 50, 10, 60], max_items=10, max_tokens=100)

    assert [batch.items for batch in batches] == [["a", "b", "c"], ["d", "e"], ["f"]]
    assert [batch.tokens for batch in batches] == [100, 60, 60]


def test_split_oversize_item_raises() -> None:
    with pytest.raises(ValueError, match="item 1 alone needs 150 tokens, more than max_tokens=100"):
        split_into_batches(["a", "b"], [10, 150], max_items=5, max_tokens=100)


def test_split_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="one charge per item"):
        split_into_batches(["a"], [1, 2], max_items=5)
    with pytest.raises(ValueError, match="max_items"):
        split_into_batches(["a"], [1], max_items=0)


def test_plan_completion_charges() -> None:
    prompts = ["첫째:", "둘째:", "third:"]
    batches = plan_completion_batches(prompts, model=COMPLETIONS_MODEL, max_tokens=10, n=2,
                                      max_prompts_per_request=2)
    prompt_tokens = [count_text_tokens(prompt, COMPLETIONS_MODEL) for prompt in prompts]

    assert [batch.items for batch in batches] == [prompts[:2], prompts[2:]]
    assert batches[0].tokens == prompt_tokens[0] + prompt_tokens[1] + 2 * 20
    assert batches[1].tokens == prompt_tokens[2] + 20


def test_plan_completion_token_budget() -> None:
    batches = plan_completion_batches(["a prompt"] * 10, model=COMPLETIONS_MODEL, max_tokens=100,
                                      max_tokens_per_request=250)

    assert all(batch.tokens <= 250 for batch in batches)
    assert sum(len(batch.items) for batch in batches) == 10


def test_plan_embeddings_default_limit() -> None:
    batches = plan_embedding_batches(["word"] * 5000, model=EMBEDDINGS_MODEL)

    assert [len(batch.items) for batch in batches] == [MAX_EMBEDDING_INPUTS, MAX_EMBEDDING_INPUTS, 904]


def test_plan_rejects_single_string() -> None:
    with pytest.raises(ValueError, match="must be a list"):
        plan_completion_batches("one prompt", model=COMPLETIONS_MODEL)  # type: ignore[arg-type]


def test_batch_stop_position() -> None:
    assert Batch(start=4, items=["x", "y"], tokens=3).stop == 6


# --- Against the mock server -----------------------------------------------------

MIXED_PROMPTS = [
    "서울의 봄 날씨를 한 문장으로 설명해 주세요:" if number % 2 == 0 else "Describe autumn in one sentence:"
    for number in range(12)
]


def assert_languages_match(prompts: list[str], answers: list[list[str] | None]) -> None:
    for prompt, texts in zip(prompts, answers):
        assert texts is not None
        for text in texts:
            assert bool(HANGUL.search(text)) == bool(HANGUL.search(prompt)), (prompt, text)


def test_complete_prompts_in_order(session_mock_server: Any) -> None:
    client = openai.OpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    result = complete_prompts(client, MIXED_PROMPTS, model=COMPLETIONS_MODEL, max_tokens=20, n=2,
                              max_prompts_per_request=5)
    client.close()

    assert result.requests == 3
    assert result.missing == []
    assert all(texts is not None and len(texts) == 2 for texts in result.answers)
    assert_languages_match(MIXED_PROMPTS, result.answers)
    assert result.total_tokens > 0


def test_events_give_throughput_points(session_mock_server: Any) -> None:
    client = openai.OpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    result = complete_prompts(client, MIXED_PROMPTS, model=COMPLETIONS_MODEL, max_tokens=20,
                              max_prompts_per_request=5)
    client.close()

    assert [event.items for event in result.events] == [5, 5, 2]
    assert [total for _, total in result.prompts_over_time()] == [5, 10, 12]
    assert [total for _, total in result.requests_over_time()] == [1, 2, 3]
    assert result.tokens_over_time()[-1][1] == result.total_tokens


def test_position_matching_is_wrong(session_mock_server: Any) -> None:
    client = openai.OpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    response = client.completions.create(model=COMPLETIONS_MODEL, prompt=MIXED_PROMPTS, max_tokens=20)
    client.close()
    by_position = [choice.text for choice in response.choices]
    by_index = match_choices(response.choices, len(MIXED_PROMPTS)).first_answers()

    assert by_position != by_index
    assert_languages_match(MIXED_PROMPTS, [[text] for text in by_index if text is not None])


def test_complete_prompts_with_limiter(session_mock_server: Any) -> None:
    clock = FakeClock()
    limiter = RateLimiter(600, 1000, burst_seconds=60, clock=clock, sleep=clock.sleep)
    client = openai.OpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    result = complete_prompts(client, MIXED_PROMPTS, model=COMPLETIONS_MODEL, max_tokens=90, limiter=limiter)
    client.close()
    charges = [batch.tokens for batch in plan_completion_batches(MIXED_PROMPTS, model=COMPLETIONS_MODEL,
                                                                 max_tokens=90)]

    # About 1,200 tokens in all: the limiter's 1,000 tokens per minute splits them in two.
    assert sum(charges) > 1000
    assert result.requests == 2
    assert limiter.stats.admitted == 2
    assert limiter.stats.tokens == sum(charges)
    assert result.missing == []
    assert_languages_match(MIXED_PROMPTS, result.answers)


async def test_acomplete_prompts_in_order(session_mock_server: Any) -> None:
    client = openai.AsyncOpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    limiter = RateLimiter(100_000, 10_000_000)
    result = await acomplete_prompts(client, MIXED_PROMPTS, model=COMPLETIONS_MODEL, max_tokens=20, n=3,
                                     limiter=limiter, max_prompts_per_request=4, concurrency=3)
    await client.close()

    assert result.requests == 3
    assert result.missing == []
    assert all(texts is not None and len(texts) == 3 for texts in result.answers)
    assert_languages_match(MIXED_PROMPTS, result.answers)


def test_embed_inputs_match_single(session_mock_server: Any) -> None:
    client = openai.OpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    inputs = [f"문장 {number}" if number % 3 else f"sentence {number}" for number in range(10)]
    batched = embed_inputs(client, inputs, model=EMBEDDINGS_MODEL, max_inputs_per_request=4)
    singles = [client.embeddings.create(model=EMBEDDINGS_MODEL, input=text).data[0].embedding for text in inputs]
    client.close()

    assert batched.requests == 3
    assert batched.missing == []
    assert batched.vectors == singles


async def test_aembed_inputs_match_single(session_mock_server: Any) -> None:
    client = openai.AsyncOpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    inputs = [f"input {number}" for number in range(9)]
    batched = await aembed_inputs(client, inputs, model=EMBEDDINGS_MODEL, max_inputs_per_request=2)
    single = await client.embeddings.create(model=EMBEDDINGS_MODEL, input=inputs[7])
    await client.close()

    assert batched.requests == 5
    assert batched.vectors[7] == single.data[0].embedding


async def test_async_rejects_bad_concurrency(session_mock_server: Any) -> None:
    client = openai.AsyncOpenAI(base_url=session_mock_server.base_url, api_key="sk-mock", max_retries=0)
    with pytest.raises(ValueError, match="concurrency"):
        await acomplete_prompts(client, ["x"], model=COMPLETIONS_MODEL, concurrency=0)
    await client.close()
