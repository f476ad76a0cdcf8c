"""Build the processor's `RateLimiter` and feed it response headers.

Limits the user gives are ceilings: the server's `x-ratelimit-limit-*` headers
may lower them (the user guessed too high) but never raise them, so a user can
keep a job to part of an account's limit. Limits the user leaves out are
learned from the headers, starting at `LEARNING_REQUESTS_PER_MINUTE`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from ratelimit_toolkit.limiter import LEARNING_REQUESTS_PER_MINUTE, RateLimiter, read_rate_limit_headers

logger = logging.getLogger(__name__)


class Throttle:
    """A `RateLimiter` plus the user's ceilings on the limits it may learn.

    Args:
        limiter: the limiter; `make_throttle` builds one from the options.
        ceilings: by kind (`requests`, `tokens`), a limit the server's headers may
            lower but not raise; kinds left out follow the headers freely.
    """

    def __init__(self, limiter: RateLimiter, ceilings: Mapping[str, float] | None = None) -> None:
        self.limiter = limiter
        self.ceilings = dict(ceilings or {})
        self._warned_no_headers = False

    @property
    def learned(self) -> bool:
        """True when some limit in force came from the headers rather than from the user."""
        return any(kind not in self.ceilings for kind in self.limiter.learned)

    async def admit(self, tokens: float) -> None:
        """Wait until a request of `tokens` tokens may be sent.

        Raises:
            RequestTooLargeError: `tokens` exceeds the tokens-per-minute limit.
        """
        await self.limiter.acquire_async(tokens)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Pass one response's headers to the limiter, without limits above the ceilings."""
        reported = read_rate_limit_headers(headers)
        if not self.ceilings:
            self._warn_if_nothing_to_learn(reported)
            self.limiter.observe(headers)
            return

        filtered_headers = {
            name: value for name, value in headers.items() if not _is_raised_limit(name, reported, self.ceilings)
        }
        self.limiter.observe(filtered_headers)

    def _warn_if_nothing_to_learn(self, reported: Mapping[str, object]) -> None:
        if self._warned_no_headers or self.limiter.learned:
            return
        if all(getattr(limit, "limit_per_minute", None) is None for limit in reported.values()):
            self._warned_no_headers = True
            logger.warning(
                "the server sent no x-ratelimit-limit-* headers, so no limits can be learned; "
                "the job runs at %g requests per minute until it does. Pass --rpm and --tpm "
                "(requests_per_minute=, tokens_per_minute=) to go faster",
                LEARNING_REQUESTS_PER_MINUTE,
            )


def make_throttle(
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    burst_seconds: float,
) -> Throttle:
    """Build the throttle for the given limits; None means "learn it from the headers"."""
    ceilings = {
        kind: value
        for kind, value in (("requests", requests_per_minute), ("tokens", tokens_per_minute))
        if value is not None
    }
    if not ceilings:
        return Throttle(RateLimiter.learning(burst_seconds=burst_seconds))

    limiter = RateLimiter(
        requests_per_minute,
        tokens_per_minute,
        burst_seconds=burst_seconds,
        learn_limits=len(ceilings) < 2,
    )
    return Throttle(limiter, ceilings)


def _is_raised_limit(name: str, reported: Mapping[str, object], ceilings: Mapping[str, float]) -> bool:
    lowered = name.lower()
    for kind, ceiling in ceilings.items():
        if lowered != f"x-ratelimit-limit-{kind}":
            continue
        limit = getattr(reported[kind], "limit_per_minute", None)
        return limit is None or not math.isfinite(limit) or limit > ceiling
    return False
