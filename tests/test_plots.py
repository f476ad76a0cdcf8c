"""Korean font set-up and the plot helpers, rendered to PNG with the Agg backend."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from ratelimit_toolkit import plots  # noqa: E402
from ratelimit_toolkit.plots import fonts  # noqa: E402
from ratelimit_toolkit.recording import Attempt, Recorder  # noqa: E402

DEJAVU_SANS = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@pytest.fixture(autouse=True)
def _isolated_matplotlib(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore rcParams, the font set-up state and open figures after each test."""
    monkeypatch.setattr(fonts, "_current", fonts._current)
    monkeypatch.setattr(fonts, "_fallback_warned", fonts._fallback_warned)
    with matplotlib.rc_context():
        yield
    plt.close("all")


def _find_nothing() -> list[Path]:
    return []


def _render_messages(draw: Callable[[], plt.Figure], path: Path, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Draw and save a figure; return every warning and matplotlib log message it produced."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="matplotlib"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = draw()
        figure.savefig(path)
    return [str(item.message) for item in caught] + [record.getMessage() for record in caplog.records]


def _backoff_figure() -> plt.Figure:
    figure, ax = plt.subplots()
    ax.plot([1, 2, 3, 4], [1, 2, 4, 8], label="지터 포함")
    ax.plot([1, 2, 3, 4], [1, 2, 4, 8], label="지터 없음")
    ax.set_title("재시도 횟수별 대기 시간 (Backoff)")
    ax.set_xlabel("시도 횟수")
    ax.set_ylabel("대기 시간(초)")
    ax.legend()
    return figure


def _negative_figure() -> plt.Figure:
    figure, ax = plt.subplots()
    ax.plot([0, 1, 2, 3], [-3, -1, 0, 2])
    ax.set_ylabel("지연 변화(초)")
    return figure


def _missing_glyph_messages(messages: list[str]) -> list[str]:
    return [message for message in messages if "missing from" in message or "not found" in message]


def _recorder_with(attempts: list[Attempt]) -> Recorder:
    recorder = Recorder()
    for attempt in attempts:
        recorder.add(attempt)
    return recorder


def _attempt(request_id: str, number: int, started: float, outcome: str = "ok", wait_seconds: float | None = None) -> Attempt:
    return Attempt(request_id, number, started, started + 0.1, outcome, wait_seconds=wait_seconds)


def _sample_recorder() -> Recorder:
    return _recorder_with(
        [
            _attempt("a", 1, 0.0),
            _attempt("b", 1, 0.0, "rate_limited", wait_seconds=1.0),
            _attempt("b", 2, 1.0),
            _attempt("c", 1, 0.5, "rate_limited", wait_seconds=1.0),
            _attempt("c", 2, 1.5, "rate_limited", wait_seconds=2.0),
            _attempt("c", 3, 3.5, "server_error", wait_seconds=4.0),
            _attempt("c", 4, 7.5),
        ]
    )


def test_setup_finds_packaged_nanum() -> None:
    setup = plots.setup_korean_font()

    assert setup.korean
    assert setup.family == "NanumGothic"
    assert setup.path is not None
    assert setup.path.parent.name == "fonts"
    assert setup.path.parent.parent.name == "koreanize_matplotlib"


def test_setup_puts_font_first() -> None:
    setup = plots.setup_korean_font()

    assert matplotlib.rcParams["font.family"][0] == setup.family


def test_setup_twice_registers_once() -> None:
    setup = plots.setup_korean_font()
    entries_after_first = [entry for entry in font_manager.fontManager.ttflist if entry.fname == str(setup.path)]

    again = plots.setup_korean_font()
    entries_after_second = [entry for entry in font_manager.fontManager.ttflist if entry.fname == str(setup.path)]

    assert again == setup
    assert len(entries_after_second) == len(entries_after_first)


def test_fonts_module_avoids_private_rebuild() -> None:
    source = Path(fonts.__file__).read_text(encoding="utf-8")

    assert "_rebuild" not in source


def test_korean_plot_has_no_missing_glyphs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plots.setup_korean_font()

    messages = _render_messages(_backoff_figure, tmp_path / "backoff.png", caplog)

    assert _missing_glyph_messages(messages) == []
    assert (tmp_path / "backoff.png").stat().st_size > 0


def test_second_setup_still_renders(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plots.setup_korean_font()
    plots.setup_korean_font()

    messages = _render_messages(_backoff_figure, tmp_path / "backoff.png", caplog)

    assert _missing_glyph_messages(messages) == []


def test_negative_ticks_have_no_missing_minus(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plots.setup_korean_font()

    messages = _render_messages(_negative_figure, tmp_path / "negative.png", caplog)

    assert _missing_glyph_messages(messages) == []


def test_korean_font_alone_draws_minus(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    setup = plots.setup_korean_font()
    # Without the DejaVu Sans fallback, only `axes.unicode_minus` keeps U+2212 out.
    matplotlib.rcParams["font.family"] = [setup.family]

    messages = _render_messages(_negative_figure, tmp_path / "negative.png", caplog)

    assert _missing_glyph_messages(messages) == []


def test_detector_catches_missing_minus(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    setup = plots.setup_korean_font()
    if setup.unicode_minus:
        pytest.skip(f"{setup.family} has U+2212, so nothing can go missing")
    matplotlib.rcParams["font.family"] = [setup.family]
    matplotlib.rcParams["axes.unicode_minus"] = True

    messages = _render_messages(_negative_figure, tmp_path / "boxes.png", caplog)

    assert any("8722" in message for message in messages)


def test_unicode_minus_follows_font_charmap() -> None:
    setup = plots.setup_korean_font()
    assert setup.path is not None

    has_minus = fonts.font_has_characters(setup.path, "\u2212")

    assert setup.unicode_minus == has_minus
    assert matplotlib.rcParams["axes.unicode_minus"] == has_minus


def test_nanum_lacks_unicode_minus() -> None:
    setup = plots.setup_korean_font()
    assert setup.path is not None and setup.family == "NanumGothic"

    assert not fonts.font_has_characters(setup.path, "\u2212")
    assert setup.unicode_minus is False


def test_detector_catches_missing_hangul(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]

    messages = _render_messages(_backoff_figure, tmp_path / "boxes.png", caplog)

    assert any("missing from" in message for message in messages)


def test_fallback_reports_no_korean() -> None:
    with pytest.warns(UserWarning):
        setup = plots.setup_korean_font(finder=_find_nothing)

    assert setup.korean is False
    assert setup.path is None
    assert plots.korean_font_active() is False


def test_fallback_warning_is_bilingual() -> None:
    with pytest.warns(UserWarning) as caught:
        plots.setup_korean_font(finder=_find_nothing)

    text = str(caught[0].message)
    assert "한글 글꼴" in text
    assert "No Korean font" in text


def test_fallback_warns_once() -> None:
    with pytest.warns(UserWarning):
        plots.setup_korean_font(finder=_find_nothing)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.setup_korean_font(finder=_find_nothing)

    assert caught == []


def test_fallback_plots_english_without_boxes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.warns(UserWarning):
        plots.setup_korean_font(finder=_find_nothing)
    timeline = [{"second": 0, "admitted": 2, "refused": 1}]

    messages = _render_messages(lambda: plots.plot_timeline(timeline, 1.0).figure, tmp_path / "english.png", caplog)

    assert _missing_glyph_messages(messages) == []
    assert plots.label("시간(초)", "Time (s)") == "Time (s)"


def test_fallback_timeline_labels_english() -> None:
    with pytest.warns(UserWarning):
        plots.setup_korean_font(finder=_find_nothing)

    ax = plots.plot_timeline([{"second": 0, "admitted": 1, "refused": 0}])

    assert ax.get_xlabel() == "Time (s)"


def test_setup_after_fallback_restores_korean() -> None:
    with pytest.warns(UserWarning):
        plots.setup_korean_font(finder=_find_nothing)

    setup = plots.setup_korean_font()

    assert setup.korean
    assert plots.korean_font_active()


def test_label_korean_with_english() -> None:
    plots.setup_korean_font()

    assert plots.label("시간(초)", "Time (s)") == "시간(초) (Time (s))"


def test_label_english_after_style_change() -> None:
    plots.setup_korean_font()
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]

    assert plots.label("시간(초)", "Time (s)") == "Time (s)"


def test_first_korean_font_skips_latin_fonts(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    nanum = next(iter(plots.find_korean_font_files()))

    chosen = fonts.first_korean_font([tmp_path / "absent.ttf", broken, DEJAVU_SANS, nanum])

    assert chosen == nanum


def test_first_korean_font_none_for_latin() -> None:
    assert fonts.first_korean_font([DEJAVU_SANS]) is None


def test_timeline_bars_and_limit() -> None:
    plots.setup_korean_font()
    stats = {"timeline": [{"second": 0, "admitted": 3, "refused": 2, "tokens": 30}, {"second": 1, "admitted": 1, "refused": 0, "tokens": 10}]}

    ax = plots.plot_timeline(stats, limit_per_second=1 / 3)

    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [3, 1, 2, 0]
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(1 / 3)


def test_timeline_korean_labels() -> None:
    plots.setup_korean_font()

    ax = plots.plot_timeline([{"second": 0, "admitted": 1, "refused": 0}])

    assert ax.get_xlabel() == "시간(초) (Time (s))"


def test_timeline_stacks_other_errors() -> None:
    timeline = [{"second": 0, "admitted": 1, "refused": 2, "errors": 3}]

    ax = plots.plot_timeline(timeline)

    assert [patch.get_y() for patch in ax.patches] == [0, 1, 3]


def test_timeline_draws_on_given_axes() -> None:
    _, existing_ax = plt.subplots()

    ax = plots.plot_timeline([{"second": 0, "admitted": 1, "refused": 0}], ax=existing_ax)

    assert ax is existing_ax


def test_timeline_rejects_missing_field() -> None:
    with pytest.raises(ValueError, match="refused"):
        plots.plot_timeline([{"second": 0, "admitted": 1}])


def test_timeline_rejects_stats_without_timeline() -> None:
    with pytest.raises(ValueError, match="timeline"):
        plots.plot_timeline({"totals": {}})


def test_timeline_rejects_zero_limit() -> None:
    with pytest.raises(ValueError, match="limit_per_second"):
        plots.plot_timeline([{"second": 0, "admitted": 1, "refused": 0}], limit_per_second=0)


def test_retries_per_request_counts() -> None:
    ax = plots.plot_retries_per_request(_sample_recorder())

    assert [patch.get_height() for patch in ax.patches] == [1, 1, 0, 1]


def test_wait_distribution_counts_waits() -> None:
    ax = plots.plot_wait_distribution(_sample_recorder(), bins=4)

    assert sum(patch.get_height() for patch in ax.patches) == 4


def test_wait_distribution_accepts_floats() -> None:
    ax = plots.plot_wait_distribution([0.5, 1.0, 2.0], bins=3)

    assert sum(patch.get_height() for patch in ax.patches) == 3


def test_throughput_cumulative_total() -> None:
    ax = plots.plot_throughput(_sample_recorder(), label="run")

    assert ax.get_lines()[0].get_ydata()[-1] == 3


def test_throughput_limit_drawn_once() -> None:
    ax = plots.plot_throughput(_sample_recorder(), limit_per_minute=60, label="first")
    plots.plot_throughput([(1.0, 1), (2.0, 3)], limit_per_minute=60, label="second", ax=ax)

    limit_lines = [line for line in ax.get_lines() if line.get_gid() == "limit-60"]
    assert len(limit_lines) == 1
    assert len(ax.get_lines()) == 3


def test_throughput_points_are_running_totals() -> None:
    ax = plots.plot_throughput([(2.0, 3), (1.0, 1)])

    assert list(ax.get_lines()[0].get_ydata()) == [0, 1, 3]


def test_throughput_windowed_rate() -> None:
    ax = plots.plot_throughput([(1.0, 2), (9.0, 3)], cumulative=False, window_seconds=5.0)

    assert list(ax.get_lines()[0].get_ydata()) == [24.0, 15.0, 15.0]


def test_throughput_no_drop_at_end() -> None:
    # One completion a second, ending 1.5 s into a window: the short tail joins the window before it.
    points = [(second + 0.5, second + 1) for second in range(12)]

    ax = plots.plot_throughput(points, cumulative=False, window_seconds=5.0)

    assert min(ax.get_lines()[0].get_ydata()) >= 55.0


def test_throughput_rejects_zero_window() -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        plots.plot_throughput([(1.0, 1)], cumulative=False, window_seconds=0)


def test_attempt_timeline_markers() -> None:
    ax = plots.plot_attempt_timeline(_sample_recorder())

    counts = {collection.get_label(): len(collection.get_offsets()) for collection in ax.collections}
    assert counts[plots.label("성공", "OK")] == 3
    assert counts["429"] == 3
    assert counts[plots.label("기타 오류", "Other error")] == 1


def test_attempt_timeline_limits_rows() -> None:
    ax = plots.plot_attempt_timeline(_sample_recorder(), max_requests=2)

    rows = {row for collection in ax.collections for _, row in collection.get_offsets()}
    assert rows == {0, 1}


def test_helpers_return_axes() -> None:
    recorder = _sample_recorder()

    results = [
        plots.plot_retries_per_request(recorder),
        plots.plot_wait_distribution(recorder),
        plots.plot_throughput(recorder),
        plots.plot_attempt_timeline(recorder),
    ]

    assert all(isinstance(result, Axes) for result in results)


def test_all_helpers_render_korean(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plots.setup_korean_font()
    recorder = _sample_recorder()

    def draw() -> plt.Figure:
        figure, axes = plt.subplots(2, 3, figsize=(12, 6))
        plots.plot_timeline([{"second": 0, "admitted": 1, "refused": 1}], 0.5, ax=axes[0][0])
        plots.plot_retries_per_request(recorder, ax=axes[0][1])
        plots.plot_wait_distribution(recorder, ax=axes[0][2])
        plots.plot_throughput(recorder, limit_per_minute=30, ax=axes[1][0])
        plots.plot_throughput(recorder, cumulative=False, limit_per_minute=30, ax=axes[1][1])
        plots.plot_attempt_timeline(recorder, ax=axes[1][2])
        return figure

    messages = _render_messages(draw, tmp_path / "all.png", caplog)

    assert _missing_glyph_messages(messages) == []
