"""The mock server's mutable state, shared by the server thread and its callers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from ratelimit_toolkit.mock.buckets import Admission, Clock, LimitSnapshot, RateLimits
from ratelimit_toolkit.mock.faults import NO_FAULT, FaultInjector, FaultPlan, ScriptedResponse, ScriptEntry
from ratelimit_toolkit.mock.settings import MockSettings
from ratelimit_toolkit.mock.stats import StatsRecorder

logger = logging.getLogger(__name__)


class MockState:
    """Settings, rate-limit buckets, fault queue and statistics behind one lock.

    Request handlers run on the server's event loop thread, while `configure()`,
    `enqueue()` and the statistics accessors are called from the user's
    thread, so every change and every admission decision takes the lock.
    """

    def __init__(self, settings: MockSettings, *, clock: Clock = time.monotonic, script: Iterable[ScriptEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.settings = settings
        # NOTE: one pair of buckets serves every model, while OpenAI keeps separate limits per model.
        self.limits = RateLimits(settings.rpm, settings.tpm, settings.burst_seconds, clock=clock)
        self.faults = FaultInjector(settings.seed, script)
        self.stats = StatsRecorder(clock=clock)

    def configure(self, **changes: Any) -> MockSettings:
        """Apply setting changes at once and return the new settings.

        Changing `rpm`, `tpm` or `burst_seconds` replaces both buckets with
        full ones. Changing `seed` restarts the random fault sequence.

        Raises:
            TypeError: a name is not a setting.
            ValueError: a value is out of range; nothing changes then.
        """
        with self._lock:
            old = self.settings
            new = old.replace(**changes)
            if new.limits != old.limits:
                self.limits = RateLimits(new.rpm, new.tpm, new.burst_seconds, clock=self._clock)
            if "seed" in changes:
                self.faults.reseed(new.seed)
            self.settings = new
        # api_keys are secrets, so the log names the setting without its value.
        changed = [f"{name}={value!r}" if name != "api_keys" else "api_keys=<hidden>" for name, value in changes.items()]
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

    def admit(self, tokens: int) -> tuple[Admission, LimitSnapshot]:
        """Run the admission check and read the header values in the same step.

        A refusal costs one request when `charge_refused` is set.
        """
        with self._lock:
            admission = self.limits.admit(tokens)
            if not admission.admitted and self.settings.charge_refused:
                self.limits.charge_refused()
            return admission, self.limits.snapshot()

    def limit_snapshot(self) -> LimitSnapshot:
        """Read the header values without charging anything."""
        with self._lock:
            return self.limits.snapshot()
