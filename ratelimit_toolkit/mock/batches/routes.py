"""The Files and Batches API routes of the mock server.

`add_batch_routes(app, state)` adds them to the server's aiohttp application:

- `POST /v1/files` (multipart: `file`, `purpose`), `GET /v1/files`,
  `GET /v1/files/{id}`, `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}`;
- `POST /v1/batches`, `GET /v1/batches`, `GET /v1/batches/{id}`,
  `POST /v1/batches/{id}/cancel`.

These calls need an API key like every other route, are recorded in the
statistics, and are not charged to the RPM and TPM buckets: the Batch API has
its own limit, the prompt tokens enqueued per model (`batch_enqueued_token_limit`).
Batch requests themselves never appear in the statistics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

from aiohttp import web

from ratelimit_toolkit.mock import payloads
from ratelimit_toolkit.mock.auth import mask_api_key, read_api_key
from ratelimit_toolkit.mock.batches.limits import COMPLETION_WINDOW, COMPLETION_WINDOW_SECONDS, SUPPORTED_ENDPOINTS
from ratelimit_toolkit.mock.batches.processing import BatchRun
from ratelimit_toolkit.mock.batches.shapes import batch_object, file_object, object_list
from ratelimit_toolkit.mock.batches.store import FINAL_STATUSES, BatchRecord, BatchStore, StoredFile, now_seconds
from ratelimit_toolkit.mock.batches.uploads import read_upload
from ratelimit_toolkit.mock.state import MockState
from ratelimit_toolkit.mock.stats import RequestRecord
from ratelimit_toolkit.mock.validation import RequestRejected, parse_json_object, read_body, reject

logger = logging.getLogger(__name__)

#: Key of the application's `BatchStore`.
BATCH_STORE_KEY = web.AppKey("batch_store", BatchStore)

#: Objects one list page returns without `limit`, and at most, as OpenAI's list endpoints do.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

#: Metadata bounds OpenAI documents: 16 pairs, keys up to 64 characters, values up to 512.
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512


def add_batch_routes(app: web.Application, state: MockState) -> BatchStore:
    """Add the Files and Batches routes to `app`, before any catch-all route, and return their store.

    Running batches are cancelled when the application shuts down.
    """
    store = BatchStore()
    app[BATCH_STORE_KEY] = store
    routes = BatchRoutes(state, store)
    app.router.add_post("/v1/files", routes.create_file)
    app.router.add_get("/v1/files", routes.list_files)
    app.router.add_get("/v1/files/{file_id}", routes.retrieve_file)
    app.router.add_delete("/v1/files/{file_id}", routes.delete_file)
    app.router.add_get("/v1/files/{file_id}/content", routes.file_content)
    app.router.add_post("/v1/batches", routes.create_batch)
    app.router.add_get("/v1/batches", routes.list_batches)
    app.router.add_get("/v1/batches/{batch_id}", routes.retrieve_batch)
    app.router.add_post("/v1/batches/{batch_id}/cancel", routes.cancel_batch)

    async def cancel_running(app: web.Application) -> None:
        await store.cancel_tasks()

    app.on_shutdown.append(cancel_running)
    return store


class BatchRoutes:
    """The handlers; each one authenticates, builds the response, and records the call in the statistics."""

    def __init__(self, state: MockState, store: BatchStore) -> None:
        self.state = state
        self.store = store

    async def create_file(self, request: web.Request) -> web.Response:
        return await self._handle(request, "files", self._create_file)

    async def list_files(self, request: web.Request) -> web.Response:
        return await self._handle(request, "files", self._list_files)

    async def retrieve_file(self, request: web.Request) -> web.Response:
        return await self._handle(request, "files", self._retrieve_file)

    async def delete_file(self, request: web.Request) -> web.Response:
        return await self._handle(request, "files", self._delete_file)

    async def file_content(self, request: web.Request) -> web.Response:
        return await self._handle(request, "files", self._file_content)

    async def create_batch(self, request: web.Request) -> web.Response:
        return await self._handle(request, "batches", self._create_batch)

    async def list_batches(self, request: web.Request) -> web.Response:
        return await self._handle(request, "batches", self._list_batches)

    async def retrieve_batch(self, request: web.Request) -> web.Response:
        return await self._handle(request, "batches", self._retrieve_batch)

    async def cancel_batch(self, request: web.Request) -> web.Response:
        return await self._handle(request, "batches", self._cancel_batch)

    async def _handle(self, request: web.Request, endpoint: str, answer: Any) -> web.Response:
        """Authenticate, run `answer`, and turn a `RequestRejected` into its error response."""
        request_id = f"req_{os.urandom(16).hex()}"
        started = time.perf_counter()
        arrived_seconds = self.state.stats.elapsed_seconds()
        masked_key: str | None = None
        try:
            masked_key = self._authenticate(request)
            status, body = await answer(request)
        except RequestRejected as rejection:
            status, body = rejection.status, rejection.body
            logger.debug("request %s to %s rejected with status %d: %s", request_id, endpoint, status,
                         body["error"]["message"])
        except Exception:  # return a response with a body to every request, even on a bug here
            logger.exception("mock server failed on request %s to %s", request_id, endpoint)
            status, body = 500, payloads.server_error(request_id)

        error = body.get("error") if isinstance(body, dict) else None
        self.state.stats.record(RequestRecord(
            seconds=arrived_seconds,
            endpoint=endpoint,
            status=status,
            error_type=error.get("type") if isinstance(error, dict) else None,
            error_code=error.get("code") if isinstance(error, dict) else None,
            key=masked_key,
        ))
        return self._response(status, body, request_id, started)

    def _authenticate(self, request: web.Request) -> str:
        key = read_api_key(request.headers)
        if key is None:
            raise RequestRejected(401, payloads.missing_key_error())
        masked = mask_api_key(key)
        accepted = self.state.settings.api_keys
        if accepted is not None and key not in accepted:
            raise RequestRejected(401, payloads.invalid_key_error(masked))
        return masked

    def _response(self, status: int, body: dict[str, Any] | bytes, request_id: str, started: float) -> web.Response:
        if isinstance(body, bytes):
            response = web.Response(status=status, body=body, content_type="application/octet-stream")
        else:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            response = web.Response(status=status, body=data, content_type="application/json")
        response.headers["x-request-id"] = request_id
        response.headers["openai-organization"] = self.state.settings.organization
        response.headers["openai-processing-ms"] = str(round((time.perf_counter() - started) * 1000))
        response.headers["openai-version"] = "2020-10-01"
        return response

    async def _create_file(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        upload = await read_upload(request)
        stored = self.store.add_file(upload.filename, upload.purpose, upload.data)
        logger.info("file %s uploaded: %s, %d bytes, purpose %s", stored.id, stored.filename, len(stored.data),
                    stored.purpose)
        return 200, file_object(stored)

    async def _list_files(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        purpose = request.query.get("purpose")
        files = [stored for stored in reversed(self.store.files.values()) if purpose in (None, stored.purpose)]
        page, has_more = _page(files, request)
        return 200, object_list([file_object(stored) for stored in page], has_more=has_more)

    async def _retrieve_file(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        return 200, file_object(self._file(request.match_info["file_id"]))

    async def _delete_file(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        stored = self._file(request.match_info["file_id"])
        del self.store.files[stored.id]
        return 200, {"id": stored.id, "object": "file", "deleted": True}

    async def _file_content(self, request: web.Request) -> tuple[int, bytes]:
        return 200, self._file(request.match_info["file_id"]).data

    async def _create_batch(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        body = parse_json_object(await read_body(request, self.state.settings.max_body_bytes))
        input_file_id = _required_string(body, "input_file_id")
        endpoint = _check_endpoint(_required_string(body, "endpoint"))
        window = _check_window(_required_string(body, "completion_window"))
        metadata = _check_metadata(body.get("metadata"))
        stored = self._file(input_file_id)
        if stored.purpose != "batch":
            raise reject(f"File {input_file_id} has purpose {stored.purpose!r}; a batch input file needs purpose 'batch'.",
                         param="input_file_id", code="invalid_value")

        created_at = now_seconds()
        batch = BatchRecord(payloads.new_id("batch_"), endpoint, input_file_id, window, metadata, created_at,
                            expires_at=created_at + int(COMPLETION_WINDOW_SECONDS))
        self.store.add_batch(batch)
        self.store.keep_task(asyncio.get_running_loop().create_task(BatchRun(batch, self.store, self.state).run()))
        return 200, batch_object(batch)

    async def _list_batches(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        page, has_more = _page(self.store.newest_first(), request)
        return 200, object_list([batch_object(batch) for batch in page], has_more=has_more)

    async def _retrieve_batch(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        return 200, batch_object(self._batch(request.match_info["batch_id"]))

    async def _cancel_batch(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        batch = self._batch(request.match_info["batch_id"])
        if batch.status in FINAL_STATUSES or batch.status == "finalizing":
            # NOTE: the status and wording for this case are the mock server's choice.
            raise reject(f"Cannot cancel a batch with status {batch.status!r}.", code="invalid_state", status=409)
        if not batch.cancel_requested:
            batch.cancel_requested = True
            batch.move_to("cancelling")
            logger.info("batch %s cancelling", batch.id)
        return 200, batch_object(batch)

    def _file(self, file_id: str) -> StoredFile:
        stored = self.store.files.get(file_id)
        if stored is None:
            raise reject(f"No such File object: {file_id}", param="id", status=404)
        return stored

    def _batch(self, batch_id: str) -> BatchRecord:
        batch = self.store.batches.get(batch_id)
        if batch is None:
            raise reject(f"No batch found with id '{batch_id}'.", param="id", status=404)
        return batch


def _page(items: list[Any], request: web.Request) -> tuple[list[Any], bool]:
    """Cut one page after the `after` id, of `limit` items (1 to 100, default 20)."""
    limit_text = request.query.get("limit", str(DEFAULT_PAGE_SIZE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
        raise reject(f"Invalid 'limit': {limit_text!r}. Use an integer from 1 to {MAX_PAGE_SIZE}.", param="limit",
                     code="invalid_value")
    after = request.query.get("after")
    ids = [item.id for item in items]
    start = ids.index(after) + 1 if after in ids else 0
    page = items[start:start + int(limit_text)]
    return page, start + len(page) < len(items)


def _required_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise reject(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    if not isinstance(value, str) or not value:
        raise reject(f"Invalid '{name}': expected a non-empty string, got {value!r}.", param=name, code="invalid_type")
    return value


def _check_endpoint(endpoint: str) -> str:
    if endpoint not in SUPPORTED_ENDPOINTS:
        raise reject(f"Invalid 'endpoint': {endpoint!r}. The mock server runs batches for "
                     f"{', '.join(SUPPORTED_ENDPOINTS)}.", param="endpoint", code="invalid_value")
    return endpoint


def _check_window(window: str) -> str:
    if window != COMPLETION_WINDOW:
        raise reject(f"Invalid 'completion_window': {window!r}. Only '{COMPLETION_WINDOW}' is supported.",
                     param="completion_window", code="invalid_value")
    return window


def _check_metadata(metadata: object) -> dict[str, str] | None:
    if metadata is None:
        return None
    valid = isinstance(metadata, dict) and len(metadata) <= MAX_METADATA_PAIRS and all(
        isinstance(key, str) and len(key) <= MAX_METADATA_KEY_CHARS
        and isinstance(value, str) and len(value) <= MAX_METADATA_VALUE_CHARS
        for key, value in metadata.items()
    )
    if not valid:
        raise reject(f"Invalid 'metadata': use at most {MAX_METADATA_PAIRS} string pairs, keys up to "
                     f"{MAX_METADATA_KEY_CHARS} characters and values up to {MAX_METADATA_VALUE_CHARS}.",
                     param="metadata", code="invalid_value")
    return dict(metadata)  # type: ignore[arg-type]
