from __future__ import annotations

import pytest

from ratelimit_toolkit import messages

messages.register({"test.greeting": {"en": "Sent {count} requests", "ko": "요청 {count}개를 보냈습니다"}})


@pytest.fixture(autouse=True)
def _clean_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("RATELIMIT_TOOLKIT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)


def test_default_language_is_english() -> None:
    assert messages.t("test.greeting", count=3) == "Sent 3 requests"


def test_korean_locale_selects_korean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert messages.t("test.greeting", count=3) == "요청 3개를 보냈습니다"


def test_explicit_language_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert messages.t("test.greeting", lang="en", count=1) == "Sent 1 requests"


def test_lc_all_overrides_lang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    assert messages.current_language() == "en"


def test_unknown_language_rejected() -> None:
    with pytest.raises(ValueError, match="'fr'"):
        messages.t("test.greeting", lang="fr", count=1)


def test_missing_english_rejected() -> None:
    with pytest.raises(ValueError, match="no English text"):
        messages.register({"test.bad": {"ko": "한국어만"}})


def test_both_puts_korean_first() -> None:
    assert messages.both("test.greeting", count=2) == "요청 2개를 보냈습니다 / Sent 2 requests"
