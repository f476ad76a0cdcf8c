"""Plots for the lessons, with a Korean-capable font set up offline.

`setup_korean_font()` finds and registers the font; the `plot_*` functions
draw the mock server's timeline and a `Recorder`'s attempts.
"""

from __future__ import annotations

from ratelimit_toolkit.plots.charts import (
    plot_attempt_timeline,
    plot_retries_per_request,
    plot_throughput,
    plot_timeline,
    plot_wait_distribution,
)
from ratelimit_toolkit.plots.fonts import (
    FontSetup,
    current_font_setup,
    ensure_font_setup,
    find_korean_font_files,
    korean_font_active,
    label,
    setup_korean_font,
)

__all__ = [
    "FontSetup",
    "current_font_setup",
    "ensure_font_setup",
    "find_korean_font_files",
    "korean_font_active",
    "label",
    "plot_attempt_timeline",
    "plot_retries_per_request",
    "plot_throughput",
    "plot_timeline",
    "plot_wait_distribution",
    "setup_korean_font",
]
