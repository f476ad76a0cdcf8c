"""Classroom mode: limits per API key or organisation, the status page, and other bind addresses.

Every server here binds a loopback address: 127.0.0.1, or 127.0.0.2 to show
that --host works. The warning for network addresses is tested through its
check functions only, so no test binds a network address.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.cli import build_parser
from ratelimit_toolkit.mock import MockServer, MockSettings
from ratelimit_toolkit.mock.buckets import Admission
from ratelimit_toolkit.mock.hosts import is_loopback_host, is_wildcard_host, network_warning
from ratelimit_toolkit.mock.scope_settings import read_organizations_file
from ratelimit_toolkit.mock.scope_table import ScopeTable
from ratelimit_toolkit.mock.scopes import ScopeIdentity

ROOT = Path(__file__).resolve().parent.parent
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there."}]

KEY_A = "sk-classroom-student-a-1111"
KEY_B = "sk-classroom-student-b-2222"
KEY_C = "sk-classroom-student-c-3333"
ORGANIZATIONS = {"org-a": [KEY_A, KEY_B], "org-b": [KEY_C]}

ClientFactory = Callable[..., openai.OpenAI]
ServerFactory = Callable[..., MockServer]
HANGUL = re.compile(r"[가-힣]")


class FakeClock:
    """A monotonic clock that moves only when a test sets `now`."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def chat(client: openai.OpenAI) -> Any:
    """Send one small chat request and return the raw response."""
    return client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)


def send(client: openai.OpenAI, count: int) -> list[int]:
    """Send `count` requests and return their statuses."""
    statuses = []
    for _ in range(count):
        try:
            statuses.append(chat(client).http_response.status_code)
        except openai.APIStatusError as error:
            statuses.append(error.status_code)
    return statuses


def identity(name: str) -> ScopeIdentity:
    return ScopeIdentity(f"org:{name}", "organization", name, name, "sk-m****-key", 60, 1000)


# Limits per API key


def test_key_scope_exhausted_key_gets_429(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=2, limit_scope="key")
    assert send(make_client(server, api_key=KEY_A), 3) == [200, 200, 429]


def test_key_scope_other_key_unaffected(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=2, limit_scope="key")
    send(make_client(server, api_key=KEY_A), 3)
    assert send(make_client(server, api_key=KEY_B), 2) == [200, 200]


def test_key_scope_headers_show_own_bucket(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=5, limit_scope="key")
    send(make_client(server, api_key=KEY_A), 3)
    response = chat(make_client(server, api_key=KEY_B))
    assert response.headers["x-ratelimit-remaining-requests"] == "4"


def test_key_scope_limits_override(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=60, limit_scope="key", scope_limits={KEY_A: (3, 5000)})
    response = chat(make_client(server, api_key=KEY_A))
    assert response.headers["x-ratelimit-limit-requests"] == "3"


def test_server_scope_shares_budget(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=2)
    send(make_client(server, api_key=KEY_A), 2)
    assert send(make_client(server, api_key=KEY_B), 1) == [429]


# Limits per organisation


def test_organization_scope_shares_among_keys(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=2, limit_scope="organization", organizations=ORGANIZATIONS)
    send(make_client(server, api_key=KEY_A), 2)
    assert send(make_client(server, api_key=KEY_B), 1) == [429]


def test_organization_scope_isolates_orgs(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=2, limit_scope="organization", organizations=ORGANIZATIONS)
    send(make_client(server, api_key=KEY_A), 3)
    assert send(make_client(server, api_key=KEY_C), 2) == [200, 200]


def test_organization_429_message_names_org(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1, limit_scope="organization", organizations=ORGANIZATIONS)
    client = make_client(server, api_key=KEY_B)
    chat(client)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)
    assert "Rate limit reached for gpt-4o-mini in organization org-a on requests per min (RPM): Limit 1" in caught.value.message


def test_organization_response_header_names_org(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="organization", organizations=ORGANIZATIONS)
    response = chat(make_client(server, api_key=KEY_C))
    assert response.headers["openai-organization"] == "org-b"


def test_organization_limits_override(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=60, tpm=150_000, limit_scope="organization", organizations=ORGANIZATIONS, scope_limits={"org-b": (7, 9000)})
    response = chat(make_client(server, api_key=KEY_C))
    assert (response.headers["x-ratelimit-limit-requests"], response.headers["x-ratelimit-limit-tokens"]) == ("7", "9000")


