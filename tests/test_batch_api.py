"""The Batch API path: conversion, splitting, merging, and whole jobs against the mock server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from ratelimit_toolkit.batch_api import (
    EXAMPLE_PRICES,
    CustomIdError,
    SplitLimits,
    TokenUsage,
    cancel_batch_job,
    compare_results,
    convert_file,
    cost_usd,
    run_batch_job,
    state_path_for,
)
from ratelimit_toolkit.batch_api.convert import batch_line, check_line, custom_id_for
from ratelimit_toolkit.batch_api.merge import MergeCounts, merge_validation_errors, record_for
from ratelimit_toolkit.batch_api.split import Splitter, part_file
from ratelimit_toolkit.batch_api.state import JobState, Part, work_dir_for
from ratelimit_toolkit.cli import main
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.processor import MissingApiKeyError, process_file_sync, read_results
from ratelimit_toolkit.processor.inputs import InputLine, parse_input_line
from ratelimit_toolkit.processor.records import ResultWriter
from ratelimit_toolkit.processor.resume import LineSet

KEY = "sk-test-batch-0123456789abcdef"
INSTANT = {"batch_validating_seconds": 0.0, "batch_seconds_per_request": 0.0, "batch_finalizing_seconds": 0.0}
#: Polls every 10 ms, so jobs against the instant server end within a second.
FAST_POLL = {"poll_interval_seconds": 0.01, "max_poll_interval_seconds": 0.05, "progress": False}

ServerFactory = Callable[..., MockServer]
ClientFactory = Callable[..., openai.OpenAI]


def chat(text: str, model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 20, **extra}


def write_input(path: Path, rows: list[Any]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def item(line: int, row: Any) -> InputLine:
    raw = row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)
    return parse_input_line(line, raw.encode("utf-8"))


def rows(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [chat(f"질문 {i}번", metadata={"row": i}, **extra) for i in range(count)]


def batches_on(client: openai.OpenAI) -> list[Any]:
    return list(client.batches.list(limit=100))


@pytest.fixture
def server(mock_server: ServerFactory) -> MockServer:
    return mock_server(**INSTANT)


@pytest.fixture
def client(server: MockServer, make_client: ClientFactory) -> openai.OpenAI:
    return make_client(server, api_key=KEY)


# Conversion


def test_custom_id_from_line_number() -> None:
    assert custom_id_for(item(7, chat("x")), None) == "line-7"


def test_custom_id_from_metadata_field() -> None:
    assert custom_id_for(item(0, chat("x", metadata={"id": 42})), "id") == "42"


@pytest.mark.parametrize("metadata", [None, {"other": 1}, {"id": ""}, {"id": True}, {"id": [1]}])
def test_custom_id_missing_field_raises(metadata: Any) -> None:
    with pytest.raises(CustomIdError, match="input line 3"):
        custom_id_for(item(3, chat("x", metadata=metadata)), "id")


def test_batch_line_shape() -> None:
    line = json.loads(batch_line("line-0", "/v1/chat/completions", chat("안녕")))
    assert line == {"custom_id": "line-0", "method": "POST", "url": "/v1/chat/completions", "body": chat("안녕")}


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        ("{broken", "invalid_json"),
        ('["a list"]', "invalid_json"),
        ({"messages": [{"role": "user", "content": "x"}]}, "invalid_request"),
        ({"model": "gpt-4o-mini", "messages": "not a list"}, "invalid_request"),
    ],
)
def test_check_line_rejects_unsendable(row: Any, kind: str) -> None:
    problem = check_line(item(0, row), "/v1/chat/completions").problem
    assert problem is not None
    assert problem[0] == kind


def test_check_line_reads_model_and_tokens() -> None:
    check = check_line(item(0, chat("hello there")), "/v1/chat/completions")
    assert check.problem is None
    assert check.model == "gpt-4o-mini"
    assert check.prompt_tokens > 0


def test_convert_file_skips_unsendable(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat("a", metadata={"k": 1}), "{broken", chat("b")])
    written = convert_file(source, tmp_path / "batch.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "batch.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written == 2
    assert [line["custom_id"] for line in lines] == ["line-0", "line-2"]
    assert "metadata" not in lines[0]["body"]


def test_convert_file_rejects_unknown_endpoint(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", [chat("a")])
    with pytest.raises(ValueError, match="/v1/moderations"):
        convert_file(source, tmp_path / "batch.jsonl", endpoint="/v1/moderations")


# Splitting


def split(tmp_path: Path, input_rows: list[Any], limits: SplitLimits,
          unsent: list[tuple[int, str]] | None = None, custom_id_field: str | None = None) -> list[Part]:
    source = write_input(tmp_path / "in.jsonl", input_rows)
    sink = unsent if unsent is not None else []
    splitter = Splitter(tmp_path / "parts", "/v1/chat/completions", limits, custom_id_field, 1,
                        lambda line_item, kind, message: sink.append((line_item.line, kind)))
    return splitter.split(source, lambda line: False)


def test_split_by_requests(tmp_path: Path) -> None:
    parts = split(tmp_path, rows(10), SplitLimits(max_requests=4))
    assert [part.requests for part in parts] == [4, 4, 2]
    assert [part.line_ranges for part in parts] == [[[0, 4]], [[4, 8]], [[8, 10]]]
    assert len(part_file(tmp_path / "parts", 3).read_text(encoding="utf-8").splitlines()) == 2


def test_split_by_bytes(tmp_path: Path) -> None:
    one_line = len(batch_line("line-0", "/v1/chat/completions", chat("질문 0번")))
    parts = split(tmp_path, rows(6), SplitLimits(max_bytes=one_line * 2 + 5))
    assert [part.requests for part in parts] == [2, 2, 2]
    assert all(part.size_bytes <= one_line * 2 + 5 for part in parts)


def test_split_by_prompt_tokens(tmp_path: Path) -> None:
    tokens_per_line = check_line(item(0, chat("질문 0번")), "/v1/chat/completions").prompt_tokens
    parts = split(tmp_path, rows(6), SplitLimits(max_prompt_tokens=tokens_per_line * 3))
    assert [part.requests for part in parts] == [3, 3]


def test_split_by_model(tmp_path: Path) -> None:
    mixed = [chat("a", model="gpt-4o-mini" if i % 2 == 0 else "gpt-4o") for i in range(6)]
    parts = split(tmp_path, mixed, SplitLimits())
    assert [(part.model, part.line_ranges) for part in parts] == [
        ("gpt-4o-mini", [[0, 1], [2, 3], [4, 5]]),
        ("gpt-4o", [[1, 2], [3, 4], [5, 6]]),
    ]


def test_split_reports_unsendable(tmp_path: Path) -> None:
    unsent: list[tuple[int, str]] = []
    huge = chat("x" * 500)
    parts = split(tmp_path, [chat("ok"), "{broken", huge, {"messages": []}], SplitLimits(max_bytes=300), unsent)
    assert unsent == [(1, "invalid_json"), (2, "too_large"), (3, "invalid_request")]
    assert [part.requests for part in parts] == [1]


def test_split_rejects_repeated_custom_id(tmp_path: Path) -> None:
    repeated = [chat("a", metadata={"id": "x"}), chat("b", metadata={"id": "x"})]
    with pytest.raises(ValueError, match="repeats"):
        split(tmp_path, repeated, SplitLimits(), custom_id_field="id")


@pytest.mark.parametrize("limits", [{"max_requests": 0}, {"max_bytes": -1}, {"max_prompt_tokens": 0},
                                    {"max_requests": 2.5}])
def test_split_limits_reject_bad_values(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(limits))):
        SplitLimits(**limits)


def test_part_maps_positions_to_lines() -> None:
    part = Part(index=1, model="m", line_ranges=[[2, 4], [7, 9]])
    assert [part.input_line_at(position) for position in range(1, 6)] == [2, 3, 7, 8, None]


# Merging


def result_entry(custom_id: str, status: int | None, body: Any = None, code: str | None = None) -> dict[str, Any]:
    if status is None:
        return {"custom_id": custom_id, "response": None, "error": {"code": code, "message": "m"}}
    return {"custom_id": custom_id, "response": {"status_code": status, "request_id": "req_1", "body": body},
            "error": None}


def test_record_for_success() -> None:
    counts = MergeCounts()
    body = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    record = record_for(item(5, chat("x", metadata={"m": 1})), result_entry("line-5", 200, body), counts)
    assert record == {"line": 5, "metadata": {"m": 1}, "attempts": 1, "response": body}
    assert (counts.succeeded, counts.prompt_tokens, counts.completion_tokens) == (1, 3, 4)


def test_record_for_http_error() -> None:
    counts = MergeCounts()
    body = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
    record = record_for(item(1, chat("x")), result_entry("line-1", 500, body), counts)
    assert record is not None
    assert record["error"]["kind"] == "server_error"
    assert record["error"]["status"] == 500
    assert record["attempts"] == 1
    assert len(record["error"]["history"]) == 1
    assert counts.failed["server_error"] == 1


@pytest.mark.parametrize("code", ["batch_expired", "batch_cancelled"])
def test_record_for_not_run_is_none(code: str) -> None:
    counts = MergeCounts()
    assert record_for(item(1, chat("x")), result_entry("line-1", None, code=code), counts) is None
    assert counts.not_run[code] == 1


def test_record_for_timeout_error() -> None:
    record = record_for(item(1, chat("x")), result_entry("line-1", None, code="request_timeout"), MergeCounts())
    assert record is not None
    assert record["error"]["kind"] == "timeout"


def test_merge_validation_errors_names_lines(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", rows(6))
    part = Part(index=1, model="gpt-4o-mini", line_ranges=[[0, 2], [4, 6]], requests=4)
    errors = [{"code": "invalid_url", "message": "bad url", "line": 3}, {"code": "file_too_large", "message": "x"}]
    answered = LineSet()
    with ResultWriter(tmp_path / "out.jsonl") as writer:
        counts = merge_validation_errors(source, part, errors, writer, answered)
    records = read_results(tmp_path / "out.jsonl")
    assert [record["line"] for record in records] == [4]
    assert records[0]["error"]["code"] == "invalid_url"
    assert records[0]["attempts"] == 0
    assert records[0]["metadata"] == {"row": 4}
    assert counts.failed["batch_failed"] == 1


def test_compare_results_finds_difference(tmp_path: Path) -> None:
    body = {"choices": [{"index": 0, "message": {"content": "a"}}]}
    other = {"choices": [{"index": 0, "message": {"content": "b"}}]}
    write_input(tmp_path / "a.jsonl", [{"line": 0, "metadata": None, "attempts": 1, "response": body},
                                       {"line": 1, "metadata": None, "attempts": 1, "response": body}])
    write_input(tmp_path / "b.jsonl", [{"line": 0, "metadata": None, "attempts": 3, "response": body},
                                       {"line": 1, "metadata": None, "attempts": 1, "response": other}])
    comparison = compare_results(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    assert (comparison.compared, comparison.equal) == (2, 1)
    assert comparison.mismatches[0].line == 1
    assert comparison.identical is False


def test_cost_of_example_prices() -> None:
    usage = TokenUsage(responses=1, prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert cost_usd(usage, EXAMPLE_PRICES, batch=False) == pytest.approx(0.75)
    assert cost_usd(usage, EXAMPLE_PRICES, batch=True) == pytest.approx(0.375)


def test_state_load_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 99}', encoding="utf-8")
    with pytest.raises(ValueError, match="delete it"):
        JobState.load(path)


# Whole jobs


def run_job(client: openai.OpenAI, tmp_path: Path, input_rows: list[Any] | None = None,
            **options: Any) -> tuple[Any, Path]:
    source = tmp_path / "in.jsonl"
    if input_rows is not None:
        write_input(source, input_rows)
    output = tmp_path / "out.jsonl"
    summary = run_batch_job(source, output, client=client, **{**FAST_POLL, **options})
    return summary, output


def test_job_answers_every_line(client: openai.OpenAI, tmp_path: Path) -> None:
    summary, output = run_job(client, tmp_path, rows(12))
    records = read_results(output)
    assert summary.exit_status == 0
    assert [record["line"] for record in records] == list(range(12))
    assert [record["metadata"] for record in records] == [{"row": i} for i in range(12)]
    assert all(record["attempts"] == 1 and "response" in record for record in records)
    assert summary.statuses == {1: "completed"}
    assert not work_dir_for(output).exists()


def test_job_never_saves_key(client: openai.OpenAI, tmp_path: Path) -> None:
    _, output = run_job(client, tmp_path, rows(3))
    assert KEY not in state_path_for(output).read_text(encoding="utf-8")
    assert KEY not in output.read_text(encoding="utf-8")


def test_job_splits_into_parts(client: openai.OpenAI, tmp_path: Path) -> None:
    summary, output = run_job(client, tmp_path, rows(10), max_requests_per_file=4)
    assert summary.batches_created == 3
    assert len(read_results(output)) == 10
    assert [part.requests for part in JobState.load(state_path_for(output)).parts] == [4, 4, 2]


def test_job_records_failed_lines(mock_server: ServerFactory, make_client: ClientFactory, tmp_path: Path) -> None:
    server = mock_server(batch_failing_custom_ids=r"^line-(2|5)$", **INSTANT)
    summary, output = run_job(make_client(server), tmp_path, rows(8))
    records = read_results(output)
    failed = [record["line"] for record in records if "error" in record]
    assert failed == [2, 5]
    assert records[2]["error"]["status"] == 500
    assert records[2]["error"]["kind"] == "server_error"
    assert summary.exit_status == 0


def test_job_records_unsent_lines(client: openai.OpenAI, tmp_path: Path) -> None:
    summary, output = run_job(client, tmp_path, [chat("ok"), "{broken", {"messages": [{"role": "user", "content": "x"}]}])
    records = read_results(output)
    assert [record.get("error", {}).get("kind") for record in records] == [None, "invalid_json", "invalid_request"]
    assert [record["attempts"] for record in records] == [1, 0, 0]
    assert summary.unsent == {"invalid_json": 1, "invalid_request": 1}


def test_job_custom_id_field(mock_server: ServerFactory, make_client: ClientFactory, tmp_path: Path) -> None:
    server = mock_server(batch_failing_custom_ids=r"^order-3$", **INSTANT)
    input_rows = [chat(f"q{i}", metadata={"order": f"order-{i}"}) for i in range(5)]
    _, output = run_job(make_client(server), tmp_path, input_rows, custom_id_field="order")
    records = read_results(output)
    assert ["error" in record for record in records] == [False, False, False, True, False]
    assert records[3]["metadata"] == {"order": "order-3"}


def test_job_expired_lines_rerun(mock_server: ServerFactory, make_client: ClientFactory, tmp_path: Path) -> None:
    server = mock_server(batch_expire_after_requests=3, **INSTANT)
    client = make_client(server)
    first, output = run_job(client, tmp_path, rows(5))
    assert first.statuses == {1: "expired"}
    assert first.merged.not_run["batch_expired"] == 2
    assert first.unanswered == 2
    assert first.exit_status == 1
    assert [note.key for note in first.notes] == ["batch.note.expired"]

    assert "다시 제출합니다" in first.format("ko")
    assert "submit them again" in first.format("en")

    server.configure(batch_expire_after_requests=None)
    second, _ = run_job(client, tmp_path)
    assert second.succeeded == 2
    assert second.exit_status == 0
    assert [record["line"] for record in read_results(output)] == list(range(5))


def test_job_cancel_then_rerun(mock_server: ServerFactory, make_client: ClientFactory, tmp_path: Path) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.02, batch_finalizing_seconds=0.0)
    client = make_client(server)
    submitted, output = run_job(client, tmp_path, rows(60), wait=False)
    assert submitted.stop_reason == "no_wait"
    time.sleep(0.2)

    cancelled = cancel_batch_job(tmp_path / "in.jsonl", output, client=client, **FAST_POLL)
    assert cancelled.statuses == {1: "cancelled"}
    assert 0 < cancelled.succeeded < 60
    assert cancelled.merged.not_run["batch_cancelled"] == 60 - cancelled.succeeded

    server.configure(batch_seconds_per_request=0.0)
    finished, _ = run_job(client, tmp_path)
    assert finished.exit_status == 0
    assert len(read_results(output)) == 60


def test_job_resumes_by_batch_id(mock_server: ServerFactory, make_client: ClientFactory, tmp_path: Path) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.01, batch_finalizing_seconds=0.0)
    client = make_client(server)
    stopped, output = run_job(client, tmp_path, rows(50), max_wait_seconds=0.05)
    assert stopped.stop_reason == "max_wait"
    assert stopped.running == 1
    batch_id = stopped.batch_ids[1]

    resumed, _ = run_job(client, tmp_path)
    assert resumed.batches_created == 0
    assert resumed.batch_ids == {1: batch_id}
    assert resumed.exit_status == 0
    assert [batch.id for batch in batches_on(client)] == [batch_id]


def test_job_adopts_batch_after_crash(client: openai.OpenAI, tmp_path: Path) -> None:
    _, output = run_job(client, tmp_path, rows(4), wait=False)
    state_path = state_path_for(output)
    state = JobState.load(state_path)
    state.parts[0].batch_id = None  # as if the run stopped between creating the batch and saving its id
    state.parts[0].batch_ids = []
    state.parts[0].status = None
    state.save(state_path)

    resumed, _ = run_job(client, tmp_path)
    assert resumed.exit_status == 0
    assert resumed.batches_created == 0
    assert len(batches_on(client)) == 1


def test_job_file_failure_reruns_with_smaller_files(mock_server: ServerFactory, make_client: ClientFactory,
                                                    tmp_path: Path) -> None:
    server = mock_server(batch_max_requests=3, **INSTANT)
    client = make_client(server)
    failed, output = run_job(client, tmp_path, rows(5))
    assert failed.statuses == {1: "failed"}
    assert failed.unanswered == 5
    assert [note.key for note in failed.notes] == ["batch.note.validation"]
    assert "above the limit of 3" in failed.notes[0].text("en")

    fixed, _ = run_job(client, tmp_path, max_requests_per_file=3)
    assert fixed.exit_status == 0
    assert len(read_results(output)) == 5


def test_job_token_limit_waits_for_other_part(mock_server: ServerFactory, make_client: ClientFactory,
                                              tmp_path: Path) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.005, batch_finalizing_seconds=0.0,
                         batch_enqueued_token_limit=150)
    client = make_client(server)
    input_rows = [chat(f"question {i}") for i in range(20)]  # 10 prompt tokens each, 100 per part of 10
    summary, output = run_job(client, tmp_path, input_rows, max_requests_per_file=10)
    assert summary.exit_status == 0
    assert summary.batches_created == 3
    assert len(read_results(output)) == 20


def test_job_token_limit_part_too_large(mock_server: ServerFactory, make_client: ClientFactory,
                                        tmp_path: Path) -> None:
    server = mock_server(batch_enqueued_token_limit=50, **INSTANT)
    summary, _ = run_job(make_client(server), tmp_path, [chat(f"question {i}") for i in range(10)])
    assert summary.unanswered == 10
    assert summary.batches_created == 1
    assert [note.key for note in summary.notes] == ["batch.note.token_limit_part"]
    assert "--max-prompt-tokens-per-file" in summary.notes[0].text("en")


def test_job_max_enqueued_tokens_submits_in_turn(client: openai.OpenAI, tmp_path: Path) -> None:
    summary, _ = run_job(client, tmp_path, [chat(f"question {i}") for i in range(20)], max_requests_per_file=10,
                         max_enqueued_tokens=100)
    created = sorted(event.seconds for event in summary.events if event.status == "validating")
    completed = sorted(event.seconds for event in summary.events if event.status == "completed")
    assert summary.exit_status == 0
    assert created[1] >= completed[0]


def test_job_finishes_process_output(server: MockServer, client: openai.OpenAI, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", rows(10))
    process_file_sync(source, tmp_path / "out.jsonl", f"{server.base_url}/chat/completions", api_key=KEY,
                      progress=False, max_lines=4, requests_per_minute=600_000, tokens_per_minute=10**9)
    summary, output = run_job(client, tmp_path)
    assert summary.answered_before == 4
    assert summary.succeeded == 6
    assert len(read_results(output)) == 10


def test_job_rejects_changed_input(mock_server: ServerFactory, make_client: ClientFactory, tmp_path: Path) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.05, batch_finalizing_seconds=0.0)
    client = make_client(server)
    run_job(client, tmp_path, rows(20), wait=False)
    write_input(tmp_path / "in.jsonl", rows(21))
    with pytest.raises(ValueError, match="changed"):
        run_job(client, tmp_path)


def test_job_needs_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    source = write_input(tmp_path / "in.jsonl", rows(1))
    with pytest.raises(MissingApiKeyError):
        run_batch_job(source, tmp_path / "out.jsonl", base_url="http://127.0.0.1:9/v1")


def test_job_reads_environment(server: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    source = write_input(tmp_path / "in.jsonl", rows(3))
    summary = run_batch_job(source, tmp_path / "out.jsonl", **FAST_POLL)
    assert summary.exit_status == 0


def test_job_poll_waits_follow_policy(mock_server: ServerFactory, make_client: ClientFactory, tmp_path: Path) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.01, batch_finalizing_seconds=0.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(0.01)

    run_job(make_client(server), tmp_path, rows(30), sleep=sleep, poll_interval_seconds=1.0,
            max_poll_interval_seconds=4.0, progress=False)
    assert waits[0] == 1.0
    assert all(1.0 <= wait <= 4.0 for wait in waits)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"poll_interval_seconds": 5.0, "max_poll_interval_seconds": 1.0}, "max_poll_interval_seconds"),
        ({"poll_interval_seconds": 0.0}, "poll_interval_seconds"),
        ({"max_wait_seconds": -1.0}, "max_wait_seconds"),
        ({"max_enqueued_tokens": 0}, "max_enqueued_tokens"),
        ({"metadata": {f"k{i}": "v" for i in range(15)}}, "metadata"),
        ({"endpoint": "/v1/images/generations"}, "endpoint"),
        ({"max_requests_per_file": 0}, "max_requests_per_file"),
        ({"max_bytes_per_file": 1.5}, "max_bytes_per_file"),
    ],
)
def test_job_rejects_bad_options(client: openai.OpenAI, tmp_path: Path, options: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        run_job(client, tmp_path, rows(1), **options)


# The command line


def test_cli_batch_answers_every_line(server: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    source = write_input(tmp_path / "in.jsonl", rows(5))
    status = main(["batch", str(source), "--output", str(tmp_path / "out.jsonl"), "--base-url", server.base_url,
                   "--poll-interval", "0.01", "--no-progress", "--lang", "ko"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "배치 API 요약" in printed
    assert KEY not in printed
    assert len(read_results(tmp_path / "out.jsonl")) == 5


def test_cli_batch_missing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    source = write_input(tmp_path / "in.jsonl", rows(1))
    status = main(["batch", str(source), "--output", str(tmp_path / "out.jsonl"), "--base-url", "http://127.0.0.1:9/v1"])
    assert status == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err


def test_cli_batch_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["batch", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "out.jsonl")])
    assert status == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_cli_batch_rejected_key(mock_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    server = mock_server(api_keys={"sk-the-only-accepted-key"}, **INSTANT)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    source = write_input(tmp_path / "in.jsonl", rows(2))
    status = main(["batch", str(source), "--output", str(tmp_path / "out.jsonl"), "--base-url", server.base_url,
                   "--no-progress"])
    error = capsys.readouterr().err
    assert status == 3
    assert "401" in error
    assert KEY not in error
