"""The Files and Batches APIs of the mock server, in OpenAI's shapes.

`routes.add_batch_routes(app, state)` adds the routes; the mock server's
application factory calls it. `batch_*` fields of `MockSettings` shape the
batches: how long each stage takes, which requests fail on purpose, when a
batch expires, and the Batch API's limits.

This package's `__init__` imports only `limits`, because `mock.settings`
imports it and the routes import `mock.settings`.
"""

from __future__ import annotations

from ratelimit_toolkit.mock.batches.limits import (
    COMPLETION_WINDOW,
    DEFAULT_ENQUEUED_TOKEN_LIMIT,
    MAX_FILE_BYTES,
    MAX_REQUESTS_PER_FILE,
    MAX_UPLOAD_BYTES,
    SUPPORTED_ENDPOINTS,
    check_batch_settings,
)

__all__ = [
    "COMPLETION_WINDOW",
    "DEFAULT_ENQUEUED_TOKEN_LIMIT",
    "MAX_FILE_BYTES",
    "MAX_REQUESTS_PER_FILE",
    "MAX_UPLOAD_BYTES",
    "SUPPORTED_ENDPOINTS",
    "check_batch_settings",
]
