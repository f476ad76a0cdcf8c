"""OpenAI's duration strings (`6m0s`, `1.5s`, `20ms`) to seconds and back.

OpenAI's `x-ratelimit-reset-*` headers and its "Please try again in ..." messages
use Go's duration notation: one or more `<number><unit>` parts, with units `h`,
`m`, `s`, `ms`, `us` (or `µs`) and `ns`.
"""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
}

# Longer unit names come first so that "ms" is not read as "m" followed by "s".
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")


def parse_duration(text: object) -> float | None:
    """Parse an OpenAI duration such as `6m0s`, `1.5s` or `20ms` into seconds.

    A bare number is read as seconds. Returns None when `text` is not a valid,
    finite, non-negative duration, so callers can fall back to their own wait.
    """
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    if not cleaned:
        return None

    try:
        bare = float(cleaned)
    except ValueError:
        bare = None
    if bare is not None:
        return bare if math.isfinite(bare) and bare >= 0 else None

    total = 0.0
    position = 0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(cleaned):
        return None
    return total


def format_duration(seconds: float) -> str:
    """Format seconds the way OpenAI's headers do: `20ms`, `1.5s`, `6m0s`, `1h2m3s`.

    Durations under one second are whole milliseconds (at least `1ms` unless the
    value is zero), longer ones use seconds with up to three decimals.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be a finite number of seconds >= 0, got {seconds!r}")

    if seconds == 0:
        return "0s"
    milliseconds = round(seconds * 1000)
    if milliseconds < 1000:
        return f"{max(1, milliseconds)}ms"

    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    second_text = _format_seconds(milliseconds / 1000)
    if hours:
        return f"{hours}h{minutes}m{second_text}s"
    if minutes:
        return f"{minutes}m{second_text}s"
    return f"{second_text}s"


def _format_seconds(seconds: float) -> str:
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0"
