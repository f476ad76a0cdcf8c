"""`ratelimit-toolkit serve` in a subprocess: it prints its URL, responds, and stops on a signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there."}]


@pytest.fixture
def serve_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run `serve` on a free port with 2 RPM and yield the process and its base URL."""
    command = [sys.executable, "-m", "ratelimit_toolkit.cli", "--lang", "en", "serve", "--port", "0", "--rpm", "2", "--retry-after"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first_line = process.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"http://127\.0\.0\.1:\d+/v1", first_line)
        if match is None:
            process.kill()
            raise AssertionError(f"serve printed no base URL: {first_line!r} {process.stderr.read()!r}")  # type: ignore[union-attr]
        yield process, match.group(0)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


def chat(base_url: str) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    return httpx.post(f"{base_url}/chat/completions", json=body, headers={"Authorization": "Bearer sk-mock"}, timeout=10)


def test_serve_applies_limits(serve_process: tuple[subprocess.Popen[str], str]) -> None:
    _, base_url = serve_process
    statuses = [chat(base_url).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_serve_applies_retry_after(serve_process: tuple[subprocess.Popen[str], str]) -> None:
    _, base_url = serve_process
    responses = [chat(base_url) for _ in range(3)]
    assert responses[-1].headers["retry-after"] == "30"


def test_serve_stops_on_sigint(serve_process: tuple[subprocess.Popen[str], str]) -> None:
    process, _ = serve_process
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_serve_prints_summary(serve_process: tuple[subprocess.Popen[str], str]) -> None:
    process, base_url = serve_process
    for _ in range(3):
        chat(base_url)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert "after 3 requests; 1 of them got a 429 response" in output


def test_serve_rejects_bad_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ratelimit_toolkit.cli", "--lang", "en", "serve", "--failure-rate", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "failure_rate" in result.stderr


def test_serve_defaults_match_contract() -> None:
    arguments = build_parser().parse_args(["serve"])
    assert (arguments.host, arguments.port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize("option", ["--rpm", "--tpm", "--burst-seconds", "--failure-rate", "--latency"])
def test_serve_help_names_unit(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    entry = help_text[help_text.index(f"\n  {option} ") + 1 :].split("\n  -", 1)[0]
    assert re.search(r"per minute|seconds|probability", entry)
