"""Settings that decide who shares a pair of rate-limit buckets: the server, each key, or each organisation.

`limit_scope` picks the scope. `organizations` maps organisation ids to API
keys, `scope_limits` overrides RPM and TPM for single scopes, and `max_scopes`
bounds how many scopes the server keeps. This module normalises and checks
them, and reads them from the JSON file that `ratelimit-toolkit serve
--organizations` takes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from ratelimit_toolkit.mock.auth import mask_api_key
from ratelimit_toolkit.mock.buckets import check_limit

LimitScope = Literal["server", "key", "organization"]
LIMIT_SCOPES: tuple[LimitScope, ...] = ("server", "key", "organization")

#: Scopes (keys or organisations) a server keeps buckets and counts for. When a
#: new scope would exceed it, the least recently used scope is dropped, so its
#: next request starts with full buckets and zero counts. It bounds memory
#: against a client that sends many keys: tracemalloc on CPython 3.11 measured
#: about 2.5 KB per scope, and 7 KB for one that lists 50 masked keys.
DEFAULT_MAX_SCOPES = 10_000

KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


class FrozenMapping(Mapping[KeyT, ValueT]):
    """A read-only, hashable mapping, so settings that contain one stay hashable."""

    def __init__(self, items: Iterable[tuple[KeyT, ValueT]]) -> None:
        self._data = dict(items)

    def __getitem__(self, key: KeyT) -> ValueT:
        return self._data[key]

    def __iter__(self) -> Iterator[KeyT]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"


def normalize_organizations(organizations: object) -> FrozenMapping[str, frozenset[str]]:
    """Check an `{organisation id: [API key, ...]}` mapping and return it frozen.

    Raises:
        ValueError: the value is not such a mapping, an id or key is empty or
            not a string, or one key is listed under two organisations. The
            message shows keys masked.
    """
    if not isinstance(organizations, Mapping):
        raise ValueError(f"organizations must map organisation ids to lists of API keys, got {type(organizations).__name__}")

    owner_by_key: dict[str, str] = {}
    frozen: list[tuple[str, frozenset[str]]] = []
    for organization, keys in organizations.items():
        _check_scope_id("organizations", organization)
        key_set = _to_key_set(organization, keys)
        for key in key_set:
            owner = owner_by_key.setdefault(key, organization)
            if owner != organization:
                raise ValueError(
                    f"organizations lists API key {mask_api_key(key)} under both {owner!r} and {organization!r}; "
                    "a key belongs to one organisation"
                )
        frozen.append((organization, key_set))
    return FrozenMapping(frozen)


def normalize_scope_limits(scope_limits: object) -> FrozenMapping[str, tuple[int, int]]:
    """Check a `{scope id: (rpm, tpm)}` mapping and return it frozen with tuple values.

    A scope id is an organisation id when `limit_scope` is "organization" and
    an API key when it is "key".

    Raises:
        ValueError: the value is not such a mapping, or a limit is not an integer >= 1.
    """
    if not isinstance(scope_limits, Mapping):
        raise ValueError(f"scope_limits must map scope ids to (rpm, tpm) pairs, got {type(scope_limits).__name__}")

    frozen: list[tuple[str, tuple[int, int]]] = []
    for scope_id, pair in scope_limits.items():
        _check_scope_id("scope_limits", scope_id)
        display_id = _display_scope_id(scope_id)
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Collection) or len(pair) != 2:
            raise ValueError(f"scope_limits[{display_id}] must be a pair (rpm, tpm), got {pair!r}")
        rpm, tpm = pair
        check_limit(f"scope_limits[{display_id}] rpm", rpm)
        check_limit(f"scope_limits[{display_id}] tpm", tpm)
        frozen.append((scope_id, (rpm, tpm)))
    return FrozenMapping(frozen)


def check_scope_settings(limit_scope: object, scope_limits: Mapping[str, Any] | None, max_scopes: object) -> None:
    """Raise ValueError unless the scope settings are valid together."""
    if limit_scope not in LIMIT_SCOPES:
        raise ValueError(f"limit_scope must be 'server', 'key' or 'organization', got {limit_scope!r}")
    if scope_limits and limit_scope == "server":
        raise ValueError(
            "scope_limits apply only when limit_scope is 'key' or 'organization'; "
            "set limit_scope, or change rpm and tpm for the whole server instead"
        )
    if isinstance(max_scopes, bool) or not isinstance(max_scopes, int) or max_scopes < 1:
        raise ValueError(f"max_scopes must be an integer >= 1, got {max_scopes!r}")


def read_organizations_file(
    path: str | Path, *, rpm: int, tpm: int
) -> tuple[dict[str, list[str]], dict[str, tuple[int, int]]]:
    """Read organisations, and optional per-organisation limits, from a JSON file.

    The file is one JSON object from organisation id to either a list of API
    keys or an object with `keys` and optional `rpm` and `tpm`::

        {"org-a": ["sk-a1", "sk-a2"],
         "org-b": {"keys": ["sk-b1"], "rpm": 30, "tpm": 40000}}

    Args:
        path: the JSON file.
        rpm: the server's RPM, for an organisation that sets only `tpm`.
        tpm: the server's TPM, for an organisation that sets only `rpm`.

    Returns:
        The `organizations` and `scope_limits` settings, to be checked by `MockSettings`.

    Raises:
        ValueError: the file cannot be read, is not valid JSON, or has another shape.
    """
    data = _load_json_object(Path(path))
    organizations: dict[str, list[str]] = {}
    scope_limits: dict[str, tuple[int, int]] = {}
    for organization, entry in data.items():
        if isinstance(entry, list):
            organizations[organization] = entry
            continue
        if not isinstance(entry, dict) or not set(entry) <= {"keys", "rpm", "tpm"}:
            raise ValueError(
                f"{path}: organisation {organization!r} must be a list of keys or an object "
                f"with 'keys' and optional 'rpm' and 'tpm', got {json.dumps(entry)[:80]}"
            )
        organizations[organization] = entry.get("keys", [])
        if "rpm" in entry or "tpm" in entry:
            scope_limits[organization] = (entry.get("rpm", rpm), entry.get("tpm", tpm))
    return organizations, scope_limits


def _load_json_object(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read the organizations file {path}: {error.strerror or error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path} must contain one JSON object from organisation id to keys, got {type(data).__name__}")
    return data


def _to_key_set(organization: str, keys: object) -> frozenset[str]:
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise ValueError(f"organizations[{organization!r}] must be a list of API keys, got {type(keys).__name__}")
    key_set = frozenset(keys)
    if not all(isinstance(key, str) and key for key in key_set):
        raise ValueError(f"organizations[{organization!r}] must contain only non-empty strings")
    return key_set


def _check_scope_id(setting: str, scope_id: object) -> None:
    if not isinstance(scope_id, str) or not scope_id:
        raise ValueError(f"{setting} ids must be non-empty strings, got {scope_id!r}")


def _display_scope_id(scope_id: str) -> str:
    """Show an id that starts with `org` whole, and mask any other id, because it may be an API key."""
    return repr(scope_id) if scope_id.startswith("org") else mask_api_key(scope_id)
