"""Success bodies for the three generating endpoints, built from a validated request."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ratelimit_toolkit import tokens
from ratelimit_toolkit.mock import answers, payloads
from ratelimit_toolkit.mock.answers import Answer
from ratelimit_toolkit.mock.settings import MockSettings


@dataclass(frozen=True)
class Generated:
    """A success body and the number of tokens it generated (for the latency)."""

    body: dict[str, Any]
    completion_tokens: int


def generate(endpoint: str, body: dict[str, Any], estimate: tokens.RequestEstimate, settings: MockSettings) -> Generated:
    """Build the answer to a validated, admitted request."""
    digest = answers.body_digest(body)
    if endpoint == "chat/completions":
        return _chat(body, digest, estimate, settings)
    if endpoint == "completions":
        return _completions(body, digest, estimate, settings)
    return _embeddings(body, estimate)


def _chat(body: dict[str, Any], digest: bytes, estimate: tokens.RequestEstimate, settings: MockSettings) -> Generated:
    model = body["model"]
    language = answers.pick_language(settings.language, _chat_text(body["messages"]))
    cap = _output_cap(body, default=None)

    choices = [
        answers.compose_answer(answers.choice_seed(digest, 0, k), language, cap, model) for k in range(_choice_count(body))
    ]
    payload = payloads.chat_completion(model, choices, estimate.prompt_tokens)
    return Generated(payload, payload["usage"]["completion_tokens"])


def _completions(body: dict[str, Any], digest: bytes, estimate: tokens.RequestEstimate, settings: MockSettings) -> Generated:
    model = body["model"]
    prompts = _prompt_texts(body["prompt"], len(estimate.prompt_tokens_per_input))
    cap = _output_cap(body, default=tokens.DEFAULT_OUTPUT_TOKENS["completions"])
    n = _choice_count(body)

    # OpenAI numbers the choices prompt by prompt: choice k of prompt p has index p * n + k.
    indexed: list[tuple[int, Answer]] = []
    for prompt_index, prompt in enumerate(prompts):
        language = answers.pick_language(settings.language, prompt)
        for k in range(n):
            seed = answers.choice_seed(digest, prompt_index, k)
            indexed.append((prompt_index * n + k, answers.compose_answer(seed, language, cap, model)))
    if settings.shuffle_choices and len(indexed) > 1:
        random.Random(digest).shuffle(indexed)

    payload = payloads.text_completion(model, indexed, estimate.prompt_tokens)
    return Generated(payload, payload["usage"]["completion_tokens"])


def _embeddings(body: dict[str, Any], estimate: tokens.RequestEstimate) -> Generated:
    model = body["model"]
    dimensions = body.get("dimensions") or answers.DEFAULT_EMBEDDING_DIMENSIONS
    as_base64 = body.get("encoding_format") == "base64"

    vectors: list[list[float] | str] = []
    for item in _embedding_inputs(body["input"]):
        vector = answers.embedding_vector(model, item, dimensions)
        vectors.append(answers.encode_embedding_base64(vector) if as_base64 else vector)
    return Generated(payloads.embedding_list(model, vectors, estimate.prompt_tokens), 0)


def _chat_text(messages: list[Any]) -> str:
    """Join the text of every message, for choosing the answer language."""
    texts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return "\n".join(texts)


def _prompt_texts(prompt: Any, count: int) -> list[str]:
    """List each prompt's text; token-array prompts have no text to read a language from."""
    if isinstance(prompt, str):
        return [prompt]
    texts = [item if isinstance(item, str) else "" for item in prompt]
    if len(texts) != count:  # a single token array is one prompt
        return [""] * count
    return texts


def _embedding_inputs(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return [value]
    return list(value)


def _output_cap(body: dict[str, Any], default: int | None) -> int | None:
    # max_completion_tokens replaces the deprecated max_tokens, so it wins when both are set.
    for field in ("max_completion_tokens", "max_tokens"):
        value = body.get(field)
        if value is not None:
            return int(value)
    return default


def _choice_count(body: dict[str, Any]) -> int:
    return int(body.get("n") or 1)
