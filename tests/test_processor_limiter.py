"""The processor with a limiter passed in, or shared through Redis with `--redis-url`.

Real parts only: the mock server over loopback, a throwaway `redis-server` on
127.0.0.1 (tests marked `redis` are skipped without one), and the
`ratelimit-toolkit process` command in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from redis_fixtures import closed_redis_url, redis_server, redis_url  # noqa: F401  (fixtures are found by name)

from ratelimit_toolkit.limiter import RateLimiter
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.processor import process_file, process_file_sync, read_results

KEY = "sk-test-shared-0123456789abcdef"
UNLIMITED_SERVER = {"rpm": 10_000_000, "tpm": 1_000_000_000}

# 1,200 requests per minute with a one-second burst: 20 at once, then 20 a
# second. Two processes of 50 lines each, limited separately, would send at
# twice that rate and meet many 429s. Sharing one budget, they meet none.
SHARED_RPM = 1_200
SHARED_TPM = 1_000_000
LINES_PER_PROCESS = 50


def command() -> list[str]:
    script = Path(sys.executable).with_name("ratelimit-toolkit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ratelimit_toolkit.cli"]


def write_requests(path: Path, count: int, label: str = "") -> Path:
    rows = [
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"request {label}{i}"}], "max_tokens": 10}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def process_args(source: Path, output: Path, server: MockServer, *extra: str) -> list[str]:
    url = f"{server.base_url}/chat/completions"
    return [*command(), "--log-level", "WARNING", "process", str(source), "--output", str(output), "--url", url,
            "--no-progress", *extra]


def environment(**changes: str) -> dict[str, str]:
    env = {**os.environ, "OPENAI_API_KEY": KEY, "RATELIMIT_TOOLKIT_LANG": "en"}
    env.pop("RATELIMIT_TOOLKIT_REDIS_URL", None)
    env.update(changes)
    return env


def totals(server: MockServer) -> dict[str, Any]:
    return dict(server.stats()["totals"])


class RecordingLimiter:
    """A `RateLimiter` that records the processor's calls to it."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self.inner = RateLimiter(requests_per_minute, tokens_per_minute)
        self.acquired: list[float] = []
        self.observed: list[Mapping[str, str]] = []

    @property
    def requests_per_minute(self) -> float | None:
        return self.inner.requests_per_minute

    @property
    def tokens_per_minute(self) -> float | None:
        return self.inner.tokens_per_minute

    def try_acquire(self, tokens: float = 1) -> bool:
        return self.inner.try_acquire(tokens)

    def acquire(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        raise AssertionError("the processor must not block its event loop in acquire()")

    async def acquire_async(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        self.acquired.append(tokens)
        return await self.inner.acquire_async(tokens, timeout=timeout)

    def refund(self, tokens: float) -> None:
        self.inner.refund(tokens)

    def observe(self, headers: Mapping[str, str]) -> None:
        self.observed.append(headers)
        self.inner.observe(headers)


# -- limiter= ------------------------------------------------------------------


async def test_passed_limiter_admits_and_observes(session_mock_server: MockServer, tmp_path: Path) -> None:
    source = write_requests(tmp_path / "in.jsonl", 6)
    limiter = RecordingLimiter(10_000, 10_000_000)
    summary = await process_file(source, tmp_path / "out.jsonl", f"{session_mock_server.base_url}/chat/completions",
                                 api_key=KEY, progress=False, limiter=limiter)
    assert summary.succeeded == 6
    assert len(limiter.acquired) == 6
    assert len(limiter.observed) == summary.attempts


async def test_passed_limiter_follows_headers(session_mock_server: MockServer, tmp_path: Path) -> None:
    # No ceilings apply to a limiter passed in: a RateLimiter adopts the limits the server reports.
    source = write_requests(tmp_path / "in.jsonl", 2)
    limiter = RateLimiter(6_000, 600_000)
    summary = await process_file(source, tmp_path / "out.jsonl", f"{session_mock_server.base_url}/chat/completions",
                                 api_key=KEY, progress=False, limiter=limiter)
    assert limiter.stats.admitted == 2
    assert summary.requests_per_minute_limit == UNLIMITED_SERVER["rpm"]


@pytest.mark.parametrize("option", [{"requests_per_minute": 60}, {"redis_url": "redis://127.0.0.1:6379/0"}])
async def test_limiter_with_other_limits_rejected(tmp_path: Path, option: dict[str, Any]) -> None:
    source = write_requests(tmp_path / "in.jsonl", 1)
    with pytest.raises(ValueError, match="limiter= cannot be combined"):
        await process_file(source, tmp_path / "out.jsonl", "http://127.0.0.1:9/v1/chat/completions",
                           api_key=KEY, progress=False, limiter=RateLimiter(60, None), **option)


async def test_incomplete_limiter_rejected(tmp_path: Path) -> None:
    source = write_requests(tmp_path / "in.jsonl", 1)
    with pytest.raises(TypeError, match="observe"):
        await process_file(source, tmp_path / "out.jsonl", "http://127.0.0.1:9/v1/chat/completions",
                           api_key=KEY, progress=False, limiter=object())  # type: ignore[arg-type]
    assert not (tmp_path / "out.jsonl").exists()


# -- redis_url= ----------------------------------------------------------------


@pytest.mark.redis
def test_redis_url_learns_limits(session_mock_server: MockServer, redis_url: str, tmp_path: Path) -> None:
    # Two lines: the learning limiter admits one request a second until the first response arrives.
    source = write_requests(tmp_path / "in.jsonl", 2)
    summary = process_file_sync(source, tmp_path / "out.jsonl", f"{session_mock_server.base_url}/chat/completions",
                                api_key=KEY, progress=False, redis_url=redis_url)
    assert summary.succeeded == 2
    assert summary.requests_per_minute_limit == UNLIMITED_SERVER["rpm"]
    assert summary.limits_learned


@pytest.mark.redis
def test_redis_url_with_limits_uses_redis(session_mock_server: MockServer, redis_url: str, tmp_path: Path) -> None:
    import redis

    source = write_requests(tmp_path / "in.jsonl", 3)
    process_file_sync(source, tmp_path / "out.jsonl", f"{session_mock_server.base_url}/chat/completions",
                      api_key=KEY, progress=False, redis_url=redis_url,
                      requests_per_minute=SHARED_RPM, tokens_per_minute=SHARED_TPM)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = client.keys("ratelimit-toolkit:*")
    finally:
        client.close()
    assert len(keys) == 1


@pytest.mark.redis
def test_passed_redis_limiter_reusable(session_mock_server: MockServer, redis_url: str, tmp_path: Path) -> None:
    # Each process_file_sync call runs on a new event loop, so the limiter must close that loop's client and reopen.
    from ratelimit_toolkit.redis_limiter import RedisRateLimiter

    url = f"{session_mock_server.base_url}/chat/completions"
    with RedisRateLimiter(SHARED_RPM, SHARED_TPM, redis_url=redis_url) as limiter:
        for run in range(2):
            source = write_requests(tmp_path / f"in{run}.jsonl", 3)
            summary = process_file_sync(source, tmp_path / f"out{run}.jsonl", url, api_key=KEY, progress=False,
                                        limiter=limiter)
            assert summary.succeeded == 3
        assert limiter.stats.admitted == 6


async def test_closed_redis_url_fails_before_work(
    mock_server: Callable[..., MockServer], closed_redis_url: str, tmp_path: Path
) -> None:
    from ratelimit_toolkit.redis_limiter import SharedLimiterUnavailableError

    server = mock_server(**UNLIMITED_SERVER)
    source = write_requests(tmp_path / "in.jsonl", 3)
    started = time.monotonic()
    with pytest.raises(SharedLimiterUnavailableError) as raised:
        await process_file(source, tmp_path / "out.jsonl", f"{server.base_url}/chat/completions",
                           api_key=KEY, progress=False, redis_url=closed_redis_url)
    assert time.monotonic() - started < 5.0
    assert "hunter2" not in str(raised.value)
    assert totals(server)["requests"] == 0
    assert not (tmp_path / "out.jsonl").exists()


# -- ratelimit-toolkit process --redis-url --------------------------------------


@pytest.mark.redis
def test_cli_processes_share_redis_budget(
    mock_server: Callable[..., MockServer], redis_url: str, tmp_path: Path
) -> None:
    server = mock_server(rpm=SHARED_RPM, tpm=SHARED_TPM, burst_seconds=1)
    limits = ["--rpm", str(SHARED_RPM), "--tpm", str(SHARED_TPM), "--burst-seconds", "1", "--redis-url", redis_url]
    jobs = []
    for name in ("a", "b"):
        source = write_requests(tmp_path / f"{name}.jsonl", LINES_PER_PROCESS, label=name)
        output = tmp_path / f"{name}-out.jsonl"
        args = process_args(source, output, server, *limits)
        process = subprocess.Popen(args, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        jobs.append((process, output))

    for process, output in jobs:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        records = read_results(output)
        assert len(records) == LINES_PER_PROCESS
        assert all("response" in record for record in records)

    counts = totals(server)
    assert counts["admitted"] == 2 * LINES_PER_PROCESS
    # At most 1% of the requests may be refused. With limits kept per process, far more are.
    assert counts["refused_429"]["total"] <= 2 * LINES_PER_PROCESS // 100


def test_cli_closed_redis_url_exits_early(
    mock_server: Callable[..., MockServer], closed_redis_url: str, tmp_path: Path
) -> None:
    server = mock_server(**UNLIMITED_SERVER)
    source = write_requests(tmp_path / "in.jsonl", 3)
    output = tmp_path / "out.jsonl"
    args = process_args(source, output, server, "--redis-url", closed_redis_url)

    result = subprocess.run(args, env=environment(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Redis at redis://:***@127.0.0.1" in result.stderr
    assert "--redis-url" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert totals(server)["requests"] == 0
    assert not output.exists()


def test_cli_reads_redis_url_variable(
    mock_server: Callable[..., MockServer], closed_redis_url: str, tmp_path: Path
) -> None:
    server = mock_server(**UNLIMITED_SERVER)
    source = write_requests(tmp_path / "in.jsonl", 1)
    env = environment(RATELIMIT_TOOLKIT_REDIS_URL=closed_redis_url)

    result = subprocess.run(process_args(source, tmp_path / "out.jsonl", server), env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "hunter2" not in result.stdout + result.stderr
    assert totals(server)["requests"] == 0
