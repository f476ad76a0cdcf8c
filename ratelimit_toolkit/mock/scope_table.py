"""Rate-limit buckets and counts for each scope, created on first use and bounded in number."""

from __future__ import annotations

import logging
import math
from array import array
from collections import OrderedDict
from typing import Any

from ratelimit_toolkit.mock.buckets import Admission, Clock, RateLimits
from ratelimit_toolkit.mock.scopes import ScopeIdentity

logger = logging.getLogger(__name__)

#: Masked keys one scope lists on the status page; further keys still share its buckets.
MAX_KEYS_LISTED = 50

#: A dropped scope is logged at WARNING the first time and then once per this many drops.
_DROP_LOG_INTERVAL = 1000
_WINDOW_SECONDS = 60


class ScopeUsage:
    """One scope's request and token buckets, with the counts the status page shows.

    Attributes:
        number: the scope's position in order of first use, from 1. It
            distinguishes scopes whose masked keys look alike.
        kind: `server`, `key` or `organization`.
        name: `server`, the organisation id, or the masked key.
        organization: the organisation of the scope's first request.
        limits: the scope's buckets.
        admitted: requests the buckets admitted.
        refused: requests the buckets refused with 429 `rate_limit_exceeded`.
        masked_keys: masked keys seen in this scope, in order of first use, at most `MAX_KEYS_LISTED`.
        last_used_seconds: the clock's reading at the scope's latest request.
    """

    def __init__(self, number: int, identity: ScopeIdentity, burst_seconds: float, clock: Clock) -> None:
        self.number = number
        self.kind = identity.kind
        self.name = identity.name
        self.organization = identity.organization
        self.limits = RateLimits(identity.rpm, identity.tpm, burst_seconds, clock=clock)
        self.admitted = 0
        self.refused = 0
        self.masked_keys: dict[str, None] = {}
        self.last_used_seconds = clock()
        self._clock = clock
        # A ring of 60 one-second slots: slot `s % 60` counts the tokens charged
        # in whole second `s`, and `_slot_seconds` records which second each slot counts now.
        self._slot_tokens = array("q", bytes(8 * _WINDOW_SECONDS))
        self._slot_seconds = array("q", [-_WINDOW_SECONDS - 1] * _WINDOW_SECONDS)

    def record(self, admission: Admission, tokens: int, masked_key: str) -> None:
        """Count one admission decision of `tokens` tokens from a request with `masked_key`."""
        now = self._clock()
        self.last_used_seconds = now
        if len(self.masked_keys) < MAX_KEYS_LISTED:
            self.masked_keys.setdefault(masked_key, None)
        if not admission.admitted:
            self.refused += 1
            return

        self.admitted += 1
        second = math.floor(now)
        slot = second % _WINDOW_SECONDS
        if self._slot_seconds[slot] != second:
            self._slot_seconds[slot] = second
            self._slot_tokens[slot] = 0
        self._slot_tokens[slot] += tokens

    def tokens_last_minute(self) -> int:
        """Return the tokens charged in the current whole second and the 59 before it."""
        oldest_second = math.floor(self._clock()) - _WINDOW_SECONDS + 1
        return sum(tokens for tokens, second in zip(self._slot_tokens, self._slot_seconds) if second >= oldest_second)

    def row(self) -> dict[str, Any]:
        """Describe the scope as one JSON-ready status row; keys appear only masked."""
        snapshot = self.limits.snapshot()
        return {
            "number": self.number,
            "kind": self.kind,
            "name": self.name,
            "organization": self.organization,
            "keys": list(self.masked_keys),
            "rpm": snapshot.limit_requests,
            "tpm": snapshot.limit_tokens,
            "admitted": self.admitted,
            "refused_429": self.refused,
            "tokens_last_minute": self.tokens_last_minute(),
            "remaining_requests": snapshot.remaining_requests,
            "remaining_tokens": snapshot.remaining_tokens,
            "idle_seconds": round(max(0.0, self._clock() - self.last_used_seconds), 3),
        }

    def __repr__(self) -> str:
        return f"ScopeUsage(#{self.number} {self.kind} {self.name!r}, admitted={self.admitted}, refused={self.refused})"


class ScopeTable:
    """The scopes of one server, by `ScopeIdentity.scope_id`, least recently used first.

    Not thread-safe: `MockState` serialises access with its lock.

    Args:
        burst_seconds: the burst setting every scope's buckets share.
        max_scopes: scopes kept at once; creating one more drops the least
            recently used, whose next request starts again with full buckets
            and zero counts.
        clock: monotonic seconds.
    """

    def __init__(self, *, burst_seconds: float, max_scopes: int, clock: Clock) -> None:
        self.burst_seconds = burst_seconds
        self.max_scopes = max_scopes
        self.dropped = 0
        self._clock = clock
        self._scopes: OrderedDict[str, ScopeUsage] = OrderedDict()
        self._next_number = 1

    def usage(self, identity: ScopeIdentity) -> ScopeUsage:
        """Get the scope of `identity`, or create it with full buckets on its first use."""
        usage = self._scopes.get(identity.scope_id)
        if usage is not None:
            self._scopes.move_to_end(identity.scope_id)
            return usage

        if len(self._scopes) >= self.max_scopes:
            self._drop_least_recently_used()
        usage = ScopeUsage(self._next_number, identity, self.burst_seconds, self._clock)
        self._next_number += 1
        self._scopes[identity.scope_id] = usage
        logger.debug("new rate-limit scope #%d: %s %s", usage.number, usage.kind, usage.name)
        return usage

    def find(self, scope_id: str) -> ScopeUsage | None:
        """Return the scope with `scope_id` if it exists, without creating or touching it."""
        return self._scopes.get(scope_id)

    def rows(self) -> list[dict[str, Any]]:
        """Describe every kept scope in order of first use."""
        return sorted((usage.row() for usage in self._scopes.values()), key=lambda row: row["number"])

    def __len__(self) -> int:
        return len(self._scopes)

    def _drop_least_recently_used(self) -> None:
        _, usage = self._scopes.popitem(last=False)
        self.dropped += 1
        if self.dropped == 1 or self.dropped % _DROP_LOG_INTERVAL == 0:
            logger.warning(
                "mock server keeps at most %d rate-limit scopes; dropped scope #%d (%s %s), %d dropped so far",
                self.max_scopes,
                usage.number,
                usage.kind,
                usage.name,
                self.dropped,
            )
