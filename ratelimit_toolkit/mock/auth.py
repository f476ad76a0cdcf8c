"""API keys: read them from a request's headers and mask them for messages and stats."""

from __future__ import annotations

from collections.abc import Mapping


def read_api_key(headers: Mapping[str, str]) -> str | None:
    """Return the key from `Authorization: Bearer KEY` or Azure's `api-key` header, or None.

    An Authorization header with another scheme or an empty key counts as no key.
    """
    authorization = headers.get("Authorization", "")
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()

    azure_key = headers.get("api-key", "").strip()
    return azure_key or None


def mask_api_key(key: str) -> str:
    """Hide all but the first 4 and last 4 characters of a key, as OpenAI's messages do.

    Keys shorter than 12 characters show 2 at each end, and keys shorter than
    8 show none. The number of `*` is fixed, so the mask does not reveal the length.
    """
    if len(key) >= 12:
        return f"{key[:4]}****{key[-4:]}"
    if len(key) >= 8:
        return f"{key[:2]}****{key[-2:]}"
    return "****"
