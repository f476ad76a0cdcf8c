"""A Korean-capable matplotlib font, found offline, and labels that follow it.

`setup_korean_font()` registers a font through matplotlib's public
`fontManager.addfont` and puts it first in `rcParams["font.family"]`. It looks
in this order and never downloads anything:

1. the NanumGothic files shipped in the `koreanize-matplotlib` package. The
   package is located with `importlib.util.find_spec` and never imported,
   because its `__init__` imports `distutils`, which Python 3.12 removed;
2. Korean fonts already installed on the system (NanumGothic, Noto Sans CJK KR,
   Noto Sans KR, Malgun Gothic, Apple SD Gothic Neo and a few others).

A candidate counts only when its character map contains Hangul syllables. When
none does, plots fall back to matplotlib's default font and English labels, and
one warning in Korean and English reports the fallback.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

from ratelimit_toolkit import messages

logger = logging.getLogger(__name__)

messages.register(
    {
        "plots.no_korean_font": {
            "en": (
                "No Korean font found, so plots use English labels. Install the "
                "koreanize-matplotlib package or a system font such as NanumGothic or "
                "Noto Sans CJK KR, then run setup_korean_font() again."
            ),
            "ko": (
                "한글 글꼴을 찾지 못해 그래프에 영어 레이블을 씁니다. koreanize-matplotlib "
                "패키지나 NanumGothic, Noto Sans CJK KR 같은 시스템 글꼴을 설치한 뒤 "
                "setup_korean_font()를 다시 실행하세요."
            ),
        },
    }
)

#: Characters a font must contain to count as Korean-capable: the first and
#: last Hangul syllables, and the syllables of a typical axis label.
HANGUL_PROBE = "가힣시간초"

#: Code point of the Unicode minus sign, which matplotlib draws for negative
#: tick labels while `axes.unicode_minus` is True.
MINUS_SIGN = 0x2212

#: Font that follows the Korean font in `font.family`, so a glyph the Korean
#: font lacks comes from matplotlib's bundled DejaVu Sans instead of a box.
FALLBACK_FAMILY = "DejaVu Sans"

# Lower-case fragments of the family or file names of common Korean fonts.
_SYSTEM_FONT_HINTS = (
    "nanum",
    "noto sans cjk",
    "notosanscjk",
    "noto sans kr",
    "notosanskr",
    "noto serif cjk",
    "malgun",
    "apple sd gothic",
    "applesdgothic",
    "applegothic",
    "undotum",
    "ungungseo",
    "baekmuk",
    "source han sans",
    "sourcehansans",
)

FontFinder = Callable[[], Iterable[Path]]


@dataclass(frozen=True)
class FontSetup:
    """Result of `setup_korean_font()`.

    Attributes:
        korean: True when a Korean-capable font is now first in `font.family`.
        family: the family name now first in `rcParams["font.family"]`.
        path: the font file registered, or None after a fallback.
        unicode_minus: the value set for `rcParams["axes.unicode_minus"]`. It is
            False when the Korean font has no U+2212 glyph, so negative ticks use
            the ASCII hyphen.
    """

    korean: bool
    family: str
    path: Path | None
    unicode_minus: bool


_lock = threading.Lock()
_current: FontSetup | None = None
_fallback_warned = False


def setup_korean_font(*, finder: FontFinder | None = None) -> FontSetup:
    """Register a Korean-capable font with matplotlib and make it the default.

    Safe to call any number of times: a font file already in
    `fontManager.ttflist` is not added again, and the rcParams are set to the
    same values. It changes global matplotlib state (`font.family` and
    `axes.unicode_minus`), as any style setting does.

    Args:
        finder: returns candidate font files in order of preference. The
            default looks in the koreanize-matplotlib package, then among the
            system fonts. Tests pass one that finds nothing to exercise the
            fallback.

    Returns:
        What was set up. `korean` is False after a fallback.

    Warns:
        UserWarning: once per process, in Korean and English, when no
            Korean-capable font is found.
    """
    global _current

    with _lock:
        candidates = (finder or find_korean_font_files)()
        path = first_korean_font(candidates)
        setup = _apply_font(path) if path is not None else _apply_fallback()
        _current = setup
    logger.debug("font set-up: %s", setup)
    return setup


def current_font_setup() -> FontSetup | None:
    """Return the result of the last `setup_korean_font()`, or None before the first call."""
    return _current


def ensure_font_setup() -> FontSetup:
    """Run `setup_korean_font()` unless it already ran, and return its result."""
    setup = _current
    return setup if setup is not None else setup_korean_font()


def korean_font_active() -> bool:
    """Tell whether the Korean font set up last is still first in `font.family`.

    A later `plt.style.use(...)` or `rcParams` change can replace it, and then
    plot labels switch to English instead of drawing empty boxes.
    """
    setup = _current
    if setup is None or not setup.korean:
        return False
    families = matplotlib.rcParams["font.family"]
    return bool(families) and families[0] == setup.family


def label(korean: str, english: str) -> str:
    """Pick a plot text: `"시간(초) (Time (s))"` with a Korean font active, else `"Time (s)"`."""
    if korean_font_active():
        return f"{korean} ({english})"
    return english


def find_korean_font_files() -> Iterator[Path]:
    """Yield candidate Korean font files: the packaged NanumGothic first, then system fonts.

    The candidates are not checked here; `first_korean_font` checks each one's
    character map.
    """
    yield from _packaged_font_files()
    yield from _system_font_files()


def first_korean_font(candidates: Iterable[Path]) -> Path | None:
    """Return the first candidate whose character map contains Hangul, or None."""
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and font_has_characters(path, HANGUL_PROBE):
            return path
    return None


def font_has_characters(path: Path, text: str) -> bool:
    """Tell whether the font file at `path` has a glyph for every character of `text`.

    An unreadable or invalid font file counts as having none.
    """
    try:
        charmap = FT2Font(str(path)).get_charmap()
    except (OSError, RuntimeError, ValueError) as error:
        logger.debug("cannot read font %s: %s", path, error)
        return False
    return all(ord(character) in charmap for character in text)


def _packaged_font_files() -> Iterator[Path]:
    # find_spec on a top-level name locates the package without executing its __init__.
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return
    for location in spec.submodule_search_locations:
        fonts_dir = Path(location) / "fonts"
        regular = fonts_dir / "NanumGothic.ttf"
        if regular.is_file():
            yield regular
        yield from sorted(path for path in fonts_dir.glob("*.tt[fc]") if path != regular)


def _system_font_files() -> Iterator[Path]:
    seen: set[str] = set()
    registered = [entry.fname for entry in font_manager.fontManager.ttflist if _looks_korean(entry.name)]
    scanned = [name for name in font_manager.findSystemFonts() if _looks_korean(Path(name).name)]
    for name in [*registered, *scanned]:
        if name not in seen:
            seen.add(name)
            yield Path(name)


def _looks_korean(name: str) -> bool:
    lowered = name.lower()
    return any(hint in lowered for hint in _SYSTEM_FONT_HINTS)


def _apply_font(path: Path) -> FontSetup:
    family = FT2Font(str(path)).family_name
    _register_family(path, family)

    has_minus = font_has_characters(path, chr(MINUS_SIGN))
    matplotlib.rcParams["font.family"] = [family, FALLBACK_FAMILY]
    matplotlib.rcParams["axes.unicode_minus"] = has_minus
    logger.info("plots use the Korean font %s (%s); U+2212 present: %s", family, path, has_minus)
    return FontSetup(korean=True, family=family, path=path, unicode_minus=has_minus)


def _register_family(path: Path, family: str) -> None:
    """Add `path` and its same-family siblings (bold, light) to matplotlib once each."""
    siblings = [path, *sorted(p for p in path.parent.glob("*.tt[fc]") if p != path)]
    registered = {entry.fname for entry in font_manager.fontManager.ttflist}
    for candidate in siblings:
        if str(candidate) in registered:
            continue
        if candidate != path and not _same_family(candidate, family):
            continue
        font_manager.fontManager.addfont(str(candidate))
        registered.add(str(candidate))


def _same_family(path: Path, family: str) -> bool:
    try:
        return FT2Font(str(path)).family_name == family
    except (OSError, RuntimeError, ValueError):
        return False


def _apply_fallback() -> FontSetup:
    global _fallback_warned

    default_family = list(matplotlib.rcParamsDefault["font.family"])
    matplotlib.rcParams["font.family"] = default_family
    matplotlib.rcParams["axes.unicode_minus"] = True
    if not _fallback_warned:
        _fallback_warned = True
        text = messages.both("plots.no_korean_font")
        warnings.warn(text, UserWarning, stacklevel=3)
        logger.warning(text)
    return FontSetup(korean=False, family=default_family[0], path=None, unicode_minus=True)
