"""Tell whether a bind address keeps the mock server on this computer, and warn when it does not."""

from __future__ import annotations

import ipaddress

from ratelimit_toolkit import messages

messages.register(
    {
        "serve.reachable_from_network": {
            "en": (
                "WARNING: --host {host} lets anyone on your network reach this server and its /status page. "
                "It is a mock server: it returns generated text, never real data or real OpenAI answers, "
                "and it does not check keys unless you pass --api-key. "
                "Use --host 127.0.0.1 to keep it on this computer."
            ),
            "ko": (
                "경고: --host {host} 로 열면 같은 네트워크의 누구나 이 서버와 /status 페이지에 접속할 수 있습니다. "
                "이 서버는 모의 서버라서 만들어 낸 글만 돌려주고, 실제 데이터나 실제 OpenAI 응답은 없습니다. "
                "--api-key 를 주지 않으면 키도 확인하지 않습니다. "
                "이 컴퓨터에서만 쓰려면 --host 127.0.0.1 을 쓰세요."
            ),
        },
        "serve.wildcard_address": {
            "en": "Other computers connect to http://THIS-COMPUTER'S-ADDRESS:{port}/v1, not to {host}.",
            "ko": "다른 컴퓨터에서는 {host} 가 아니라 http://이-컴퓨터의-주소:{port}/v1 로 접속합니다.",
        },
    }
)


def is_loopback_host(host: str) -> bool:
    """Tell whether binding `host` keeps the server reachable from this computer only.

    True for `localhost` and any loopback address (`127.0.0.0/8`, `::1`, and
    `::ffff:127.x.x.x`). False for everything else, including `0.0.0.0`,
    `::`, the empty string (all interfaces) and host names other than
    `localhost`, which this function does not resolve.
    """
    name = host.strip().removeprefix("[").removesuffix("]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_wildcard_host(host: str) -> bool:
    """Tell whether `host` binds every interface (`0.0.0.0`, `::` or the empty string)."""
    name = host.strip().removeprefix("[").removesuffix("]")
    if not name:
        return True
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


def network_warning(host: str, port: int) -> list[str]:
    """Build the warning lines for binding `host`, Korean first, then English; none for loopback.

    Both languages are always shown, because the people it protects may read either.
    """
    if is_loopback_host(host):
        return []
    keys = ["serve.reachable_from_network"]
    if is_wildcard_host(host):
        keys.append("serve.wildcard_address")
    return [messages.t(key, lang, host=host or "0.0.0.0", port=port) for lang in ("ko", "en") for key in keys]
