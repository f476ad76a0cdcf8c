"""The aiohttp request handlers of the mock server.

A generating request (chat completions, completions, embeddings) goes through
these steps, and the first step that produces a response ends it:

1. a scripted response, else the random faults (dropped connection, HTML 5xx);
2. the API key (401) and the `OpenAI-Organization` header (400 or 401), which
   pick the request's scope: the whole server, its key, or its organisation;
3. the body: size (413), JSON (400), required fields and shapes (400);
4. the quota mode (429 `insufficient_quota`);
5. the scope's rate-limit buckets (429 `rate_limit_exceeded`);
6. the generated response, after the configured latency (plus `slow_seconds` for a slow response).

Every response carries the `x-ratelimit-*` headers of the request's scope,
`x-request-id`, `openai-organization` and `openai-processing-ms`.

`GET /status` (an HTML page) and `GET /v1/status` (JSON) show each scope's
counts and remaining budget, with keys masked. They and `GET /v1/stats` need
no key and are not counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ratelimit_toolkit.mock import payloads
from ratelimit_toolkit.mock.auth import mask_api_key, read_api_key
from ratelimit_toolkit.mock.batches.routes import add_batch_routes
from ratelimit_toolkit.mock.buckets import Admission, LimitSnapshot
from ratelimit_toolkit.mock.faults import ScriptedResponse, html_error_page
from ratelimit_toolkit.mock.generation import generate
from ratelimit_toolkit.mock.scopes import ORGANIZATION_HEADER, OrganizationError, ScopeIdentity
from ratelimit_toolkit.mock.settings import MockSettings
from ratelimit_toolkit.mock.state import MockState
from ratelimit_toolkit.mock.stats import RequestRecord
from ratelimit_toolkit.mock.status import render_status_page
from ratelimit_toolkit.mock.validation import (
    RequestRejected,
    estimate_charge,
    parse_json_object,
    read_body,
    validate_body,
)
from ratelimit_toolkit.tokens import RequestEstimate

logger = logging.getLogger(__name__)

#: Models listed by `GET /v1/models`. Requests may name any model; the name only
#: picks the tokenizer and appears in responses and error messages.
MODELS = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1-mini",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "text-embedding-3-large",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_JSON = "application/json"
# One encoder for every response: `json.dumps` with options builds a new one per call.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False)
_MODELS_CREATED = 1_700_000_000


@dataclass
class Exchange:
    """Per-request bookkeeping of the handlers: ids, timing, the masked key and the scope."""

    request_id: str
    endpoint: str
    arrived_seconds: float
    started: float
    masked_key: str | None = None
    identity: ScopeIdentity | None = None


class MockApplication:
    """Build the aiohttp application of one mock server and handle its requests."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def build(self) -> web.Application:
        """Create the aiohttp application with every route."""
        app = web.Application(middlewares=[self.not_found_middleware])
        app.router.add_post("/v1/chat/completions", self.handle_chat)
        app.router.add_post("/v1/completions", self.handle_completions)
        app.router.add_post("/v1/embeddings", self.handle_embeddings)
        app.router.add_get("/v1/models", self.handle_models)
        app.router.add_get("/v1/stats", self.handle_stats)
        app.router.add_get("/v1/status", self.handle_status)
        app.router.add_get("/status", self.handle_status_page)
        add_batch_routes(app, self.state)
        return app

    @web.middleware
    async def not_found_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Turn aiohttp's 404 and 405 into OpenAI's 404 body, for routes added later too."""
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return self.handle_not_found(request)

    async def handle_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._handle_generation(request, "chat/completions")

    async def handle_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._handle_generation(request, "completions")

    async def handle_embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._handle_generation(request, "embeddings")

    async def handle_models(self, request: web.Request) -> web.StreamResponse:
        exchange = self._begin(request, "models")
        try:
            self._authenticate(request, exchange, self.state.settings)
        except RequestRejected as rejection:
            return self._reply_error(exchange, rejection.status, rejection.body)
        body = payloads.model_list(list(MODELS), _MODELS_CREATED)
        response = self._json_response(exchange, 200, body, self.state.limit_snapshot(exchange.identity))
        self._record(exchange, 200)
        return response

    async def handle_stats(self, request: web.Request) -> web.StreamResponse:
        """Return the statistics; this endpoint needs no key and is not counted."""
        exchange = self._begin(request, "stats")
        include_records = request.query.get("records", "").lower() in ("1", "true", "yes")
        body = self.state.stats.snapshot(include_records=include_records)
        return self._json_response(exchange, 200, body, self.state.limit_snapshot())

    async def handle_status(self, request: web.Request) -> web.StreamResponse:
        """Return each scope's counts and remaining budget as JSON; no key needed, not counted."""
        exchange = self._begin(request, "status")
        return self._json_response(exchange, 200, self.state.status(), self.state.limit_snapshot())

    async def handle_status_page(self, request: web.Request) -> web.StreamResponse:
        """Return the status as an HTML page that reloads itself; no key needed, not counted."""
        exchange = self._begin(request, "status")
        page = render_status_page(self.state.status())
        response = web.Response(status=200, text=page, content_type="text/html")
        response.headers.update(self._headers(exchange, self.state.limit_snapshot()))
        response.headers["Cache-Control"] = "no-store"
        return response

    def handle_not_found(self, request: web.Request) -> web.Response:
        exchange = self._begin(request, request.path.removeprefix("/v1/"))
        body = payloads.invalid_request_error(f"Invalid URL ({request.method} {request.path})")
        return self._reply_error(exchange, 404, body)

    async def _handle_generation(self, request: web.Request, endpoint: str) -> web.StreamResponse:
        exchange = self._begin(request, endpoint)
        try:
            return await self._generate(request, exchange)
        except RequestRejected as rejection:
            return self._reply_error(exchange, rejection.status, rejection.body)
        except Exception:  # respond to every request with a body and headers, even on a bug here
            logger.exception("mock server failed on request %s to %s", exchange.request_id, endpoint)
            return self._reply_error(exchange, 500, payloads.server_error(exchange.request_id))

    async def _generate(self, request: web.Request, exchange: Exchange) -> web.StreamResponse:
        scripted, faults = self.state.next_fault()
        if scripted is not None and not scripted.is_normal_answer:
            return await self._reply_scripted(request, exchange, scripted)
        if faults.drop:
            return await self._drop(request, exchange)
        if faults.failure_status is not None:
            return self._reply_html(exchange, faults.failure_status)

        settings = self.state.settings
        body, estimate, identity = await self._read_request(request, exchange, settings)
        admission, snapshot = self.state.admit(estimate.total, identity)
        if not admission.admitted:
            return self._reply_refusal(exchange, admission, snapshot, body["model"], settings)

        extra_delay_seconds = settings.slow_seconds if faults.slow else 0.0
        if scripted is not None:
            extra_delay_seconds += scripted.delay_seconds
        return await self._reply_answer(exchange, body, estimate, snapshot, settings, extra_delay_seconds)

    async def _read_request(
        self, request: web.Request, exchange: Exchange, settings: MockSettings
    ) -> tuple[dict[str, Any], RequestEstimate, ScopeIdentity]:
        """Check the key, the body and the quota mode; raise `RequestRejected` on the first failure."""
        identity = self._authenticate(request, exchange, settings)
        body = parse_json_object(await read_body(request, settings.max_body_bytes))
        validate_body(exchange.endpoint, body)
        estimate = estimate_charge(exchange.endpoint, body)
        if settings.quota_exhausted:
            raise RequestRejected(429, payloads.quota_error())
        return body, estimate, identity

    async def _reply_answer(
        self,
        exchange: Exchange,
        body: dict[str, Any],
        estimate: RequestEstimate,
        snapshot: LimitSnapshot,
        settings: MockSettings,
        extra_delay_seconds: float,
    ) -> web.Response:
        generated = generate(exchange.endpoint, body, estimate, settings)
        delay_seconds = settings.base_latency_seconds + settings.per_token_latency_seconds * generated.completion_tokens
        delay_seconds += extra_delay_seconds

        # Recorded before the delay, so a client that gives up still shows in the statistics.
        response = self._json_response(exchange, 200, generated.body, snapshot, delay_seconds=delay_seconds)
        self._record(exchange, 200, admitted=True, tokens=estimate.total)
        await _sleep(delay_seconds)
        return response

    def _begin(self, request: web.Request, endpoint: str) -> Exchange:
        return Exchange(
            request_id=f"req_{os.urandom(16).hex()}",
            endpoint=endpoint,
            arrived_seconds=self.state.stats.elapsed_seconds(),
            started=time.perf_counter(),
        )

    def _authenticate(self, request: web.Request, exchange: Exchange, settings: MockSettings) -> ScopeIdentity:
        """Check the key and find the request's scope; raise `RequestRejected` on failure."""
        key = read_api_key(request.headers)
        if key is None:
            raise RequestRejected(401, payloads.missing_key_error())
        exchange.masked_key = mask_api_key(key)
        if settings.api_keys is not None and key not in settings.api_keys:
            raise RequestRejected(401, payloads.invalid_key_error(exchange.masked_key))
        try:
            exchange.identity = self.state.identify(key, request.headers.get(ORGANIZATION_HEADER))
        except OrganizationError as error:
            raise RequestRejected(error.status, payloads.invalid_request_error(str(error), code=error.code)) from error
        return exchange.identity

    def _reply_refusal(
        self,
        exchange: Exchange,
        admission: Admission,
        snapshot: LimitSnapshot,
        model: str,
        settings: MockSettings,
    ) -> web.Response:
        organization = exchange.identity.organization if exchange.identity is not None else settings.organization
        body = payloads.rate_limit_error(admission, model, organization)
        extra_headers = {}
        if settings.retry_after_headers and not admission.too_large:
            extra_headers = payloads.retry_after_headers(admission.wait_seconds)
        response = self._json_response(exchange, 429, body, snapshot, extra_headers=extra_headers)
        self._record(exchange, 429, error=body["error"])
        logger.debug("request %s rejected with 429: %s", exchange.request_id, body["error"]["message"])
        return response

    def _reply_error(self, exchange: Exchange, status: int, body: dict[str, Any]) -> web.Response:
        response = self._json_response(exchange, status, body, self.state.limit_snapshot(exchange.identity))
        self._record(exchange, status, error=body["error"])
        logger.debug("request %s failed with status %d: %s", exchange.request_id, status, body["error"]["message"])
        return response

    def _reply_html(self, exchange: Exchange, status: int) -> web.Response:
        response = web.Response(status=status, text=html_error_page(status), content_type="text/html")
        response.headers.update(self._headers(exchange, self.state.limit_snapshot()))
        self._record(exchange, status)
        logger.debug("request %s: injected failure with status %d", exchange.request_id, status)
        return response

    async def _reply_scripted(self, request: web.Request, exchange: Exchange, scripted: ScriptedResponse) -> web.StreamResponse:
        if scripted.drop:
            return await self._drop(request, exchange, scripted.delay_seconds)

        snapshot = self.state.limit_snapshot()
        settings = self.state.settings
        body = scripted.body
        if body is None:
            body = await self._default_scripted_body(request, scripted.status, settings)

        response = self._any_response(scripted.status, body)
        response.headers.update(self._headers(exchange, snapshot, scripted.delay_seconds))
        if scripted.status == 429 and settings.retry_after_headers:
            response.headers.update(payloads.retry_after_headers(60.0 / settings.rpm))
        response.headers.update(scripted.headers)

        error = body.get("error") if isinstance(body, dict) else None
        self._record(exchange, scripted.status, error=error if isinstance(error, dict) else None)
        await _sleep(scripted.delay_seconds)
        return response

    async def _default_scripted_body(self, request: web.Request, status: int, settings: MockSettings) -> dict[str, Any] | str:
        if status >= 500:
            return html_error_page(status)
        if status == 429:
            model = await _peek_model(request, settings.max_body_bytes)
            wait_seconds = 60.0 / settings.rpm
            admission = Admission(False, "requests", wait_seconds, settings.rpm, settings.rpm, 1)
            return payloads.rate_limit_error(admission, model, settings.organization)
        return payloads.invalid_request_error(f"The mock server's script answered this request with status {status}.")

    async def _drop(self, request: web.Request, exchange: Exchange, delay_seconds: float = 0.0) -> web.StreamResponse:
        self._record(exchange, None)
        logger.debug("request %s: dropping the connection", exchange.request_id)
        await _sleep(delay_seconds)
        if request.transport is not None:
            request.transport.close()
        # Never sent: the connection is already closed.
        return web.Response(status=204)

    def _json_response(
        self,
        exchange: Exchange,
        status: int,
        body: dict[str, Any],
        snapshot: LimitSnapshot,
        *,
        extra_headers: dict[str, str] | None = None,
        delay_seconds: float = 0.0,
    ) -> web.Response:
        data = _JSON_ENCODER.encode(body).encode("utf-8")
        response = web.Response(status=status, body=data, content_type=_JSON)
        response.headers.update(self._headers(exchange, snapshot, delay_seconds))
        if extra_headers:
            response.headers.update(extra_headers)
        return response

    def _headers(self, exchange: Exchange, snapshot: LimitSnapshot, delay_seconds: float = 0.0) -> dict[str, str]:
        processing_ms = round((time.perf_counter() - exchange.started + delay_seconds) * 1000)
        headers = payloads.rate_limit_headers(snapshot)
        headers["x-request-id"] = exchange.request_id
        identity = exchange.identity
        headers["openai-organization"] = identity.organization if identity is not None else self.state.settings.organization
        headers["openai-processing-ms"] = str(processing_ms)
        headers["openai-version"] = "2020-10-01"
        return headers

    def _record(
        self,
        exchange: Exchange,
        status: int | None,
        *,
        admitted: bool = False,
        tokens: int = 0,
        error: dict[str, Any] | None = None,
    ) -> None:
        record = RequestRecord(
            seconds=exchange.arrived_seconds,
            endpoint=exchange.endpoint,
            status=status,
            admitted=admitted,
            tokens=tokens,
            error_type=error.get("type") if error else None,
            error_code=error.get("code") if error else None,
            key=exchange.masked_key,
        )
        self.state.stats.record(record)

    @staticmethod
    def _any_response(status: int, body: dict[str, Any] | str | bytes) -> web.Response:
        if isinstance(body, dict):
            return web.Response(status=status, body=json.dumps(body).encode("utf-8"), content_type=_JSON)
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, content_type="application/octet-stream")
        content_type = "text/html" if body.lstrip().startswith("<") else "text/plain"
        return web.Response(status=status, text=body, content_type=content_type)


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _peek_model(request: web.Request, max_body_bytes: int) -> str:
    """Read the `model` of a request body for a message, or a placeholder when there is none."""
    try:
        body = parse_json_object(await read_body(request, max_body_bytes))
    except RequestRejected:
        return "the requested model"
    model = body.get("model")
    return model if isinstance(model, str) and model else "the requested model"