def test_organization_unknown_key_default_org(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="organization", organizations=ORGANIZATIONS, organization="org-class")
    response = chat(make_client(server, api_key="sk-visitor-key-0000"))
    assert response.headers["openai-organization"] == "org-class"


def test_organization_header_picks_scope(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1, limit_scope="organization")
    send(make_client(server, api_key=KEY_A, organization="org-x"), 2)
    assert send(make_client(server, api_key=KEY_A, organization="org-y"), 1) == [200]


def test_organization_header_shared_by_keys(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1, limit_scope="organization")
    send(make_client(server, api_key=KEY_A, organization="org-x"), 1)
    assert send(make_client(server, api_key=KEY_B, organization="org-x"), 1) == [429]


def test_organization_header_in_429_message(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1, limit_scope="organization")
    client = make_client(server, api_key=KEY_A, organization="org-x")
    chat(client)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)
    assert "in organization org-x on requests per min" in caught.value.message


def test_organization_header_mismatch_401(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="organization", organizations=ORGANIZATIONS)
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(make_client(server, api_key=KEY_A, organization="org-b"))
    assert caught.value.code == "mismatched_organization"


def test_organization_header_matching_listed(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="organization", organizations=ORGANIZATIONS)
    response = chat(make_client(server, api_key=KEY_A, organization="org-a"))
    assert response.http_response.status_code == 200


def test_organization_header_invalid_400(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="organization")
    with pytest.raises(openai.BadRequestError) as caught:
        chat(make_client(server, api_key=KEY_A, organization="org-<script>"))
    assert caught.value.code == "invalid_organization"


def test_server_scope_ignores_header(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1)
    send(make_client(server, api_key=KEY_A, organization="org-x"), 1)
    assert send(make_client(server, api_key=KEY_A, organization="org-y"), 1) == [429]


# The status endpoint and page


@pytest.fixture
def classroom(mock_server: ServerFactory, make_client: ClientFactory) -> MockServer:
    """A per-key server where KEY_A got 2 responses with status 200 and 1 with 429, and KEY_B got 1 with 200."""
    server = mock_server(rpm=2, limit_scope="key")
    send(make_client(server, api_key=KEY_A), 3)
    send(make_client(server, api_key=KEY_B), 1)
    return server


def status_rows(server: MockServer) -> dict[str, dict[str, Any]]:
    body = httpx.get(f"{server.base_url}/status", timeout=10).json()
    return {row["name"]: row for row in body["scopes"]}


def test_status_json_masks_keys(classroom: MockServer) -> None:
    assert sorted(status_rows(classroom)) == ["sk-c****1111", "sk-c****2222"]


def test_status_json_counts_admitted(classroom: MockServer) -> None:
    assert status_rows(classroom)["sk-c****1111"]["admitted"] == 2


def test_status_json_counts_429(classroom: MockServer) -> None:
    assert status_rows(classroom)["sk-c****1111"]["refused_429"] == 1


def test_status_json_remaining_per_key(classroom: MockServer) -> None:
    assert status_rows(classroom)["sk-c****2222"]["remaining_requests"] == 1


def test_status_json_tokens_last_minute(classroom: MockServer) -> None:
    rows = status_rows(classroom)
    assert rows["sk-c****1111"]["tokens_last_minute"] == 2 * rows["sk-c****2222"]["tokens_last_minute"]


@pytest.mark.parametrize("raw_key", [KEY_A, KEY_B])
def test_status_json_hides_raw_key(classroom: MockServer, raw_key: str) -> None:
    assert raw_key not in httpx.get(f"{classroom.base_url}/status", timeout=10).text


@pytest.mark.parametrize("raw_key", [KEY_A, KEY_B])
def test_status_page_hides_raw_key(classroom: MockServer, raw_key: str) -> None:
    assert raw_key not in httpx.get(f"{classroom.url}/status", timeout=10).text


def test_status_page_shows_masked_key(classroom: MockServer) -> None:
    assert "sk-c****1111" in httpx.get(f"{classroom.url}/status", timeout=10).text


def test_status_page_is_html(classroom: MockServer) -> None:
    response = httpx.get(f"{classroom.url}/status", timeout=10)
    assert response.headers["content-type"].startswith("text/html")


