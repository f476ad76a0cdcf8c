"""`lesson.start()` and its session, against the real mock server and openai client over loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import openai
import pytest

from ratelimit_toolkit import lesson, plots
from ratelimit_toolkit.lesson import LessonSession

FAKE_KEY = "sk-test-not-a-real-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _mock_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv(lesson.REAL_API_VARIABLE, raising=False)


@pytest.fixture
def session() -> Iterator[LessonSession]:
    with lesson.start(rpm=60, tpm=150_000, burst_seconds=1.0, base_latency_seconds=0, per_token_latency_seconds=0) as started:
        yield started


@pytest.fixture
def client(session: LessonSession) -> Iterator[openai.OpenAI]:
    with session.client() as created:
        yield created


def _ask(client: openai.OpenAI, model: str) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=5)


def test_start_runs_mock_server(session: LessonSession) -> None:
    assert session.real is False
    assert session.server is not None
    assert session.server.running


def test_start_binds_loopback(session: LessonSession) -> None:
    assert session.base_url.startswith("http://127.0.0.1:")
    assert session.base_url.endswith("/v1")


def test_start_applies_limits(session: LessonSession) -> None:
    assert session.settings is not None
    assert session.settings.limits == (60, 150_000, 1.0)
    assert session.limit_per_second == 1.0


def test_start_prints_bilingual_banner(capsys: pytest.CaptureFixture[str]) -> None:
    with lesson.start(rpm=20) as started:
        printed = capsys.readouterr().out
        base_url = started.base_url

    assert printed.count("\n") == 1
    assert base_url in printed
    assert "분당 요청 수 20" in printed
    assert "20 RPM" in printed


def test_start_sets_up_korean_font(session: LessonSession) -> None:
    setup = plots.current_font_setup()

    assert setup is not None
    assert setup.korean


def test_start_uses_lesson_latency() -> None:
    with lesson.start() as started:
        assert started.settings is not None
        assert started.settings.base_latency_seconds == lesson.LESSON_MOCK_DEFAULTS["base_latency_seconds"]


def test_client_never_retries(client: openai.OpenAI) -> None:
    assert client.max_retries == 0
    assert client.api_key == lesson.MOCK_API_KEY


def test_client_accepts_overrides(session: LessonSession) -> None:
    with session.client(max_retries=2, timeout=5.0) as client:
        assert client.max_retries == 2
        assert client.timeout == 5.0


def test_client_gets_answer(session: LessonSession, client: openai.OpenAI) -> None:
    completion = _ask(client, session.model)

    assert completion.choices[0].message.content


def test_client_sees_429(session: LessonSession, client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(5):
            _ask(client, session.model)

    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"


async def test_async_client_gets_answer(session: LessonSession) -> None:
    client = session.async_client()

    completion = await client.chat.completions.create(model=session.model, messages=[{"role": "user", "content": "hi"}], max_tokens=5)

    assert client.max_retries == 0
    assert completion.choices[0].message.content
    await client.close()


def test_configure_switches_quota_mode(session: LessonSession, client: openai.OpenAI) -> None:
    session.configure(quota_exhausted=True)

    with pytest.raises(openai.RateLimitError) as caught:
        _ask(client, session.model)
    assert caught.value.code == "insufficient_quota"


def test_configure_rejects_unknown_setting(session: LessonSession) -> None:
    with pytest.raises(TypeError, match="no_such_setting"):
        session.configure(no_such_setting=1)


def test_restart_keeps_base_url(session: LessonSession, client: openai.OpenAI) -> None:
    before = session.base_url

    session.restart(rpm=120)

    assert session.base_url == before
    assert session.settings is not None and session.settings.rpm == 120
    assert _ask(client, session.model).choices[0].message.content


def test_restart_moves_when_port_taken(session: LessonSession, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    server = session.server
    assert server is not None
    before = session.base_url
    stop = server.stop
    blocker = socket.socket()

    def stop_and_take_port() -> None:
        stop()
        blocker.bind(("127.0.0.1", server.port))
        blocker.listen()

    monkeypatch.setattr(server, "stop", stop_and_take_port)
    with blocker:
        session.restart()

    assert session.server is not None and session.server.running
    assert session.base_url != before
    assert "클라이언트를 다시 만드세요" in capsys.readouterr().out


def test_restart_clears_stats(session: LessonSession, client: openai.OpenAI) -> None:
    _ask(client, session.model)

    session.restart()

    assert session.stats()["totals"]["requests"] == 0


def test_reset_stats_clears_timeline(session: LessonSession, client: openai.OpenAI) -> None:
    _ask(client, session.model)

    session.reset_stats()

    assert session.stats()["timeline"] == []


def test_close_stops_server() -> None:
    started = lesson.start()
    server = started.server

    started.close()
    started.close()

    assert server is not None
    assert server.running is False


def test_closed_session_refuses_clients() -> None:
    started = lesson.start()
    started.close()

    with pytest.raises(RuntimeError, match="closed"):
        started.client()


def test_start_closes_previous_session() -> None:
    first = lesson.start()
    second = lesson.start()

    assert first.server is not None and first.server.running is False
    assert second.server is not None and second.server.running
    second.close()


def test_real_api_needs_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lesson.REAL_API_VARIABLE, "1")

    with pytest.raises(lesson.RealAPIKeyMissingError) as caught:
        lesson.start()

    assert "OPENAI_API_KEY" in str(caught.value)
    assert "설정" in str(caught.value)


def test_real_api_session_has_no_server(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(lesson.REAL_API_VARIABLE, "1")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)

    with lesson.start() as started:
        printed = capsys.readouterr().out
        client = started.client()
        client.close()

        assert started.real
        assert started.server is None
        assert started.base_url == lesson.REAL_BASE_URL
        assert client.max_retries == 0
        assert "costs money" in printed
        assert "비용" in printed
        assert FAKE_KEY not in printed
        assert FAKE_KEY not in repr(started)


def test_real_api_refuses_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lesson.REAL_API_VARIABLE, "1")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)

    with lesson.start() as started, pytest.raises(RuntimeError, match="mock server"):
        started.configure(rpm=10)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("", False), ("0", False), ("false", False), ("off", False)],
)
def test_real_api_requested_values(value: str, expected: bool) -> None:
    assert lesson.real_api_requested({lesson.REAL_API_VARIABLE: value}) is expected


def test_real_api_requested_rejects_junk() -> None:
    with pytest.raises(ValueError, match="maybe"):
        lesson.real_api_requested({lesson.REAL_API_VARIABLE: "maybe"})


def test_rate_limit_headers_from_error(session: LessonSession, client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(5):
            _ask(client, session.model)
    headers = lesson.rate_limit_headers(caught.value)

    assert headers["x-ratelimit-limit-requests"] == "60"
    assert all(name.startswith("x-ratelimit-") for name in headers)


def test_rate_limit_headers_from_raw_response(session: LessonSession, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=session.model, messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )

    headers = lesson.rate_limit_headers(raw)

    assert headers["x-ratelimit-limit-tokens"] == "150000"


def test_rate_limit_headers_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="int"):
        lesson.rate_limit_headers(42)


def test_table_markdown() -> None:
    rendered = lesson.table([{"name": "a|b", "count": 12345, "seconds": 2.5}])

    assert rendered._repr_markdown_() == "| name | count | seconds |\n|---|---|---|\n| a\\|b | 12,345 | 2.5 |"


def test_table_plain_text_aligned() -> None:
    rendered = lesson.table([{"name": "long name", "n": 1}, {"name": "x", "n": 22}])

    assert repr(rendered).splitlines() == ["name       n", "long name  1", "x          22"]


def test_headers_table_rows() -> None:
    rendered = lesson.headers_table({"X-RateLimit-Limit-Requests": "20", "content-type": "application/json"})

    assert rendered.rows == [{"header": "x-ratelimit-limit-requests", "value": "20"}]
