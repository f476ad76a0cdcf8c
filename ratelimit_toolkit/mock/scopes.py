"""Find the scope a request is charged to: the whole server, its API key, or its organisation."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ratelimit_toolkit.mock.auth import mask_api_key
from ratelimit_toolkit.mock.scope_settings import LimitScope

if TYPE_CHECKING:
    from ratelimit_toolkit.mock.settings import MockSettings

#: The request header that names the organisation, as the `openai` client sends it.
ORGANIZATION_HEADER = "OpenAI-Organization"

# The mock's own rule, not OpenAI's: an organisation id from a header appears on
# the status page and in messages, so it is kept short and free of markup.
_ORGANIZATION_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class OrganizationError(ValueError):
    """The `OpenAI-Organization` header cannot be used with the request's key.

    Attributes:
        status: the HTTP status of the error response.
        code: the error body's `code`.
    """

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ScopeIdentity:
    """The scope one request is charged to, and how the status page shows it.

    Attributes:
        scope_id: the key of the scope's buckets: `server`, `org:ID`, or
            `key:` and the key's SHA-256, so the scope table never contains a raw key.
        kind: the limit scope this identity was made under.
        name: the status page's label: `server`, the organisation id, or the masked key.
        organization: the request's organisation, named in 429 messages and
            the `openai-organization` response header.
        masked_key: the request's key, masked.
        rpm: the scope's requests per minute.
        tpm: the scope's tokens per minute.
    """

    scope_id: str
    kind: LimitScope
    name: str
    organization: str
    masked_key: str
    rpm: int
    tpm: int


class ScopeResolver:
    """Map a request's key and `OpenAI-Organization` header to its scope under one `MockSettings`.

    A request's organisation is the one `organizations` lists its key under,
    else the header's, else the `organization` setting. A key listed under one
    organisation that sends a header naming another gets 401
    `mismatched_organization`, as OpenAI responds, so a client cannot move
    itself to another organisation's budget. A key that is not listed may
    name any organisation.
    """

    def __init__(self, settings: MockSettings) -> None:
        self._settings = settings
        self._organization_by_key = {
            key: organization for organization, keys in (settings.organizations or {}).items() for key in keys
        }

    def identify(self, key: str, requested_organization: str | None) -> ScopeIdentity:
        """Return the scope of a request with API key `key` and the given header value.

        Raises:
            OrganizationError: the header names an invalid id, or an
                organisation other than the one the key is listed under.
        """
        settings = self._settings
        organization = self._organization_of(key, requested_organization)
        masked_key = mask_api_key(key)
        if settings.limit_scope == "server":
            return ScopeIdentity("server", "server", "server", organization, masked_key, settings.rpm, settings.tpm)

        if settings.limit_scope == "key":
            scope_id, name, override_id = f"key:{hashlib.sha256(key.encode()).hexdigest()}", masked_key, key
        else:
            scope_id, name, override_id = f"org:{organization}", organization, organization
        rpm, tpm = (settings.scope_limits or {}).get(override_id, (settings.rpm, settings.tpm))
        return ScopeIdentity(scope_id, settings.limit_scope, name, organization, masked_key, rpm, tpm)

    def _organization_of(self, key: str, requested: str | None) -> str:
        requested = (requested or "").strip() or None
        if requested is not None and not _ORGANIZATION_ID.fullmatch(requested):
            raise OrganizationError(
                f"Invalid {ORGANIZATION_HEADER} header: the mock server accepts 1 to 64 letters, digits, "
                f"'-', '_' or '.', got {len(requested)} characters.",
                status=400,
                code="invalid_organization",
            )

        listed = self._organization_by_key.get(key)
        if listed is None:
            return requested or self._settings.organization
        if requested is not None and requested != listed:
            raise OrganizationError(
                "OpenAI-Organization header should match organization for API key",
                status=401,
                code="mismatched_organization",
            )
        return listed
