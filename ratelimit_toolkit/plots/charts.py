"""Plots of request timelines, retries, waits and throughput.

Every function draws on the `ax` it is given, or on a new figure, and returns
the Axes. Labels are Korean with the English in parentheses while a Korean
font is active, and English only otherwise (see `fonts.label`). The first plot
of a process runs `setup_korean_font()` unless the caller already did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from ratelimit_toolkit.plots import fonts
from ratelimit_toolkit.recording import Attempt, Recorder

#: Colours per outcome. 429s are red, as in most dashboards.
OK_COLOR = "tab:green"
RATE_LIMITED_COLOR = "tab:red"
OTHER_COLOR = "tab:orange"
LIMIT_COLOR = "black"

AttemptSource = Recorder | Iterable[Attempt]
ThroughputSource = Recorder | Iterable[Attempt] | Sequence[tuple[float, float]]


def plot_timeline(
    stats_or_timeline: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    limit_per_second: float | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw admitted requests and 429 refusals per second as stacked bars, with the limit.

    Args:
        stats_or_timeline: the mock server's `stats()` (a mapping with a
            `timeline` list) or the timeline itself: one mapping per second
            with `second`, `admitted` and `refused` counts, and optionally
            `errors` (other failures, stacked on top in orange).
        limit_per_second: draws a dashed line at this many requests per
            second, typically the RPM divided by 60.
        ax: the Axes to draw on; a new figure when None.
        title: replaces the default title.

    Raises:
        ValueError: the timeline is missing or an entry lacks a field.
    """
    timeline = _timeline_entries(stats_or_timeline)
    ax = _axes(ax)

    seconds = [int(entry["second"]) for entry in timeline]
    admitted = [int(entry["admitted"]) for entry in timeline]
    refused = [int(entry["refused"]) for entry in timeline]
    ax.bar(seconds, admitted, width=0.8, color=OK_COLOR, label=fonts.label("성공", "Admitted"))
    ax.bar(seconds, refused, width=0.8, bottom=admitted, color=RATE_LIMITED_COLOR, label=fonts.label("거절 429", "Refused 429"))
    errors = [int(entry.get("errors", 0)) for entry in timeline]
    if any(errors):
        below = [a + r for a, r in zip(admitted, refused)]
        ax.bar(seconds, errors, width=0.8, bottom=below, color=OTHER_COLOR, label=fonts.label("기타 오류", "Other error"))
    if limit_per_second is not None:
        _check_positive("limit_per_second", limit_per_second)
        ax.axhline(limit_per_second, color=LIMIT_COLOR, linestyle="--", label=fonts.label("초당 한도", "Limit per second"))

    ax.set_title(title or fonts.label("초당 요청: 성공과 429", "Requests per second: admitted and 429"))
    ax.set_xlabel(fonts.label("시간(초)", "Time (s)"))
    ax.set_ylabel(fonts.label("요청 수", "Requests"))
    _integer_ticks(ax.yaxis)
    _legend_outside(ax)
    return ax


