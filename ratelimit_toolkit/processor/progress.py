"""The live progress bar: lines done, plus requests/min, tokens/min and 429s over the last minute."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm import tqdm

from ratelimit_toolkit import messages
from ratelimit_toolkit.processor import texts  # noqa: F401  (registers the messages)

Clock = Callable[[], float]


class RateMeter:
    """Counts events and their tokens in one-second slots over a sliding window.

    Memory is one slot per second of the window, however many events arrive.
    """

    def __init__(self, window_seconds: int = 60, clock: Clock = time.monotonic) -> None:
        if window_seconds < 1:
            raise ValueError(f"window_seconds must be at least 1, got {window_seconds}")
        self.window_seconds = window_seconds
        self._clock = clock
        self._started = clock()
        self._slots: dict[int, list[int]] = {}

    def add(self, tokens: int = 0) -> None:
        """Count one event that carried `tokens` tokens."""
        second = int(self._clock() - self._started)
        slot = self._slots.setdefault(second, [0, 0])
        slot[0] += 1
        slot[1] += tokens
        self._forget_before(second - self.window_seconds)

    def per_minute(self) -> tuple[float, float]:
        """Return (events per minute, tokens per minute) over the window so far."""
        elapsed = self._clock() - self._started
        now_second = int(elapsed)
        self._forget_before(now_second - self.window_seconds)
        span_seconds = min(max(elapsed, 1.0), float(self.window_seconds))
        events = sum(slot[0] for slot in self._slots.values())
        tokens = sum(slot[1] for slot in self._slots.values())
        return events * 60.0 / span_seconds, tokens * 60.0 / span_seconds

    def _forget_before(self, oldest_second: int) -> None:
        for second in [second for second in self._slots if second < oldest_second]:
            del self._slots[second]


class ProgressBar:
    """A tqdm bar over input lines whose postfix shows live throughput and 429s.

    With `enabled=False` it only keeps the counters, so callers need no branches.
    """

    def __init__(
        self,
        total: int,
        initial: int = 0,
        *,
        enabled: bool = True,
        lang: str | None = None,
        clock: Clock = time.monotonic,
        refresh_seconds: float = 0.5,
    ) -> None:
        self.lang = lang
        self.rate_limited = 0
        self.meter = RateMeter(clock=clock)
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._next_refresh = clock()
        self._bar = tqdm(
            total=total,
            initial=initial,
            desc=messages.t("processor.progress", lang),
            unit="line",
            disable=not enabled,
            dynamic_ncols=True,
            # Outside a terminal (notebooks, CI logs) every refresh stays in the output, so refresh less.
            mininterval=0.1 if sys.stderr.isatty() else 1.0,
        )

    def attempt_done(self, tokens: int, rate_limited: bool) -> None:
        """Count one HTTP call; `tokens` is its charge unless the server refused it."""
        if rate_limited:
            self.rate_limited += 1
        else:
            self.meter.add(tokens)

    def line_done(self) -> None:
        self._bar.update(1)
        if self._clock() >= self._next_refresh:
            self._next_refresh = self._clock() + self._refresh_seconds
            self._bar.set_postfix_str(self.postfix(), refresh=False)

    def postfix(self) -> str:
        rpm, tpm = self.meter.per_minute()
        return messages.t("processor.postfix", self.lang, rpm=rpm, tpm=tpm, rate_limited=self.rate_limited)

    def close(self) -> None:
        self._bar.set_postfix_str(self.postfix(), refresh=False)
        self._bar.close()
