"""The Batch API path and `process` write the same records for the same input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import openai

from ratelimit_toolkit.batch_api import compare_results, run_batch_job
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.processor import process_file_sync, read_results

KEY = "sk-test-equivalence-0123456789"
LINES = 200


def write_job(path: Path, count: int) -> Path:
    rows = []
    for i in range(count):
        text = f"{i}번 문장을 요약해 주세요." if i % 2 else f"Summarise sentence number {i}."
        rows.append({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}],
                     "max_tokens": 10 + i % 30, "metadata": {"row": i, "group": i % 7}})
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    return path


def test_batch_output_equals_process_output(mock_server: Callable[..., MockServer],
                                            make_client: Callable[..., openai.OpenAI], tmp_path: Path) -> None:
    server = mock_server(rpm=1_000_000, tpm=1_000_000_000, batch_validating_seconds=0.0,
                         batch_seconds_per_request=0.0, batch_finalizing_seconds=0.0)
    source = write_job(tmp_path / "job.jsonl", LINES)
    process_file_sync(source, tmp_path / "process.jsonl", f"{server.base_url}/chat/completions", api_key=KEY,
                      progress=False)
    run_batch_job(source, tmp_path / "batch.jsonl", client=make_client(server, api_key=KEY),
                  max_requests_per_file=64, poll_interval_seconds=0.01, max_poll_interval_seconds=0.05, progress=False)

    comparison = compare_results(tmp_path / "process.jsonl", tmp_path / "batch.jsonl")
    assert comparison.compared == LINES
    assert comparison.mismatches == []
    assert comparison.identical
    assert all("response" in record for record in read_results(tmp_path / "batch.jsonl"))
