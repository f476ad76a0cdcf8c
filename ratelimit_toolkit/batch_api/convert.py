"""Turn the processor's input lines into Batch API request lines.

A processor input line is a request body with an optional `metadata` field.
Its batch line is::

    {"custom_id": "line-7", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

`body` is the input line without `metadata`, exactly what `process` would
send, so both paths get the same answer for it. The metadata stays in the
input file and is joined back in by line number when results are merged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratelimit_toolkit.processor.inputs import InputLine, iter_input
from ratelimit_toolkit.tokens import ENDPOINTS, TokenEstimateError, estimate_request

#: Prefix of the `custom_id` made from an input line number: line 7 becomes `line-7`.
LINE_ID_PREFIX = "line-"

#: Endpoints a batch may target, as `url` values. The Batch API accepts a few
#: more (moderations, images) that the processor's token estimator does not know.
BATCH_ENDPOINTS = tuple(f"/v1/{name}" for name in ENDPOINTS)


class CustomIdError(ValueError):
    """A `custom_id` cannot be taken from an input line's metadata."""


def check_endpoint(endpoint: str) -> str:
    """Return `endpoint` (such as `/v1/chat/completions`) when a batch can target it.

    Raises:
        ValueError: it is not one of `BATCH_ENDPOINTS`.
    """
    if endpoint not in BATCH_ENDPOINTS:
        raise ValueError(f"endpoint {endpoint!r} cannot be used for a batch here; use one of {', '.join(BATCH_ENDPOINTS)}")
    return endpoint


def custom_id_for(item: InputLine, custom_id_field: str | None) -> str:
    """Choose the `custom_id` of one input line: `line-<n>`, or the value of a metadata field.

    Raises:
        CustomIdError: `custom_id_field` is set and the line's metadata has no
            string or integer value under it.
    """
    if custom_id_field is None:
        return f"{LINE_ID_PREFIX}{item.line}"
    metadata = item.metadata
    value = metadata.get(custom_id_field) if isinstance(metadata, dict) else None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise CustomIdError(
            f"input line {item.line} has no usable metadata[{custom_id_field!r}] (got {value!r}); "
            f"give every line a non-empty string or integer there, or leave out the custom id field "
            f"to use line numbers"
        )
    return str(value)


@dataclass(frozen=True)
class LineCheck:
    """Whether one input line can go into a batch.

    Attributes:
        problem: None when the line can be sent, else (error kind, message)
            with the processor's kinds: `invalid_json` or `invalid_request`.
        model: the body's `model`, which picks the batch it goes into.
        prompt_tokens: estimated prompt tokens, the figure the enqueued token limit counts.
    """

    problem: tuple[str, str] | None
    model: str = ""
    prompt_tokens: int = 0


def check_line(item: InputLine, endpoint: str) -> LineCheck:
    """Check one input line as `process` would before sending it, plus the `model` a batch needs.

    `process` sends a body without `model` and records the API's 400; a batch
    file with such a line fails as a whole, so here the line is not sent and
    gets an `invalid_request` record.
    """
    if item.body is None:
        return LineCheck(("invalid_json", item.problem or "invalid line"))
    try:
        estimate = estimate_request(endpoint, item.body)
    except TokenEstimateError as error:
        return LineCheck(("invalid_request", str(error)))
    model = item.body.get("model")
    if not isinstance(model, str) or not model:
        return LineCheck(("invalid_request", "the body has no 'model'; every batch request needs one"))
    return LineCheck(None, model, estimate.prompt_tokens)


def batch_line(custom_id: str, endpoint: str, body: dict[str, Any]) -> bytes:
    """Encode one batch request line, newline included."""
    request = {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body}
    return json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n"



def convert_file(input_path: str | Path, destination: str | Path, *, endpoint: str = "/v1/chat/completions",
                 custom_id_field: str | None = None) -> int:
    """Write one batch input file with every sendable line of a processor input; return the lines written.

    It does not split; `run_batch_job` splits at the per-file limits and
    records the lines that cannot be sent. Use this to look at the format or
    to upload a small file yourself.
    """
    check_endpoint(endpoint)
    written = 0
    with open(destination, "wb") as handle:
        for item in iter_input(input_path):
            if item.body is None or check_line(item, endpoint).problem is not None:
                continue
            handle.write(batch_line(custom_id_for(item, custom_id_field), endpoint, item.body))
            written += 1
    return written
