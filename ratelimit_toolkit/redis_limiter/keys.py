"""Redis key names for shared limits, one key per organisation, project and model."""

from __future__ import annotations

from urllib.parse import quote

#: The first part of every key this package writes.
DEFAULT_KEY_PREFIX = "ratelimit-toolkit"

# Stands for a name part the caller left out; `quote` never produces it, so
# it cannot collide with a real name.
_UNSET = "*"


def limit_key(
    key_prefix: str = DEFAULT_KEY_PREFIX,
    *,
    organization: str | None = None,
    project: str | None = None,
    model: str | None = None,
) -> str:
    """Return the Redis key of one shared limit.

    OpenAI sets limits per organisation (and project) and per model, so each
    combination gets its own key and never spends another's budget. Name parts
    are percent-encoded, so a `:` inside a name cannot make two combinations
    share a key.

    >>> limit_key(organization="org-a", model="gpt-4o-mini")
    'ratelimit-toolkit:limit:org-a:*:gpt-4o-mini'

    Raises:
        ValueError: `key_prefix` is empty, or a name part is an empty string.
    """
    if not isinstance(key_prefix, str) or not key_prefix:
        raise ValueError(f"key_prefix must be a non-empty string, got {key_prefix!r}")
    parts = [_encode(name, value) for name, value in (("organization", organization), ("project", project), ("model", model))]
    return ":".join([key_prefix, "limit", *parts])


def _encode(name: str, value: str | None) -> str:
    if value is None:
        return _UNSET
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string or None, got {value!r}")
    return quote(value, safe="-_.~")
