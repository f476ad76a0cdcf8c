"""Measure the parallel request processor beside the usual alternatives, against the mock server.

Run from the repository root::

    .venv/bin/python benchmarks/processor.py                  # 600 chat requests, four contenders
    .venv/bin/python benchmarks/processor.py --stream-rss     # 1,000,000 lines, peak memory

Default mode: one mock server (`ratelimit-toolkit serve`, its own process)
per contender, at `--rpm` / `--tpm` with a one-second burst, so the
per-minute limits are enforced per second. Each contender runs in its own
process and sends the same `--requests` chat requests:

- `processor, limits given`: `process_file` with `requests_per_minute` and `tokens_per_minute`;
- `processor, limits learned`: `process_file` without limits, learning them from the headers;
- `openai gather`: `AsyncOpenAI` with its default retries (2), every request under one `asyncio.gather`;
- `fixed delay`: `AsyncOpenAI` without retries, one request after another with
  `60 / rpm` seconds of sleep before each.

Printed per contender: requests lost (no response in the end), the share of
HTTP calls the server refused with 429, efficiency (the shortest possible
time at the limits divided by the actual time), CPU seconds of the run
(`time.process_time` around it, imports excluded), and the process's peak RSS.

The shortest possible time: the first `limit * burst / 60` requests (and
tokens) can go at once, and the rest at `limit / 60` per second. The slower of
the request and token limits decides. For a contender that lost requests,
efficiency counts only the requests it delivered (their tokens estimated at
the average per request), so giving up early does not look fast.

`--stream-rss` streams `--lines` requests (1,000,000 by default) through
`ratelimit-toolkit process` in a subprocess, against a mock server with huge
limits and no latency, and reports the processor's peak RSS (psutil, sampled,
and the kernel's `ru_maxrss` from `wait4`). It stops by itself after
`--max-seconds`.

Every request goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS = ("processor, limits given", "processor, limits learned", "openai gather", "fixed delay")
MODEL = "gpt-4o-mini"
API_KEY = "sk-mock-benchmark"
_URL_PATTERN = re.compile(r"(http://127\.0\.0\.1:\d+/v1)")
# Limits and settings for the streaming run: nothing waits for a limit or for latency.
_HUGE_RPM = 1_000_000_000
_HUGE_TPM = 1_000_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="chat requests per contender (default: 600)")
    parser.add_argument("--rpm", type=int, default=1200, help="the mock server's requests per minute (default: 1200)")
    parser.add_argument("--tpm", type=int, default=120_000, help="the mock server's tokens per minute (default: 120000)")
    parser.add_argument("--burst-seconds", type=float, default=1.0, help="the mock server's burst, in seconds (default: 1)")
    parser.add_argument("--only", choices=CONTENDERS, action="append", help="run only this contender (repeatable)")
    parser.add_argument("--stream-rss", action="store_true", help="measure peak memory on a long input instead")
    parser.add_argument("--lines", type=int, default=1_000_000, help="input lines for --stream-rss (default: 1000000)")
    parser.add_argument("--max-seconds", type=float, default=1800.0,
                        help="--stream-rss gives up after this many seconds (default: 1800)")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.contender:
        print(json.dumps(asyncio.run(run_contender(arguments))), flush=True)
    elif arguments.stream_rss:
        stream_rss(arguments)
    else:
        compare(arguments)


# --- the comparison ------------------------------------------------------------------


def compare(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="processor-bench-") as folder:
        source = write_chat_requests(Path(folder) / "requests.jsonl", arguments.requests)
        total_tokens = charged_tokens(source)
        limits = (arguments.rpm, arguments.tpm, arguments.burst_seconds)
        ideal_seconds = shortest_seconds(arguments.requests, total_tokens, *limits)
        print(f"{arguments.requests} chat requests ({total_tokens:,} tokens charged at admission); mock server at "
              f"{arguments.rpm} RPM, {arguments.tpm} TPM, burst {arguments.burst_seconds:g} s; "
              f"shortest possible time {ideal_seconds:.1f} s\n")
        print(f"{'contender':27} {'lost':>5} {'429 share':>10} {'efficiency':>10} {'elapsed s':>9} "
              f"{'CPU s':>6} {'peak RSS MB':>11} {'HTTP calls':>10}")
        for name in arguments.only or CONTENDERS:
            row = measure(name, source, arguments)
            delivered = arguments.requests - row["lost"]
            delivered_tokens = total_tokens * delivered / max(1, arguments.requests)
            efficiency = shortest_seconds(delivered, delivered_tokens, *limits) / row["elapsed_seconds"]
            print(f"{name:27} {row['lost']:5d} {row['refused_share']:10.1%} {efficiency:10.3f} "
                  f"{row['elapsed_seconds']:9.1f} {row['cpu_seconds']:6.2f} {row['peak_rss_mb']:11.1f} "
                  f"{row['calls']:10d}", flush=True)


def measure(name: str, source: Path, arguments: argparse.Namespace) -> dict[str, Any]:
    """Run one contender in a child process against a fresh mock server."""
    server_args = ["--rpm", str(arguments.rpm), "--tpm", str(arguments.tpm), "--burst-seconds", str(arguments.burst_seconds)]
    with MockServerProcess(server_args) as server:
        child = [sys.executable, __file__, "--contender", name, "--url", server.base_url, "--input", str(source),
                 "--rpm", str(arguments.rpm), "--tpm", str(arguments.tpm), "--burst-seconds", str(arguments.burst_seconds)]
        process = subprocess.Popen(child, stdout=subprocess.PIPE, text=True)
        output = process.stdout.read() if process.stdout else ""
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            raise RuntimeError(f"contender {name!r} failed with wait status {status}")
        result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        totals = server.stats()["totals"]

    result["calls"] = totals["requests"]
    result["refused_share"] = totals["refused_429"]["total"] / max(1, totals["requests"])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def write_chat_requests(path: Path, count: int) -> Path:
    """Write `count` short chat requests, alternating Korean and English prompts."""
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(count):
            prompt = f"{number}번 문장을 한 줄로 요약해 주세요." if number % 2 else f"Summarise sentence {number} in one line."
            body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "max_tokens": 40,
                    "metadata": {"id": number}}
            handle.write(json.dumps(body, ensure_ascii=False) + "\n")
    return path


def charged_tokens(source: Path) -> int:
    """Add up the admission charge (prompt plus output cap) of every request in `source`."""
    from ratelimit_toolkit.tokens import estimate_request

    total = 0
    for raw in source.read_text(encoding="utf-8").splitlines():
        body = json.loads(raw)
        body.pop("metadata", None)
        total += estimate_request("chat/completions", body).total
    return total


def shortest_seconds(requests: float, tokens: float, rpm: int, tpm: int, burst_seconds: float) -> float:
    """Return the shortest time the limits allow: a full bucket goes at once, the rest at the refill rate."""
    request_seconds = max(0.0, requests - rpm * burst_seconds / 60) / (rpm / 60)
    token_seconds = max(0.0, tokens - tpm * burst_seconds / 60) / (tpm / 60)
    return max(request_seconds, token_seconds)


# --- contenders, each run in its own process ---------------------------------------------


async def run_contender(arguments: argparse.Namespace) -> dict[str, Any]:
    # Import before the clocks start, so every contender's figures exclude imports.
    import openai  # noqa: F401

    import ratelimit_toolkit.processor  # noqa: F401

    bodies = [json.loads(raw) for raw in arguments.input.read_text(encoding="utf-8").splitlines()]
    cpu_started = time.process_time()
    started = time.monotonic()
    if arguments.contender.startswith("processor"):
        lost = await run_processor(arguments, learned=arguments.contender.endswith("learned"))
    elif arguments.contender == "openai gather":
        lost = await run_openai_gather(arguments.url, bodies)
    else:
        lost = await run_fixed_delay(arguments.url, bodies, arguments.rpm)
    return {"lost": lost, "elapsed_seconds": time.monotonic() - started, "cpu_seconds": time.process_time() - cpu_started}


async def run_processor(arguments: argparse.Namespace, *, learned: bool) -> int:
    from ratelimit_toolkit.processor import process_file, read_results

    limits = {} if learned else {"requests_per_minute": arguments.rpm, "tokens_per_minute": arguments.tpm}
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "results.jsonl"
        await process_file(arguments.input, output, f"{arguments.url}/chat/completions", api_key=API_KEY,
                           progress=False, **limits)
        return sum(1 for record in read_results(output) if "response" not in record)


async def run_openai_gather(url: str, bodies: list[dict[str, Any]]) -> int:
    import openai

    async with openai.AsyncOpenAI(base_url=url, api_key=API_KEY) as client:
        calls = [client.chat.completions.create(**_without_metadata(body)) for body in bodies]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    return sum(1 for outcome in outcomes if isinstance(outcome, BaseException))


async def run_fixed_delay(url: str, bodies: list[dict[str, Any]], rpm: int) -> int:
    import openai

    lost = 0
    delay_seconds = 60.0 / rpm
    async with openai.AsyncOpenAI(base_url=url, api_key=API_KEY, max_retries=0) as client:
        for body in bodies:
            await asyncio.sleep(delay_seconds)
            try:
                await client.chat.completions.create(**_without_metadata(body))
            except openai.APIError:
                lost += 1
    return lost


def _without_metadata(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "metadata"}


# --- peak memory on a long input --------------------------------------------------------------


def stream_rss(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="processor-rss-") as folder:
        source = Path(folder) / "requests.jsonl"
        output = Path(folder) / "results.jsonl"
        write_short_requests(source, arguments.lines)
        print(f"{arguments.lines:,} lines ({source.stat().st_size / 1e6:.0f} MB input); mock server with huge limits, "
              f"no latency; giving up after {arguments.max_seconds:g} s", flush=True)

        server_args = ["--rpm", str(_HUGE_RPM), "--tpm", str(_HUGE_TPM), "--burst-seconds", "60"]
        with MockServerProcess(server_args) as server:
            started = time.monotonic()
            peak_sampled, usage, status = run_cli_processor(source, output, server.base_url, arguments.max_seconds)
            elapsed_seconds = time.monotonic() - started

        lines_written = sum(1 for _ in open(output, "rb")) if output.exists() else 0
        print(f"exit status {status}; {lines_written:,} records in {elapsed_seconds:.0f} s "
              f"({lines_written / elapsed_seconds:,.0f} lines/s); output {output.stat().st_size / 1e6:.0f} MB")
        print(f"peak RSS of the processor: {usage.ru_maxrss / 1024:.1f} MB (ru_maxrss), "
              f"{peak_sampled / 2**20:.1f} MB (psutil, sampled every 0.5 s)")


def write_short_requests(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(count):
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"line {number}"}], "max_tokens": 4}
            handle.write(json.dumps(body) + "\n")


def run_cli_processor(source: Path, output: Path, base_url: str, max_seconds: float) -> tuple[int, Any, int]:
    """Run `ratelimit-toolkit process` until it ends or `max_seconds` pass; return (sampled peak bytes, rusage, status)."""
    command = [sys.executable, "-m", "ratelimit_toolkit.cli", "--log-level", "WARNING", "process", str(source),
               "--output", str(output), "--url", f"{base_url}/chat/completions", "--no-progress",
               "--rpm", str(_HUGE_RPM), "--tpm", str(_HUGE_TPM)]
    process = subprocess.Popen(command, env={**os.environ, "OPENAI_API_KEY": API_KEY}, stdout=subprocess.DEVNULL)
    watched = psutil.Process(process.pid)
    peak_bytes = 0
    deadline = time.monotonic() + max_seconds
    # wait4 (not Popen.poll) reaps the child, because only wait4 returns its own rusage.
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return peak_bytes, usage, os.waitstatus_to_exitcode(status)
        peak_bytes = max(peak_bytes, watched.memory_info().rss)
        time.sleep(0.5)

    print(f"stopping the processor after {max_seconds:g} s", flush=True)
    process.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(process.pid, 0)
    return peak_bytes, usage, os.waitstatus_to_exitcode(status)


class MockServerProcess:
    """`ratelimit-toolkit serve` on a free 127.0.0.1 port, in its own process."""

    def __init__(self, options: list[str]) -> None:
        self.command = [sys.executable, "-m", "ratelimit_toolkit.cli", "--log-level", "WARNING", "serve",
                        "--host", "127.0.0.1", "--port", "0", *options]
        self.base_url = ""

    def __enter__(self) -> MockServerProcess:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.stdout is not None:
            match = _URL_PATTERN.search(self.process.stdout.readline())
            if match:
                self.base_url = match.group(1)
                return self
        self.process.kill()
        raise RuntimeError("the mock server did not print its URL within 30 s")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/stats", timeout=30) as response:
            return json.load(response)  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


if __name__ == "__main__":
    main()
