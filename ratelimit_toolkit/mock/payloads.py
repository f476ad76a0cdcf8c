"""Response bodies and headers in OpenAI's shapes.

Error bodies are `{"error": {"message", "type", "param", "code"}}`, the shape
the `openai` client reads into `.message`, `.type`, `.param` and `.code`.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from ratelimit_toolkit.durations import format_duration
from ratelimit_toolkit.mock.answers import Answer
from ratelimit_toolkit.mock.buckets import Admission, LimitSnapshot

RATE_LIMITS_URL = "https://platform.openai.com/account/rate-limits"
API_KEYS_URL = "https://platform.openai.com/account/api-keys"

_LIMIT_LABELS = {"requests": "requests per min (RPM)", "tokens": "tokens per min (TPM)"}


def error_body(message: str, error_type: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """Build an OpenAI error body."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def rate_limit_error(admission: Admission, model: str, organization: str) -> dict[str, Any]:
    """Build the 429 body for a request the buckets refused.

    A request larger than the per-minute token limit gets the "Request too
    large" message, which no wait can fix. Other refusals state when to try again.
    """
    if admission.limit_type is None:
        raise ValueError("rate_limit_error() requires a refused admission (admitted=False), got admitted=True")
    label = _LIMIT_LABELS[admission.limit_type]
    prefix = f"in organization {organization} on {label}: Limit {admission.limit}"
    if admission.too_large:
        message = (
            f"Request too large for {model} {prefix}, Requested {admission.requested}. "
            f"The input or output tokens must be reduced in order to run successfully. "
            f"Visit {RATE_LIMITS_URL} to learn more."
        )
    else:
        message = (
            f"Rate limit reached for {model} {prefix}, Used {admission.used}, "
            f"Requested {admission.requested}. Please try again in {format_duration(admission.wait_seconds)}. "
            f"Visit {RATE_LIMITS_URL} to learn more."
        )
    return error_body(message, admission.limit_type, code="rate_limit_exceeded")


def quota_error() -> dict[str, Any]:
    """Build the 429 body of an exhausted quota, which no retry fixes."""
    message = (
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors."
    )
    return error_body(message, "insufficient_quota", code="insufficient_quota")


def missing_key_error() -> dict[str, Any]:
    """Build the 401 body for a request without an API key."""
    message = (
        "You didn't provide an API key. Send it in an Authorization header "
        "(Authorization: Bearer YOUR_KEY) or in an api-key header. "
        f"You can create API keys at {API_KEYS_URL}."
    )
    return error_body(message, "invalid_request_error")


def invalid_key_error(masked_key: str) -> dict[str, Any]:
    """Build the 401 body for a key the server does not accept; only the masked key appears."""
    message = f"Incorrect API key provided: {masked_key}. You can find your API key at {API_KEYS_URL}."
    return error_body(message, "invalid_request_error", code="invalid_api_key")


def invalid_request_error(message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """Build a 400-style body: `invalid_request_error` naming the parameter."""
    return error_body(message, "invalid_request_error", param=param, code=code)


def server_error(request_id: str) -> dict[str, Any]:
    """Build the 500 body for an unexpected failure inside the mock server."""
    message = (
        f"The server had an error while processing your request (request id {request_id}). "
        "This is a bug in the mock server; its log has the details."
    )
    return error_body(message, "server_error")


def rate_limit_headers(snapshot: LimitSnapshot) -> dict[str, str]:
    """Build the `x-ratelimit-*` headers; resets use OpenAI's duration format."""
    return {
        "x-ratelimit-limit-requests": str(snapshot.limit_requests),
        "x-ratelimit-limit-tokens": str(snapshot.limit_tokens),
        "x-ratelimit-remaining-requests": str(snapshot.remaining_requests),
        "x-ratelimit-remaining-tokens": str(snapshot.remaining_tokens),
        "x-ratelimit-reset-requests": format_duration(snapshot.reset_requests_seconds),
        "x-ratelimit-reset-tokens": format_duration(snapshot.reset_tokens_seconds),
    }


def retry_after_headers(wait_seconds: float) -> dict[str, str]:
    """Build `retry-after` (whole seconds, rounded up) and `retry-after-ms`."""
    return {
        "retry-after": str(max(1, math.ceil(wait_seconds))),
        "retry-after-ms": str(max(1, math.ceil(wait_seconds * 1000))),
    }


def new_id(prefix: str) -> str:
    """Make a unique id such as `chatcmpl-1f3a...`."""
    return f"{prefix}{os.urandom(12).hex()}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """Build a `usage` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_completion(model: str, answers: list[Answer], prompt_tokens: int) -> dict[str, Any]:
    """Build a `chat.completion` with one choice per answer."""
    choices = [
        {
            "index": index,
            "message": {"role": "assistant", "content": answer.text, "refusal": None},
            "logprobs": None,
            "finish_reason": answer.finish_reason,
        }
        for index, answer in enumerate(answers)
    ]
    completion_tokens = sum(answer.completion_tokens for answer in answers)
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage(prompt_tokens, completion_tokens),
        "system_fingerprint": "fp_mock",
    }


def text_completion(model: str, indexed_answers: list[tuple[int, Answer]], prompt_tokens: int) -> dict[str, Any]:
    """Build a `text_completion`; choices keep the order given, each with its `index`."""
    choices = [
        {"text": answer.text, "index": index, "logprobs": None, "finish_reason": answer.finish_reason}
        for index, answer in indexed_answers
    ]
    completion_tokens = sum(answer.completion_tokens for _, answer in indexed_answers)
    return {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage(prompt_tokens, completion_tokens),
    }


def embedding_list(model: str, embeddings: list[list[float] | str], prompt_tokens: int) -> dict[str, Any]:
    """Build an embeddings `list`; each embedding is floats or a base64 string."""
    data = [{"object": "embedding", "index": index, "embedding": vector} for index, vector in enumerate(embeddings)]
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def model_list(models: list[str], created: int) -> dict[str, Any]:
    """Build the `GET /v1/models` body."""
    data = [{"id": model, "object": "model", "created": created, "owned_by": "ratelimit-toolkit-mock"} for model in models]
    return {"object": "list", "data": data}