def test_status_page_reloads_itself(classroom: MockServer) -> None:
    assert '<meta http-equiv="refresh" content="3">' in httpx.get(f"{classroom.url}/status", timeout=10).text


def test_status_page_heading_korean_first(classroom: MockServer) -> None:
    assert "<h1>속도 제한 현황 · Rate limit status</h1>" in httpx.get(f"{classroom.url}/status", timeout=10).text


def test_status_page_marks_exhausted_scope(classroom: MockServer) -> None:
    page = httpx.get(f"{classroom.url}/status", timeout=10).text
    assert re.search(r'<tr class="limited"><td>1</td><td class="text">sk-c\*\*\*\*1111</td>', page)


def test_status_page_escapes_names(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="organization", organizations={"org-<i>x</i>": [KEY_A]})
    send(make_client(server, api_key=KEY_A), 1)
    page = httpx.get(f"{server.url}/status", timeout=10).text
    assert "org-&lt;i&gt;x&lt;/i&gt;" in page
    assert "<i>x</i>" not in page


def test_status_page_without_requests(mock_server: ServerFactory) -> None:
    server = mock_server(limit_scope="key")
    assert "No requests yet" in httpx.get(f"{server.url}/status", timeout=10).text


def test_status_needs_no_key(classroom: MockServer) -> None:
    assert httpx.get(f"{classroom.base_url}/status", timeout=10).status_code == 200


def test_status_not_counted(classroom: MockServer) -> None:
    httpx.get(f"{classroom.base_url}/status", timeout=10)
    httpx.get(f"{classroom.url}/status", timeout=10)
    assert classroom.stats()["totals"]["requests"] == 4


def test_status_organization_lists_masked_keys(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="organization", organizations=ORGANIZATIONS)
    send(make_client(server, api_key=KEY_A), 1)
    send(make_client(server, api_key=KEY_B), 1)
    assert status_rows(server)["org-a"]["keys"] == ["sk-c****1111", "sk-c****2222"]


