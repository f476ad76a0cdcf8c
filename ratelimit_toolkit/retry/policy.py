"""`RetryPolicy`: how long to wait between attempts and when to stop, shared by all three strategies."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

Jitter = Literal["full"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with optional full jitter, a cap, and the server's hint as a floor.

    The wait before retry number `n` (1 after the first failure) is::

        backoff = min(max_wait, initial_wait * multiplier ** (n - 1))
        drawn   = uniform(0, backoff) with jitter="full", else backoff
        wait    = min(max_wait, server_hint + drawn)

    `server_hint` is the wait the server suggested (see
    `errors.suggested_wait_seconds`), or 0 when it suggested none or
    `honor_server_wait` is False. Adding the jittered backoff on top of the
    hint, instead of waiting exactly the hint, keeps clients that received
    the same hint from all returning in the same instant. A hint larger than
    `max_wait` is cut to `max_wait`, so a caller's cap always holds.

    With full jitter the first retry comes after `uniform(0, initial_wait)`
    seconds, which is quick; without jitter, after exactly `initial_wait`.

    Attributes:
        initial_wait: seconds of backoff before the first retry, >= 0.
        multiplier: growth factor per retry, >= 1.
        max_wait: the cap on any single wait, in seconds, > 0.
        jitter: "full" to draw each wait uniformly from [0, backoff], or None.
        max_attempts: attempts in all, the first one included, >= 1.
        max_total_seconds: no retry is made when its wait would end more than
            this many seconds after the first attempt started; None for no limit.
        honor_server_wait: add the server's suggested wait to the backoff.
    """

    initial_wait: float = 1.0
    multiplier: float = 2.0
    max_wait: float = 60.0
    jitter: Jitter | None = "full"
    max_attempts: int = 6
    max_total_seconds: float | None = None
    honor_server_wait: bool = True

    def __post_init__(self) -> None:
        _check_seconds("initial_wait", self.initial_wait, allow_zero=True)
        _check_seconds("max_wait", self.max_wait, allow_zero=False)
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, (int, float)):
            raise ValueError(f"multiplier must be a number >= 1, got {self.multiplier!r}")
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            raise ValueError(f"multiplier must be a finite number >= 1, got {self.multiplier!r}")
        if self.jitter not in ("full", None):
            raise ValueError(f"jitter must be 'full' or None, got {self.jitter!r}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer >= 1 (1 means no retries), got {self.max_attempts!r}")
        if self.max_total_seconds is not None:
            _check_seconds("max_total_seconds", self.max_total_seconds, allow_zero=False)
        if not isinstance(self.honor_server_wait, bool):
            raise ValueError(f"honor_server_wait must be True or False, got {self.honor_server_wait!r}")

    def backoff_seconds(self, retry_number: int) -> float:
        """Return the capped exponential backoff before retry `retry_number` (1-based), without jitter."""
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1 (the retry after the first failure), got {retry_number!r}")
        try:
            raw = self.initial_wait * self.multiplier ** (retry_number - 1)
        except OverflowError:
            return self.max_wait
        return min(self.max_wait, raw)

    def wait_seconds(
        self,
        retry_number: int,
        suggested_wait_seconds: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Return the wait before retry `retry_number` (1-based), following the formula in the class docstring.

        Args:
            retry_number: 1 for the wait after the first failed attempt.
            suggested_wait_seconds: the server's hint, or None.
            rng: the random source for jitter; None uses the `random` module.
        """
        backoff = self.backoff_seconds(retry_number)
        if self.jitter == "full":
            drawn = (rng or random).uniform(0.0, backoff)
        else:
            drawn = backoff

        hint = suggested_wait_seconds if self.honor_server_wait and suggested_wait_seconds else 0.0
        return min(self.max_wait, hint + drawn)


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> None:
    valid = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if valid:
        valid = value >= 0 if allow_zero else value > 0  # type: ignore[operator]
    if not valid:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
