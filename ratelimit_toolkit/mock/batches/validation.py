"""Validate a batch input file the way the Batch API does before running it.

A file that breaks a rule fails the whole batch: the batch's status becomes
`failed` and `errors.data` lists each problem with its 1-based `line`.

NOTE: OpenAI does not publish its list of validation error codes. Apart from
`token_limit_exceeded`, the codes here are this mock server's own names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ratelimit_toolkit import tokens
from ratelimit_toolkit.mock.batches.shapes import batch_error

#: Validation errors reported for one file at most; checking stops there.
MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True)
class BatchTask:
    """One request of a validated batch input file.

    Attributes:
        line: the 1-based line number in the input file.
        custom_id: the caller's id, echoed in the output.
        body: the request body.
        prompt_tokens: its estimated prompt tokens, 0 when the body cannot be
            estimated (it then fails with a 400 when it runs, as on OpenAI).
    """

    line: int
    custom_id: str
    body: dict[str, Any]
    prompt_tokens: int


@dataclass
class FileCheck:
    """The requests of an input file, or the reasons it is rejected."""

    tasks: list[BatchTask] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None

    @property
    def prompt_tokens(self) -> int:
        return sum(task.prompt_tokens for task in self.tasks)

    def reject(self, code: str, message: str, *, line: int | None = None, param: str | None = None) -> None:
        self.errors.append(batch_error(code, message, line=line, param=param))


def check_input_file(data: bytes, endpoint: str, *, max_requests: int, max_bytes: int) -> FileCheck:
    """Parse and check every line of a batch input file for `endpoint` (such as `/v1/chat/completions`)."""
    check = FileCheck()
    if len(data) > max_bytes:
        check.reject("file_too_large", f"The input file is {len(data):,} bytes, above the limit of {max_bytes:,} bytes. "
                     "Split it into several batches.")
        return check

    seen_ids: set[str] = set()
    lines = data.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if len(check.errors) >= MAX_REPORTED_ERRORS:
            break
        _check_line(check, number, raw, endpoint, seen_ids)

    if not lines:
        check.reject("empty_file", "The input file has no requests. Put one JSON request per line.")
    elif len(lines) > max_requests:
        check.reject("too_many_lines", f"The input file has {len(lines):,} requests, above the limit of "
                     f"{max_requests:,} per batch. Split it into several batches.")
    return check


def _check_line(check: FileCheck, number: int, raw: bytes, endpoint: str, seen_ids: set[str]) -> None:
    try:
        request = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        check.reject("invalid_json_line", "This line is not valid JSON. Put one JSON object per line.", line=number)
        return
    if not isinstance(request, dict):
        check.reject("invalid_json_line", f"This line is a JSON {type(request).__name__}, not an object.", line=number)
        return

    custom_id = _check_custom_id(check, number, request.get("custom_id"), seen_ids)
    method_ok = _check_method(check, number, request.get("method"))
    url_ok = _check_url(check, number, request.get("url"), endpoint)
    body = _check_body(check, number, request.get("body"))
    if custom_id is None or not method_ok or not url_ok or body is None:
        return
    check.tasks.append(BatchTask(number, custom_id, body, _prompt_tokens(endpoint, body)))


def _check_custom_id(check: FileCheck, number: int, custom_id: object, seen_ids: set[str]) -> str | None:
    if custom_id is None:
        check.reject("missing_required_parameter", "Missing required parameter: 'custom_id'.", line=number, param="custom_id")
        return None
    if not isinstance(custom_id, str) or not custom_id:
        check.reject("invalid_custom_id", f"Invalid 'custom_id': expected a non-empty string, got {custom_id!r}.",
                     line=number, param="custom_id")
        return None
    if custom_id in seen_ids:
        check.reject("duplicate_custom_id", f"The custom_id {custom_id!r} is used by an earlier line; "
                     "every request in a batch needs its own custom_id.", line=number, param="custom_id")
        return None
    seen_ids.add(custom_id)
    return custom_id


def _check_method(check: FileCheck, number: int, method: object) -> bool:
    if method == "POST":
        return True
    check.reject("invalid_method", f"Invalid 'method': {method!r}. Batch requests use 'POST'.", line=number, param="method")
    return False


def _check_url(check: FileCheck, number: int, url: object, endpoint: str) -> bool:
    if url == endpoint:
        return True
    check.reject("invalid_url", f"The 'url' {url!r} does not match the batch's endpoint {endpoint!r}. "
                 "Every request in a batch goes to the batch's endpoint.", line=number, param="url")
    return False


def _check_body(check: FileCheck, number: int, body: object) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        check.reject("missing_required_parameter", "Missing required parameter: 'body' (a JSON object).",
                     line=number, param="body")
        return None
    model = body.get("model")
    if not isinstance(model, str) or not model:
        check.reject("missing_required_parameter", "Missing required parameter: 'body.model'.", line=number, param="body.model")
        return None
    if check.model is None:
        check.model = model
    elif model != check.model:
        check.reject("mismatched_model", f"The model {model!r} differs from {check.model!r} on earlier lines; "
                     "a batch runs one model, so put each model in its own batch.", line=number, param="body.model")
        return None
    return body


def _prompt_tokens(endpoint: str, body: dict[str, Any]) -> int:
    try:
        return tokens.estimate_request(endpoint, body).prompt_tokens
    except tokens.TokenEstimateError:
        return 0
