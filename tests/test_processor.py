"""End-to-end tests of the processor against the mock server over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ratelimit_toolkit.mock import MockServer, ScriptedResponse
from ratelimit_toolkit.processor import ProcessSummary, process_file, process_file_sync, read_results
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry.policy import RetryPolicy

KEY = "sk-test-processor-0123456789abcdef"
#: Retries within milliseconds, so fault tests stay fast.
FAST_RETRIES = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_attempts=3)
#: Limits for servers whose fault responses carry no rate-limit headers to learn from.
HIGH_LIMITS = {"requests_per_minute": 1_000_000, "tokens_per_minute": 100_000_000}
UNLIMITED_SERVER = {"rpm": 10_000_000, "tpm": 1_000_000_000}


def chat(text: str, max_tokens: int = 20, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens, **extra}


def write_input(path: Path, rows: list[Any]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def raw_line_counts(path: Path) -> Counter[int]:
    return Counter(json.loads(raw)["line"] for raw in path.read_text(encoding="utf-8").splitlines())


async def run_job(server_url: str, tmp_path: Path, rows: list[Any], **options: Any) -> tuple[ProcessSummary, Path]:
    source = write_input(tmp_path / "in.jsonl", rows)
    output = tmp_path / "out.jsonl"
    options.setdefault("api_key", KEY)
    options.setdefault("progress", False)
    summary = await process_file(source, output, server_url, **options)
    return summary, output


def chat_url(server: MockServer) -> str:
    return f"{server.base_url}/chat/completions"


async def test_process_every_line_once_in_order(session_mock_server: MockServer, tmp_path: Path) -> None:
    rows = [chat(f"질문 {i}번", metadata={"row": i}) for i in range(30)]
    summary, output = await run_job(chat_url(session_mock_server), tmp_path, rows, concurrency=8)
    records = read_results(output)
    assert summary.exit_status == 0
    assert [record["line"] for record in records] == list(range(30))
    assert all(count == 1 for count in raw_line_counts(output).values())
    assert [record["metadata"] for record in records] == [{"row": i} for i in range(30)]
    assert all("response" in record and "error" not in record for record in records)


class LineScriptedServer:
    """A loopback server that answers by the line number written in each prompt.

    The real mock server scripts responses in arrival order, which concurrent
    requests do not fix; this one makes "line 3 answers first, line 1 fails
    once" deterministic.
    """

    def __init__(self, delays_seconds: dict[int, float], fail_once: set[int]) -> None:
        self.delays_seconds = delays_seconds
        self.fail_once = set(fail_once)
        self.calls: Counter[int] = Counter()
        self.authorization: list[str | None] = []
        self.azure_requests: list[tuple[str | None, str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        line = int(body["messages"][0]["content"].split()[-1])
        self.calls[line] += 1
        self.authorization.append(request.headers.get("Authorization"))
        await asyncio.sleep(self.delays_seconds.get(line, 0.0))
        if line in self.fail_once:
            self.fail_once.discard(line)
            return web.Response(status=500, text="<html><body>Internal error</body></html>", content_type="text/html")
        answer = {"id": f"answer-{line}", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": str(line)}}]}
        return web.json_response(answer)

    async def handle_azure(self, request: web.Request) -> web.Response:
        self.azure_requests.append((request.headers.get("api-key"), request.query.get("api-version")))
        return await self.handle(request)


async def start_scripted(server: LineScriptedServer) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", server.handle_azure)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1/chat/completions"


async def test_join_results_back_by_line(tmp_path: Path) -> None:
    scripted = LineScriptedServer(delays_seconds={0: 0.3, 1: 0.3, 2: 0.3, 3: 0.0}, fail_once={1})
    runner, url = await start_scripted(scripted)
    rows = [
        chat("line 0", metadata={"row_id": "a"}),
        chat("line 1"),
        chat("line 2", metadata={"row_id": "c"}),
        chat("line 3"),
    ]
    try:
        summary, output = await run_job(url, tmp_path, rows, concurrency=4, requests_per_minute=6000,
                                        tokens_per_minute=10_000_000, retry_policy=FAST_RETRIES)
    finally:
        await runner.cleanup()

    completion_order = [json.loads(raw)["line"] for raw in output.read_text(encoding="utf-8").splitlines()]
    records = read_results(output)
    assert summary.exit_status == 0
    assert completion_order[0] == 3
    assert [record["line"] for record in records] == [0, 1, 2, 3]
    assert [record["metadata"] for record in records] == [{"row_id": "a"}, None, {"row_id": "c"}, None]
    assert records[1]["attempts"] == 2
    assert records[1]["response"]["id"] == "answer-1"
    assert sorted(completion_order) == [0, 1, 2, 3]
    assert scripted.calls[1] == 2


async def test_azure_url_uses_api_key_header(tmp_path: Path) -> None:
    scripted = LineScriptedServer(delays_seconds={}, fail_once=set())
    runner, openai_url = await start_scripted(scripted)
    azure_url = openai_url.replace("/v1/chat/completions", "/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01")
    try:
        summary, _ = await run_job(azure_url, tmp_path, [chat("line 0")], **HIGH_LIMITS)
    finally:
        await runner.cleanup()
    assert summary.exit_status == 0
    assert scripted.azure_requests == [(KEY, "2024-06-01")]
    assert scripted.authorization == [None]


async def test_tight_limit_loses_nothing(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(rpm=1200, tpm=120_000, burst_seconds=1)
    rows = [chat(f"짧은 질문 {i}") if i % 2 else chat(f"short question {i}") for i in range(60)]
    summary, output = await run_job(chat_url(server), tmp_path, rows)
    refused_calls = server.stats()["totals"]["refused_429"]["total"]
    assert summary.succeeded == 60
    assert summary.exit_status == 0
    assert refused_calls <= 1
    assert set(raw_line_counts(output).values()) == {1}


async def test_malformed_lines_recorded(session_mock_server: MockServer, tmp_path: Path) -> None:
    rows: list[Any] = [chat("fine 0"), "{not json", "[1, 2, 3]", "", {"model": "gpt-4o-mini"}, chat("fine 5")]
    summary, output = await run_job(chat_url(session_mock_server), tmp_path, rows)
    records = {record["line"]: record for record in read_results(output)}
    assert summary.exit_status == 0
    assert sorted(records) == [0, 1, 2, 3, 4, 5]
    assert records[1]["error"]["kind"] == "invalid_json"
    assert records[2]["error"]["kind"] == "invalid_json"
    assert records[3]["error"]["kind"] == "invalid_json"
    assert records[4]["error"]["kind"] == "invalid_request"
    assert records[4]["attempts"] == 0
    assert "response" in records[5]


async def test_oversize_request_given_limit(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(rpm=6000, tpm=2000, burst_seconds=1)
    rows = [chat("small 0"), chat("too big", max_tokens=5000), chat("small 2")]
    summary, output = await run_job(chat_url(server), tmp_path, rows, requests_per_minute=6000, tokens_per_minute=2000)
    records = read_results(output)
    assert summary.exit_status == 0
    assert records[1]["error"]["kind"] == "too_large"
    assert records[1]["attempts"] == 0
    assert "5" in records[1]["error"]["message"]
    assert "response" in records[2]


async def test_oversize_request_learned_limit(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(rpm=6000, tpm=2000, burst_seconds=1)
    rows = [chat("small 0"), chat("too big", max_tokens=5000)]
    summary, output = await run_job(chat_url(server), tmp_path, rows, concurrency=1)
    records = read_results(output)
    assert summary.exit_status == 0
    assert records[1]["error"]["kind"] == "too_large"
    assert server.stats()["totals"]["requests"] == 1


async def test_quota_stops_job_then_resumes(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(quota_exhausted=True, **UNLIMITED_SERVER)
    rows = [chat(f"q {i}") for i in range(40)]
    started = time.monotonic()
    summary, output = await run_job(chat_url(server), tmp_path, rows, concurrency=4, lang="en")
    assert time.monotonic() - started < 5.0
    assert summary.stop_reason == "quota"
    assert summary.exit_status == 1
    assert summary.unanswered == 40
    assert "quota" in (summary.stop_message("en") or "")
    assert not output.exists() or output.read_text(encoding="utf-8") == ""

    server.configure(quota_exhausted=False)
    summary, output = await run_job(chat_url(server), tmp_path, rows, concurrency=4)
    assert summary.exit_status == 0
    assert set(raw_line_counts(output).values()) == {1}
    assert len(raw_line_counts(output)) == 40


async def test_quota_message_in_korean(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(quota_exhausted=True)
    summary, _ = await run_job(chat_url(server), tmp_path, [chat("q")], lang="ko")
    assert "할당량 부족" in (summary.stop_message("ko") or "")


async def test_bad_key_stops_and_never_leaks(
    mock_server: Callable[..., MockServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = mock_server(api_keys={"sk-the-right-key-000000"})
    rows = [chat(f"k {i}") for i in range(10)]
    summary, output = await run_job(chat_url(server), tmp_path, rows, concurrency=2)
    assert summary.stop_reason == "auth"
    assert summary.exit_status == 1
    assert KEY not in caplog.text
    assert KEY not in summary.format("en")
    assert not output.exists() or KEY not in output.read_text(encoding="utf-8")


async def test_key_never_in_output_or_logs(
    session_mock_server: MockServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rows = [chat(f"echo {KEY}"), "{broken"]
    summary, output = await run_job(chat_url(session_mock_server), tmp_path, rows)
    assert summary.exit_status == 0
    assert KEY not in output.read_text(encoding="utf-8")
    assert KEY not in caplog.text


async def test_server_faults_retried_then_succeed(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    html_500 = ScriptedResponse(status=500, body="<html><body>oops</body></html>")
    server = mock_server(script=[html_500, 503, "drop"], **UNLIMITED_SERVER)
    policy = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_attempts=4)
    summary, output = await run_job(chat_url(server), tmp_path, [chat("retry me")], retry_policy=policy, **HIGH_LIMITS)
    record = read_results(output)[0]
    assert summary.exit_status == 0
    assert record["attempts"] == 4
    assert "response" in record
    assert summary.retries == 3


@pytest.mark.parametrize(
    ("settings", "kind"),
    [
        ({"failure_rate": 1.0, "failure_statuses": (503,)}, "server_error"),
        ({"drop_rate": 1.0}, "connection_error"),
        ({"slow_rate": 1.0, "slow_seconds": 2.0}, "timeout"),
    ],
)
async def test_server_faults_reported_after_attempts(
    mock_server: Callable[..., MockServer], tmp_path: Path, settings: dict[str, Any], kind: str
) -> None:
    server = mock_server(**settings, **UNLIMITED_SERVER)
    summary, output = await run_job(chat_url(server), tmp_path, [chat("x 0"), chat("x 1")],
                                    retry_policy=FAST_RETRIES, timeout_seconds=0.3, **HIGH_LIMITS)
    records = read_results(output)
    assert summary.exit_status == 0
    assert summary.failed == Counter({kind: 2})
    assert records[0]["attempts"] == 3
    assert records[0]["error"]["kind"] == kind
    assert len(records[0]["error"]["history"]) == 3
    assert all(len(entry["message"]) <= 200 for entry in records[0]["error"]["history"])
    json.dumps(records)  # every record is JSON-safe


async def test_rate_limit_slows_only_that_line(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    rate_limited_once = ScriptedResponse(status=429, headers={"retry-after-ms": "1500"})
    server = mock_server(script=[rate_limited_once], **UNLIMITED_SERVER)
    rows = [chat(f"r {i}") for i in range(10)]
    summary, output = await run_job(chat_url(server), tmp_path, rows, concurrency=2,
                                    retry_policy=RetryPolicy(initial_wait=0.0, max_attempts=3))
    completion_order = [json.loads(raw)["line"] for raw in output.read_text(encoding="utf-8").splitlines()]
    assert summary.rate_limited == 1
    assert summary.exit_status == 0
    assert completion_order[-1] == 0
    assert read_results(output)[0]["attempts"] == 2


async def test_recorder_gets_every_attempt(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(script=[502], **UNLIMITED_SERVER)
    recorder = Recorder()
    summary, _ = await run_job(chat_url(server), tmp_path, [chat("a"), chat("b")], recorder=recorder,
                               retry_policy=FAST_RETRIES, concurrency=1, **HIGH_LIMITS)
    attempts = recorder.attempts()
    assert len(attempts) == summary.attempts == 3
    assert attempts[0].outcome == "server_error"
    assert attempts[0].wait_seconds is not None
    assert {attempt.strategy for attempt in attempts} == {"processor"}


async def test_max_lines_then_resume(session_mock_server: MockServer, tmp_path: Path) -> None:
    rows = [chat(f"m {i}") for i in range(12)]
    first, output = await run_job(chat_url(session_mock_server), tmp_path, rows, max_lines=5, concurrency=2)
    assert first.stop_reason == "max_lines"
    assert first.exit_status == 1
    assert len(read_results(output)) == 5

    second, output = await run_job(chat_url(session_mock_server), tmp_path, rows)
    assert second.answered_before == 5
    assert second.exit_status == 0
    assert sorted(raw_line_counts(output)) == list(range(12))
    assert set(raw_line_counts(output).values()) == {1}


async def test_resume_redoes_torn_line(session_mock_server: MockServer, tmp_path: Path) -> None:
    rows = [chat(f"t {i}") for i in range(4)]
    _, output = await run_job(chat_url(session_mock_server), tmp_path, rows, max_lines=2, concurrency=1)
    with open(output, "ab") as handle:
        handle.write(b'{"line": 2, "metadata": null, "attempts": 1, "respo')
    summary, output = await run_job(chat_url(session_mock_server), tmp_path, rows)
    assert summary.exit_status == 0
    assert raw_line_counts(output) == Counter({0: 1, 1: 1, 2: 1, 3: 1})


async def test_sync_entry_inside_running_loop(session_mock_server: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat("from a notebook cell")])
    summary = process_file_sync(source, tmp_path / "out.jsonl", chat_url(session_mock_server),
                                api_key=KEY, progress=False)
    assert summary.exit_status == 0


def test_sync_entry_without_loop(session_mock_server: MockServer, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat("from a script")])
    summary = process_file_sync(source, tmp_path / "out.jsonl", chat_url(session_mock_server),
                                api_key=KEY, progress=False)
    assert summary.succeeded == 1


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    yield


def test_missing_key_raises(no_key_env: None, tmp_path: Path) -> None:
    from ratelimit_toolkit.processor import MissingApiKeyError

    source = write_input(tmp_path / "in.jsonl", [chat("x")])
    with pytest.raises(MissingApiKeyError, match="OPENAI_API_KEY"):
        process_file_sync(source, tmp_path / "out.jsonl", "http://127.0.0.1:9/v1/chat/completions", progress=False)


@pytest.mark.parametrize(
    ("option", "value"),
    [("concurrency", 0), ("max_attempts", 0), ("timeout_seconds", -1.0), ("max_lines", 0), ("burst_seconds", 61.0)],
)
def test_invalid_option_names_value(tmp_path: Path, option: str, value: Any) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat("x")])
    with pytest.raises(ValueError, match=repr(value).replace(".", r"\.").replace("-", r"\-")):
        process_file_sync(source, tmp_path / "out.jsonl", "http://127.0.0.1:9/v1/chat/completions",
                          api_key=KEY, progress=False, **{option: value})


def test_sync_entry_interrupt_cancels_job(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    import _thread
    import threading

    server = mock_server(rpm=600, tpm=10_000_000, burst_seconds=1)
    source = write_input(tmp_path / "in.jsonl", [chat(f"slow {i}") for i in range(100)])

    async def notebook_cell() -> None:
        # A running loop, as in a Jupyter cell; Ctrl-C arrives while the job runs.
        threading.Timer(1.0, _thread.interrupt_main).start()
        process_file_sync(source, tmp_path / "out.jsonl", chat_url(server), api_key=KEY, progress=False,
                          requests_per_minute=600, tokens_per_minute=10_000_000)

    # A bare loop, because asyncio.run would turn Ctrl-C into a task cancellation; Jupyter's kernel raises
    # KeyboardInterrupt in the blocked cell instead.
    loop = asyncio.new_event_loop()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(notebook_cell())
    finally:
        loop.close()
    assert time.monotonic() - started < 5.0
    helpers = [thread for thread in threading.enumerate() if thread.name == "ratelimit-toolkit-processor"]
    for helper in helpers:
        helper.join(timeout=1.0)
    assert not any(helper.is_alive() for helper in helpers)
    assert 0 < len(read_results(tmp_path / "out.jsonl")) < 100
