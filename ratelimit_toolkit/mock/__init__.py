"""An OpenAI-compatible mock server with OpenAI's rate limits, errors and headers.

Start one in a background thread with `MockServer` (a context manager whose
`base_url` goes to the `openai` client), or in a terminal with
`ratelimit-toolkit serve`.
"""

from __future__ import annotations

from ratelimit_toolkit.mock.buckets import Admission, LimitSnapshot, RateLimits, TokenBucket
from ratelimit_toolkit.mock.faults import ScriptedResponse
from ratelimit_toolkit.mock.server import MockServer
from ratelimit_toolkit.mock.settings import DEFAULT_MAX_BODY_BYTES, MockSettings
from ratelimit_toolkit.mock.stats import RequestRecord, process_totals

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "Admission",
    "LimitSnapshot",
    "MockServer",
    "MockSettings",
    "RateLimits",
    "RequestRecord",
    "ScriptedResponse",
    "TokenBucket",
    "process_totals",
]