def plot_retries_per_request(source: AttemptSource, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw how many requests needed 0, 1, 2, ... retries, as bars.

    Args:
        source: a `Recorder` or its attempts.
        ax: the Axes to draw on; a new figure when None.
        title: replaces the default title.
    """
    groups = _group_by_request(source)
    ax = _axes(ax)

    retry_counts = [len(attempts) - 1 for attempts in groups.values()]
    max_retries_seen = max(retry_counts, default=0)
    heights = [retry_counts.count(retries) for retries in range(max_retries_seen + 1)]
    ax.bar(range(max_retries_seen + 1), heights, color=OK_COLOR)
    ax.set_xticks(range(max_retries_seen + 1))

    ax.set_title(title or fonts.label("요청별 재시도 횟수", "Retries per request"))
    ax.set_xlabel(fonts.label("재시도 횟수", "Retries"))
    ax.set_ylabel(fonts.label("요청 수", "Requests"))
    _integer_ticks(ax.yaxis)
    return ax


def plot_wait_distribution(
    source: AttemptSource | Iterable[float],
    *,
    bins: int = 20,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a histogram of the waits chosen before retries, in seconds.

    Args:
        source: a `Recorder`, its attempts, or plain wait times in seconds.
        bins: number of histogram bins.
        ax: the Axes to draw on; a new figure when None.
        title: replaces the default title.
    """
    waits = _waits(source)
    ax = _axes(ax)

    if waits:
        ax.hist(waits, bins=bins, color=OK_COLOR, edgecolor="white")
    ax.set_title(title or fonts.label("재시도 전 대기 시간 분포", "Waits before retries"))
    ax.set_xlabel(fonts.label("대기 시간(초)", "Wait (s)"))
    ax.set_ylabel(fonts.label("횟수", "Count"))
    _integer_ticks(ax.yaxis)
    return ax


def plot_throughput(
    source: ThroughputSource,
    *,
    limit_per_minute: float | None = None,
    label: str | None = None,
    cumulative: bool = True,
    window_seconds: float = 5.0,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw completed requests over time; call it again on the same `ax` to compare runs.

    Args:
        source: a `Recorder` or its attempts (each successful attempt counts
            once, at its end), or `(time_seconds, completed)` points where
            `completed` is the running total.
        limit_per_minute: the request limit. Cumulative plots draw it as the
            line `limit_per_minute * t / 60`, windowed plots as a level. Each
            limit is drawn once per Axes, however many runs share it.
        label: legend entry for this run.
        cumulative: True plots the running total; False plots the rate in
            requests per minute over consecutive windows of `window_seconds`.
        window_seconds: window width of the rate plot, in seconds.
        ax: the Axes to draw on; a new figure when None.
        title: replaces the default title.
    """
    events = _completion_events(source)
    ax = _axes(ax)

    if cumulative:
        _draw_cumulative(ax, events, limit_per_minute, label)
        ax.set_ylabel(fonts.label("완료된 요청 수", "Completed requests"))
    else:
        _check_positive("window_seconds", window_seconds)
        _draw_windowed(ax, events, limit_per_minute, label, window_seconds)
        ax.set_ylabel(fonts.label("처리량(분당 요청 수)", "Throughput (requests/min)"))

    ax.set_title(title or fonts.label("시간에 따른 처리량", "Throughput over time"))
    ax.set_xlabel(fonts.label("시간(초)", "Time (s)"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return ax


def plot_attempt_timeline(
    source: AttemptSource,
    *,
    max_requests: int = 60,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw each request as a row and each attempt as a marker at its start time.

    Requests that retry in lockstep show up as columns of 429 markers at the
    same moments; jitter scatters them.

    Args:
        source: a `Recorder` or its attempts.
        max_requests: draws at most this many requests, the earliest first.
        ax: the Axes to draw on; a new figure when None.
        title: replaces the default title.
    """
    groups = sorted(_group_by_request(source).values(), key=lambda attempts: attempts[0].started)
    rows = groups[:max_requests]
    ax = _axes(ax)

    for row, attempts in enumerate(rows):
        ax.plot([attempts[0].started, attempts[-1].ended], [row, row], color="lightgray", linewidth=1, zorder=1)
    _draw_attempt_markers(ax, rows)

    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_title(title or fonts.label("요청별 시도 타임라인", "Attempts per request over time"))
    ax.set_xlabel(fonts.label("시간(초)", "Time (s)"))
    ax.set_ylabel(fonts.label("요청(시작 순)", "Request (by start)"))
    _integer_ticks(ax.yaxis)
    _legend_outside(ax)
    return ax


def _draw_attempt_markers(ax: Axes, rows: list[list[Attempt]]) -> None:
    styles = {
        "ok": ("o", OK_COLOR, fonts.label("성공", "OK")),
        "rate_limited": ("x", RATE_LIMITED_COLOR, "429"),
        "other": ("^", OTHER_COLOR, fonts.label("기타 오류", "Other error")),
    }
    points: dict[str, tuple[list[float], list[int]]] = {kind: ([], []) for kind in styles}
    for row, attempts in enumerate(rows):
        for attempt in attempts:
            kind = attempt.outcome if attempt.outcome in ("ok", "rate_limited") else "other"
            points[kind][0].append(attempt.started)
            points[kind][1].append(row)

    for kind, (times, row_numbers) in points.items():
        if times:
            marker, color, text = styles[kind]
            ax.scatter(times, row_numbers, marker=marker, color=color, label=text, zorder=2)


def _draw_cumulative(ax: Axes, events: list[tuple[float, float]], limit_per_minute: float | None, label: str | None) -> None:
    times = [0.0]
    totals = [0.0]
    for time_seconds, count in events:
        times.append(time_seconds)
        totals.append(totals[-1] + count)
    ax.step(times, totals, where="post", label=label)

    if limit_per_minute is not None:
        _check_positive("limit_per_minute", limit_per_minute)
        end = max(times[-1], 1.0)
        _draw_limit_once(ax, [0.0, end], [0.0, limit_per_minute * end / 60.0], limit_per_minute)


def _draw_windowed(
    ax: Axes,
    events: list[tuple[float, float]],
    limit_per_minute: float | None,
    label: str | None,
    window_seconds: float,
) -> None:
    end = events[-1][0] if events else 0.0
    edges = _window_edges(end, window_seconds)
    counts = [0.0] * (len(edges) - 1)
    for time_seconds, count in events:
        index = min(int(time_seconds // window_seconds), len(counts) - 1)
        counts[index] += count
    # The last window ends with the last completion, so dividing by its real width
    # keeps the rate from dropping at the end of the run.
    rates = [count * 60.0 / (edges[i + 1] - edges[i]) for i, count in enumerate(counts)]
    ax.step(edges, rates + rates[-1:], where="post", label=label)

    if limit_per_minute is not None:
        _check_positive("limit_per_minute", limit_per_minute)
        _draw_limit_once(ax, [0.0, edges[-1]], [limit_per_minute, limit_per_minute], limit_per_minute)


def _window_edges(end: float, window_seconds: float) -> list[float]:
    """Window boundaries from 0 to `end`; a last window under half a width joins the one before."""
    if end <= window_seconds:
        return [0.0, end if end > 0 else window_seconds]
    whole = int(end // window_seconds)
    edges = [index * window_seconds for index in range(whole + 1)]
    remainder = end - edges[-1]
    if remainder >= window_seconds / 2:
        edges.append(end)
    elif remainder > 0:
        edges[-1] = end
    return edges


def _draw_limit_once(ax: Axes, xs: list[float], ys: list[float], limit_per_minute: float) -> None:
    gid = f"limit-{limit_per_minute:g}"
    if any(line.get_gid() == gid for line in ax.get_lines()):
        return
    text = fonts.label(f"한도 {limit_per_minute:g} RPM", f"Limit {limit_per_minute:g} RPM")
    (line,) = ax.plot(xs, ys, color=LIMIT_COLOR, linestyle="--", label=text)
    line.set_gid(gid)


def _integer_ticks(axis: Any) -> None:
    axis.set_major_locator(MaxNLocator(integer=True))


def _legend_outside(ax: Axes) -> None:
    """Put the legend right of the plot, where it cannot hide bars or markers."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _axes(ax: Axes | None) -> Axes:
    fonts.ensure_font_setup()
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=(8, 4), layout="constrained")
    return new_ax


def _timeline_entries(value: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    timeline = value.get("timeline") if isinstance(value, Mapping) else value
    if timeline is None or isinstance(timeline, (str, bytes)) or not isinstance(timeline, Sequence):
        raise ValueError(
            f"invalid timeline {type(value).__name__}: pass the mock server's stats() or its 'timeline' list of per-second entries"
        )
    for entry in timeline:
        missing = [key for key in ("second", "admitted", "refused") if key not in entry]
        if missing:
            raise ValueError(f"timeline entry {entry!r} is missing {', '.join(missing)}")
    return list(timeline)


def _attempts(source: AttemptSource) -> list[Attempt]:
    return source.attempts() if isinstance(source, Recorder) else list(source)


def _group_by_request(source: AttemptSource) -> dict[str, list[Attempt]]:
    groups: dict[str, list[Attempt]] = {}
    for attempt in _attempts(source):
        groups.setdefault(attempt.request_id, []).append(attempt)
    for attempts in groups.values():
        attempts.sort(key=lambda attempt: attempt.number)
    return groups


def _waits(source: AttemptSource | Iterable[float]) -> list[float]:
    if isinstance(source, Recorder):
        return source.waits()
    waits = []
    for item in source:
        if isinstance(item, Attempt):
            if item.wait_seconds is not None:
                waits.append(item.wait_seconds)
        else:
            waits.append(float(item))
    return waits


def _completion_events(source: ThroughputSource) -> list[tuple[float, float]]:
    """Turn any throughput source into sorted `(time_seconds, completed_in_this_event)` pairs."""
    items = source.attempts() if isinstance(source, Recorder) else list(source)
    if all(isinstance(item, Attempt) for item in items):
        return sorted((item.ended, 1.0) for item in items if isinstance(item, Attempt) and item.outcome == "ok")

    events = []
    previous = 0.0
    for item in sorted(items, key=lambda point: float(point[0])):  # type: ignore[index]
        time_seconds, completed = float(item[0]), float(item[1])  # type: ignore[index]
        events.append((time_seconds, completed - previous))
        previous = completed
    return events


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
