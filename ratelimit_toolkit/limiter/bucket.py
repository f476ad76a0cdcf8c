"""A continuous-refill token bucket: the arithmetic under `RateLimiter`."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]

# Float refill can land a hair below a whole number (0.9999999999 instead of
# 1.0). A level within this fraction of the amount needed counts as enough, so
# a waiter never sleeps for a few femtoseconds that a clock cannot represent.
_RELATIVE_TOLERANCE = 1e-9

# How long the bucket remembers its own deficits for `correct_from_server`. A
# server's report older than this carries no information about the present,
# because a bucket refills completely within one minute.
_HISTORY_SECONDS = 60.0

#: Maximum `burst_seconds`: OpenAI's limits are per minute, so a bucket never
#: contains more than one minute of budget.
MAX_BURST_SECONDS = 60.0

#: Default `margin_seconds`: how much later than the exact moment a request
#: is admitted, so that network delays that vary by up to this much never make
#: the server see a request before its own bucket has refilled. Against the
#: mock server over loopback (`benchmarks/limiter.py margin` and `refund`), a
#: margin of 0 left 429s, 0.02 s still left one in the first run of a process,
#: whose new connections are slower, and 0.05 s left none.
DEFAULT_MARGIN_SECONDS = 0.05


class RequestTooLargeError(ValueError):
    """A request larger than a per-minute limit, which no wait can ever admit.

    Attributes:
        requested: the amount asked for (requests or tokens).
        limit_per_minute: the per-minute limit it exceeds.
        unit: `requests` or `tokens`.
    """

    def __init__(self, requested: float, limit_per_minute: float, unit: str) -> None:
        self.requested = requested
        self.limit_per_minute = limit_per_minute
        self.unit = unit
        super().__init__(
            f"a request of {requested:g} {unit} can never be admitted: the limit is "
            f"{limit_per_minute:g} {unit} per minute. Split the request into smaller ones "
            "or lower its max_tokens."
        )


class TokenBucket:
    """One per-minute limit, as a bucket that refills continuously.

    The bucket's capacity is `per_minute * burst_seconds / 60` units, and it
    refills at `per_minute / 60` units per second, computed in floats from the
    elapsed time, so rounding never accumulates into drift. It starts full.

    An amount is admitted when the level is at least the amount. An amount
    larger than the capacity but within the per-minute limit is admitted once
    the bucket is full, and it leaves the level negative (in debt) until refill
    repays it. An amount above the per-minute limit raises `RequestTooLargeError`.

    Admission runs `margin_seconds` behind the refill: an amount is admitted
    when the level it needs was already there `margin_seconds` ago, and a new
    bucket counts as filled at its creation. The reason is the network: the
    server charges each request when it arrives, a delay after this bucket
    did. While a bucket is full, refill is lost, and the server's bucket stays
    full until the next request arrives. If a later request travels faster
    than that one, the server's bucket is short by the difference in delays,
    and the margin covers it.

    A caller that blocks in `RateLimiter.acquire` keeps the full long-run rate:
    the margin delays the schedule once, holds back `margin_seconds` of the
    first burst, and adds `margin_seconds` to each wait for a full bucket. A
    caller that polls `try_acquire` only once per burst loses the last
    `margin_seconds` of each refill.

    The bucket is not thread-safe: `RateLimiter` serialises access with its lock
    and keeps the queue of waiters. Every method takes an optional `now` so one
    decision reads the clock once.

    Args:
        per_minute: the limit, in units (requests or tokens) per minute, at least 1.
        burst_seconds: seconds of budget that may be spent at once, in (0, 60].
            60 lets a whole minute's budget go in one burst, and 1 spends at most
            one second's worth at once, for servers that enforce limits per second.
        margin_seconds: how far admission runs behind the refill, >= 0.
        clock: monotonic time in seconds.
        unit: `requests` or `tokens`, used in messages and `repr`.
        count_waiters: reports how many callers wait on this bucket's owner,
            for `repr`. A bucket without an owner shows 0.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst_seconds: float = 1.0,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        clock: Clock = time.monotonic,
        unit: str = "requests",
        count_waiters: Callable[[], int] | None = None,
    ) -> None:
        check_per_minute(per_minute, unit)
        check_burst_seconds(burst_seconds)
        check_margin_seconds(margin_seconds)
        self.unit = unit
        self.burst_seconds = float(burst_seconds)
        self.margin_seconds = float(margin_seconds)
        self._clock = clock
        self._count_waiters = count_waiters or (lambda: 0)
        self._set_rate(float(per_minute))
        self._level = self._capacity
        self._updated = clock()
        # When the level last reached the capacity. A new bucket counts as just
        # filled, so its first burst keeps the margin too: first requests open
        # new connections, and their delays vary the most.
        self._full_since = clock()
        # Largest deficits of the last minute, as (time, deficit) pairs with
        # falling deficits, so the front is the peak (a sliding-window maximum).
        self._peaks: deque[tuple[float, float]] = deque()

    @property
    def per_minute(self) -> float:
        """The per-minute limit."""
        return self._per_minute

    @property
    def capacity(self) -> float:
        """Maximum level: `per_minute * burst_seconds / 60`."""
        return self._capacity

    @property
    def rate_per_second(self) -> float:
        """Refill speed in units per second."""
        return self._rate_per_second

    def level(self, now: float | None = None) -> float:
        """Return the level after refill, which is negative while in debt."""
        self._refill(self._clock() if now is None else now)
        return self._level

    def check_fits(self, amount: float) -> None:
        """Raise `RequestTooLargeError` when `amount` exceeds the per-minute limit."""
        if amount > self._per_minute * (1 + _RELATIVE_TOLERANCE):
            raise RequestTooLargeError(amount, self._per_minute, self.unit)

    def seconds_until(self, amount: float, now: float | None = None) -> float:
        """Return the seconds until `amount` can be admitted, or 0.0 when it can be now.

        Raises:
            RequestTooLargeError: `amount` exceeds the per-minute limit.
        """
        self.check_fits(amount)
        return self.wait_seconds(amount, self._clock() if now is None else now)

    def try_acquire(self, amount: float, now: float | None = None) -> bool:
        """Take `amount` and return True if it can be admitted now, else return False and change nothing."""
        now = self._clock() if now is None else now
        if self.seconds_until(amount, now) > 0.0:
            return False
        self.take(amount, now)
        return True

    def charge(self, amount: float, now: float | None = None) -> None:
        """Take `amount` whatever the level, down to one minute of debt."""
        now = self._clock() if now is None else now
        self._refill(now)
        self.take(amount, now)

    def wait_seconds(self, amount: float, now: float) -> float:
        """Refill to `now` and return the seconds until `amount` can be admitted.

        The fast path of `seconds_until`, for a caller that has already
        called `check_fits(amount)`.
        """
        self._refill(now)
        needed = amount if amount < self._capacity else self._capacity
        if self._level < self._capacity:
            available = self._level - self.margin_seconds * self._rate_per_second
        else:
            full_for = now - self._full_since
            shortfall = self.margin_seconds - full_for if full_for < self.margin_seconds else 0.0
            available = self._capacity - shortfall * self._rate_per_second
        if available >= needed - _RELATIVE_TOLERANCE * (needed if needed > 1.0 else 1.0):
            return 0.0
        return (needed - available) / self._rate_per_second

    def take(self, amount: float, now: float) -> None:
        """Take `amount` from a bucket already refilled to `now`, down to one minute of debt."""
        level = self._level - amount
        floor = self._capacity - self._per_minute
        self._level = level if level > floor else floor

        # Keep the falling sequence of deficits for correct_from_server.
        deficit = self._capacity - self._level
        peaks = self._peaks
        while peaks and peaks[-1][1] <= deficit:
            peaks.pop()
        peaks.append((now, deficit))
        if peaks[0][0] < now - _HISTORY_SECONDS:
            self._forget_old_peaks(now)

    def refund(self, amount: float, now: float | None = None) -> None:
        """Give back `amount`, up to the capacity."""
        self._refill(self._clock() if now is None else now)
        self._level = min(self._level + amount, self._capacity)

    def start_from_server(self, server_deficit: float, unreported: float, now: float | None = None) -> None:
        """Raise the level to the server's, less `unreported` charges the server had not counted yet.

        Only for the moment a limit is first learned: a cautious starting bucket
        is nearly empty, while the server may have most of its burst left.
        Overestimating `unreported` only makes the start slower, never too fast.
        """
        now = self._clock() if now is None else now
        self._refill(now)
        level = self._capacity - server_deficit - unreported
        if level > self._level:
            self._level = level
            self._peaks.clear()
            self._remember_deficit(now)

    def correct_from_server(self, server_deficit: float, now: float | None = None) -> float:
        """Lower the level by what the server has counted and this bucket has not.

        A server reports its bucket as it was when it admitted the request,
        which can be seconds before the response arrives. Comparing that old
        figure with the level now would undo the refill since then. So the
        server's deficit is compared with the largest deficit this bucket had
        in the last minute: only the excess is consumption this bucket missed,
        such as usage from before this bucket existed or a larger server estimate.

        NOTE: a small steady excess stays below that peak and goes unnoticed.
        An example is a second client sharing the limit while this one runs at
        full speed. The server's 429s are then the only signal.

        Args:
            server_deficit: how far the server's bucket was from full, in units.

        Returns:
            The amount taken off the level, or 0.0 when the server agrees.
        """
        now = self._clock() if now is None else now
        self._refill(now)
        self._forget_old_peaks(now)
        own_peak = self._peaks[0][1] if self._peaks else self._capacity - self._level
        excess = server_deficit - own_peak
        if excess <= _RELATIVE_TOLERANCE * max(1.0, self._capacity):
            return 0.0
        self._level = max(self._level - excess, self._capacity - self._per_minute)
        self._remember_deficit(now)
        return excess

    def set_limit(self, per_minute: float, now: float | None = None) -> None:
        """Change the per-minute limit, keeping the bucket as full (in proportion) as it was."""
        check_per_minute(per_minute, self.unit)
        now = self._clock() if now is None else now
        self._refill(now)
        fraction = self._level / self._capacity
        self._set_rate(float(per_minute))
        self._level = max(fraction * self._capacity, self._capacity - self._per_minute)
        self._peaks.clear()
        self._remember_deficit(now)

    def seconds_until_full(self, now: float | None = None) -> float:
        """Return the seconds until the bucket is full again."""
        return max(0.0, (self._capacity - self.level(now)) / self._rate_per_second)

    def _set_rate(self, per_minute: float) -> None:
        self._per_minute = per_minute
        self._capacity = per_minute * self.burst_seconds / 60.0
        self._rate_per_second = per_minute / 60.0

    def _remember_deficit(self, now: float) -> None:
        self.take(0.0, now)

    def _forget_old_peaks(self, now: float) -> None:
        peaks = self._peaks
        while peaks and peaks[0][0] < now - _HISTORY_SECONDS:
            peaks.popleft()

    def _refill(self, now: float) -> None:
        # Credit all elapsed time before moving the baseline, so small clock
        # steps add up exactly instead of rounding away.
        elapsed = now - self._updated
        if elapsed <= 0.0:
            return
        level = self._level + elapsed * self._rate_per_second
        if level >= self._capacity:
            if self._level < self._capacity:
                self._full_since = self._updated + (self._capacity - self._level) / self._rate_per_second
            level = self._capacity
        self._level = level
        self._updated = now

    def __repr__(self) -> str:
        now = self._clock()
        return (
            f"TokenBucket(unit={self.unit!r}, level={self.level(now):.3f}, "
            f"capacity={self._capacity:.3f}, per_minute={self._per_minute:g}, "
            f"waiters={self._count_waiters()}, full_in={self.seconds_until_full(now):.3f}s)"
        )


