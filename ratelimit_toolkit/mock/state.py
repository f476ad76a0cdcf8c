"""The mock server's mutable state, shared by the server thread and its callers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from ratelimit_toolkit.mock.buckets import Admission, Clock, LimitSnapshot, RateLimits
from ratelimit_toolkit.mock.faults import NO_FAULT, FaultInjector, FaultPlan, ScriptedResponse, ScriptEntry
from ratelimit_toolkit.mock.scope_table import ScopeTable
from ratelimit_toolkit.mock.scopes import ScopeIdentity, ScopeResolver
from ratelimit_toolkit.mock.settings import MockSettings
from ratelimit_toolkit.mock.stats import StatsRecorder

logger = logging.getLogger(__name__)

# Settings whose values are secrets (they contain API keys), so logs name them without values.
_SECRET_SETTINGS = frozenset({"api_keys", "organizations", "scope_limits"})


class MockState:
    """Settings, rate-limit buckets per scope, fault queue and statistics behind one lock.

    Request handlers run on the server's event loop thread, while `configure()`,
    `enqueue()` and the statistics accessors are called from the user's
    thread, so every change and every admission decision takes the lock.
    """

    def __init__(self, settings: MockSettings, *, clock: Clock = time.monotonic, script: Iterable[ScriptEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.settings = settings
        self._new_scopes(settings)
        self.faults = FaultInjector(settings.seed, script)
        self.stats = StatsRecorder(clock=clock)

    def _new_scopes(self, settings: MockSettings) -> None:
        # NOTE: one pair of buckets per scope serves every model, while OpenAI keeps separate limits per model.
        self._resolver = ScopeResolver(settings)
        self.scopes = ScopeTable(burst_seconds=settings.burst_seconds, max_scopes=settings.max_scopes, clock=self._clock)
        if settings.limit_scope == "server":
            # Created at once, so the headers of a request without a key show the shared buckets.
            self.scopes.usage(ScopeIdentity("server", "server", "server", settings.organization, "", settings.rpm, settings.tpm))

    def configure(self, **changes: Any) -> MockSettings:
        """Apply setting changes at once and return the new settings.

        Changing `rpm`, `tpm`, `burst_seconds` or a setting of `MockSettings.scoping`
        (`limit_scope`, `organizations`, `scope_limits`, `max_scopes`,
        `organization`) replaces every scope's buckets with full ones and resets
        the per-scope counts. Changing `seed` restarts the random fault sequence.

        Raises:
            TypeError: a name is not a setting.
            ValueError: a value is out of range; nothing changes then.
        """
        with self._lock:
            old = self.settings
            new = old.replace(**changes)
            if new.scoping != old.scoping:
                self._new_scopes(new)
            if "seed" in changes:
                self.faults.reseed(new.seed)
            self.settings = new
        changed = [f"{name}=<hidden>" if name in _SECRET_SETTINGS else f"{name}={value!r}" for name, value in changes.items()]
        logger.info("mock server settings changed: %s", ", ".join(changed))
        return new

    def enqueue(self, entries: Iterable[ScriptEntry]) -> None:
        """Queue scripted responses for the next requests."""
        with self._lock:
            self.faults.enqueue(entries)

    def clear_script(self) -> None:
        """Drop the scripted responses not used yet."""
        with self._lock:
            self.faults.clear()

    def pending_script(self) -> int:
        """Return the number of scripted responses not used yet."""
        with self._lock:
            return self.faults.pending()

    def next_fault(self) -> tuple[ScriptedResponse | None, FaultPlan]:
        """Take the next scripted response, or else draw the random faults.

        A scripted response replaces the random draw for its request.
        """
        with self._lock:
            scripted = self.faults.next_scripted()
            if scripted is not None:
                return scripted, NO_FAULT
            return None, self.faults.draw(self.settings)

    def identify(self, key: str, requested_organization: str | None) -> ScopeIdentity:
        """Return the scope a request with this API key and `OpenAI-Organization` header is charged to.

        Raises:
            OrganizationError: the header is invalid or does not match the key's organisation.
        """
        with self._lock:
            resolver = self._resolver
        return resolver.identify(key, requested_organization)

    def admit(self, tokens: int, identity: ScopeIdentity) -> tuple[Admission, LimitSnapshot]:
        """Run the admission check in the request's scope and read its header values in the same step.

        The scope is created with full buckets on its first request. A refusal
        costs one request when `charge_refused` is set.
        """
        with self._lock:
            usage = self.scopes.usage(identity)
            admission = usage.limits.admit(tokens)
            if not admission.admitted and self.settings.charge_refused:
                usage.limits.charge_refused()
            usage.record(admission, tokens, identity.masked_key)
            return admission, usage.limits.snapshot()

    def limit_snapshot(self, identity: ScopeIdentity | None = None) -> LimitSnapshot:
        """Read the header values of a scope without charging anything or creating the scope.

        A scope without requests yet, and a request without a scope (it failed
        before its key was read) under the "key" or "organization" scope, read
        as full buckets. Under the "server" scope every request reads the shared buckets.
        """
        with self._lock:
            scope_id = identity.scope_id if identity is not None else "server"
            usage = self.scopes.find(scope_id)
            if usage is not None:
                return usage.limits.snapshot()
            settings = self.settings
            rpm, tpm = (identity.rpm, identity.tpm) if identity is not None else (settings.rpm, settings.tpm)
            return RateLimits(rpm, tpm, settings.burst_seconds, clock=self._clock).snapshot()

    def status(self) -> dict[str, Any]:
        """Describe the limits and every kept scope, as `GET /v1/status` returns them."""
        with self._lock:
            settings = self.settings
            return {
                "limit_scope": settings.limit_scope,
                "rpm": settings.rpm,
                "tpm": settings.tpm,
                "burst_seconds": settings.burst_seconds,
                "max_scopes": self.scopes.max_scopes,
                "scopes_dropped": self.scopes.dropped,
                "scopes": self.scopes.rows(),
            }
