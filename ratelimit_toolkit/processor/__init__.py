"""A streaming, throttled, retried and resumable processor for JSONL files of API requests.

One input line is one request body, and each input line gets one output record.
Use `process_file` from async code (`await` it in Jupyter), `process_file_sync`
(alias `run`) from plain scripts, and `ratelimit-toolkit process` in a terminal.
`read_results` reads the output back in input order.
"""

from __future__ import annotations

from ratelimit_toolkit.processor.endpoints import EndpointTarget, parse_endpoint_url
from ratelimit_toolkit.processor.records import OutputLockedError, read_results
from ratelimit_toolkit.processor.api import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    MissingApiKeyError,
    process_file,
    process_file_sync,
    run,
    run_coroutine_sync,
)
from ratelimit_toolkit.processor.summary import ProcessSummary

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_TIMEOUT_SECONDS",
    "EndpointTarget",
    "MissingApiKeyError",
    "OutputLockedError",
    "ProcessSummary",
    "parse_endpoint_url",
    "process_file",
    "process_file_sync",
    "read_results",
    "run",
    "run_coroutine_sync",
]
