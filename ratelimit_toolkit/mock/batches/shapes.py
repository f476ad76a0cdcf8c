"""Files and Batches API bodies in OpenAI's shapes."""

from __future__ import annotations

from typing import Any

from ratelimit_toolkit.mock.batches.store import BatchRecord, StoredFile

_TIMESTAMP_FIELDS = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def file_object(stored: StoredFile) -> dict[str, Any]:
    """Build a `file` object."""
    return {
        "id": stored.id,
        "object": "file",
        "bytes": len(stored.data),
        "created_at": stored.created_at,
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def batch_object(batch: BatchRecord) -> dict[str, Any]:
    """Build a `batch` object."""
    body: dict[str, Any] = {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "model": batch.model,
        "errors": None if batch.errors is None else {"object": "list", "data": batch.errors},
        "input_file_id": batch.input_file_id,
        "completion_window": batch.completion_window,
        "status": batch.status,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "created_at": batch.created_at,
        "expires_at": batch.expires_at,
    }
    for name in _TIMESTAMP_FIELDS:
        body[name] = batch.timestamps.get(name)
    body["request_counts"] = {"total": batch.total, "completed": batch.completed, "failed": batch.failed}
    body["usage"] = _usage(batch)
    body["metadata"] = batch.metadata
    return body


def object_list(data: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    """Build a paginated `list`, as `GET /v1/batches` and `GET /v1/files` return."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def batch_error(code: str, message: str, *, line: int | None = None, param: str | None = None) -> dict[str, Any]:
    """Build one `errors.data` item of a failed batch; `line` is 1-based."""
    return {"code": code, "message": message, "param": param, "line": line}


def output_line(line_id: str, custom_id: str, status_code: int, request_id: str, body: Any) -> dict[str, Any]:
    """Build one line of an output or error file for a request that ran."""
    response = {"status_code": status_code, "request_id": request_id, "body": body}
    return {"id": line_id, "custom_id": custom_id, "response": response, "error": None}


def unrun_line(line_id: str, custom_id: str, code: str, message: str) -> dict[str, Any]:
    """Build one error-file line for a request that never ran (expired or cancelled batch)."""
    return {"id": line_id, "custom_id": custom_id, "response": None, "error": {"code": code, "message": message}}


def token_limit_message(model: str, organization: str, limit: int) -> str:
    """Build the message of the `token_limit_exceeded` validation error."""
    return (
        f"Enqueued token limit reached for {model} in organization {organization}. "
        f"Limit: {limit:,} enqueued tokens. Please try again once some in_progress batches have been completed."
    )


def _usage(batch: BatchRecord) -> dict[str, Any]:
    usage = batch.usage
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
