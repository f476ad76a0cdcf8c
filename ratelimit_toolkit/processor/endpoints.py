"""Turn an endpoint URL into the API endpoint it serves and the way it authenticates.

Two URL shapes are recognised, so the processor works with OpenAI, Azure OpenAI,
proxies and the local mock server alike:

- OpenAI style: any path that ends in `/v1/<endpoint>`, for example
  `https://api.openai.com/v1/chat/completions` or `http://127.0.0.1:8000/v1/embeddings`.
  The key goes in `Authorization: Bearer <key>`.
- Azure style: `/openai/deployments/<deployment>/<endpoint>` (with its
  `?api-version=...` query), or `/openai/v1/<endpoint>` on an `*.openai.azure.com`
  or `*.cognitiveservices.azure.com` host. The key goes in an `api-key` header.

`<endpoint>` is one of `tokens.ENDPOINTS`, the endpoints the token estimator supports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ratelimit_toolkit.tokens import ENDPOINTS

AuthStyle = Literal["bearer", "azure"]

_AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")

# Longer names first, so that `chat/completions` is not read as `completions`.
_ENDPOINT_PATTERN = "|".join(re.escape(name) for name in sorted(ENDPOINTS, key=len, reverse=True))
_AZURE_DEPLOYMENT_PATH = re.compile(rf"^/openai/deployments/[^/]+/({_ENDPOINT_PATTERN})/?$")
_AZURE_V1_PATH = re.compile(rf"^/openai/v1/({_ENDPOINT_PATTERN})/?$")
_OPENAI_PATH = re.compile(rf"^(?:/[^?#]*)?/v1/({_ENDPOINT_PATTERN})/?$")


@dataclass(frozen=True)
class EndpointTarget:
    """The target of the requests: URL, endpoint and the way the key is sent.

    Attributes:
        url: the full request URL, query string included.
        endpoint: the endpoint path without `/v1/`, e.g. `chat/completions`.
        auth_style: `bearer` for `Authorization: Bearer`, `azure` for an `api-key` header.
    """

    url: str
    endpoint: str
    auth_style: AuthStyle

    @property
    def display_url(self) -> str:
        """The URL without user info or query string, safe to log."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """Build the authentication header for `api_key` in this target's style."""
        if not api_key:
            raise ValueError("the API key is empty; set OPENAI_API_KEY or pass api_key=")
        if self.auth_style == "azure":
            return {"api-key": api_key}
        return {"Authorization": f"Bearer {api_key}"}


def parse_endpoint_url(url: str) -> EndpointTarget:
    """Recognise the endpoint and authentication style of `url`.

    Raises:
        ValueError: the URL is not http(s), has no host, or its path is not one
            of the recognised shapes; the message names the URL.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint URL {url!r} must be an http:// or https:// URL with a host")

    host = parts.hostname.lower()
    for pattern in (_AZURE_DEPLOYMENT_PATH, _AZURE_V1_PATH):
        match = pattern.match(parts.path)
        if match and (pattern is _AZURE_DEPLOYMENT_PATH or host.endswith(_AZURE_HOST_SUFFIXES)):
            return EndpointTarget(url.strip(), match.group(1), "azure")

    match = _OPENAI_PATH.match(parts.path)
    if match:
        return EndpointTarget(url.strip(), match.group(1), "bearer")
    raise ValueError(
        f"cannot tell the API endpoint from URL {url!r}; expected a path ending in "
        f"/v1/<endpoint> or /openai/deployments/<deployment>/<endpoint>, "
        f"where <endpoint> is one of {', '.join(ENDPOINTS)}"
    )
