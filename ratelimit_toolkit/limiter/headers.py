"""Read OpenAI's `x-ratelimit-*` response headers into numbers.

Every OpenAI response (and every response of the mock server) carries, for
requests and for tokens: `x-ratelimit-limit-*` (the per-minute limit),
`x-ratelimit-remaining-*` (what is left now) and `x-ratelimit-reset-*` (how long
until the limit is fully replenished, as a duration such as `1s`, `6m0s` or
`20ms`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ratelimit_toolkit.durations import parse_duration

#: The two kinds of limit the headers describe.
KINDS = ("requests", "tokens")


@dataclass(frozen=True)
class ServerLimit:
    """One kind of limit as the server reported it, with None where a header was missing or invalid.

    Attributes:
        limit_per_minute: from `x-ratelimit-limit-*`.
        remaining: from `x-ratelimit-remaining-*`.
        reset_seconds: from `x-ratelimit-reset-*`, in seconds.
    """

    limit_per_minute: float | None = None
    remaining: float | None = None
    reset_seconds: float | None = None

    def deficit(self, limit_per_minute: float) -> float | None:
        """Return how far the server's bucket was from full, in requests or tokens, if known.

        The reset time times the refill rate is the most precise figure, because
        servers round `remaining` down to whole units. Without a reset header,
        `limit - remaining` serves, which assumes the server reports remaining
        out of the whole per-minute limit.

        Args:
            limit_per_minute: the limit to use when the response carried no limit header.
        """
        limit = self.limit_per_minute or limit_per_minute
        if self.reset_seconds is not None:
            return self.reset_seconds * limit / 60.0
        if self.remaining is not None:
            return max(0.0, limit - self.remaining)
        return None


def read_rate_limit_headers(headers: Mapping[str, str]) -> dict[str, ServerLimit]:
    """Parse the `x-ratelimit-*` headers of one response, by kind (`requests`, `tokens`).

    Header names are matched case-insensitively. Missing, negative, non-numeric
    and non-finite values become None instead of raising, because a proxy
    may strip or mangle headers.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    limits = {}
    for kind in KINDS:
        limit = _parse_count(lowered.get(f"x-ratelimit-limit-{kind}"))
        limits[kind] = ServerLimit(
            limit_per_minute=limit if limit else None,
            remaining=_parse_count(lowered.get(f"x-ratelimit-remaining-{kind}")),
            reset_seconds=parse_duration(lowered.get(f"x-ratelimit-reset-{kind}")),
        )
    return limits


def _parse_count(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