def test_status_server_scope_one_row(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server()
    send(make_client(server, api_key=KEY_A), 1)
    send(make_client(server, api_key=KEY_B), 1)
    assert [(row["name"], row["admitted"]) for row in server.status()["scopes"]] == [("server", 2)]


def test_configure_scope_resets_scopes(classroom: MockServer) -> None:
    classroom.configure(limit_scope="organization")
    assert classroom.status()["scopes"] == []


def test_configure_log_hides_keys(mock_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    server = mock_server()
    with caplog.at_level(logging.INFO, logger="ratelimit_toolkit.mock.state"):
        server.configure(limit_scope="key", organizations=ORGANIZATIONS, scope_limits={KEY_A: (1, 100)})
    assert KEY_A not in caplog.text


# The bound on scopes


def test_scope_table_drops_least_recent() -> None:
    table = ScopeTable(burst_seconds=60, max_scopes=2, clock=FakeClock())
    first = table.usage(identity("org-1"))
    table.usage(identity("org-2"))
    table.usage(identity("org-1"))
    table.usage(identity("org-3"))
    assert [row["name"] for row in table.rows()] == [first.name, "org-3"]


def test_scope_table_counts_dropped() -> None:
    table = ScopeTable(burst_seconds=60, max_scopes=2, clock=FakeClock())
    for name in ("org-1", "org-2", "org-3", "org-4"):
        table.usage(identity(name))
    assert (len(table), table.dropped) == (2, 2)


def test_scope_table_dropped_scope_restarts_full() -> None:
    table = ScopeTable(burst_seconds=60, max_scopes=1, clock=FakeClock())
    table.usage(identity("org-1")).limits.admit(500)
    table.usage(identity("org-2"))
    assert table.usage(identity("org-1")).limits.tokens.remaining() == 1000


def test_scope_bound_over_http(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(limit_scope="key", max_scopes=2)
    for key in (KEY_A, KEY_B, KEY_C):
        send(make_client(server, api_key=key), 1)
    status = server.status()
    assert (len(status["scopes"]), status["scopes_dropped"]) == (2, 1)


def test_scope_tokens_leave_window_after_minute() -> None:
    clock = FakeClock()
    usage = ScopeTable(burst_seconds=60, max_scopes=10, clock=clock).usage(identity("org-1"))
    usage.record(Admission(admitted=True), 40, "sk-m****-key")
    clock.now += 30
    usage.record(Admission(admitted=True), 2, "sk-m****-key")
    clock.now += 30
    assert usage.tokens_last_minute() == 2


def test_scope_tokens_within_minute() -> None:
    clock = FakeClock()
    usage = ScopeTable(burst_seconds=60, max_scopes=10, clock=clock).usage(identity("org-1"))
    usage.record(Admission(admitted=True), 40, "sk-m****-key")
    clock.now += 59
    assert usage.tokens_last_minute() == 40


def test_scope_tokens_slot_reused_after_minute() -> None:
    clock = FakeClock()
    usage = ScopeTable(burst_seconds=60, max_scopes=10, clock=clock).usage(identity("org-1"))
    usage.record(Admission(admitted=True), 40, "sk-m****-key")
    clock.now += 60
    usage.record(Admission(admitted=True), 2, "sk-m****-key")
    assert usage.tokens_last_minute() == 2


def test_scope_tokens_add_within_second() -> None:
    clock = FakeClock()
    usage = ScopeTable(burst_seconds=60, max_scopes=10, clock=clock).usage(identity("org-1"))
    usage.record(Admission(admitted=True), 40, "sk-m****-key")
    clock.now += 0.5
    usage.record(Admission(admitted=True), 2, "sk-m****-key")
    assert usage.tokens_last_minute() == 42


def test_scope_refusal_charges_no_tokens() -> None:
    usage = ScopeTable(burst_seconds=60, max_scopes=10, clock=FakeClock()).usage(identity("org-1"))
    usage.record(Admission(admitted=False, limit_type="requests"), 40, "sk-m****-key")
    assert (usage.refused, usage.tokens_last_minute()) == (1, 0)


# Settings


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"limit_scope": "user"}, "limit_scope"),
        ({"scope_limits": {"org-a": (1, 2)}}, "scope_limits apply only"),
        ({"limit_scope": "key", "scope_limits": {"org-a": (0, 2)}}, r"scope_limits\['org-a'\] rpm"),
        ({"limit_scope": "key", "scope_limits": {"org-a": 5}}, "pair"),
        ({"organizations": ["org-a"]}, "organizations must map"),
        ({"organizations": {"org-a": KEY_A}}, "list of API keys"),
        ({"organizations": {"": [KEY_A]}}, "non-empty"),
        ({"max_scopes": 0}, "max_scopes"),
    ],
)
def test_settings_reject_bad_scope(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MockSettings(**changes)


def test_settings_reject_key_in_two_orgs() -> None:
    with pytest.raises(ValueError, match=r"sk-c\*\*\*\*1111 under both 'org-a' and 'org-b'"):
        MockSettings(organizations={"org-a": [KEY_A], "org-b": [KEY_A]})


def test_settings_key_error_hides_raw_key() -> None:
    with pytest.raises(ValueError) as caught:
        MockSettings(organizations={"org-a": [KEY_A], "org-b": [KEY_A]})
    assert KEY_A not in str(caught.value)


def test_settings_with_organizations_hashable() -> None:
    settings = MockSettings(limit_scope="organization", organizations=ORGANIZATIONS, scope_limits={"org-a": [5, 50]})
    assert hash(settings) == hash(settings.replace())


def test_settings_scope_limits_become_tuples() -> None:
    settings = MockSettings(limit_scope="organization", scope_limits={"org-a": [5, 50]})
    assert settings.scope_limits == {"org-a": (5, 50)}


# The organizations file


def write_json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "organizations.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_organizations_file_lists_keys(tmp_path: Path) -> None:
    organizations, _ = read_organizations_file(write_json(tmp_path, ORGANIZATIONS), rpm=60, tpm=1000)
    assert organizations == ORGANIZATIONS


def test_organizations_file_limits_fill_missing(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"org-a": {"keys": [KEY_A], "rpm": 5}, "org-b": [KEY_C]})
    _, scope_limits = read_organizations_file(path, rpm=60, tpm=1000)
    assert scope_limits == {"org-a": (5, 1000)}


