"""The `ratelimit-toolkit process` command in real subprocesses, including a `kill -9` and a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ratelimit_toolkit.cli import main
from ratelimit_toolkit.mock import MockServer

KEY = "sk-test-cli-0123456789abcdef"
UNLIMITED_SERVER = {"rpm": 10_000_000, "tpm": 1_000_000_000}


def command() -> list[str]:
    script = Path(sys.executable).with_name("ratelimit-toolkit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ratelimit_toolkit.cli"]


def write_requests(path: Path, count: int) -> Path:
    rows = [
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"request {i}"}], "max_tokens": 10}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def process_args(source: Path, output: Path, server: MockServer, *extra: str) -> list[str]:
    url = f"{server.base_url}/chat/completions"
    return [*command(), "--log-level", "WARNING", "process", str(source), "--output", str(output), "--url", url,
            "--no-progress", *extra]


def environment(**changes: str) -> dict[str, str]:
    env = {**os.environ, "OPENAI_API_KEY": KEY, "RATELIMIT_TOOLKIT_LANG": "en", **changes}
    return env


def line_counts(path: Path) -> Counter[int]:
    counts: Counter[int] = Counter()
    for raw in path.read_text(encoding="utf-8").splitlines():
        counts[json.loads(raw)["line"]] += 1
    return counts


def wait_for_lines(path: Path, minimum: int, timeout_seconds: float) -> int:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_bytes().count(b"\n")
            if lines >= minimum:
                return lines
        time.sleep(0.02)
    raise AssertionError(f"fewer than {minimum} output lines after {timeout_seconds}s")


def test_cli_resume_after_sigkill(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(rpm=6000, tpm=10_000_000, burst_seconds=1)
    source = write_requests(tmp_path / "in.jsonl", 200)
    output = tmp_path / "out.jsonl"
    args = process_args(source, output, server, "--rpm", "6000", "--tpm", "10000000")

    victim = subprocess.Popen(args, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        written = wait_for_lines(output, 30, timeout_seconds=30)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    assert written < 200

    finished = subprocess.run(args, env=environment(), capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    counts = line_counts(output)
    assert sorted(counts) == list(range(200))
    assert set(counts.values()) == {1}


def test_cli_ctrl_c_then_resume(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(rpm=1200, tpm=10_000_000, burst_seconds=1)
    source = write_requests(tmp_path / "in.jsonl", 80)
    output = tmp_path / "out.jsonl"
    args = process_args(source, output, server)

    interrupted = subprocess.Popen(args, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lines(output, 10, timeout_seconds=30)
    finally:
        interrupted.send_signal(signal.SIGINT)
        _, stderr = interrupted.communicate(timeout=10)
    assert interrupted.returncode == 130
    assert "Rerun the same command to resume" in stderr

    finished = subprocess.run(args, env=environment(), capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert set(line_counts(output).values()) == {1}
    assert sorted(line_counts(output)) == list(range(80))


def test_cli_quota_exit_status(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(quota_exhausted=True, **UNLIMITED_SERVER)
    source = write_requests(tmp_path / "in.jsonl", 5)
    result = subprocess.run(process_args(source, tmp_path / "out.jsonl", server), env=environment(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "insufficient quota" in result.stdout
    assert KEY not in result.stdout + result.stderr


def test_cli_korean_summary(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(**UNLIMITED_SERVER)
    source = write_requests(tmp_path / "in.jsonl", 3)
    args = process_args(source, tmp_path / "out.jsonl", server, "--lang", "ko")
    result = subprocess.run(args, env=environment(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "성공: 3" in result.stdout


def test_cli_missing_key_usage_error(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(**UNLIMITED_SERVER)
    source = write_requests(tmp_path / "in.jsonl", 1)
    env = environment()
    env.pop("OPENAI_API_KEY")
    env.pop("AZURE_OPENAI_API_KEY", None)
    result = subprocess.run(process_args(source, tmp_path / "out.jsonl", server), env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr


@pytest.mark.parametrize("bad_option", [["--concurrency", "0"], ["--rpm", "-5"], ["--max-attempts", "x"]])
def test_cli_rejects_bad_numbers(tmp_path: Path, bad_option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["process", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl"),
            "--url", "http://127.0.0.1:9/v1/chat/completions", *bad_option]
    with pytest.raises(SystemExit) as raised:
        main(args)
    assert raised.value.code == 2
    assert bad_option[1] in capsys.readouterr().err
