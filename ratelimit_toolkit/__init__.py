"""Live with OpenAI API rate limits: mock server, backoff, throttling, batching, processing."""

from __future__ import annotations

__version__ = "0.1.0"
