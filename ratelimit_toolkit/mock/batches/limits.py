"""The Batch API's published limits and the checks for the mock server's `batch_*` settings.

This module imports nothing from the mock server, so `mock.settings` can use
its checks without an import cycle.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: Requests one batch input file may hold, as OpenAI's Batch API documents.
MAX_REQUESTS_PER_FILE = 50_000

#: Bytes one batch input file may hold. OpenAI documents "200 MB"; this reads
#: it as 200,000,000 bytes, the stricter of the two readings.
MAX_FILE_BYTES = 200_000_000

#: Bytes one uploaded file may hold, for any purpose, as OpenAI's Files API documents (512 MB).
MAX_UPLOAD_BYTES = 512_000_000

#: The only completion window OpenAI accepts.
COMPLETION_WINDOW = "24h"

#: Seconds in the `24h` completion window, for `expires_at`.
COMPLETION_WINDOW_SECONDS = 24 * 3600.0

#: Batch endpoints the mock server runs. OpenAI accepts more (responses,
#: moderations, images), which the mock server does not serve.
SUPPORTED_ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")

#: Prompt tokens that may wait in unfinished batches of one model. OpenAI sets
#: this "batch queue limit" per model and usage tier; 2,000,000 is the
#: tier-1 gpt-4o-mini figure of its limits table, as quoted on OpenAI's community forum.
DEFAULT_ENQUEUED_TOKEN_LIMIT = 2_000_000

_SECONDS_FIELDS = (
    "batch_validating_seconds",
    "batch_seconds_per_request",
    "batch_finalizing_seconds",
)


def check_batch_settings(settings: Any) -> None:
    """Check the `batch_*` fields of a `MockSettings`.

    Raises:
        ValueError: a field is out of range; the message names it and the allowed values.
    """
    for name in _SECONDS_FIELDS:
        _check_seconds(name, getattr(settings, name))
    _check_window(settings.batch_completion_window_seconds)
    _check_optional_count("batch_expire_after_requests", settings.batch_expire_after_requests, minimum=0)
    _check_rate(settings.batch_failure_rate)
    _check_pattern(settings.batch_failing_custom_ids)
    _check_count("batch_max_requests", settings.batch_max_requests)
    _check_count("batch_max_file_bytes", settings.batch_max_file_bytes)
    _check_count("batch_enqueued_token_limit", settings.batch_enqueued_token_limit)


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check_seconds(name: str, value: object) -> None:
    if not _is_number(value) or value < 0:  # type: ignore[operator]
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


def _check_window(value: object) -> None:
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        raise ValueError(
            f"batch_completion_window_seconds must be a finite number of seconds > 0, got {value!r}; "
            f"{COMPLETION_WINDOW_SECONDS:g} is OpenAI's 24h window"
        )


def _check_rate(value: object) -> None:
    if not _is_number(value) or not 0.0 <= value <= 1.0:  # type: ignore[operator]
        raise ValueError(f"batch_failure_rate must be a probability between 0 and 1, got {value!r}")


def _check_pattern(value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"batch_failing_custom_ids must be a non-empty regular expression or None, got {value!r}")
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"batch_failing_custom_ids is not a valid regular expression ({error}): {value!r}") from error


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _check_optional_count(name: str, value: object, *, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} or None, got {value!r}")
