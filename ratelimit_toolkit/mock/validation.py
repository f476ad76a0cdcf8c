"""Read and check request bodies; every failure becomes an OpenAI-shaped 4xx."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ratelimit_toolkit import tokens
from ratelimit_toolkit.mock.payloads import invalid_request_error

#: Most prompts or embedding inputs one request may carry. OpenAI's API reference
#: limits an embeddings `input` array to 2048 items; the mock applies it to prompts too.
MAX_INPUTS = 2048

#: Most choices (prompts times `n`) one completions request may ask for. It is this
#: mock's own bound: every choice is composed on the server's event loop.
MAX_TOTAL_CHOICES = 4096

#: Largest `dimensions` an embeddings request may ask for (text-embedding-3-large has 3072).
MAX_EMBEDDING_DIMENSIONS = 3072

#: Largest `n` accepted. It is this mock's own bound on the work one request causes.
MAX_CHOICES = 128

_REQUIRED_FIELDS = {
    "chat/completions": ("model", "messages"),
    "completions": ("model", "prompt"),
    "embeddings": ("model", "input"),
}

class RequestRejected(Exception):
    """A rejected request: the error status and the OpenAI error body to send."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body


def reject(message: str, *, param: str | None = None, code: str | None = None, status: int = 400) -> RequestRejected:
    """Build a `RequestRejected` with an `invalid_request_error` body."""
    return RequestRejected(status, invalid_request_error(message, param=param, code=code))


async def read_body(request: web.Request, max_body_bytes: int) -> bytes:
    """Read the whole body, or raise 413 as soon as it exceeds `max_body_bytes`."""
    declared = request.content_length
    if declared is not None and declared > max_body_bytes:
        raise _too_large(declared, max_body_bytes)

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > max_body_bytes:
            raise _too_large(size, max_body_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object body, or raise 400."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise reject(
            f"We could not parse the JSON body of your request ({error}). "
            "Send a JSON object with the header Content-Type: application/json."
        ) from error
    if not isinstance(body, dict):
        raise reject(f"The request body must be a JSON object, got a JSON {type(body).__name__}.")
    return body


def validate_body(endpoint: str, body: dict[str, Any]) -> None:
    """Check required fields and the options the mock server cannot honour, or raise 400."""
    for field in _REQUIRED_FIELDS[endpoint]:
        if body.get(field) is None:
            raise reject(f"Missing required parameter: '{field}'.", param=field, code="missing_required_parameter")

    model = body["model"]
    if not isinstance(model, str) or not model:
        raise reject(f"Invalid 'model': expected a non-empty string, got {model!r}.", param="model", code="invalid_type")
    # NOTE: streaming (server-sent events) is not implemented, so `stream: true` gets a 400.
    if body.get("stream"):
        raise reject(
            "The mock server does not support streaming; set 'stream' to false.",
            param="stream",
            code="unsupported_value",
        )

    _check_choice_count(body)
    if endpoint == "chat/completions":
        _check_non_empty_list(body, "messages")
    elif endpoint == "completions":
        _check_input_count(body, "prompt")
        _check_total_choices(body)
    else:
        _check_input_count(body, "input")
        _check_embedding_options(body)


def estimate_charge(endpoint: str, body: dict[str, Any]) -> tokens.RequestEstimate:
    """Estimate the admission charge with `tokens.estimate_request`, turning its errors into 400s."""
    try:
        return tokens.estimate_request(endpoint, body)
    except tokens.TokenEstimateError as error:
        raise reject(f"Invalid request: {error}.", param=error.field, code="invalid_value") from error


def _too_large(size: int, limit: int) -> RequestRejected:
    return reject(
        f"The request body is {size} bytes, larger than the mock server's limit of {limit} bytes. "
        "Send fewer or shorter inputs per request.",
        code="request_body_too_large",
        status=413,
    )


def _check_choice_count(body: dict[str, Any]) -> None:
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > MAX_CHOICES:
        raise reject(f"Invalid 'n': {n} is above the maximum of {MAX_CHOICES}.", param="n", code="integer_above_max_value")


def _check_total_choices(body: dict[str, Any]) -> None:
    """Bound the choices of one completions request, because they are generated on the event loop."""
    prompt = body["prompt"]
    is_prompt_list = isinstance(prompt, list) and not all(isinstance(item, int) for item in prompt)
    prompt_count = len(prompt) if is_prompt_list else 1
    n = body.get("n")
    choices = prompt_count * (n if isinstance(n, int) and n > 0 else 1)
    if choices > MAX_TOTAL_CHOICES:
        raise reject(
            f"Invalid 'n': {prompt_count} prompts times n={n} asks for {choices} choices, above the mock "
            f"server's maximum of {MAX_TOTAL_CHOICES} per request. Send fewer prompts or a smaller n.",
            param="n",
            code="integer_above_max_value",
        )


def _check_non_empty_list(body: dict[str, Any], field: str) -> None:
    value = body[field]
    if isinstance(value, list) and not value:
        raise reject(f"Invalid '{field}': empty array. Send at least one item.", param=field, code="empty_array")


def _check_input_count(body: dict[str, Any], field: str) -> None:
    value = body[field]
    if not isinstance(value, list):
        return
    if not value:
        raise reject(f"Invalid '{field}': empty array. Send at least one item.", param=field, code="empty_array")
    is_token_array = all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    if not is_token_array and len(value) > MAX_INPUTS:
        raise reject(
            f"Invalid '{field}': {len(value)} items, above the maximum of {MAX_INPUTS} per request. "
            "Split the inputs over several requests.",
            param=field,
            code="array_above_max_length",
        )


def _check_embedding_options(body: dict[str, Any]) -> None:
    encoding_format = body.get("encoding_format")
    if encoding_format not in (None, "float", "base64"):
        raise reject(
            f"Invalid 'encoding_format': {encoding_format!r}. Use 'float' or 'base64'.",
            param="encoding_format",
            code="invalid_value",
        )

    dimensions = body.get("dimensions")
    if dimensions is None:
        return
    valid = isinstance(dimensions, int) and not isinstance(dimensions, bool) and 1 <= dimensions <= MAX_EMBEDDING_DIMENSIONS
    if not valid:
        raise reject(
            f"Invalid 'dimensions': {dimensions!r}. Use an integer from 1 to {MAX_EMBEDDING_DIMENSIONS}.",
            param="dimensions",
            code="invalid_value",
        )