def test_organizations_file_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "organizations.json"
    path.write_text('{"org-a": [', encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_organizations_file(path, rpm=60, tpm=1000)


def test_organizations_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the organizations file"):
        read_organizations_file(tmp_path / "absent.json", rpm=60, tpm=1000)


def test_organizations_file_unknown_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'keys' and optional 'rpm' and 'tpm'"):
        read_organizations_file(write_json(tmp_path, {"org-a": {"members": [KEY_A]}}), rpm=60, tpm=1000)


# Bind addresses and the network warning


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.255.255.254", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.0.10", False),
        ("10.1.2.3", False),
        ("fe80::1%eth0", False),
        ("::ffff:192.168.0.10", False),
        ("laptop.local", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_check(host: str, expected: bool) -> None:
    assert is_loopback_host(host) is expected


@pytest.mark.parametrize(("host", "expected"), [("0.0.0.0", True), ("::", True), ("", True), ("192.168.0.10", False), ("127.0.0.1", False)])
def test_wildcard_check(host: str, expected: bool) -> None:
    assert is_wildcard_host(host) is expected


def test_warning_none_for_loopback() -> None:
    assert network_warning("127.0.0.2", 8000) == []


def test_warning_korean_then_english() -> None:
    lines = network_warning("192.168.0.10", 8000)
    assert [bool(HANGUL.search(line)) for line in lines] == [True, False]


def test_warning_names_host() -> None:
    assert all("192.168.0.10" in line for line in network_warning("192.168.0.10", 8000))


def test_warning_says_mock_serves_no_real_data() -> None:
    assert "never real data" in network_warning("192.168.0.10", 8000)[1]


def test_warning_wildcard_explains_address() -> None:
    lines = network_warning("0.0.0.0", 8123)
    assert [":8123/v1" in line for line in lines] == [False, True, False, True]


def test_server_binds_other_loopback(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(host="127.0.0.2")
    assert send(make_client(server), 1) == [200]


def test_server_loopback_logs_no_warning(mock_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ratelimit_toolkit.mock.server"):
        mock_server(host="127.0.0.2")
    assert caplog.records == []


# The command line


def test_serve_parses_classroom_options(tmp_path: Path) -> None:
    arguments = build_parser().parse_args(
        ["serve", "--host", "127.0.0.2", "--limit-scope", "organization", "--organizations", "orgs.json", "--max-scopes", "50"]
    )
    assert (arguments.host, arguments.limit_scope, arguments.organizations, arguments.max_scopes) == (
        "127.0.0.2",
        "organization",
        "orgs.json",
        50,
    )


def test_serve_scope_default_server() -> None:
    assert build_parser().parse_args(["serve"]).limit_scope == "server"


@pytest.mark.parametrize("option", ["--host", "--limit-scope", "--organizations", "--max-scopes"])
def test_serve_help_describes_option(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    entry = help_text[help_text.index(f"\n  {option} ") + 1 :].split("\n  -", 1)[0]
    assert re.search(r"organisation|API key|address", entry)


def run_serve(arguments: list[str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "ratelimit_toolkit.cli", "--lang", "en", "serve", "--port", "0", *arguments]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_serve_classroom_end_to_end(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"org-a": {"keys": [KEY_A, KEY_B], "rpm": 1}, "org-b": [KEY_C]})
    process = run_serve(["--host", "127.0.0.2", "--limit-scope", "organization", "--organizations", str(path)])
    try:
        first_line = process.stdout.readline()  # type: ignore[union-attr]
        status_line = process.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"http://127\.0\.0\.2:\d+/v1", first_line)
        assert match is not None, first_line
        clients = {key: openai.OpenAI(base_url=match.group(0), api_key=key, max_retries=0) for key in (KEY_A, KEY_B, KEY_C)}
        statuses = [send(clients[key], 1)[0] for key in (KEY_A, KEY_B, KEY_C)]
        for client in clients.values():
            client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=10)
    assert statuses == [200, 429, 200]
    assert "/status" in status_line
    assert "WARNING" not in errors


def test_serve_rejects_bad_organizations_file(tmp_path: Path) -> None:
    path = tmp_path / "organizations.json"
    path.write_text("[1, 2]", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ratelimit_toolkit.cli", "--lang", "en", "serve", "--organizations", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "must contain one JSON object" in result.stderr


def test_serve_rejects_org_limits_outside_org_scope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_json(tmp_path, {"org-a": {"keys": [KEY_A], "rpm": 5}})
    arguments = build_parser().parse_args(["--lang", "en", "serve", "--limit-scope", "key", "--organizations", str(path)])
    assert arguments.handler(arguments) == 2
    assert "applies only with --limit-scope organization" in capsys.readouterr().err
