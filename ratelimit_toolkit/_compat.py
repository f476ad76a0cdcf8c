"""The `openai` version check that `errors` and `retry` run when they are imported.

openai 1.0 removed the `error` submodule of openai 0.x and put the exception
classes at the top level (`openai.RateLimitError`, `openai.APIStatusError`, ...). Our code
reads those classes and the 1.x client API, so an older `openai` has to fail
at import time with the fix in the message. Without the check it would fail
later with an `AttributeError` deep inside a retry.
"""

from __future__ import annotations

import re
from types import ModuleType

from ratelimit_toolkit import messages

#: The `openai` requirement in pyproject.toml; keep the two in step.
OPENAI_REQUIREMENT = "openai>=1.40"
MIN_OPENAI_VERSION = (1, 40)

#: Top-level names of openai 1.x that this package uses.
_REQUIRED_NAMES = (
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncOpenAI",
    "OpenAI",
    "RateLimitError",
)

messages.register(
    {
        "compat.openai_too_old": {
            "en": (
                "ratelimit_toolkit needs {requirement}, but the installed openai {version} "
                "lacks {missing}. Upgrade it: pip install --upgrade '{requirement}'"
            ),
            "ko": (
                "ratelimit_toolkit에는 {requirement}가 필요하지만 설치된 openai {version}에는 "
                "{missing}이(가) 없습니다. 업그레이드하세요: pip install --upgrade '{requirement}'"
            ),
        },
    }
)


def require_openai(module: ModuleType | None = None) -> ModuleType:
    """Return the `openai` module after checking that it is recent enough.

    Args:
        module: the module to check; None imports `openai`.

    Raises:
        ImportError: `openai` lacks the 1.x top-level exceptions or is older
            than `MIN_OPENAI_VERSION`; the message names `OPENAI_REQUIREMENT`.
    """
    if module is None:
        import openai as module

    version_text = str(getattr(module, "__version__", "unknown"))
    missing = [name for name in _REQUIRED_NAMES if not hasattr(module, name)]
    version = _parse_version(version_text)
    if version is not None and version < MIN_OPENAI_VERSION:
        missing = missing or [f"version {'.'.join(map(str, MIN_OPENAI_VERSION))}"]

    if missing:
        raise ImportError(
            messages.t(
                "compat.openai_too_old",
                requirement=OPENAI_REQUIREMENT,
                version=version_text,
                missing=", ".join(missing),
            )
        )
    return module


def _parse_version(text: str) -> tuple[int, int] | None:
    """Read the major and minor numbers of a version such as `1.40.2` or `2.0.0b1`."""
    match = re.match(r"(\d+)\.(\d+)", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


openai = require_openai()