def check_per_minute(per_minute: object, unit: str) -> None:
    """Raise `ValueError` unless `per_minute` is a finite number >= 1."""
    is_number = isinstance(per_minute, (int, float)) and not isinstance(per_minute, bool)
    if not is_number or not math.isfinite(per_minute) or per_minute < 1:  # type: ignore[arg-type,operator]
        raise ValueError(
            f"{unit} per minute must be a finite number >= 1, got {per_minute!r}; "
            "pass None to disable that limit"
        )


def check_burst_seconds(burst_seconds: object) -> None:
    """Raise `ValueError` unless `burst_seconds` is in (0, 60]."""
    is_number = isinstance(burst_seconds, (int, float)) and not isinstance(burst_seconds, bool)
    if not is_number or not 0 < burst_seconds <= MAX_BURST_SECONDS:  # type: ignore[operator]
        raise ValueError(
            f"burst_seconds must be a number of seconds in (0, 60], got {burst_seconds!r}; "
            "use 60 to allow a whole minute's budget at once or 1 to spend at most one second's worth"
        )


def check_margin_seconds(margin_seconds: object) -> None:
    """Raise `ValueError` unless `margin_seconds` is a finite number >= 0."""
    is_number = isinstance(margin_seconds, (int, float)) and not isinstance(margin_seconds, bool)
    if not is_number or not 0 <= margin_seconds < math.inf:  # type: ignore[operator]
        raise ValueError(f"margin_seconds must be a finite number of seconds >= 0, got {margin_seconds!r}")
