"""User-facing text in English and Korean.

English is the default. Korean is chosen by an explicit `lang="ko"`, by the
`RATELIMIT_TOOLKIT_LANG` environment variable, or by a locale variable
(`LC_ALL`, `LC_MESSAGES`, `LANG`) that starts with `ko`.

Each module registers its own catalog at import time::

    messages.register({"retry.gave_up": {"en": "Gave up after {attempts} attempts",
                                         "ko": "{attempts}번 시도한 뒤 포기했습니다"}})
    messages.t("retry.gave_up", attempts=3)
"""

from __future__ import annotations

import os
from typing import Literal

Language = Literal["en", "ko"]
LANGUAGES: tuple[Language, ...] = ("en", "ko")

_CATALOG: dict[str, dict[str, str]] = {}


def register(catalog: dict[str, dict[str, str]]) -> None:
    """Add message templates; every entry needs an `en` text, `ko` is optional."""
    for key, texts in catalog.items():
        if "en" not in texts:
            raise ValueError(f"message {key!r} has no English text; add an 'en' entry")
        _CATALOG[key] = dict(texts)


def current_language(lang: str | None = None) -> Language:
    """Pick the language: the explicit `lang`, else the environment, else English."""
    if lang is not None:
        return _validate(lang)

    explicit = os.environ.get("RATELIMIT_TOOLKIT_LANG")
    if explicit:
        return _validate(explicit)
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def _validate(lang: str) -> Language:
    code = lang.strip().lower()[:2]
    if code not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; use 'en' or 'ko'")
    return code  # type: ignore[return-value]


def t(key: str, lang: str | None = None, **values: object) -> str:
    """Format the message `key` in the chosen language, falling back to English."""
    texts = _CATALOG.get(key)
    if texts is None:
        raise KeyError(f"no message registered under {key!r}")
    template = texts.get(current_language(lang)) or texts["en"]
    return template.format(**values)


def both(key: str, **values: object) -> str:
    """Format `key` in Korean and English, Korean first, for notebook output."""
    korean = t(key, "ko", **values)
    english = t(key, "en", **values)
    return english if korean == english else f"{korean} / {english}"
