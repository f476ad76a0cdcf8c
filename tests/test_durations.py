from __future__ import annotations

import pytest

from ratelimit_toolkit.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("1m30.5s", 90.5),
        ("20ms", 0.02),
        ("1.5s", 1.5),
        ("0s", 0.0),
        ("2h", 7200.0),
        ("1h2m3s", 3723.0),
        ("500us", 0.0005),
        ("500µs", 0.0005),
        (".5s", 0.5),
        ("2", 2.0),
        (" 3s ", 3.0),
    ],
)
def test_parse_duration_valid(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-1s", "-1", "nan", "inf", "5 s", "1m1", "s", "1x", None, 5, "1s2"])
def test_parse_duration_invalid(text: object) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.02, "20ms"),
        (0.0004, "1ms"),
        (0.9999, "1s"),
        (1, "1s"),
        (1.5, "1.5s"),
        (60, "1m0s"),
        (90.5, "1m30.5s"),
        (360, "6m0s"),
        (3723.25, "1h2m3.25s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.0004, 0.02, 1.5, 59.999, 61.25, 360, 5000.5])
def test_format_then_parse_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=1e-3)


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_format_duration_rejects_invalid(seconds: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        format_duration(seconds)
