"""Live with OpenAI API rate limits: mock server, backoff, throttling, batching, processing.

The public names below load their module on first use, so `import ratelimit_toolkit`
stays fast and does not load matplotlib, redis or tiktoken until they are needed::

    from ratelimit_toolkit import MockServer, RateLimiter, retry_with_tenacity
"""

from __future__ import annotations

import importlib
from typing import Any

from ratelimit_toolkit import _compat as _compat  # fail early, with the fix, on an old openai

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "Attempt": "recording",
    "Failure": "errors",
    "Limiter": "limiter",
    "MockServer": "mock",
    "RateLimiter": "limiter",
    "Recorder": "recording",
    "RedisRateLimiter": "redis_limiter",
    "RequestTooLargeError": "limiter",
    "RetryPolicy": "retry",
    "TokenEstimateError": "tokens",
    "classify": "errors",
    "complete_prompts": "batching",
    "count_text_tokens": "tokens",
    "delay_for": "limiter",
    "estimate_request": "tokens",
    "format_duration": "durations",
    "match_choices": "batching",
    "paced": "limiter",
    "parse_duration": "durations",
    "process_file": "processor",
    "process_file_sync": "processor",
    "read_results": "processor",
    "retry_with_backoff": "retry",
    "retry_with_exponential_backoff": "retry",
    "retry_with_tenacity": "retry",
    "run_batch_job": "batch_api",
    "setup_korean_font": "plots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ratelimit_toolkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ratelimit_toolkit.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
