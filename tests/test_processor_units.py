"""Unit tests of the processor's parts that need no server: URLs, input, records, resume, summary."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ratelimit_toolkit.processor.endpoints import parse_endpoint_url
from ratelimit_toolkit.processor.inputs import count_input_lines, iter_input, parse_input_line
from ratelimit_toolkit.processor.progress import RateMeter
from ratelimit_toolkit.processor.records import (
    OutputLockedError,
    ResultWriter,
    error_record,
    read_results,
    success_record,
)
from ratelimit_toolkit.processor.resume import LineSet, scan_output
from ratelimit_toolkit.processor.samples import write_sample_requests
from ratelimit_toolkit.processor.summary import ProcessSummary
from ratelimit_toolkit.processor.throttle import make_throttle

AZURE_CHAT = "https://my-resource.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-06-01"
AZURE_EMBEDDINGS = "https://my-resource.openai.azure.com/openai/deployments/embed-3/embeddings?api-version=2024-06-01"


@pytest.mark.parametrize(
    ("url", "endpoint", "auth_style"),
    [
        ("https://api.openai.com/v1/chat/completions", "chat/completions", "bearer"),
        ("https://api.openai.com/v1/embeddings", "embeddings", "bearer"),
        ("http://127.0.0.1:8000/v1/completions", "completions", "bearer"),
        ("http://localhost:9000/proxy/v1/responses", "responses", "bearer"),
        (AZURE_CHAT, "chat/completions", "azure"),
        (AZURE_EMBEDDINGS, "embeddings", "azure"),
        ("https://my-resource.openai.azure.com/openai/v1/chat/completions", "chat/completions", "azure"),
    ],
)
def test_url_endpoint_and_auth(url: str, endpoint: str, auth_style: str) -> None:
    target = parse_endpoint_url(url)
    assert target.endpoint == endpoint
    assert target.auth_style == auth_style


def test_url_bearer_header() -> None:
    headers = parse_endpoint_url("https://api.openai.com/v1/chat/completions").auth_headers("sk-test-123")
    assert headers == {"Authorization": "Bearer sk-test-123"}


def test_url_azure_header_has_no_authorization() -> None:
    headers = parse_endpoint_url(AZURE_CHAT).auth_headers("azure-key-123")
    assert headers == {"api-key": "azure-key-123"}


def test_url_azure_keeps_api_version() -> None:
    assert parse_endpoint_url(AZURE_CHAT).url.endswith("?api-version=2024-06-01")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/api/chat",
        "https://api.openai.com/v1/images/generations",
        "ftp://api.openai.com/v1/chat/completions",
        "api.openai.com/v1/chat/completions",
    ],
)
def test_url_unknown_shape_names_url(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_endpoint_url(url)
    assert url in str(raised.value)


def test_url_display_drops_credentials_and_query() -> None:
    target = parse_endpoint_url("https://user:secret@host.example/v1/embeddings?key=abc")
    assert target.display_url == "https://host.example/v1/embeddings"


def test_url_key_not_in_repr() -> None:
    target = parse_endpoint_url("https://api.openai.com/v1/chat/completions")
    target.auth_headers("sk-secret-value")
    assert "sk-secret-value" not in repr(target)


def test_input_line_metadata_split() -> None:
    item = parse_input_line(4, b'{"model": "m", "metadata": {"row_id": "a"}}\n')
    assert item.line == 4
    assert item.body == {"model": "m"}
    assert item.metadata == {"row_id": "a"}


def test_input_line_without_metadata() -> None:
    item = parse_input_line(0, b'{"model": "m"}')
    assert item.metadata is None
    assert item.problem is None


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [(b"{not json\n", "not valid JSON"), (b"[1, 2]\n", "not an object"), (b"  \n", "empty"), (b"\xff\xfe\n", "not valid JSON")],
)
def test_input_line_problems(raw: bytes, phrase: str) -> None:
    item = parse_input_line(2, raw)
    assert item.body is None
    assert item.problem is not None and phrase in item.problem


def test_input_iter_skips_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 0}\n{"a": 1}\n\n{"a": 3}', encoding="utf-8")
    lines = [item.line for item in iter_input(path, skip=lambda line: line == 1)]
    assert lines == [0, 2, 3]


@pytest.mark.parametrize(("text", "count"), [("", 0), ("a\n", 1), ("a\nb", 2), ("a\nb\n", 2), ("\n\n", 2)])
def test_input_count_lines(tmp_path: Path, text: str, count: int) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(text, encoding="utf-8")
    assert count_input_lines(path) == count


def test_lineset_add_and_contains() -> None:
    lines = LineSet()
    assert lines.add(0)
    assert lines.add(1_000_003)
    assert not lines.add(0)
    assert 1_000_003 in lines
    assert 5 not in lines
    assert len(lines) == 2


def test_lineset_rejects_negative() -> None:
    with pytest.raises(ValueError, match="-1"):
        LineSet().add(-1)


def _write_lines(path: Path, *lines: str) -> None:
    path.write_bytes("".join(lines).encode("utf-8"))


def test_resume_missing_output_is_empty(tmp_path: Path) -> None:
    index = scan_output(tmp_path / "none.jsonl")
    assert len(index.answered) == 0


def test_resume_cuts_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    whole = json.dumps(success_record(0, None, 1, {"id": "x"})) + "\n"
    _write_lines(path, whole, '{"line": 1, "metadata": null, "attem')
    index = scan_output(path)
    assert 0 in index.answered
    assert 1 not in index.answered
    assert index.torn_bytes > 0
    assert path.read_text(encoding="utf-8") == whole


def test_resume_counts_duplicates_and_junk(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    record = json.dumps(error_record(2, None, 0, kind="invalid_json", message="bad")) + "\n"
    _write_lines(path, record, record, "garbage\n", '{"line": 5}\n')
    index = scan_output(path)
    assert len(index.answered) == 1
    assert index.duplicate_lines == 1
    assert index.unreadable_lines == 2


def test_records_error_shape() -> None:
    record = error_record(3, {"k": 1}, 2, kind="server_error", status=503, code=None, message="down",
                          history=[{"status": 503}, {"status": 503}])
    assert list(record) == ["line", "metadata", "attempts", "error"]
    assert record["error"]["history"] == [{"status": 503}, {"status": 503}]


def test_writer_redacts_secret(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with ResultWriter(path, secrets=["sk-very-secret"]) as writer:
        writer.write(error_record(0, None, 1, kind="client_error", message="bad key sk-very-secret"))
    assert "sk-very-secret" not in path.read_text(encoding="utf-8")


def test_writer_lock_blocks_second_writer(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with ResultWriter(path):
        with pytest.raises(OutputLockedError, match="another process"):
            ResultWriter(path)


def test_read_results_input_order_first_wins(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    lines = [
        json.dumps(success_record(2, None, 1, {"n": "first"})) + "\n",
        json.dumps(success_record(0, None, 1, {"n": 0})) + "\n",
        json.dumps(success_record(2, None, 1, {"n": "second"})) + "\n",
        '{"line": 1, "meta',
    ]
    _write_lines(path, *lines)
    records = read_results(path)
    assert [record["line"] for record in records] == [0, 2]
    assert records[1]["response"] == {"n": "first"}


def test_meter_per_minute_window() -> None:
    now = [0.0]
    meter = RateMeter(window_seconds=60, clock=lambda: now[0])
    for second in range(120):
        now[0] = float(second)
        meter.add(tokens=10)
    now[0] = 120.0
    requests_per_minute, tokens_per_minute = meter.per_minute()
    assert requests_per_minute == pytest.approx(60.0)
    assert tokens_per_minute == pytest.approx(600.0)


def test_summary_counts_and_exit_status() -> None:
    summary = ProcessSummary(input_lines=10, answered_before=3, succeeded=5, failed=Counter({"invalid_json": 1}))
    assert summary.unanswered == 1
    assert summary.exit_status == 1


def test_summary_complete_exit_zero() -> None:
    summary = ProcessSummary(input_lines=2, succeeded=1, failed=Counter({"server_error": 1}))
    assert summary.exit_status == 0


def test_summary_korean_text() -> None:
    summary = ProcessSummary(input_lines=2, succeeded=2, attempts=3, retries=1, rate_limited=1, elapsed_seconds=6.0,
                             requests_per_minute_limit=60, tokens_per_minute_limit=1000)
    text = summary.format("ko")
    assert "재시도: 1" in text
    assert "분당 요청 수: 30 (한도: 지정값 60)" in text


def test_summary_english_learned_limits() -> None:
    summary = ProcessSummary(input_lines=1, succeeded=1, attempts=1, elapsed_seconds=1.0,
                             requests_per_minute_limit=1200, limits_learned=True)
    assert "Requests per minute: 60 (limit: 1,200 from response headers)" in summary.format("en")


def _headers(requests_limit: int, tokens_limit: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(requests_limit),
        "x-ratelimit-limit-tokens": str(tokens_limit),
        "x-ratelimit-remaining-requests": str(requests_limit),
        "x-ratelimit-remaining-tokens": str(tokens_limit),
        "x-ratelimit-reset-requests": "0s",
        "x-ratelimit-reset-tokens": "0s",
    }


def test_throttle_ceiling_not_raised() -> None:
    throttle = make_throttle(100, 10_000, burst_seconds=1.0)
    throttle.observe(_headers(5000, 1_000_000))
    assert throttle.limiter.requests_per_minute == 100
    assert throttle.limiter.tokens_per_minute == 10_000
    assert not throttle.learned


def test_throttle_ceiling_lowered_by_server() -> None:
    throttle = make_throttle(100, 10_000, burst_seconds=1.0)
    throttle.observe(_headers(60, 10_000))
    assert throttle.limiter.requests_per_minute == 60


def test_throttle_learns_missing_limit() -> None:
    throttle = make_throttle(100, None, burst_seconds=1.0)
    throttle.observe(_headers(5000, 200_000))
    assert throttle.limiter.requests_per_minute == 100
    assert throttle.limiter.tokens_per_minute == 200_000
    assert throttle.learned


def test_throttle_learns_both_limits() -> None:
    throttle = make_throttle(None, None, burst_seconds=1.0)
    throttle.observe(_headers(1200, 120_000))
    assert throttle.limiter.requests_per_minute == 1200
    assert throttle.limiter.tokens_per_minute == 120_000
    assert throttle.learned


def test_throttle_warns_without_headers(caplog: pytest.LogCaptureFixture) -> None:
    throttle = make_throttle(None, None, burst_seconds=1.0)
    throttle.observe({})
    throttle.observe({})
    warnings = [record for record in caplog.records if "no x-ratelimit-limit" in record.getMessage()]
    assert len(warnings) == 1


def test_samples_same_seed_same_file(tmp_path: Path) -> None:
    first = write_sample_requests(tmp_path / "a.jsonl", 20, seed=3).read_bytes()
    second = write_sample_requests(tmp_path / "b.jsonl", 20, seed=3).read_bytes()
    assert first == second


def test_samples_mix_languages(tmp_path: Path) -> None:
    path = write_sample_requests(tmp_path / "a.jsonl", 40)
    languages = {json.loads(line)["metadata"]["lang"] for line in path.read_text(encoding="utf-8").splitlines()}
    assert languages == {"ko", "en"}
